"""One video-track run end to end: features -> participant-independent split -> SVM + GRU heads -> statistics
-> run folder ``<results>/video/runs/<config-hash>/``.

The conventions are the image track's: a frozen config whose hash (together with the hash of the feature data)
names the run folder; the folder is assembled in a temporary place and renamed into place when complete; a lock
stops two processes training the same config; finished runs are skipped. A run is made of *units* (one fold x
method x seed); each finished unit is kept in ``.<hash>.partial/`` so an interrupted run resumes where it stopped.

Honest evaluation: early stopping and model selection use a validation part carved from training participants;
the test participants (or the ``--test`` dataset) are scored once per unit, with the weights chosen on validation.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FerBenchError
from ..fsutil import atomic_write
from ..results.store import RunWriter, is_finished, run_dir, run_lock
from . import HEADS, stats
from .dataset import VideoDataset
from .labels import VALENCE_CLASSES, get_label_set, infer_label_set, to_valence
from .split import group_kfold_splits, ranked_round_robin_split
from .svm import fit_evaluate_svm, sequence_means, uar

FEATURE_KINDS = ("au", "deep", "both")
SPLITS = ("paper", "group_kfold")
TASKS = ("multiclass", "binary")
VIDEO_RESULTS = "video"  # run folders live in <results>/video/runs/
CONFIG_VERSION = 1


@dataclass(frozen=True)
class VideoRunConfig:
    """Everything that decides a video run's result besides the feature data (hashed separately).

    ``label_set`` is a built-in name or a comma-separated class list ("auto" is resolved from the labels file
    before hashing). ``seeds`` are the network seeds; the SVM is deterministic and runs once. ``split``: "paper"
    (participants ranked by leave-one-subject-out SVM UAR, dealt round-robin 3 train / 1 val / 1 test) or
    "group_kfold" (``n_splits`` folds by participant, validation one training participant per fold).
    """

    features: str = "au"
    task: str = "multiclass"
    label_set: str = "auto"
    split: str = "paper"
    n_splits: int = 5
    heads: tuple[str, ...] = HEADS
    seeds: tuple[int, ...] = (0,)
    max_epochs: int = 300
    patience: int = 30
    batch_size: int = 64
    svm_c: float = 1.0
    # feature extraction (deep / both); recorded, and part of the hash because they change the features
    model: str | None = None
    fps: float | None = None
    detector: str = "mtcnn"
    vad: str | None = None
    min_confidence: float | None = None
    # group_kfold / --test: share of the training participants held out for validation (at least one). None is
    # the first release's rule, exactly one participant, kept so that its run folders keep their hashes; with
    # ~3 videos per participant one person's validation UAR is often 1.0 at epoch 1, so early stopping keeps an
    # untrained network (measured on CK+, 5 folds x 3 heads x 3 seeds: 10 of 45 units kept epoch 1 or 2).
    val_fraction: float | None = None

    def check(self) -> VideoRunConfig:
        if self.features not in FEATURE_KINDS:
            raise FerBenchError(f"unknown feature kind '{self.features}'; use one of {', '.join(FEATURE_KINDS)}")
        if self.task not in TASKS:
            raise FerBenchError(f"unknown task '{self.task}'; use one of {', '.join(TASKS)}")
        if self.split not in SPLITS:
            raise FerBenchError(f"unknown split '{self.split}'; use one of {', '.join(SPLITS)}")
        bad = [h for h in self.heads if h not in HEADS]
        if bad or not self.heads:
            raise FerBenchError(f"unknown head(s) {', '.join(bad) or '(none)'}; use some of {', '.join(HEADS)}")
        if not self.seeds:
            raise FerBenchError("no seeds; pass at least one --seeds value")
        for name in ("max_epochs", "patience", "batch_size", "n_splits"):
            if getattr(self, name) < 1:
                raise FerBenchError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.n_splits < 2 and self.split == "group_kfold":
            raise FerBenchError("group_kfold needs --folds >= 2")
        if self.val_fraction is not None and not 0 < self.val_fraction < 1:
            raise FerBenchError(f"--val-fraction must be between 0 and 1, got {self.val_fraction}")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["heads"], d["seeds"] = list(self.heads), list(self.seeds)
        if d["val_fraction"] is None:  # the original one-participant rule: the hashed dict stays as it was
            del d["val_fraction"]
        return d

    def hash(self, data_hashes: dict) -> str:
        payload = {"v": CONFIG_VERSION, "config": self.to_dict(), "data": data_hashes}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------------- features

def _label_set_spec(cfg: VideoRunConfig, ds: VideoDataset):
    if cfg.label_set == "auto":
        return infer_label_set(ds.labels)
    if "," in cfg.label_set:
        return get_label_set([c for c in cfg.label_set.split(",") if c.strip()])
    return get_label_set(cfg.label_set)


def resolve_label_set(cfg: VideoRunConfig, ds: VideoDataset):
    """The run's label set, checked against the task before any work (the binary task needs a valence map)."""
    ls = _label_set_spec(cfg, ds)
    if cfg.task == "binary" and ls.valence is None:
        raise FerBenchError(f"label set '{ls.name}' has no valence mapping, so the binary task is undefined; use "
                            "--task multiclass or a label set with valence (stres-woz)")
    return ls


