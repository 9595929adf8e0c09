"""One run end to end: config -> data -> model -> fit on train/val -> evaluate test sets once -> run folder."""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.cache import CachedSplit, decode_split
from ..data.pipeline import EpochCounter, make_dataset, paper_augmentation, stratified_split
from ..data.source import DataSource
from ..errors import FerBenchError
from ..labels import CANONICAL, CANONICAL_WITH_CONTEMPT
from ..results.store import RunWriter, check_free_space, is_finished, read_run, run_dir, run_lock
from .balance import class_counts, class_weights
from .checkpoint import RunCheckpoint
from .config import RunConfig
from .recipes import RECIPES

#: the fixed seed used to carve an in-domain test split from a source that has none (same for every run)
TEST_CARVE_SEED = 20240613
TEST_CARVE_FRACTION = 0.2


@dataclass
class RunOutcome:
    config: RunConfig
    folder: Path
    skipped: bool
    metrics: dict
    #: "trained", "finished-before" (skipped: its folder exists), or "resumed" (continued from a checkpoint)
    status: str = "trained"
    resumed_from: str | None = None


def versions() -> dict:
    """Package versions and the device, recorded in every run."""
    import keras
    import pandas
    import sklearn
    import tensorflow as tf

    from .. import __version__

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "fer_bench": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "numpy": np.__version__, "pandas": pandas.__version__,
        "scikit_learn": sklearn.__version__, "platform": platform.platform(),
        "device": f"GPU x{len(gpus)}: {', '.join(g.name for g in gpus)}" if gpus else
        f"CPU ({platform.processor() or platform.machine()})",
    }


def _open(spec: str) -> DataSource:
    from ..data.adapters import open_dataset

    return open_dataset(spec)


def pick_eval_split(source: DataSource) -> str:
    """The split a source is tested on: test, else val, else all (a plain class-folder set)."""
    for s in ("test", "val", "all"):
        if s in source.splits():
            return s
    raise FerBenchError(f"dataset {source.name} has only a training split; point --test at a test folder")


def _train_and_test_splits(source: DataSource) -> tuple[str, str | None]:
    """(training split, in-domain test split or None when it must be carved from the training split)."""
    splits = source.splits()
    train = "train" if "train" in splits else "all" if "all" in splits else None
    if train is None:
        raise FerBenchError(f"dataset {source.name} has no training images (splits: {', '.join(splits)}); "
                            "use a folder with a train/ subfolder or class folders")
    test = next((s for s in ("test", "val") if s in splits), None)
    return train, test


def _check_same_init_file(cfg: RunConfig, run: dict | None, key: str) -> None:
    """Refuse to report a finished warm-started run as done when its --init-from file has changed since.

    The config hash holds the init file's path (so earlier result folders keep their names); its content is
    recorded in run.json and compared here, so replacing the file at the same path cannot pass as finished.
    """
    from ..hashing import file_sha256

    recorded = ((run or {}).get("info") or {}).get("init_from") or {}
    if cfg.init_from and recorded.get("sha256") and recorded["sha256"] != file_sha256(Path(cfg.init_from)):
        raise FerBenchError(f"{cfg.init_from}: changed since run {key} was initialised from it (sha256 "
                            f"{recorded['sha256'][:12]}...); restore that file, or pass --force to re-run "
                            "from the new one")


