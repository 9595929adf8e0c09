"""Video-track statistics against hand-computed values (Keinert et al. 2025; Fleiss 1971; Landis & Koch 1977)."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from fer_bench.errors import FerBenchError
from fer_bench.video.stats import (
    binomial_test_vs_chance,
    bootstrap_ci,
    chance_tests,
    classification_summary,
    cohen_kappa,
    compare_with_raters,
    fleiss_kappa,
    fleiss_kappa_counts,
    landis_koch,
    rating_counts,
    uar,
)

Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]


def test_classification_summary_by_hand():
    s = classification_summary(Y_TRUE, Y_PRED, labels=["a", "b", "c", "d"])
    assert s["n"] == 6
    assert s["accuracy"] == pytest.approx(4 / 6)  # correct: a, a, b, c
    assert s["per_class_recall"]["a"] == pytest.approx(2 / 3)
    assert s["per_class_recall"]["b"] == pytest.approx(1 / 2)
    assert s["per_class_recall"]["c"] == pytest.approx(1.0)
    assert math.isnan(s["per_class_recall"]["d"])  # absent from y_true: not counted in UAR
    assert s["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)  # = 13/18
    assert s["uar"] == pytest.approx(13 / 18)
    assert s["uar"] == pytest.approx(balanced_accuracy_score(Y_TRUE, Y_PRED))
    assert uar(Y_TRUE, Y_PRED) == pytest.approx(13 / 18)
    cm = s["confusion"]
    assert cm.loc[["a", "b", "c"], ["a", "b", "c"]].to_numpy().tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert cm["d"].sum() == 0 and cm.loc["d"].sum() == 0
    # one-vs-rest balanced accuracy (caret): (sensitivity + specificity) / 2
    bacc = s["per_class_balanced_accuracy"]
    assert bacc["a"] == pytest.approx((2 / 3 + 3 / 3) / 2)  # 3 non-a, none predicted a
    assert bacc["b"] == pytest.approx((1 / 2 + 3 / 4) / 2)  # 4 non-b, one (a) predicted b
    assert bacc["c"] == pytest.approx((1 / 1 + 4 / 5) / 2)  # 5 non-c, one (b) predicted c
    assert math.isnan(bacc["d"])


def test_summary_rejects_unlisted_labels_and_bad_shapes():
    with pytest.raises(FerBenchError, match="not in `labels`"):
        classification_summary(Y_TRUE, Y_PRED, labels=["a", "b"])
    with pytest.raises(FerBenchError, match="equal length"):
        classification_summary(Y_TRUE, Y_PRED[:-1])


def test_bootstrap_deterministic_and_contains_point():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 400)
    yhat = np.where(rng.random(400) < 0.7, y, rng.integers(0, 4, 400))
    a = bootstrap_ci(y, yhat, "uar", n=1000, seed=3)
    b = bootstrap_ci(y, yhat, "uar", n=1000, seed=3)
    c = bootstrap_ci(y, yhat, "uar", n=1000, seed=4)
    assert a == b
    assert a != c
    assert a.low <= a.point <= a.high
    assert a.point == pytest.approx(balanced_accuracy_score(y, yhat))
    acc = bootstrap_ci(y, yhat, "accuracy", n=1000, seed=0)
    p = np.mean(y == yhat)
    assert acc.point == pytest.approx(p)
    assert acc.low <= acc.point <= acc.high
    # normal approximation: 95% width ~ 2 * 1.96 * sqrt(p (1 - p) / 400) (~0.09 for p ~ 0.77)
    width = 2 * 1.96 * math.sqrt(p * (1 - p) / 400)
    assert acc.high - acc.low == pytest.approx(width, rel=0.2)


def test_bootstrap_perfect_and_string_labels():
    r = bootstrap_ci(["x", "y", "y", "z"], ["x", "y", "y", "z"], "uar", n=200)
    assert tuple(r) == (1.0, 1.0, 1.0)
    with pytest.raises(FerBenchError, match="unknown metric"):
        bootstrap_ci(Y_TRUE, Y_PRED, "f1")


def test_binomial_8_of_10():
    # P(X >= 8 | n=10, p=0.5) = (C(10,8) + C(10,9) + C(10,10)) / 2^10 = (45 + 10 + 1) / 1024 = 0.0546875
    t = binomial_test_vs_chance(8, 10, 0.5)
    assert t.p_value == pytest.approx(56 / 1024)
    assert t.proportion == 0.8
    with pytest.raises(FerBenchError):
        binomial_test_vs_chance(11, 10, 0.5)


def test_chance_tests_uniform_and_majority():
    y_true = ["pos"] * 6 + ["neg"] * 2  # majority rate 6/8 = 0.75
    y_pred = ["pos"] * 6 + ["neg", "pos"]  # 7 of 8 correct
    t = chance_tests(y_true, y_pred)
    assert t["uniform"].chance == 0.5
    # P(X >= 7 | 8, 0.5) = (8 + 1) / 256
    assert t["uniform"].p_value == pytest.approx(9 / 256)
    assert t["majority"].chance == 0.75
    # P(X >= 7 | 8, 0.75) = 8 * 0.75^7 * 0.25 + 0.75^8 = 0.75^7 * 2.75
    assert t["majority"].p_value == pytest.approx(0.75**7 * 2.75)


def test_cohen_kappa_2x2_by_hand():
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 35/50 = 0.7,
    # p_e = (25/50)(30/50) + (25/50)(20/50) = 0.3 + 0.2 = 0.5, kappa = (0.7 - 0.5) / 0.5 = 0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert math.isnan(cohen_kappa(["y", "y"], ["y", "y"]))


# Fleiss (1971) worked example as tabulated on Wikipedia ("Fleiss' kappa"): 10 subjects, 14 raters, 5 categories.
WIKI = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_worked_example():
    # sum_j n_ij^2 per subject: 196, 60, 70, 94, 74, 98, 58, 46, 66, 66; P_i = (that - 14) / (14 * 13)
    # sum of numerators = 182+46+56+80+60+84+44+32+52+52 = 688 -> P_bar = 688 / 1820 = 0.37802
    # column sums 20, 28, 39, 21, 32 (of 140) -> P_e = (400+784+1521+441+1024) / 140^2 = 4170 / 19600 = 0.21276
    p_bar, p_e = 688 / 1820, 4170 / 19600
    expected = (p_bar - p_e) / (1 - p_e)
    assert expected == pytest.approx(0.20993, abs=1e-5)
    assert fleiss_kappa_counts(WIKI) == pytest.approx(expected)
    assert round(fleiss_kappa_counts(WIKI), 3) == 0.210
    # the same data as a subjects x raters label table
    labels = [[c for c, k in enumerate(row) for _ in range(k)] for row in WIKI]
    assert fleiss_kappa(pd.DataFrame(labels), categories=range(5)) == pytest.approx(expected)
    assert rating_counts(pd.DataFrame(labels), range(5)).to_numpy().tolist() == WIKI


def test_fleiss_edge_cases():
    assert fleiss_kappa([["a", "a"], ["b", "b"]]) == pytest.approx(1.0)
    assert math.isnan(fleiss_kappa([["a", "a"], ["a", "a"]]))
    with pytest.raises(FerBenchError, match="same number"):
        fleiss_kappa_counts([[2, 0], [1, 0]])
    with pytest.raises(FerBenchError, match="missing"):
        fleiss_kappa(pd.DataFrame({"r1": ["a", None], "r2": ["a", "b"]}))


@pytest.mark.parametrize("kappa,label", [
    (-0.01, "poor"), (0.0, "slight"), (0.2, "slight"), (0.2001, "fair"), (0.4, "fair"), (0.41, "moderate"),
    (0.6, "moderate"), (0.61, "substantial"), (0.8, "substantial"), (0.81, "almost perfect"),
    (1.0, "almost perfect"), (float("nan"), "undefined"),
])
def test_landis_koch_bands(kappa, label):
    assert landis_koch(kappa) == label


def test_landis_koch_rejects_above_one():
    with pytest.raises(FerBenchError):
        landis_koch(1.5)


def test_compare_with_raters_by_hand():
    y_true = ["a", "a", "b", "b", "c", "c"]
    model = ["a", "b", "b", "b", "c", "a"]
    ratings = pd.DataFrame({"r1": y_true, "r2": ["a", "a", "b", "c", "c", "c"]})
    res = compare_with_raters(y_true, model, ratings)
    perf, agr = res.performance, res.agreement
    assert list(perf.index) == ["model", "r1", "r2", "raters_mean", "raters_sd"]
    # model: correct at 0, 2, 3, 4 -> 4/6; recalls a 1/2, b 2/2, c 1/2 -> UAR 2/3
    assert perf.loc["model", "accuracy"] == pytest.approx(4 / 6)
    assert perf.loc["model", "uar"] == pytest.approx(2 / 3)
    # model vs truth: p_o = 4/6; marginals truth (2,2,2), model (2,3,1): p_e = (4+6+2)/36 = 1/3 -> kappa 0.5
    assert perf.loc["model", "kappa_vs_truth"] == pytest.approx(0.5)
    assert perf.loc["r1", "kappa_vs_model"] == pytest.approx(0.5)
    # r2: correct except subject 3 -> 5/6; recalls a 1, b 1/2, c 1 -> UAR 5/6
    assert perf.loc["r2", "accuracy"] == pytest.approx(5 / 6)
    assert perf.loc["r2", "uar"] == pytest.approx(5 / 6)
    # r2 vs model: agree at 0, 2, 4 -> p_o 1/2; marginals model (2,3,1), r2 (2,1,3): p_e = (4+3+3)/36 = 5/18
    # kappa = (1/2 - 5/18) / (13/18) = 4/13
    assert perf.loc["r2", "kappa_vs_model"] == pytest.approx(4 / 13)
    assert perf.loc["r2", "kappa_vs_model_agreement"] == "fair"
    assert perf.loc["raters_mean", "accuracy"] == pytest.approx(11 / 12)
    assert perf.loc["raters_sd", "accuracy"] == pytest.approx((1 / 6) / math.sqrt(2))  # ddof=1 on two values
    assert perf.loc["raters_mean", "kappa_vs_model"] == pytest.approx((0.5 + 4 / 13) / 2)  # 21/52
    # Fleiss r1, r2: P_i = 1 except subject 3 (b vs c) -> P_bar = 5/6; p_j = (4, 3, 5)/12 -> P_e = 50/144
    # kappa = (60/72 - 25/72) / (47/72) = 35/47
    assert agr.loc["fleiss_raters", "kappa"] == pytest.approx(35 / 47)
    assert agr.loc["fleiss_raters", "agreement"] == "substantial"
    # correct/incorrect: only subject 3 disagrees; p = (1/12, 11/12) -> P_e = 122/144 = 61/72
    # kappa = (60/72 - 61/72) / (11/72) = -1/11 (the high-prevalence kappa paradox)
    assert agr.loc["fleiss_raters_correct", "kappa"] == pytest.approx(-1 / 11)
    assert agr.loc["fleiss_raters_correct", "agreement"] == "poor"
    assert agr.loc["cohen_model_vs_truth", "kappa"] == pytest.approx(0.5)
    assert agr.loc["cohen_model_vs_truth", "agreement"] == "moderate"
    assert agr.loc["cohen_model_vs_raters_mean", "kappa"] == pytest.approx(21 / 52)


def test_compare_with_raters_validates():
    with pytest.raises(FerBenchError, match="rows"):
        compare_with_raters(["a", "b"], ["a", "b"], pd.DataFrame({"r1": ["a"]}))
    with pytest.raises(FerBenchError, match="missing"):
        compare_with_raters(["a", "b"], ["a", "b"], pd.DataFrame({"r1": ["a", None], "r2": ["a", "b"]}))
