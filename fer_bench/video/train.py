"""Training and evaluation of the video track's sequence models on OpenFace AU sequences (Keinert et al., 2025,
JMIR 27:e68942, Methods, "Development of the Automatic FER Model": 3-layer GRU(35) + average / attention / conv
head + MLP, Adam with learning rate 0.001, the SVM baseline on time-averaged AUs, UAR and accuracy).

* :class:`Standardizer`: per-feature mean/std over the valid frames of the training videos only.
* :func:`fit_sequence_model`: a seeded minibatch loop over ``train_on_batch`` (each minibatch padded on its own
  with :func:`~fer_bench.video.models.pad_batch` to a multiple of 32 frames, order reshuffled every epoch by a
  seeded numpy generator) with early stopping on the validation UAR (patience in epochs, best weights restored).
* :func:`predict_sequences`: class probabilities for unpadded sequences.
* :func:`run_au_experiment`: participant-independent folds (``GroupKFold``, default leave-one-participant-out),
  SVM baseline and each head, per-fold and pooled test UAR/accuracy.

The paper's split is the LOSO-ranked round robin (:func:`~fer_bench.video.split.ranked_round_robin_split`); this
module's experiment uses plain participant folds, which also work for a handful of participants. The paper
does not state the patience or the batch size; 30 epochs and 64 videos are this module's defaults.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit

from ..errors import FerBenchError
from .labels import LabelSet, get_label_set
from .models import HEADS, build_sequence_model, pad_batch
from .openface import read_folder
from .split import group_kfold_splits
from .svm import fit_evaluate_svm, sequence_means, uar

#: Batches are padded to a multiple of this many frames, so TensorFlow retraces for fewer distinct shapes
#: (padding never changes the outputs: every layer of the model is masked).
PAD_MULTIPLE = 32

#: Standard deviations below this are treated as constant features (divided by 1, not by ~0).
STD_FLOOR = 1e-6


@dataclass(frozen=True)
class Standardizer:
    """Per-feature ``(x - mean) / std`` with statistics from the training videos' valid frames only.

    Features whose training std is below :data:`STD_FLOOR` (e.g. an AU presence that never fires in the training
    part) are only centred (std replaced by 1), so a test video where it fires is not blown up by a tiny divisor.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, sequences: Sequence[np.ndarray]) -> Standardizer:
        """Fit on unpadded per-video matrices [T_i, F] (every row is a valid frame)."""
        arrays = [np.asarray(s, dtype=np.float64) for s in sequences if len(s)]
        if not arrays:
            raise ValueError("Standardizer.fit needs at least one frame")
        return cls._from_frames(np.concatenate(arrays, axis=0))

    @classmethod
    def fit_padded(cls, x: np.ndarray, mask: np.ndarray) -> Standardizer:
        """Fit on a padded batch ``x`` [N, T, F] with bool ``mask`` [N, T]; padded frames are ignored."""
        x = np.asarray(x, dtype=np.float64)
        mask = np.asarray(mask, dtype=bool)
        if x.ndim != 3 or mask.shape != x.shape[:2]:
            raise ValueError(f"expected x [N, T, F] and mask [N, T], got {x.shape} and {mask.shape}")
        if not mask.any():
            raise ValueError("Standardizer.fit_padded needs at least one valid frame")
        return cls._from_frames(x[mask])

    @classmethod
    def _from_frames(cls, frames: np.ndarray) -> Standardizer:
        mean = frames.mean(axis=0)
        std = frames.std(axis=0)
        std = np.where(std < STD_FLOOR, 1.0, std)
        return cls(mean.astype(np.float64), std.astype(np.float64))

    def transform(self, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Standardise unpadded per-video matrices; returns float32 arrays of the same shapes."""
        return [((np.asarray(s, dtype=np.float64) - self.mean) / self.std).astype(np.float32) for s in sequences]

    def transform_padded(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Standardise a padded batch; padded frames stay exactly 0."""
        out = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return np.where(np.asarray(mask, dtype=bool)[:, :, None], out, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64))