def execute_run(cfg: RunConfig, results: Path, *, force: bool = False, on_epoch: Callable | None = None,
                on_stage: Callable[[str], None] | None = None) -> RunOutcome:
    """Run one config unless its folder already holds a finished run (then return that, skipped=True).

    A run killed part-way left a checkpoint (``runs/.<hash>.partial/``): running the same config again
    continues from its last finished epoch, with ``--force`` too (``--force`` only means "do not skip a
    finished run"); delete that folder to start from epoch 1.
    """
    results = Path(results)
    key = cfg.config_hash()
    if cfg.init_from and not Path(cfg.init_from).is_file():  # before any decoding, and before the skip check
        raise FerBenchError(f"{cfg.init_from}: --init-from file not found; pass a run's model.keras or an "
                            "exported .keras")
    if is_finished(results, key) and not force:
        run = read_run(run_dir(results, key))
        _check_same_init_file(cfg, run, key)
        return RunOutcome(cfg, run_dir(results, key), True, run["metrics"] if run else {}, "finished-before")
    with run_lock(results, key):  # one process per config; raises RunLockedError while another holds it
        if is_finished(results, key) and not force:  # finished by another process while we waited
            run = read_run(run_dir(results, key))
            return RunOutcome(cfg, run_dir(results, key), True, run["metrics"] if run else {}, "finished-before")
        return _execute_locked(cfg, results, key, force=force, on_epoch=on_epoch, on_stage=on_stage)


