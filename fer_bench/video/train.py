"""Training and evaluation of the video track's sequence models on OpenFace AU sequences (Keinert et al., 2025,
JMIR 27:e68942, Methods, "Development of the Automatic FER Model": 3-layer GRU(35) + average / attention / conv
head + MLP, Adam with learning rate 0.001, the SVM baseline on time-averaged AUs, UAR and accuracy).

* :class:`Standardizer`: per-feature mean/std over the valid frames of the training videos only.
* :func:`fit_sequence_model`: a seeded minibatch loop over ``train_on_batch`` (each minibatch padded on its own
  with :func:`~fer_bench.video.models.pad_batch` to a multiple of 32 frames, order reshuffled every epoch by a
  seeded numpy generator) with early stopping on the validation UAR (patience in epochs, best weights restored).
* :func:`predict_sequences`: class probabilities for unpadded sequences.

The experiment around them (splits, SVM baseline, heads x seeds, run folders) is
:func:`fer_bench.video.experiment.run_video`. The paper does not state the patience or the batch size; 30 epochs
and 64 videos are the defaults.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from .models import build_sequence_model, pad_batch
from .svm import uar

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