def _label_set_name(ls) -> str:
    return ls.name if ls.name != "custom" else ",".join(ls.classes)


def load_dataset_features(cfg: VideoRunConfig, ds: VideoDataset, label_set, progress=None):
    """The :class:`~fer_bench.video.features.FeatureSet` of a dataset for the config's feature kind."""
    from .features import load_features

    ds.require(cfg.features)
    return load_features(
        cfg.features, ds.labels, label_set=label_set, au_dir=ds.au_dir, video_dir=ds.video_dir, model=cfg.model,
        fps=cfg.fps, detector=cfg.detector, vad=cfg.vad, min_confidence=cfg.min_confidence, progress=progress,
    )


def feature_data_hash(fs) -> str:
    """sha256 over every video's id, participant, label and feature bytes: the data a run actually used."""
    h = hashlib.sha256()
    table = fs.labels
    for video, person, label in zip(table["video"], table["participant"], table["label"], strict=True):
        seq = np.ascontiguousarray(fs.sequences[video].features, dtype=np.float32)
        h.update(f"{video}\0{person}\0{label}\0{seq.shape}\0".encode())
        h.update(seq.tobytes())
    return h.hexdigest()[:16]


@dataclass
class _Data:
    """Arrays of one dataset in a task's coding."""

    videos: list[str]
    participants: np.ndarray
    y: np.ndarray
    seqs: list[np.ndarray]


def _task_data(fs, task: str, label_set) -> tuple[_Data, list[str]]:
    table = fs.labels
    videos = list(table["video"])
    if task == "binary":
        y = to_valence(table["label"], label_set)
        classes = list(VALENCE_CLASSES)
    else:
        y = table["y"].to_numpy(dtype=np.int64)
        classes = list(label_set.classes)
    seqs = [np.asarray(fs.sequences[v].features, dtype=np.float32) for v in videos]
    return _Data(videos, table["participant"].astype(str).to_numpy(dtype=object), y, seqs), classes


# ------------------------------------------------------------------------------------------------------ splits

@dataclass
class Fold:
    """Indices into the train dataset (fit, val) and into the test dataset (test, may be the train dataset)."""

    fit: np.ndarray
    val: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)


def loso_svm_scores(data: _Data, c: float = 1.0) -> dict[str, float]:
    """Each participant's UAR of an SVM trained on every other participant (the paper's ranking step)."""
    means = sequence_means(data.seqs)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for p in sorted(set(data.participants)):
            test = data.participants == p
            if len(set(data.y[~test])) < 2:
                out[p] = 0.0
                continue
            out[p] = fit_evaluate_svm(means[~test], data.y[~test], means[test], data.y[test], C=c).uar
    return out


def _validation_participants(people: Sequence[str], seed: int, fraction: float | None) -> list[str]:
    """Seeded choice of the validation participants among a fold's training participants: one (``fraction``
    None, the original rule) or ``round(fraction * n)``, at least one and at most n - 1."""
    people = sorted(people)
    rng = np.random.default_rng(seed)
    if fraction is None:
        return [people[int(rng.integers(len(people)))]]
    k = min(len(people) - 1, max(1, round(fraction * len(people))))
    return sorted(rng.choice(people, size=k, replace=False).tolist())


