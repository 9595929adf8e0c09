"""Class weights of the BTFER protocol (Ipinze Tutuianu et al., 2024, §3.4 "Class balancing managements").

simple:       w_c = n_max / n_c
conservative: w_c = min(n_max / n_c, cap)   (cap = 3 in the paper)
none:         w_c = 1
Classes absent from the training data get weight 1 (they never occur as targets anyway).
"""

from __future__ import annotations

import numpy as np

from ..errors import FerBenchError
from .config import BALANCES


def class_counts(labels, num_classes: int) -> np.ndarray:
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)[:num_classes]


def class_weights(counts, method: str, cap: float = 3.0) -> dict[int, float]:
    """Per-class weights from per-class training counts (index -> weight)."""
    counts = np.asarray(counts, dtype=np.float64)
    if method == "none":
        return {i: 1.0 for i in range(len(counts))}
    present = counts > 0
    if not present.any():
        raise FerBenchError("cannot compute class weights: the training split is empty")
    ratio = np.ones_like(counts)
    ratio[present] = counts[present].max() / counts[present]
    if method == "simple":
        w = ratio
    elif method == "conservative":
        w = np.minimum(ratio, cap)
    else:
        raise FerBenchError(f"unknown balancing {method!r}; use one of {', '.join(BALANCES)}")
    return {i: float(x) for i, x in enumerate(w)}