def _execute_locked(cfg: RunConfig, results: Path, key: str, *, force: bool, on_epoch, on_stage) -> RunOutcome:
    from ..models.registry import build_model, get_spec

    stage = on_stage or (lambda s: None)
    spec = get_spec(cfg.model)  # fail fast on an unknown model, before any decoding
    spec.check(cfg.weights, cfg.res)  # the registry's init/size rule, before any decoding
    recipe = RECIPES[cfg.recipe]
    paper = cfg.protocol == "paper"
    resize = "nearest" if paper else "area"
    t_start = time.perf_counter()

    # ---- data ---------------------------------------------------------------------------------------
    stage("opening datasets")
    train_src = _open(cfg.train)
    test_srcs = [_open(t) for t in cfg.tests]
    train_split, test_split = _train_and_test_splits(train_src)
    def decode(src, split):
        return decode_split(src, split, cfg.res, color=cfg.color, resize=resize)

    stage(f"decoding {train_src.name} [{train_split}] at {cfg.res}px (cached after the first time)")
    train_cache = decode(train_src, train_split)
    all_train_idx = np.arange(len(train_cache))
    carved_test_idx = None
    if test_split is None:
        all_train_idx, carved_test_idx = stratified_split(train_cache.labels, TEST_CARVE_FRACTION,
                                                          TEST_CARVE_SEED)
        test_cache = train_cache
    else:
        stage(f"decoding {train_src.name} [{test_split}]")
        test_cache = decode(train_src, test_split)
    num_classes = 8 if int(train_cache.labels.max()) >= len(CANONICAL) else 7
    label_names = CANONICAL_WITH_CONTEMPT[:num_classes]

    if cfg.max_train_images and len(all_train_idx) > cfg.max_train_images:
        frac = cfg.max_train_images / len(all_train_idx)
        _, sub = stratified_split(train_cache.labels[all_train_idx], frac, cfg.seed + 7)
        all_train_idx = all_train_idx[sub]

    if paper:  # the authors' choice: the test split is also the validation split (model selection on test)
        fit_idx, val_cache, val_idx = all_train_idx, test_cache, carved_test_idx
    else:
        tr, va = stratified_split(train_cache.labels[all_train_idx], cfg.val_fraction, cfg.seed)
        fit_idx, val_cache, val_idx = all_train_idx[tr], train_cache, all_train_idx[va]

    counts = class_counts(train_cache.labels[fit_idx], num_classes)
    weights = class_weights(counts, cfg.balance, cap=cfg.conservative_cap)

    # ---- model + fit --------------------------------------------------------------------------------
    import keras

    keras.utils.set_random_seed(cfg.seed)
    set_determinism(cfg.deterministic)
    stage(f"building {spec.name} ({cfg.weights}) at {cfg.res}px")
    model = build_model(spec.name, cfg.res, num_classes, cfg.weights,
                        preprocess_policy="paper" if paper else "native")
    init_record = None
    if cfg.init_from:
        from ..models.warmstart import warm_start

        stage(f"initialising from {cfg.init_from}")
        init_record = warm_start(model, cfg.init_from)
    lr = cfg.learning_rate or recipe.default_lr or spec.learning_rate
    augment = paper_augmentation(seed=cfg.seed, rotation_deg=recipe.aug_rotation_deg, shift=recipe.aug_shift,
                                 zoom=recipe.aug_zoom) if cfg.augment else None
    clock = EpochCounter()
    train_ds = make_dataset(train_cache, fit_idx, batch_size=cfg.batch_size, num_classes=num_classes,
                            shuffle=True, augment=augment, class_weights=weights, seed=cfg.seed, clock=clock)
    # checkpoints hold the model, the optimizer's moments (2x the weights) and the best weights, twice over
    check_free_space(results, int(model.count_params()) * 4 * 8 + (64 << 20))
    checkpoint = RunCheckpoint(results, key, data_fingerprint=_data_fingerprint(train_cache, val_cache, fit_idx,
                                                                                val_idx))
    resumed = checkpoint.load()
    resumed_from = None
    if resumed:
        resumed_from = f"{resumed['phase']} epoch {resumed['epoch_done']}"
        stage(f"resuming from the checkpoint after {resumed_from}")
    val_ds = make_dataset(val_cache, val_idx, batch_size=64 if cfg.res > 96 else 256, num_classes=num_classes)
    steps = int(np.ceil(len(fit_idx) / cfg.batch_size))
    stage(f"training on {len(fit_idx)} images, validating on "
          f"{len(val_idx) if val_idx is not None else len(val_cache)}")
    t_fit = time.perf_counter()
    fit = _fit(model, train_ds, val_ds, cfg, lr, recipe, steps, on_epoch, clock, checkpoint)
    fit_seconds = time.perf_counter() - t_fit

    # ---- evaluate once, every image, unshuffled -----------------------------------------------------
    from .evaluate import evaluate_split

    writer = RunWriter(results, key)
    try:
        metrics: dict = {}
        manifests = {"train": _manifest_record(train_src, train_split, train_cache)}
        targets = [("in_domain", train_src, test_split or f"{train_split} (carved 20%)", test_cache,
                    carved_test_idx)]
        for spec_str, src in zip(cfg.tests, test_srcs, strict=True):
            split = pick_eval_split(src)
            stage(f"decoding test set {src.name} [{split}]")
            targets.append((spec_str, src, split, decode(src, split), None))
        for name, src, split, cache, idx in targets:
            stage(f"evaluating on {src.name} [{split}]")
            m, table = evaluate_split(model, cache, label_names, indices=idx, flip_tta=recipe.flip_tta)
            m.update({"dataset": src.name, "split": split, "role": "in_domain" if name == "in_domain"
                      else "cross_domain"})
            m["identical_to_training_images"] = leakage(train_cache, fit_idx, cache, idx)
            metrics[name] = m
            fname = _safe(name)
            table.to_csv(writer.path(f"predictions/{fname}.csv"), index=False)
            from ..results.plots import confusion_png

            confusion_png(m["confusion_matrix"], label_names, writer.path(f"confusion_{fname}.png"),
                          title=f"{cfg.model} {cfg.res}px {cfg.weights} {cfg.balance} -> {src.name}")
            manifests[name] = _manifest_record(src, split, cache)
        import pandas as pd

        pd.DataFrame(fit["history"]).to_csv(writer.path("history.csv"), index=False)
        writer.write_json("config.json", {**cfg.to_dict(), "config_hash": key})
        writer.write_json("metrics.json", metrics)
        writer.write_json("run.json", {
            "config_hash": key, "name": cfg.short_name(), "versions": versions(),
            "data": manifests, "class_counts_fit": counts.tolist(), "class_weights": weights,
            "n_fit": len(fit_idx), "n_val": int(len(val_idx) if val_idx is not None else len(val_cache)),
            "validation": "test split (paper protocol)" if paper else
            f"{cfg.val_fraction:.0%} stratified from training (seed {cfg.seed})",
            "preprocessing": spec.preprocess_mode(cfg.weights, "paper" if paper else "native"),
            "resize": resize, "learning_rate": lr, "recipe": cfg.recipe, "best": fit["best"],
            "epochs_run": len(fit["history"]), "fit_seconds": round(fit_seconds, 1),
            "wall_seconds": round(time.perf_counter() - t_start, 1), "params": int(model.count_params()),
            "label_names": list(label_names), "init_from": init_record,
            "command": command_line(), "deterministic": cfg.deterministic, "resumed_from": resumed_from,
        })
        model.save(writer.path("model.keras"))
        folder = writer.commit()
    except OSError as exc:
        writer.abort()
        raise FerBenchError(f"{results}: cannot write the run's files ({exc.strerror or exc}); free disk space "
                            "or fix permissions, then run the same command again (training resumes from its "
                            "checkpoint)") from None
    except BaseException:
        writer.abort()
        raise
    checkpoint.discard()
    return RunOutcome(cfg, folder, False, metrics, "resumed" if resumed_from else "trained", resumed_from)


