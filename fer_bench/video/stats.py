"""Statistics for the video track: metrics, bootstrap CIs, tests against chance and rater agreement.

Mirrors the evaluation of Keinert et al. (2025, JMIR; Methods, "Performance Evaluation"; Results, Table 5):
accuracy and unweighted average recall (UAR), a percentile bootstrap CI with 1000 replicates, a one-sided
binomial test against chance, Cohen's kappa (model vs ground truth, model vs each human rater), Fleiss' kappa
among the human raters (all ratings, and correct/incorrect "agreement on correct classifications"), and the
Landis & Koch (1977) agreement bands.

Everything here is pure (no printing, no I/O). scikit-learn and SciPy do the work where they have the function:
``accuracy_score``, ``recall_score``, ``confusion_matrix``, ``cohen_kappa_score``, ``scipy.stats.bootstrap``,
``scipy.stats.binomtest``. Fleiss' kappa is in neither (statsmodels has it but is not a dependency), so it is
implemented from Fleiss (1971) and tested against the worked example (kappa = 0.210).

Conventions:

* UAR is the macro recall over the classes present in ``y_true`` (scikit-learn's ``balanced_accuracy_score``
  definition); classes listed in ``labels`` but absent from ``y_true`` get recall NaN and do not count.
* Landis & Koch bands use the half-open intervals stated by Keinert et al. (2025): slight kappa <= 0.2,
  fair 0.2 < kappa <= 0.4, moderate <= 0.6, substantial <= 0.8, almost perfect above; kappa < 0 is "poor".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, recall_score

from ..errors import FerBenchError

METRICS: tuple[str, ...] = ("accuracy", "uar")


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.ndim != 1 or yp.ndim != 1 or len(yt) != len(yp):
        raise FerBenchError(f"y_true and y_pred must be 1-D and of equal length (got {yt.shape} and {yp.shape})")
    if len(yt) == 0:
        raise FerBenchError("no samples: y_true is empty")
    return yt, yp


def _labels(yt: np.ndarray, yp: np.ndarray, labels: Sequence | None) -> list:
    if labels is not None:
        labels = list(labels)
        missing = sorted((set(yt.tolist()) | set(yp.tolist())) - set(labels), key=str)
        if missing:
            raise FerBenchError(f"labels {missing} occur in the data but not in `labels`; add them to `labels`")
        return labels
    return sorted(set(yt.tolist()) | set(yp.tolist()), key=str)


def uar(y_true: Any, y_pred: Any) -> float:
    """Unweighted average recall: macro recall over the classes present in ``y_true``."""
    yt, yp = _pair(y_true, y_pred)
    present = sorted(set(yt.tolist()), key=str)
    return float(recall_score(yt, yp, labels=present, average="macro", zero_division=0))


def classification_summary(y_true: Any, y_pred: Any, labels: Sequence | None = None) -> dict[str, Any]:
    """Accuracy, UAR, per-class recall and one-vs-rest balanced accuracy, and the confusion matrix.

    Returns a dict with ``n``, ``accuracy``, ``uar``, ``labels``, ``per_class_recall`` (label -> recall, NaN
    for a label absent from ``y_true``), ``per_class_balanced_accuracy`` (label -> (sensitivity + specificity)/2
    of the one-vs-rest problem, as R caret's ``confusionMatrix`` reports it and as Keinert et al. 2025, Table 5
    tabulate per emotion; NaN when the class or its complement is absent from ``y_true``) and ``confusion``
    (DataFrame, rows = true label, columns = predicted label, from scikit-learn ``confusion_matrix``).
    """
    yt, yp = _pair(y_true, y_pred)
    labels = _labels(yt, yp, labels)
    cm = confusion_matrix(yt, yp, labels=labels)
    present = [lab for lab in labels if np.any(yt == lab)]
    recalls = recall_score(yt, yp, labels=present, average=None, zero_division=0)
    per_class_recall = {lab: math.nan for lab in labels}
    per_class_recall.update({lab: float(r) for lab, r in zip(present, recalls, strict=True)})
    n = int(cm.sum())
    per_class_bacc = {}
    for k, lab in enumerate(labels):
        tp = cm[k, k]
        pos = cm[k, :].sum()
        neg = n - pos
        tn = n - pos - cm[:, k].sum() + tp
        per_class_bacc[lab] = float((tp / pos + tn / neg) / 2) if pos and neg else math.nan
    return {
        "n": n,
        "accuracy": float(accuracy_score(yt, yp)),
        "uar": float(np.mean(recalls)),
        "labels": labels,
        "per_class_recall": per_class_recall,
        "per_class_balanced_accuracy": per_class_bacc,
        "confusion": pd.DataFrame(cm, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="pred")),
    }


class BootstrapCI(NamedTuple):
    """Point estimate on the full sample and the percentile bootstrap interval."""

    point: float
    low: float
    high: float


def _vectorized_metric(metric: str, n_classes: int):
    """Metric over integer-coded labels along ``axis`` (for ``scipy.stats.bootstrap(vectorized=True)``)."""

    def accuracy(yt: np.ndarray, yp: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(yt == yp, axis=axis)

    def uar_(yt: np.ndarray, yp: np.ndarray, axis: int = -1) -> np.ndarray:
        yt, yp = np.moveaxis(yt, axis, -1), np.moveaxis(yp, axis, -1)
        hits = yt == yp
        total = np.zeros(yt.shape[:-1])
        count = np.zeros(yt.shape[:-1])
        for k in range(n_classes):
            is_k = yt == k
            support = is_k.sum(axis=-1)
            has = support > 0
            total += np.where(has, (is_k & hits).sum(axis=-1) / np.maximum(support, 1), 0.0)
            count += has
        return total / count

    return {"accuracy": accuracy, "uar": uar_}[metric]


def bootstrap_ci(
    y_true: Any, y_pred: Any, metric: str = "uar", n: int = 1000, level: float = 0.95, seed: int = 0
) -> BootstrapCI:
    """Percentile bootstrap CI of ``metric`` ("uar" or "accuracy"), resampling (y_true, y_pred) pairs.

    Videos are resampled with replacement ``n`` times (Keinert et al. 2025 use 1000 replicates) with
    ``scipy.stats.bootstrap(paired=True, method="percentile")`` and ``numpy.random.default_rng(seed)``, so the
    result is deterministic for a given seed. Returns ``BootstrapCI(point, low, high)``; ``point`` is the metric
    on the full sample (equal to :func:`classification_summary`'s value).
    """
    if metric not in METRICS:
        raise FerBenchError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if not 0 < level < 1:
        raise FerBenchError(f"level must be in (0, 1), got {level}")
    if n < 1:
        raise FerBenchError(f"n (bootstrap replicates) must be >= 1, got {n}")
    yt, yp = _pair(y_true, y_pred)
    classes, codes = np.unique(np.concatenate([yt, yp]).astype(str), return_inverse=True)
    ct, cp = codes[: len(yt)], codes[len(yt):]
    stat = _vectorized_metric(metric, len(classes))
    point = float(stat(ct, cp))
    res = sps.bootstrap(
        (ct, cp), stat, n_resamples=n, paired=True, vectorized=True, confidence_level=level,
        method="percentile", rng=np.random.default_rng(seed),
    )
    return BootstrapCI(point, float(res.confidence_interval.low), float(res.confidence_interval.high))


class ChanceTest(NamedTuple):
    """One-sided exact binomial test of ``n_correct`` of ``n`` against the chance rate ``chance``."""

    n_correct: int
    n: int
    chance: float
    proportion: float
    p_value: float


def binomial_test_vs_chance(n_correct: int, n: int, chance: float, alternative: str = "greater") -> ChanceTest:
    """Exact binomial test (``scipy.stats.binomtest``) of accuracy ``n_correct / n`` against ``chance``.

    ``alternative="greater"`` is the one-sided test of Keinert et al. (2025):
    p = sum_{i=n_correct}^{n} C(n, i) chance^i (1 - chance)^(n - i).
    """
    if not 0 <= chance <= 1:
        raise FerBenchError(f"chance must be a probability in [0, 1], got {chance}")
    if n < 1 or not 0 <= n_correct <= n:
        raise FerBenchError(f"need 0 <= n_correct <= n and n >= 1, got n_correct={n_correct}, n={n}")
    res = sps.binomtest(int(n_correct), int(n), p=chance, alternative=alternative)
    return ChanceTest(int(n_correct), int(n), float(chance), n_correct / n, float(res.pvalue))


def chance_tests(y_true: Any, y_pred: Any, labels: Sequence | None = None) -> dict[str, ChanceTest]:
    """Binomial tests of the accuracy against two chance levels: ``"uniform"`` and ``"majority"``.

    ``uniform`` is 1/K with K = ``len(labels)`` (or the number of distinct labels in y_true and y_pred), i.e. 0.5
    for a binary task; ``majority`` is the relative frequency of the most common class in ``y_true`` (the
    accuracy of always predicting it; about 0.75 for positive vs negative emotions when 12 of 16 emotions are
    positive). Report both when classes are unbalanced.
    """
    yt, yp = _pair(y_true, y_pred)
    labels = _labels(yt, yp, labels)
    k = int(np.sum(yt == yp))
    _, counts = np.unique(yt.astype(str), return_counts=True)
    return {
        "uniform": binomial_test_vs_chance(k, len(yt), 1 / len(labels)),
        "majority": binomial_test_vs_chance(k, len(yt), float(counts.max() / len(yt))),
    }


def cohen_kappa(a: Any, b: Any, labels: Sequence | None = None) -> float:
    """Cohen's kappa between two label sequences (scikit-learn ``cohen_kappa_score``, unweighted).

    NaN when it is undefined (both raters use one and the same single category).
    """
    ya, yb = _pair(a, b)
    if len(set(ya.tolist()) | set(yb.tolist())) == 1:
        return math.nan
    return float(cohen_kappa_score(ya, yb, labels=None if labels is None else list(labels)))


def rating_counts(ratings: Any, categories: Sequence | None = None) -> pd.DataFrame:
    """Subjects x categories count table from a subjects x raters label table (statsmodels' ``aggregate_raters``).

    Missing ratings (NaN/None) are not allowed: Fleiss' kappa needs the same number of raters per subject.
    """
    df = pd.DataFrame(ratings)
    if df.ndim != 2 or df.shape[0] == 0 or df.shape[1] < 2:
        raise FerBenchError(f"ratings must be a subjects x raters table with >= 2 raters, got shape {df.shape}")
    if df.isna().any().any():
        raise FerBenchError("ratings contain missing values; Fleiss' kappa needs every rater to rate every subject")
    values = df.to_numpy()
    cats = list(categories) if categories is not None else sorted(set(values.ravel().tolist()), key=str)
    unknown = set(values.ravel().tolist()) - set(cats)
    if unknown:
        raise FerBenchError(f"ratings use categories {sorted(unknown, key=str)} not in `categories`")
    counts = np.stack([(values == c).sum(axis=1) for c in cats], axis=1)
    return pd.DataFrame(counts, index=df.index, columns=cats)


def fleiss_kappa_counts(table: Any) -> float:
    """Fleiss' kappa from a subjects x categories count table (Fleiss 1971), every row summing to n raters.

    P_i = (sum_j n_ij^2 - n) / (n (n - 1)); P_bar = mean_i P_i; p_j = sum_i n_ij / (N n);
    P_e = sum_j p_j^2; kappa = (P_bar - P_e) / (1 - P_e). NaN when P_e = 1 (every rating in one category).
    """
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] == 0:
        raise FerBenchError(f"count table must be subjects x categories, got shape {t.shape}")
    if np.any(t < 0) or np.any(t != np.round(t)):
        raise FerBenchError("count table must hold non-negative integer counts")
    per_subject = t.sum(axis=1)
    n = per_subject[0]
    if n < 2 or np.any(per_subject != n):
        raise FerBenchError("every subject needs the same number (>= 2) of ratings for Fleiss' kappa")
    n_subjects = t.shape[0]
    p_i = ((t**2).sum(axis=1) - n) / (n * (n - 1))
    p_bar = p_i.mean()
    p_j = t.sum(axis=0) / (n_subjects * n)
    p_e = float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return math.nan
    return float((p_bar - p_e) / (1 - p_e))


def fleiss_kappa(ratings: Any, categories: Sequence | None = None) -> float:
    """Fleiss' kappa among raters from a subjects x raters label table (DataFrame or 2-D array)."""
    return fleiss_kappa_counts(rating_counts(ratings, categories))


LANDIS_KOCH: tuple[tuple[float, str], ...] = (
    (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"), (1.00, "almost perfect"),
)


def landis_koch(kappa: float) -> str:
    """Landis & Koch (1977) agreement label: poor (< 0), slight (0-0.20), fair (0.21-0.40), moderate (0.41-0.60),
    substantial (0.61-0.80), almost perfect (0.81-1.00).

    Boundaries are upper-inclusive as in Keinert et al. (2025): 0.20 is slight, 0.2001 fair, 0.80 substantial.
    NaN gives "undefined"; values above 1 (beyond float rounding) are an error.
    """
    kappa = float(kappa)
    if math.isnan(kappa):
        return "undefined"
    if kappa > 1 + 1e-9:
        raise FerBenchError(f"kappa cannot exceed 1, got {kappa}")
    if kappa < 0:
        return "poor"
    for upper, label in LANDIS_KOCH:
        if kappa <= upper:
            return label
    return "almost perfect"


@dataclass(frozen=True)
class RaterComparison:
    """Model vs human raters, as in Keinert et al. (2025, Results and Table 5).

    ``performance``: one row per ``model``, each rater, ``raters_mean`` and ``raters_sd`` (sample SD, ddof=1),
    columns ``n``, ``accuracy``, ``uar``, ``kappa_vs_truth`` (Cohen, against ``y_true``), ``kappa_vs_model``
    (Cohen, rater against model; NaN for the model and summary rows) and ``kappa_vs_model_agreement``.
    ``agreement``: one row per agreement statistic (``fleiss_raters``: all ratings; ``fleiss_raters_correct``:
    Fleiss on each rater's correct/incorrect indicator, the paper's "agreement on correct classifications";
    ``cohen_model_vs_raters_mean``; ``cohen_model_vs_truth``), columns ``kappa`` and ``agreement``
    (Landis & Koch label).
    """

    performance: pd.DataFrame
    agreement: pd.DataFrame


def compare_with_raters(
    y_true: Any, y_model: Any, ratings: pd.DataFrame | Mapping[str, Sequence], labels: Sequence | None = None
) -> RaterComparison:
    """Accuracy/UAR of the model and each rater, Cohen's kappa model-vs-rater, Fleiss' kappa among raters.

    ``ratings`` is a videos x raters table (columns = rater ids) aligned with ``y_true`` and ``y_model``
    by position; every rater must rate every video (no missing values).
    """
    yt, ym = _pair(y_true, y_model)
    df = pd.DataFrame(ratings)
    if len(df) != len(yt):
        raise FerBenchError(f"ratings has {len(df)} rows but y_true has {len(yt)}; align them by video")
    if df.shape[1] < 1:
        raise FerBenchError("ratings has no rater columns")
    if df.isna().any().any():
        raise FerBenchError("ratings contain missing values; every rater must rate every video")
    all_labels = _labels(yt, ym, labels) if labels is not None else None
    rows: dict[str, dict[str, Any]] = {}
    s = classification_summary(yt, ym, all_labels)
    rows["model"] = {"n": s["n"], "accuracy": s["accuracy"], "uar": s["uar"],
                     "kappa_vs_truth": cohen_kappa(yt, ym, all_labels), "kappa_vs_model": math.nan}
    for rater in df.columns:
        yr = df[rater].to_numpy()
        s = classification_summary(yt, yr, all_labels)
        rows[str(rater)] = {"n": s["n"], "accuracy": s["accuracy"], "uar": s["uar"],
                            "kappa_vs_truth": cohen_kappa(yt, yr, all_labels),
                            "kappa_vs_model": cohen_kappa(ym, yr, all_labels)}
    perf = pd.DataFrame.from_dict(rows, orient="index")
    raters = perf.iloc[1:]
    mean, sd = raters.mean(), raters.std(ddof=1)
    perf.loc["raters_mean"] = mean
    perf.loc["raters_sd"] = sd
    perf["n"] = perf["n"].astype(float)
    perf["kappa_vs_model_agreement"] = [landis_koch(k) for k in perf["kappa_vs_model"]]
    perf.loc["raters_sd", "kappa_vs_model_agreement"] = ""

    agreement: dict[str, float] = {}
    if df.shape[1] >= 2:
        agreement["fleiss_raters"] = fleiss_kappa(df, all_labels)
        correct = pd.DataFrame({c: (df[c].to_numpy() == yt) for c in df.columns})
        agreement["fleiss_raters_correct"] = fleiss_kappa(correct, [False, True])
    agreement["cohen_model_vs_raters_mean"] = float(mean["kappa_vs_model"])
    agreement["cohen_model_vs_truth"] = float(perf.loc["model", "kappa_vs_truth"])
    agr = pd.DataFrame({"kappa": agreement})
    agr["agreement"] = [landis_koch(k) for k in agr["kappa"]]
    return RaterComparison(perf, agr)
