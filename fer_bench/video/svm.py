"""The SVM baseline of the video track (Keinert et al., 2025, JMIR 27:e68942, Methods, "Development of the
Automatic FER Model" and the data-split paragraph): action units averaged over the time axis of each video, standard
scaling, an RBF-kernel SVC with C = 1 and gamma = "scale", scored with the unweighted average recall (UAR).

The scaler and the SVC are one scikit-learn Pipeline fitted on the training videos only, so the evaluation videos
never shape the standardisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def time_average(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-video mean over valid frames: ``x`` [N, T, F] and bool ``mask`` [N, T] -> [N, F] float64.

    Padded frames (mask False) are ignored whatever their values. A video with no valid frame has no mean and
    raises ValueError (an SVM cannot take NaN).
    """
    x = np.asarray(x, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if x.ndim != 3 or mask.shape != x.shape[:2]:
        raise ValueError(f"expected x [N, T, F] and mask [N, T], got {x.shape} and {mask.shape}")
    counts = mask.sum(axis=1)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(f"videos without a valid frame cannot be averaged: indices {empty[:10].tolist()}")
    return np.where(mask[:, :, None], x, 0.0).sum(axis=1) / counts[:, None]


def sequence_means(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Per-video mean of unpadded feature matrices [T_i, F] -> [N, F] float64 (every video needs a frame)."""
    out = []
    for i, s in enumerate(sequences):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(f"sequence {i} has shape {a.shape}; expected [time >= 1, n_features]")
        out.append(a.mean(axis=0))
    if not out:
        raise ValueError("no sequences given")
    return np.stack(out)


def build_svm(C: float = 1.0, gamma: str | float = "scale", kernel: str = "rbf") -> Pipeline:
    """Pipeline(StandardScaler, SVC(kernel="rbf", C=1, gamma="scale")): the baseline of Keinert et al. (2025)."""
    return Pipeline([("scaler", StandardScaler()), ("svc", SVC(kernel=kernel, C=C, gamma=gamma))])


def uar(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> float:
    """Unweighted average recall (mean per-class recall).

    Without ``labels``: over the classes present in ``y_true`` (``balanced_accuracy_score``). With ``labels``:
    over exactly those classes, a class absent from ``y_true`` counting as recall 0 (``recall_score`` macro,
    ``zero_division=0``), which is what a per-participant score with missing classes needs to state explicitly.
    """
    if labels is None:
        return float(balanced_accuracy_score(y_true, y_pred))
    return float(recall_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0))


@dataclass(frozen=True)
class SVMResult:
    """A fitted baseline and its scores on the evaluation videos."""

    pipeline: Pipeline
    predictions: np.ndarray
    uar: float
    accuracy: float


def fit_evaluate_svm(
    train_features: np.ndarray,
    train_labels: Sequence,
    eval_features: np.ndarray,
    eval_labels: Sequence,
    *,
    C: float = 1.0,
    gamma: str | float = "scale",
    labels: Sequence | None = None,
) -> SVMResult:
    """Fit the baseline on video-level training features [N, F] (e.g. from :func:`time_average`) and score it on
    the evaluation videos: predictions, UAR (see :func:`uar` for ``labels``) and accuracy."""
    train_features = np.asarray(train_features, dtype=np.float64)
    eval_features = np.asarray(eval_features, dtype=np.float64)
    if train_features.ndim != 2 or eval_features.ndim != 2 or train_features.shape[1] != eval_features.shape[1]:
        raise ValueError(f"expected [N, F] feature matrices, got {train_features.shape} and {eval_features.shape}")
    pipeline = build_svm(C=C, gamma=gamma).fit(train_features, np.asarray(train_labels))
    pred = pipeline.predict(eval_features)
    y = np.asarray(eval_labels)
    return SVMResult(pipeline, pred, uar(y, pred, labels), float(np.mean(pred == y)))