def _video_validation(train_idx: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """A stratified 20 % of the training videos for validation (a random 20 % when a class is too small): the
    fallback when a fold has one training participant. The test part stays participant-independent."""
    from sklearn.model_selection import StratifiedShuffleSplit

    if len(train_idx) < 2:
        raise FerBenchError("a fold's training part has fewer than 2 videos; nothing to validate on")
    n_val = max(1, int(round(0.2 * len(train_idx))))
    try:
        sss = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        fit_pos, val_pos = next(sss.split(np.zeros(len(train_idx)), y[train_idx]))
        how = "stratified_20pct_of_videos"
    except ValueError:
        perm = np.random.default_rng(seed).permutation(len(train_idx))
        val_pos, fit_pos = perm[:n_val], perm[n_val:]
        how = "random_20pct_of_videos"
    return np.sort(train_idx[fit_pos]), np.sort(train_idx[val_pos]), how


def make_folds(cfg: VideoRunConfig, train: _Data, test: _Data | None) -> tuple[list[Fold], dict]:
    """The folds of a run and a JSON record of the split (participants per part, method, scores)."""
    people = sorted(set(train.participants))
    if test is not None:  # a separate test dataset: the whole train set is fit + validation
        if len(people) < 2:
            raise FerBenchError("the training dataset has only 1 participant; validation needs >= 2")
        if cfg.split == "paper":
            scores = loso_svm_scores(train, cfg.svm_c)
            sp = ranked_round_robin_split(train.participants, scores, pattern=("train", "train", "train", "val"))
            fit = sp.indices["train"]
            val = sp.indices["val"]
            record = {"method": "ranked_round_robin(train,train,train,val) + separate test set",
                      "scores": sp.scores}
        else:
            held = _validation_participants(people, 0, cfg.val_fraction)
            is_val = np.isin(train.participants, held)
            val, fit = np.flatnonzero(is_val), np.flatnonzero(~is_val)
            record = {"method": f"{len(held)} training participant(s) for validation + separate test set"}
        record.update(train=sorted(set(train.participants[fit])), val=sorted(set(train.participants[val])),
                      test=sorted(set(test.participants)),
                      shared_participants=sorted(set(train.participants) & set(test.participants)))
        return [Fold(fit, val, np.arange(len(test.y)), {"fold": 0})], record
    if cfg.split == "paper":
        if len(people) < 3:
            raise FerBenchError(f"the paper split needs >= 3 participants (found {len(people)}); use "
                                "--split group_kfold, or add participants")
        scores = loso_svm_scores(train, cfg.svm_c)
        sp = ranked_round_robin_split(train.participants, scores)
        fold = Fold(sp.indices["train"], sp.indices["val"], sp.indices["test"],
                    {"fold": 0, **{k: sp.participants(k) for k in ("train", "val", "test")}})
        for part in ("train", "val", "test"):
            if not len(sp.indices[part]):
                raise FerBenchError(f"the paper split left the {part} part empty ({len(people)} participants); "
                                    "use --split group_kfold")
        return [fold], {"method": "ranked_round_robin", "order": sp.order, "scores": sp.scores,
                        "parts": {k: sp.participants(k) for k in ("train", "val", "test")}}
    k = min(cfg.n_splits, len(people))
    if k < 2:
        raise FerBenchError(f"group_kfold needs >= 2 participants (found {len(people)})")
    folds, parts = [], []
    for f, sp in enumerate(group_kfold_splits(train.participants, k, seed=0)):
        train_idx, test_idx = sp.indices["train"], sp.indices["test"]
        train_people = sorted(set(train.participants[train_idx]))
        if len(train_people) >= 2:
            held = _validation_participants(train_people, f, cfg.val_fraction)
            is_val = np.isin(train.participants[train_idx], held)
            fit, val = train_idx[~is_val], train_idx[is_val]
            how = "participant"
        else:  # one training person (e.g. 2 participants in all): validate on a stratified 20 % of their videos
            fit, val, how = _video_validation(train_idx, train.y, seed=f)
        info = {"fold": f, "train": sorted(set(train.participants[fit])), "val": sorted(set(train.participants[val])),
                "test": sorted(set(train.participants[test_idx])), "validation": how}
        folds.append(Fold(fit, val, test_idx, info))
        parts.append(info)
    per_fold = "one validation participant" if cfg.val_fraction is None else \
        f"{cfg.val_fraction:.0%} of the training participants for validation"
    return folds, {"method": f"group_kfold({k}) + {per_fold} per fold", "folds": parts}


# ----------------------------------------------------------------------------------------------------- running

def _unit_name(fold: int, method: str, seed: int | None) -> str:
    return f"{fold}-{method}" + ("" if seed is None else f"-s{seed}")


def _run_unit(method: str, seed: int | None, fold: Fold, train: _Data, test: _Data, n_classes: int,
              cfg: VideoRunConfig, on_epoch=None) -> dict:
    """Train one method on the fold's fit part, choose on val, score val and test. JSON-able."""
    fit_seqs = [train.seqs[i] for i in fold.fit]
    val_seqs = [train.seqs[i] for i in fold.val]
    test_seqs = [test.seqs[i] for i in fold.test]
    y_fit, y_val, y_test = train.y[fold.fit], train.y[fold.val], test.y[fold.test]
    out: dict = {"method": method, "seed": seed, "fold": fold.info.get("fold", 0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if method == "svm":
            fm = sequence_means(fit_seqs)
            res_val = fit_evaluate_svm(fm, y_fit, sequence_means(val_seqs), y_val, C=cfg.svm_c)
            pred_test = res_val.pipeline.predict(sequence_means(test_seqs))
            out.update(val_pred=np.asarray(res_val.predictions).tolist(), test_pred=pred_test.tolist(),
                       test_prob=None)
        else:
            import keras

            from .train import Standardizer, fit_sequence_model, predict_sequences

            scaler = Standardizer.fit(fit_seqs)
            fitted = fit_sequence_model(
                scaler.transform(fit_seqs), y_fit, scaler.transform(val_seqs), y_val, n_classes=n_classes,
                head=method, seed=int(seed), max_epochs=cfg.max_epochs, patience=cfg.patience,
                batch_size=cfg.batch_size, on_epoch=on_epoch,
            )
            model = fitted["model"]
            val_pred = predict_sequences(model, scaler.transform(val_seqs), cfg.batch_size).argmax(axis=1)
            prob = predict_sequences(model, scaler.transform(test_seqs), cfg.batch_size)
            out.update(val_pred=val_pred.tolist(), test_pred=prob.argmax(axis=1).tolist(),
                       test_prob=np.round(prob, 6).tolist(), best_epoch=fitted["best_epoch"],
                       epochs_run=fitted["epochs_run"], history=fitted["history"])
            keras.backend.clear_session()
        out["val_uar"] = uar(y_val, np.asarray(out["val_pred"]))
        out["test_uar"] = uar(y_test, np.asarray(out["test_pred"]))
    return out


def _summarise(units: list[dict], folds: list[Fold], train: _Data, test: _Data, classes: list[str],
               methods: list[str], seeds: Sequence[int]) -> dict:
    """Per method: per-seed pooled val/test UAR and accuracy, mean ± sd over seeds, and for the first seed the
    per-class recall, confusion, bootstrap CIs and binomial tests of the pooled test predictions."""
    with warnings.catch_warnings():  # a class predicted but absent from a val/test part is expected
        warnings.simplefilter("ignore", UserWarning)
        return _summarise_quiet(units, folds, train, test, classes, methods, seeds)


def _summarise_quiet(units: list[dict], folds: list[Fold], train: _Data, test: _Data, classes: list[str],
                     methods: list[str], seeds: Sequence[int]) -> dict:
    by = {(u["method"], u["seed"], u["fold"]): u for u in units}
    out: dict = {}
    for m in methods:
        seed_list = [None] if m == "svm" else list(seeds)
        per_seed = []
        for s in seed_list:
            yv, pv, yt, pt = [], [], [], []
            for f, fold in enumerate(folds):
                u = by[(m, s, f)]
                yv.append(train.y[fold.val])
                pv.append(np.asarray(u["val_pred"], dtype=np.int64))
                yt.append(test.y[fold.test])
                pt.append(np.asarray(u["test_pred"], dtype=np.int64))
            yv, pv, yt, pt = map(np.concatenate, (yv, pv, yt, pt))
            per_seed.append({"seed": s, "val_uar": uar(yv, pv), "val_accuracy": float(np.mean(yv == pv)),
                             "test_uar": uar(yt, pt), "test_accuracy": float(np.mean(yt == pt)),
                             "_yt": yt, "_pt": pt})
        first = per_seed[0]
        names_t = [classes[i] for i in first["_yt"]]
        names_p = [classes[i] for i in first["_pt"]]
        summ = stats.classification_summary(names_t, names_p, classes)
        ci_uar = stats.bootstrap_ci(names_t, names_p, "uar", n=1000, seed=0)
        ci_acc = stats.bootstrap_ci(names_t, names_p, "accuracy", n=1000, seed=0)
        chance = stats.chance_tests(names_t, names_p, classes)

        def agg(key: str, rows=per_seed) -> dict:
            vals = [r[key] for r in rows]
            return {"mean": float(np.mean(vals)), "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                    "values": vals}

        def nan_none(x: float):
            return None if isinstance(x, float) and math.isnan(x) else x

        out[m] = {
            "val_uar": agg("val_uar"), "val_accuracy": agg("val_accuracy"),
            "test_uar": agg("test_uar"), "test_accuracy": agg("test_accuracy"),
            "n_seeds": len(per_seed), "n_test": int(len(first["_yt"])),
            "per_class_recall": {k: nan_none(v) for k, v in summ["per_class_recall"].items()},
            "confusion": summ["confusion"].to_numpy().tolist(),
            "bootstrap_ci_seed": first["seed"],
            "test_uar_ci95": [ci_uar.low, ci_uar.high], "test_accuracy_ci95": [ci_acc.low, ci_acc.high],
            "binomial_vs_chance": {k: {"chance": t.chance, "p_value": t.p_value} for k, t in chance.items()},
        }
    return out


def _predictions_table(units: list[dict], folds: list[Fold], test: _Data, classes: list[str]) -> pd.DataFrame:
    rows = []
    for u in units:
        fold = folds[u["fold"]]
        probs = u.get("test_prob")
        for j, i in enumerate(fold.test):
            row = {"video": test.videos[i], "participant": test.participants[i], "fold": u["fold"],
                   "method": u["method"], "seed": "" if u["seed"] is None else u["seed"],
                   "true": classes[test.y[i]], "pred": classes[u["test_pred"][j]]}
            if probs is not None:
                row.update({f"p_{c}": probs[j][k] for k, c in enumerate(classes)})
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class VideoRunResult:
    hash: str
    folder: Path
    status: str  # "trained" | "skipped" (already finished)
    metrics: dict


def run_video(cfg: VideoRunConfig, train_ds: VideoDataset, results: str | Path, *,
              test_ds: VideoDataset | None = None, force: bool = False,
              log: Callable[[str], None] | None = None,
              on_unit: Callable[[str, int, int], None] | None = None,
              on_epoch: Callable[[str, int, dict], None] | None = None,
              feature_progress: Callable[[int, int, str], None] | None = None,
              command: str | None = None) -> VideoRunResult:
    """Run (or skip, when finished) one video config. ``log`` gets one-line status messages; ``on_unit(name,
    done, total)`` is called before each unit; ``on_epoch(unit, epoch, row)`` during network training."""
    cfg = cfg.check()
    say = log or (lambda _m: None)
    t0 = time.perf_counter()
    ls = resolve_label_set(cfg, train_ds)
    if cfg.label_set == "auto":
        if ls.name == "custom":
            say(f"label set: the labels file's own {len(ls.classes)} classes ({', '.join(ls.classes)}): they match no "
                "built-in set; check for a misspelt label or pass --label-set")
        else:
            say(f"label set: {ls.name} ({len(ls.classes)} classes)")
    cfg = replace(cfg, label_set=_label_set_name(ls))
    fs_train = load_dataset_features(cfg, train_ds, ls, feature_progress)
    fs_test = load_dataset_features(cfg, test_ds, ls, feature_progress) if test_ds is not None else None
    for ds, fs in ((train_ds, fs_train), (test_ds, fs_test)):
        if fs is None:
            continue
        if fs.skipped:
            say(f"{ds.name}: {len(fs.skipped)} video(s) skipped, e.g. {fs.skipped[0][1]}")
        if not fs.sequences:
            raise FerBenchError(f"no usable video in {ds.root} ({len(fs.skipped)} skipped); see above")
    data_hashes = {"train": feature_data_hash(fs_train), "test": feature_data_hash(fs_test) if fs_test else None}
    h = cfg.hash(data_hashes)
    base = Path(results) / VIDEO_RESULTS
    if is_finished(base, h) and not force:
        say(f"run {h} already finished; skipped (pass --force to run it again)")
        done = run_dir(base, h)
        return VideoRunResult(h, done, "skipped", json.loads((done / "metrics.json").read_text()))
    train, classes = _task_data(fs_train, cfg.task, ls)
    test, _ = _task_data(fs_test, cfg.task, ls) if fs_test is not None else (train, classes)
    folds, split_record = make_folds(cfg, train, test if fs_test is not None else None)
    if split_record.get("shared_participants"):
        say(f"warning: participant id(s) {', '.join(split_record['shared_participants'][:5])} appear in both "
            "datasets; the test set is only independent if these are different people")
    by_video = [f.info.get("fold", 0) for f in folds if str(f.info.get("validation", "")).endswith("of_videos")]
    if by_video:
        say(f"note: fold(s) {', '.join(map(str, by_video))} have a single training participant, so their "
            "validation part is 20 % of that person's videos (early stopping is then not participant-independent; "
            "the test part still is)")
    counts = np.bincount(train.y, minlength=len(classes))
    tiny = [classes[k] for k in range(len(classes)) if 0 < counts[k] < 2]
    if tiny:
        say(f"warning: class(es) {', '.join(tiny)} have a single video; they cannot be learnt and tested both")
    methods = ["svm", *cfg.heads]
    plan = [(f, m, s) for f in range(len(folds)) for m in methods for s in ([None] if m == "svm" else cfg.seeds)]
    with run_lock(base, h):
        partial = base / "runs" / f".{h}.partial"
        partial.mkdir(parents=True, exist_ok=True)
        units: list[dict] = []
        resumed = 0
        for n, (f, m, s) in enumerate(plan):
            name = _unit_name(f, m, s)
            path = partial / f"{name}.json"
            if path.is_file() and not force:
                try:
                    units.append(json.loads(path.read_text()))
                    resumed += 1
                    continue
                except (OSError, json.JSONDecodeError):
                    pass  # damaged: train it again
            if on_unit is not None:
                on_unit(name, n, len(plan))
            cb = None if on_epoch is None else (lambda e, row, _n=name: on_epoch(_n, e, row))
            unit = _run_unit(m, s, folds[f], train, test, len(classes), cfg, cb)
            atomic_write(path, json.dumps(unit).encode())
            units.append(unit)
        if resumed:
            say(f"resumed: {resumed} of {len(plan)} units were already done")
        metrics = {"classes": classes, "chance_uar": 1.0 / len(classes),
                   "methods": _summarise(units, folds, train, test, classes, methods, cfg.seeds)}
        from ..protocol.run import command_line, versions

        info = {
            "config_hash": h, "data_hashes": data_hashes, "command": command or command_line(),
            "train_dataset": train_ds.describe(), "test_dataset": test_ds.describe() if test_ds else None,
            "features": {"train": fs_train.info, "test": fs_test.info if fs_test else None, "dim": fs_train.dim},
            "counts": {"train_videos": len(train.videos), "train_participants": len(set(train.participants)),
                       "test_videos": len(test.videos) if fs_test else None,
                       "skipped": {"train": [list(x) for x in fs_train.skipped],
                                   "test": [list(x) for x in fs_test.skipped] if fs_test else []}},
            "resumed_units": resumed, "seconds": round(time.perf_counter() - t0, 1), "versions": versions(),
        }
        writer = RunWriter(base, h)
        try:
            writer.write_json("config.json", cfg.to_dict())
            writer.write_json("split.json", split_record)
            writer.write_json("run.json", info)
            writer.write_json("history.json", {_unit_name(u["fold"], u["method"], u["seed"]): u.get("history")
                                               for u in units if u.get("history")})
            _predictions_table(units, folds, test, classes).to_csv(writer.path("predictions.csv"), index=False)
            writer.write_json("metrics.json", metrics)
            folder = writer.commit()
        except BaseException:
            writer.abort()
            raise
        shutil.rmtree(partial, ignore_errors=True)
    return VideoRunResult(h, folder, "trained", metrics)


def read_video_run(folder: str | Path) -> dict:
    """config, metrics, run info and split of a finished video run folder (FerBenchError when incomplete)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FerBenchError(f"{folder}: not a folder; pass a video run folder (results/video/runs/HASH)")
    try:
        return {"hash": folder.name, "folder": folder,
                **{k: json.loads((folder / f"{k}.json").read_text()) for k in ("config", "metrics", "run", "split")}}
    except FileNotFoundError:
        raise FerBenchError(f"{folder}: not a finished video run folder (config/metrics/run/split .json "
                            "missing); pass a folder under results/video/runs/") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise FerBenchError(f"{folder}: unreadable run file ({exc}); run it again with --force") from None


def iter_video_runs(results: str | Path):
    base = Path(results) / VIDEO_RESULTS / "runs"
    if not base.is_dir():
        return
    for folder in sorted(base.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and (folder / "metrics.json").is_file():
            try:
                yield read_video_run(folder)
            except FerBenchError:
                continue
