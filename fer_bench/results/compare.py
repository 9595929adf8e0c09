"""Statistics for comparing runs scored on the same test set (what `fer-bench report` marks as significant).

* :func:`mcnemar_exact`: exact (binomial) McNemar test on per-image correctness of two models on the same
  images (SciPy's ``binomtest`` on the discordant pairs);
* :func:`paired_bootstrap`: percentile CI of the accuracy and UAR differences, resampling images (the same
  resample for both models), with a fixed seed so a report is reproducible;
* :func:`holm`: Holm's step-down correction (statsmodels ``multipletests``) for a family of tests;
* :func:`mean_sd`: mean and sample sd over seeds;
* :func:`load_predictions` / :func:`paired_correctness`: per-image correctness from the ``predictions/*.csv``
  files of two run folders, aligned by file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: significance level of the report's tests (after Holm's correction when a family has more than two tests)
ALPHA = 0.05
BOOTSTRAP_SEED = 0
N_BOOTSTRAP = 2000


def mean_sd(values) -> tuple[float, float, int]:
    """(mean, sample sd (ddof=1; 0 for one value), count) of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


def contingency(correct_a, correct_b) -> np.ndarray:
    """2x2 table [[both right, only A right], [only B right, both wrong]] of two paired correctness vectors."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("correctness vectors of different lengths")
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], dtype=int)


def mcnemar_exact(table) -> float:
    """Two-sided exact McNemar p-value of a 2x2 paired table (off-diagonal cells b = only A right, c = only B
    right): the binomial test of b successes in b + c trials at p = 0.5. 1.0 when the models never disagree."""
    from scipy.stats import binomtest

    t = np.asarray(table, dtype=int)
    b, c = int(t[0, 1]), int(t[1, 0])
    if b + c == 0:
        return 1.0
    return float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


def _uar_rows(y: np.ndarray, correct: np.ndarray, n_classes: int) -> np.ndarray:
    """UAR of each row of (resampled labels, resampled correctness) matrices; classes absent from a resample
    are left out of its mean."""
    recalls = np.full((y.shape[0], n_classes), np.nan)
    for k in range(n_classes):
        in_k = y == k
        n_k = in_k.sum(axis=1)
        hit = (in_k & correct).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls[:, k] = np.where(n_k > 0, hit / np.maximum(n_k, 1), np.nan)
    return np.nanmean(recalls, axis=1)


def uar(y_true, correct, n_classes: int | None = None) -> float:
    """Unweighted average recall from labels and per-image correctness (classes present in y_true only)."""
    y = np.asarray(y_true, dtype=int)
    k = int(n_classes if n_classes is not None else y.max() + 1)
    return float(_uar_rows(y[None, :], np.asarray(correct, dtype=bool)[None, :], k)[0])


def paired_bootstrap(y_true, correct_a, correct_b, *, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
                     level: float = 0.95) -> dict:
    """Paired percentile bootstrap of accuracy(A) - accuracy(B) and UAR(A) - UAR(B).

    Each of *n_boot* resamples draws n image indices with replacement (``numpy.random.default_rng(seed)
    .integers(0, n, size=(n_boot, n))``) and scores both models on the same draw. Returns the observed
    differences and the ``level`` percentile intervals: ``{"acc_diff", "acc_ci": (lo, hi), "uar_diff",
    "uar_ci": (lo, hi), "n", "n_boot", "seed"}``.
    """
    y = np.asarray(y_true, dtype=int)
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    n = y.size
    if n == 0 or a.size != n or b.size != n:
        raise ValueError("paired_bootstrap needs non-empty labels and correctness vectors of the same length")
    k = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    ys, as_, bs = y[idx], a[idx], b[idx]
    acc_d = as_.mean(axis=1) - bs.mean(axis=1)
    uar_d = _uar_rows(ys, as_, k) - _uar_rows(ys, bs, k)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    return {"acc_diff": float(a.mean() - b.mean()), "acc_ci": tuple(float(x) for x in np.percentile(acc_d, q)),
            "uar_diff": uar(y, a, k) - uar(y, b, k), "uar_ci": tuple(float(x) for x in np.nanpercentile(uar_d, q)),
            "n": int(n), "n_boot": int(n_boot), "seed": int(seed)}


def holm(pvalues, alpha: float = ALPHA) -> tuple[list[float], list[bool]]:
    """Holm-adjusted p-values and reject flags (statsmodels ``multipletests(method="holm")``). A family of one
    or two tests is returned unadjusted: the report corrects only when it makes more than two comparisons."""
    p = [float(x) for x in pvalues]
    if not p:
        return [], []
    if len(p) <= 2:
        return p, [x < alpha for x in p]
    from statsmodels.stats.multitest import multipletests

    reject, adj, _, _ = multipletests(p, alpha=alpha, method="holm")
    return [float(x) for x in adj], [bool(x) for x in reject]


def safe_name(target: str) -> str:
    """The predictions file stem a run writes for a test target (as protocol.run does)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in target).strip("_") or "test"


def predictions_file(folder: Path, target: str) -> Path | None:
    """``predictions/<target>.csv`` of a run folder (external runs: ``predictions/evaluation.csv``), or None."""
    pred = Path(folder) / "predictions"
    for name in (f"{safe_name(target)}.csv", "evaluation.csv"):
        if (pred / name).is_file():
            return pred / name
    return None


def load_predictions(folder: Path, target: str) -> pd.DataFrame | None:
    """(file, true, predicted) of one run folder and test target, or None when the run kept no predictions."""
    path = predictions_file(folder, target)
    if path is None:
        return None
    try:
        df = pd.read_csv(path, usecols=["file", "true", "predicted"])
    except (OSError, ValueError):
        return None
    return df.drop_duplicates("file")


@dataclass
class Paired:
    """Two runs' per-image results on the images both scored (aligned by file name)."""

    y_true: np.ndarray
    correct_a: np.ndarray
    correct_b: np.ndarray
    labels: list[str]


def paired_correctness(folder_a: Path, folder_b: Path, target: str) -> Paired | None:
    """Per-image correctness of two runs on the same test target, joined on the file column; None when either
    run has no predictions for it or they share no image (or disagree on an image's label)."""
    a = load_predictions(folder_a, target)
    b = load_predictions(folder_b, target)
    if a is None or b is None:
        return None
    m = a.merge(b, on="file", suffixes=("_a", "_b"))
    if m.empty or (m["true_a"] != m["true_b"]).any():
        return None
    labels = sorted(set(m["true_a"]) | set(m["predicted_a"]) | set(m["predicted_b"]))
    code = {name: i for i, name in enumerate(labels)}
    return Paired(m["true_a"].map(code).to_numpy(), (m["predicted_a"] == m["true_a"]).to_numpy(),
                  (m["predicted_b"] == m["true_b"]).to_numpy(), labels)


def compare_runs(folder_a: Path, folder_b: Path, target: str, *, seed: int = BOOTSTRAP_SEED,
                 n_boot: int = N_BOOTSTRAP) -> dict | None:
    """McNemar + paired bootstrap of run A vs run B on one test target (None without paired predictions)."""
    p = paired_correctness(folder_a, folder_b, target)
    if p is None:
        return None
    table = contingency(p.correct_a, p.correct_b)
    return {"table": table.tolist(), "p": mcnemar_exact(table),
            **paired_bootstrap(p.y_true, p.correct_a, p.correct_b, seed=seed, n_boot=n_boot)}
