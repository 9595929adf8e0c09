"""One run end to end: config -> data -> model -> fit on train/val -> evaluate test sets once -> run folder.

:func:`execute_run` (skip a finished run, hold the run's lock) runs three steps: :func:`prepare` (check the
model, decode the data, choose the fit/validation/test rows with :func:`split_indices`, build the model and its
datasets, load a checkpoint), :func:`train` (fit, checkpointing every epoch) and :func:`record` (evaluate every
test set once, write the run folder in one rename, drop the checkpoint).
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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

    info = (run or {}).get("info") or {}
    recorded = info.get("init_from") or {}
    if cfg.init_from and recorded.get("sha256") and recorded["sha256"] != file_sha256(Path(cfg.init_from)):
        raise FerBenchError(f"{cfg.init_from}: changed since run {key} was initialised from it (sha256 "
                            f"{recorded['sha256'][:12]}...); restore that file, or pass --force to re-run "
                            "from the new one")
    teacher = info.get("teacher") or {}
    if cfg.teacher and teacher.get("sha256") and Path(cfg.teacher).is_file() and \
            teacher["sha256"] != file_sha256(Path(cfg.teacher)):
        raise FerBenchError(f"{cfg.teacher}: changed since run {key} was distilled from it (sha256 "
                            f"{teacher['sha256'][:12]}...); restore that file, or pass --force to re-run "
                            "from the new one")


def execute_run(cfg: RunConfig, results: Path, *, force: bool = False, on_epoch: Callable | None = None,
                on_stage: Callable[[str], None] | None = None, record_extra: dict | None = None) -> RunOutcome:
    """Run one config unless its folder already holds a finished run (then return that, skipped=True).

    A run killed part-way left a checkpoint (``runs/.<hash>.partial/``): running the same config again
    continues from its last finished epoch, with ``--force`` too (``--force`` only means "do not skip a
    finished run"); delete that folder to start from epoch 1. ``record_extra``: more keys for ``run.json``
    (a sweep backend records where the run ran).
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
    from ..data.adapters import check_dataset_spec

    for spec in (cfg.train, *cfg.tests):  # before the lock: a mistyped path creates nothing in the results folder
        check_dataset_spec(spec)
    if cfg.teacher and not Path(cfg.teacher).is_file():  # a finished run needs its teacher no more
        raise FerBenchError(f"{cfg.teacher}: --teacher file not found; pass a fer-bench model or ensemble "
                            ".keras file")
    with run_lock(results, key):  # one process per config; raises RunLockedError while another holds it
        if is_finished(results, key) and not force:  # finished by another process while we waited
            run = read_run(run_dir(results, key))
            return RunOutcome(cfg, run_dir(results, key), True, run["metrics"] if run else {}, "finished-before")
        return _execute_locked(cfg, results, key, force=force, on_epoch=on_epoch, on_stage=on_stage,
                               record_extra=record_extra)


def _execute_locked(cfg: RunConfig, results: Path, key: str, *, force: bool, on_epoch, on_stage,
                    record_extra: dict | None = None) -> RunOutcome:
    from .devices import execution

    # --devices / --precision: the strategy scope and dtype policy hold for building, training and saving
    with execution(cfg.devices, cfg.precision, cfg.batch_size) as where:
        prepared = prepare(cfg, results, key, on_stage)
        prepared.execution = {**where, **(record_extra or {})}
        if where["strategy"]:
            from .devices import patch_symbolic_build

            patch_symbolic_build(prepared.model)
        fit = train(prepared, cfg, on_epoch)
        return record(prepared, fit)


@dataclass
class Prepared:
    """Everything :func:`prepare` decided and built for one run; :func:`train` and :func:`record` consume it."""

    cfg: RunConfig
    results: Path
    key: str
    stage: Callable[[str], None]
    t_start: float
    spec: object  # the model's ModelSpec
    recipe: object  # the Recipe
    resize: str
    train_src: DataSource
    test_srcs: list[DataSource]
    train_split: str
    test_split: str | None  # None: the in-domain test rows were carved from the training split
    train_cache: CachedSplit
    test_cache: CachedSplit
    carved_test_idx: np.ndarray | None  # rows of train_cache held out as the in-domain test set, or None
    fit_idx: np.ndarray
    val_cache: CachedSplit
    val_idx: np.ndarray | None  # None: every row of val_cache
    num_classes: int
    label_names: tuple
    counts: np.ndarray
    weights: dict
    model: object
    init_record: dict | None  # what --init-from loaded, or None
    lr: float
    clock: EpochCounter  # the training pipeline's epoch clock (its shuffle/augmentation derive from it)
    train_ds: object
    val_ds: object
    steps: int  # batches per epoch
    checkpoint: RunCheckpoint
    resumed_from: str | None  # "<phase> epoch <n>" when a checkpoint was loaded
    manifests: dict = field(default_factory=dict)  # filled by record(): each data set's manifest for run.json
    execution: dict = field(default_factory=dict)  # devices, strategy, precision (and the backend) for run.json
    teacher_record: dict | None = None  # --teacher: file, sha256, weight (knowledge distillation)

    @property
    def paper(self) -> bool:
        return self.cfg.protocol == "paper"

    @property
    def n_val(self) -> int:
        return int(len(self.val_idx) if self.val_idx is not None else len(self.val_cache))

    def decode(self, src: DataSource, split: str) -> CachedSplit:
        return decode_split(src, split, self.cfg.res, color=self.cfg.color, resize=self.resize)


def split_indices(labels: np.ndarray, cfg: RunConfig, *, carve_test: bool):
    """Which training-split rows are fitted, validated on and (when the source has no test split) tested on.

    Returns ``(fit_idx, val_idx, carved_test_idx)``. ``val_idx`` is None under the paper
    protocol (validation is the test split: all of it, or the carved rows); otherwise it indexes the same
    training split. ``carved_test_idx`` is None unless *carve_test*.
    """
    all_train_idx = np.arange(len(labels))
    carved_test_idx = None
    if carve_test:
        all_train_idx, carved_test_idx = stratified_split(labels, TEST_CARVE_FRACTION, TEST_CARVE_SEED)
    if cfg.max_train_images and len(all_train_idx) > cfg.max_train_images:
        frac = cfg.max_train_images / len(all_train_idx)
        _, sub = stratified_split(labels[all_train_idx], frac, cfg.seed + 7)
        all_train_idx = all_train_idx[sub]
    if cfg.protocol == "paper":  # the authors' choice: the test split is also the validation split
        return all_train_idx, carved_test_idx, carved_test_idx
    tr, va = stratified_split(labels[all_train_idx], cfg.val_fraction, cfg.seed)
    return all_train_idx[tr], all_train_idx[va], carved_test_idx


def prepare(cfg: RunConfig, results: Path, key: str, on_stage: Callable[[str], None] | None = None) -> Prepared:
    """Check the model, decode the data, decide the fit/validation/test rows, build the model and its datasets.

    Fails fast (unknown model, init/size rule) before any decoding, and refuses a run the results disk has no
    room for before training. A checkpoint left by a killed run of the same config and data is loaded here
    (``resumed_from`` names where it stopped).
    """
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
    stage(f"decoding {train_src.name} [{train_split}] at {cfg.res}px (cached after the first time)")
    train_cache = decode_split(train_src, train_split, cfg.res, color=cfg.color, resize=resize)
    if test_split is None:
        test_cache = train_cache
    else:
        stage(f"decoding {train_src.name} [{test_split}]")
        test_cache = decode_split(train_src, test_split, cfg.res, color=cfg.color, resize=resize)
    num_classes = 8 if int(train_cache.labels.max()) >= len(CANONICAL) else 7
    fit_idx, val_idx, carved_test_idx = split_indices(train_cache.labels, cfg, carve_test=test_split is None)
    val_cache = test_cache if paper else train_cache
    counts = class_counts(train_cache.labels[fit_idx], num_classes)
    weights = class_weights(counts, cfg.balance, cap=cfg.conservative_cap)

    # ---- model, datasets, checkpoint ----------------------------------------------------------------
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
    augment = paper_augmentation(seed=cfg.seed, rotation_deg=recipe.aug_rotation_deg, shift=recipe.aug_shift,
                                 zoom=recipe.aug_zoom) if cfg.augment else None
    soft, teacher_record = None, None
    if cfg.teacher:
        from .distill import check_teacher_against_tests, teacher_targets

        trained_on = check_teacher_against_tests(Path(cfg.teacher), cfg.tests)
        soft, teacher_record = teacher_targets(Path(cfg.teacher), train_cache, fit_idx, num_classes,
                                               Path(results) / "teachers", stage)
        teacher_record = {**teacher_record, "weight": cfg.teacher_weight, "teacher_trained_on": trained_on}
    clock = EpochCounter()
    train_ds = make_dataset(train_cache, fit_idx, batch_size=cfg.batch_size, num_classes=num_classes,
                            shuffle=True, augment=augment, class_weights=weights, seed=cfg.seed, clock=clock,
                            soft_targets=soft, soft_weight=cfg.teacher_weight if soft is not None else 0.0)
    # checkpoints hold the model, the optimizer's moments (2x the weights) and the best weights, twice over
    check_free_space(results, int(model.count_params()) * 4 * 8 + (64 << 20))
    checkpoint = RunCheckpoint(results, key, data_fingerprint=_data_fingerprint(train_cache, val_cache, fit_idx,
                                                                                val_idx),
                               meta={"name": cfg.short_name(), "config": cfg.to_dict(), "command": command_line(),
                                     **({"teacher_sha256": teacher_record["sha256"]} if teacher_record else {})})
    resumed = checkpoint.load()
    started_with = ((resumed or {}).get("run") or {}).get("teacher_sha256")
    if resumed and teacher_record and started_with and started_with != teacher_record["sha256"]:
        raise FerBenchError(f"{cfg.teacher}: changed since run {key} started distilling from it (sha256 "
                            f"{started_with[:12]}...); restore that file, or delete {checkpoint.folder} to start "
                            "the run again from epoch 1")
    resumed_from = None
    if resumed:
        resumed_from = f"{resumed['phase']} epoch {resumed['epoch_done']}"
        stage(f"resuming from the checkpoint after {resumed_from}")
    val_ds = make_dataset(val_cache, val_idx, batch_size=64 if cfg.res > 96 else 256, num_classes=num_classes)
    return Prepared(
        cfg=cfg, results=Path(results), key=key, stage=stage, t_start=t_start, spec=spec, recipe=recipe,
        resize=resize, train_src=train_src, test_srcs=test_srcs, train_split=train_split, test_split=test_split,
        train_cache=train_cache, test_cache=test_cache, carved_test_idx=carved_test_idx, fit_idx=fit_idx,
        val_cache=val_cache, val_idx=val_idx, num_classes=num_classes,
        label_names=CANONICAL_WITH_CONTEMPT[:num_classes], counts=counts, weights=weights, model=model,
        init_record=init_record, lr=cfg.learning_rate or recipe.default_lr or spec.learning_rate, clock=clock,
        train_ds=train_ds, val_ds=val_ds, steps=int(np.ceil(len(fit_idx) / cfg.batch_size)),
        checkpoint=checkpoint, resumed_from=resumed_from, teacher_record=teacher_record)


def train(p: Prepared, cfg: RunConfig, on_epoch: Callable | None = None) -> dict:
    """Fit the prepared model (continuing from its checkpoint, if any); returns ``{"history", "best", "seconds"}``."""
    p.stage(f"training on {len(p.fit_idx)} images, validating on {p.n_val}")
    t_fit = time.perf_counter()
    fit = _fit(p.model, p.train_ds, p.val_ds, cfg, p.lr, p.recipe, p.steps, on_epoch, p.clock, p.checkpoint)
    return {**fit, "seconds": time.perf_counter() - t_fit}


def record(p: Prepared, fit: dict) -> RunOutcome:
    """Evaluate every test set once (every image, unshuffled), write the run folder in one rename, drop the checkpoint.

    A write failure is one line (the checkpoint stays, so running the same command again resumes).
    """
    writer = RunWriter(p.results, p.key)
    try:
        metrics = _evaluate_into(p, writer)
        _write_run_files(p, fit, metrics, writer)
        folder = writer.commit()
    except OSError as exc:
        writer.abort()
        raise FerBenchError(f"{p.results}: cannot write the run's files ({exc.strerror or exc}); free disk space "
                            "or fix permissions, then run the same command again (training resumes from its "
                            "checkpoint)") from None
    except BaseException:
        writer.abort()
        raise
    p.checkpoint.discard()
    return RunOutcome(p.cfg, folder, False, metrics, "resumed" if p.resumed_from else "trained", p.resumed_from)


def _evaluate_into(p: Prepared, writer: RunWriter) -> dict:
    """Score the in-domain and every cross-domain test set; predictions and confusion plots go to *writer*.

    Also records each set's data manifest on ``p`` (``p.manifests``) for run.json.
    """
    from ..results.plots import confusion_png
    from .evaluate import evaluate_split

    cfg = p.cfg
    metrics: dict = {}
    p.manifests.clear()
    p.manifests["train"] = _manifest_record(p.train_src, p.train_split, p.train_cache)
    targets = [("in_domain", p.train_src, p.test_split or f"{p.train_split} (carved 20%)", p.test_cache,
                p.carved_test_idx)]
    for spec_str, src in zip(cfg.tests, p.test_srcs, strict=True):
        split = pick_eval_split(src)
        p.stage(f"decoding test set {src.name} [{split}]")
        targets.append((spec_str, src, split, p.decode(src, split), None))
    for name, src, split, cache, idx in targets:
        p.stage(f"evaluating on {src.name} [{split}]")
        m, table = evaluate_split(p.model, cache, p.label_names, indices=idx, flip_tta=p.recipe.flip_tta)
        m.update({"dataset": src.name, "split": split, "role": "in_domain" if name == "in_domain"
                  else "cross_domain"})
        m["identical_to_training_images"] = leakage(p.train_cache, p.fit_idx, cache, idx)
        metrics[name] = m
        fname = _safe(name)
        table.to_csv(writer.path(f"predictions/{fname}.csv"), index=False)
        confusion_png(m["confusion_matrix"], p.label_names, writer.path(f"confusion_{fname}.png"),
                      title=f"{cfg.model} {cfg.res}px {cfg.weights} {cfg.balance} -> {src.name}")
        p.manifests[name] = _manifest_record(src, split, cache)
    return metrics


def _write_run_files(p: Prepared, fit: dict, metrics: dict, writer: RunWriter) -> None:
    """history.csv, config.json, metrics.json, run.json and model.keras into the writer's temp folder."""
    import pandas as pd

    cfg, key = p.cfg, p.key
    pd.DataFrame(fit["history"]).to_csv(writer.path("history.csv"), index=False)
    writer.write_json("config.json", {**cfg.to_dict(), "config_hash": key})
    writer.write_json("metrics.json", metrics)
    writer.write_json("run.json", {
        "config_hash": key, "name": cfg.short_name(), "versions": versions(),
        "data": p.manifests, "class_counts_fit": p.counts.tolist(), "class_weights": p.weights,
        "n_fit": len(p.fit_idx), "n_val": p.n_val,
        "validation": "test split (paper protocol)" if p.paper else
        f"{cfg.val_fraction:.0%} stratified from training (seed {cfg.seed})",
        "preprocessing": p.spec.preprocess_mode(cfg.weights, "paper" if p.paper else "native"),
        "resize": p.resize, "learning_rate": p.lr, "recipe": cfg.recipe, "best": fit["best"],
        "epochs_run": len(fit["history"]), "fit_seconds": round(fit["seconds"], 1),
        "wall_seconds": round(time.perf_counter() - p.t_start, 1), "params": int(p.model.count_params()),
        "label_names": list(p.label_names), "init_from": p.init_record,
        "command": command_line(), "deterministic": cfg.deterministic, "resumed_from": p.resumed_from,
        "precision": cfg.precision, "execution": p.execution, "teacher": p.teacher_record,
    })
    p.model.save(writer.path("model.keras"))


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