def _pad(sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    longest = max(max(len(s) for s in sequences), 1)
    return pad_batch(sequences, max_len=-(-longest // PAD_MULTIPLE) * PAD_MULTIPLE)


def predict_sequences(model: keras.Model, sequences: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """Class probabilities [N, n_classes] for unpadded sequences, each batch padded on its own."""
    if len(sequences) == 0:
        raise ValueError("predict_sequences needs at least one sequence")
    out = []
    for start in range(0, len(sequences), batch_size):
        x, mask = _pad(sequences[start:start + batch_size])
        out.append(np.asarray(model.predict_on_batch([x, mask])))
    return np.concatenate(out, axis=0)


def _loss_value(result) -> float:
    if isinstance(result, (list, tuple)):
        return float(result[0])
    if isinstance(result, dict):
        return float(result["loss"])
    return float(result)


def fit_sequence_model(
    train_seqs: Sequence[np.ndarray],
    train_y: Sequence[int],
    val_seqs: Sequence[np.ndarray],
    val_y: Sequence[int],
    *,
    n_classes: int,
    head: str,
    seed: int,
    max_epochs: int = 300,
    patience: int = 30,
    batch_size: int = 64,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> dict:
    """Train a :func:`~fer_bench.video.models.build_sequence_model` classifier with early stopping on val UAR.

    Seeded by ``keras.utils.set_random_seed(seed)`` (weights) and ``numpy.random.default_rng(seed)`` (epoch order).
    Each epoch: shuffled minibatches, each padded by ``pad_batch`` and passed to ``model.train_on_batch``; then the
    validation UAR (:func:`~fer_bench.video.svm.uar` over the classes present in ``val_y``). Training stops after
    ``patience`` epochs without a strictly higher val UAR, or at ``max_epochs``; the weights of the best epoch
    (the first one reaching the best UAR) are restored.

    Returns ``{"model", "history": [{"epoch", "loss", "val_uar"}], "best_epoch", "best_val_uar", "epochs_run",
    "stopped_early"}`` (epochs are 1-based). ``on_epoch(epoch, row)`` is called after each epoch.
    """
    if len(train_seqs) != len(train_y) or len(val_seqs) != len(val_y):
        raise ValueError("sequences and labels differ in length")
    if len(train_seqs) == 0 or len(val_seqs) == 0:
        raise ValueError("fit_sequence_model needs at least one training and one validation video")
    if max_epochs < 1 or patience < 1 or batch_size < 1:
        raise ValueError("max_epochs, patience and batch_size must be >= 1")
    keras.utils.set_random_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    train_seqs = [np.asarray(s, dtype=np.float32) for s in train_seqs]
    val_seqs = [np.asarray(s, dtype=np.float32) for s in val_seqs]
    y = np.asarray(train_y, dtype=np.int64)
    vy = np.asarray(val_y, dtype=np.int64)
    model = build_sequence_model(train_seqs[0].shape[1], n_classes, head)

    history: list[dict] = []
    best_uar, best_epoch, best_weights = -np.inf, 0, None
    stopped_early = False
    for epoch in range(1, max_epochs + 1):
        order = rng.permutation(len(train_seqs))
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, mask = _pad([train_seqs[i] for i in idx])
            total += _loss_value(model.train_on_batch([x, mask], y[idx])) * len(idx)
            seen += len(idx)
        pred = predict_sequences(model, val_seqs, batch_size).argmax(axis=1)
        with warnings.catch_warnings():  # an early model may predict classes absent from a small val set
            warnings.simplefilter("ignore", UserWarning)
            val_uar = uar(vy, pred)
        row = {"epoch": epoch, "loss": total / seen, "val_uar": val_uar}
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, dict(row))
        if row["val_uar"] > best_uar:
            best_uar, best_epoch, best_weights = row["val_uar"], epoch, model.get_weights()
        elif epoch - best_epoch >= patience:
            stopped_early = True
            break
    model.set_weights(best_weights)
    return {
        "model": model,
        "history": history,
        "best_epoch": best_epoch,
        "best_val_uar": float(best_uar),
        "epochs_run": len(history),
        "stopped_early": stopped_early,
    }


def _validation_split(
    train_idx: np.ndarray, participants: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, str]:
    """Split a fold's training indices into (fit, val, how): one held-out participant if there are >= 2, else a
    stratified 20 % of the videos (a random 20 % when a class has too few videos to stratify)."""
    people = sorted(set(participants[train_idx]))
    if len(people) >= 2:
        held = people[int(rng.integers(len(people)))]
        is_val = participants[train_idx] == held
        return train_idx[~is_val], train_idx[is_val], "participant"
    if len(train_idx) < 2:
        raise FerBenchError("a fold's training part has fewer than 2 videos; nothing to validate on")
    n_val = max(1, int(round(0.2 * len(train_idx))))
    seed = int(rng.integers(2**31 - 1))
    try:
        sss = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        fit_pos, val_pos = next(sss.split(np.zeros(len(train_idx)), y[train_idx]))
        how = "stratified_20pct"
    except ValueError:  # a class with one video, or fewer val videos than classes
        perm = np.random.default_rng(seed).permutation(len(train_idx))
        val_pos, fit_pos = perm[:n_val], perm[n_val:]
        how = "random_20pct"
    return np.sort(train_idx[fit_pos]), np.sort(train_idx[val_pos]), how


def _scores(y: np.ndarray, pred: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return {"uar": uar(y, pred), "accuracy": float(np.mean(pred == y)), "n": int(len(y))}


def run_au_experiment(
    folder: str | Path,
    labels_csv: str | Path,
    *,
    label_set: str | LabelSet | Iterable[str],
    heads: Sequence[str] = HEADS,
    n_splits: int | None = None,
    seed: int = 0,
    max_epochs: int = 300,
    patience: int = 30,
    batch_size: int = 64,
    on_epoch: Callable[[str, int, int, dict], None] | None = None,
) -> dict:
    """Participant-independent comparison of the SVM baseline and the GRU heads on an OpenFace AU folder.

    Folds: :func:`~fer_bench.video.split.group_kfold_splits` with ``n_splits`` (default: the number of
    participants, i.e. leave-one-participant-out). Inside each fold's training part, validation (for early
    stopping) is one training participant drawn with the seeded generator when there are >= 2, else a stratified
    20 % of the training videos (random 20 % if stratifying is impossible); ``folds[i]["validation"]`` says which.
    The SVM (time-averaged raw AUs, its own scaler) and the networks (frames standardised by a
    :class:`Standardizer` fitted on the fit part) are trained on the same fit videos and scored on the test
    participant(s). Test UAR is over the classes present in the evaluated labels. Every network uses ``seed``.

    Returns ``{"classes", "chance_uar", "counts", "folds", "methods", "config"}``; ``methods[name]`` holds
    ``folds`` (per-fold uar/accuracy/n, plus best_epoch/best_val_uar/epochs_run for networks), ``mean_fold_uar``
    and ``pooled`` (uar/accuracy over all test predictions together). ``on_epoch(head, fold, epoch, row)``
    reports training progress. No printing.
    """
    heads = tuple(heads)
    bad = [h for h in heads if h not in HEADS]
    if bad:
        raise FerBenchError(f"unknown head(s) {', '.join(bad)}; use {', '.join(HEADS)}")
    ls = get_label_set(label_set)
    read = read_folder(folder, labels_csv, label_set=ls)
    if not read.sequences:
        raise FerBenchError(f"{folder}: no readable labelled OpenFace CSV ({read.n_skipped} skipped)")
    table = read.labels
    videos = list(table["video"])
    seqs = [read.sequences[v].features for v in videos]
    y = table["y"].to_numpy(dtype=np.int64)
    participants = table["participant"].astype(str).to_numpy(dtype=object)
    n_people = len(set(participants))
    if n_people < 2:
        raise FerBenchError(f"{folder}: only {n_people} participant; participant-independent folds need >= 2")
    k = n_people if n_splits is None else int(n_splits)
    splits = group_kfold_splits(participants, k, seed=seed)
    rng = np.random.default_rng(seed)
    n_classes = len(ls.classes)

    methods = ["svm", *heads]
    per_fold: dict[str, list[dict]] = {m: [] for m in methods}
    pooled_pred: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    pooled_true: list[np.ndarray] = []
    folds = []
    for f, split in enumerate(splits):
        train_idx, test_idx = split.indices["train"], split.indices["test"]
        fit_idx, val_idx, how = _validation_split(train_idx, participants, y, rng)
        folds.append({
            "fold": f,
            "train": sorted(set(participants[fit_idx])),
            "val": sorted(set(participants[val_idx])),
            "test": sorted(set(participants[test_idx])),
            "validation": how,
            "n_train": int(len(fit_idx)),
            "n_val": int(len(val_idx)),
            "n_test": int(len(test_idx)),
        })
        yt = y[test_idx]
        pooled_true.append(yt)

        svm = fit_evaluate_svm(
            sequence_means([seqs[i] for i in fit_idx]), y[fit_idx], sequence_means([seqs[i] for i in test_idx]), yt
        )
        per_fold["svm"].append(_scores(yt, svm.predictions))
        pooled_pred["svm"].append(np.asarray(svm.predictions))

        scaler = Standardizer.fit([seqs[i] for i in fit_idx])
        s_fit = scaler.transform([seqs[i] for i in fit_idx])
        s_val = scaler.transform([seqs[i] for i in val_idx])
        s_test = scaler.transform([seqs[i] for i in test_idx])
        for head in heads:
            cb = None
            if on_epoch is not None:
                def cb(epoch, row, _h=head, _f=f):
                    on_epoch(_h, _f, epoch, row)
            fitted = fit_sequence_model(
                s_fit, y[fit_idx], s_val, y[val_idx], n_classes=n_classes, head=head, seed=seed,
                max_epochs=max_epochs, patience=patience, batch_size=batch_size, on_epoch=cb,
            )
            pred = predict_sequences(fitted["model"], s_test, batch_size).argmax(axis=1)
            row = _scores(yt, pred)
            row.update(
                best_epoch=fitted["best_epoch"], best_val_uar=fitted["best_val_uar"], epochs_run=fitted["epochs_run"]
            )
            per_fold[head].append(row)
            pooled_pred[head].append(pred)
            keras.backend.clear_session()

    all_true = np.concatenate(pooled_true)
    result_methods = {}
    for m in methods:
        all_pred = np.concatenate(pooled_pred[m])
        result_methods[m] = {
            "folds": per_fold[m],
            "mean_fold_uar": float(np.mean([r["uar"] for r in per_fold[m]])),
            "pooled": _scores(all_true, all_pred),
        }
    return {
        "classes": list(ls.classes),
        "chance_uar": 1.0 / n_classes,
        "counts": {
            "videos_read": len(read.sequences),
            "videos_skipped": read.n_skipped,
            "participants": n_people,
            "frames": int(read.n_frames),
        },
        "folds": folds,
        "methods": result_methods,
        "config": {
            "heads": list(heads), "n_splits": k, "seed": seed, "max_epochs": max_epochs, "patience": patience,
            "batch_size": batch_size, "split": "group_kfold",
        },
    }