def command_line() -> str:
    """The command that started this process, as a shell line (recorded with every result)."""
    argv = list(sys.argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def set_determinism(on: bool) -> None:
    """Turn TensorFlow's op determinism on or off for this process (it is a process-wide switch)."""
    import tensorflow as tf

    if on:
        tf.config.experimental.enable_op_determinism()
    else:  # no public switch back; a sweep mixes both kinds in one process
        from tensorflow.python.framework import config as tf_config

        if hasattr(tf_config, "disable_op_determinism"):
            tf_config.disable_op_determinism()


def _data_fingerprint(train_cache: CachedSplit, val_cache: CachedSplit, fit_idx, val_idx) -> str:
    """What a checkpoint was trained on: the caches' content hashes and the exact fit/validation rows."""
    import hashlib

    h = hashlib.sha256()
    for part in (train_cache.meta["content_hash"], val_cache.meta["content_hash"]):
        h.update(str(part).encode())
    for arr in (fit_idx, val_idx):
        h.update(b"|" if arr is None else np.asarray(arr, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def _fit(model, train_ds, val_ds, cfg, lr, recipe, steps, on_epoch, clock=None, checkpoint=None):
    from .train import fit

    # the frozen phase exists to protect pretrained features; a random backbone is never frozen
    frozen = cfg.frozen_epochs if cfg.weights != "scratch" else 0
    return fit(model, train_ds, val_ds, epochs=cfg.epochs, frozen_epochs=frozen, lr=lr,
               recipe=recipe, steps_per_epoch=steps, es_patience=cfg.es_patience, lr_patience=cfg.lr_patience,
               on_epoch=on_epoch, clock=clock, checkpoint=checkpoint)


def leakage(train_cache: CachedSplit, train_idx, test_cache: CachedSplit, test_idx) -> int:
    """Number of test images whose decoded pixels are identical to an image used for training.

    FER2013, for example, has a few hundred byte-identical faces shared by its train and test parts; the count
    is recorded with every result so a reader can judge how much it matters.
    """
    train_d = train_cache.digests[np.asarray(train_idx)]
    test_d = test_cache.digests if test_idx is None else test_cache.digests[np.asarray(test_idx)]
    return int(np.isin(test_d, train_d).sum())


def _manifest_record(src: DataSource, split: str, cache: CachedSplit) -> dict:
    return {
        "dataset": src.name, "format": src.format, "root": src.root, "split": split,
        "manifest_hash": src.manifest_hash(split if split in src.splits() else None),
        "content_hash": cache.meta["content_hash"], "n_images": len(cache),
        "unreadable": len(cache.meta["unreadable"]),
        "unreadable_items": [u["item"] for u in cache.meta["unreadable"]][:50],
        "notes": src.notes,
    }


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("_") or "test"


def load_recorded_manifests(folder: Path) -> dict:
    p = Path(folder) / "run.json"
    return json.loads(p.read_text()).get("data", {}) if p.is_file() else {}
