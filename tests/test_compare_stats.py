"""The report's statistics against hand-computed values: exact McNemar, paired bootstrap, Holm, mean ± sd, and
per-image pairing of two run folders' predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fer_bench.results.compare import (
    compare_runs,
    contingency,
    holm,
    mcnemar_exact,
    mean_sd,
    paired_bootstrap,
    paired_correctness,
    uar,
)


def test_mcnemar_exact_on_a_hand_computed_table():
    # b = 8 images only A got right, c = 2 only B got right: two-sided binomial tail of 2 in 10 at p = 0.5,
    # 2 * (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 2 * 56 / 1024 = 0.109375 (the concordant cells do not count)
    assert mcnemar_exact([[50, 8], [2, 40]]) == pytest.approx(112 / 1024)
    assert mcnemar_exact([[1, 8], [2, 999]]) == pytest.approx(112 / 1024)
    # 10 vs 0: 2 / 1024
    assert mcnemar_exact([[0, 10], [0, 0]]) == pytest.approx(2 / 1024)
    assert mcnemar_exact([[5, 0], [0, 5]]) == 1.0  # never disagree
    from statsmodels.stats.contingency_tables import mcnemar

    assert mcnemar_exact([[30, 17], [6, 12]]) == pytest.approx(mcnemar([[30, 17], [6, 12]], exact=True).pvalue)


def test_contingency_counts():
    a = [1, 1, 0, 0, 1]
    b = [1, 0, 1, 0, 0]
    assert contingency(a, b).tolist() == [[1, 2], [1, 1]]


def test_paired_bootstrap_on_a_fixed_seed_matches_the_hand_computed_interval():
    y, a, b = [0, 0, 1, 1], [1, 1, 1, 0], [1, 0, 0, 0]
    # default_rng(0).integers(0, 4, size=(3, 4)) draws [3 2 2 1], [1 0 0 0], [0 3 2 3]:
    #   accuracy differences 3/4 - 0 = 0.75, 1 - 3/4 = 0.25, 2/4 - 1/4 = 0.25
    #   -> 25th / 75th percentiles of [0.25, 0.25, 0.75] = 0.25 / 0.5
    #   UAR differences (mean recall over the classes present in the draw):
    #   (1 + 2/3)/2 - 0 = 0.8333, 1 - 0.75 = 0.25, (1 + 1/3)/2 - (1 + 0)/2 = 0.1667
    #   -> 25th / 75th percentiles of [0.1667, 0.25, 0.8333] = 0.2083 / 0.5417
    assert np.random.default_rng(0).integers(0, 4, size=(3, 4)).tolist() == [[3, 2, 2, 1], [1, 0, 0, 0],
                                                                              [0, 3, 2, 3]]
    out = paired_bootstrap(y, a, b, n_boot=3, seed=0, level=0.5)
    assert out["acc_diff"] == pytest.approx(0.5) and out["uar_diff"] == pytest.approx(0.5)
    assert out["acc_ci"] == pytest.approx((0.25, 0.5))
    assert out["uar_ci"] == pytest.approx((0.5 * (1 / 6 + 0.25), 0.5 * (0.25 + 5 / 6)))
    # fixed seed: the same interval every time; a model always right vs always wrong: difference 1, CI (1, 1)
    assert paired_bootstrap(y, a, b, n_boot=200, seed=3) == paired_bootstrap(y, a, b, n_boot=200, seed=3)
    sure = paired_bootstrap([0, 1, 2] * 10, [1] * 30, [0] * 30, n_boot=100)
    assert sure["acc_ci"] == (1.0, 1.0) and sure["uar_ci"] == (1.0, 1.0)
    with pytest.raises(ValueError):
        paired_bootstrap([], [], [])


def test_uar_ignores_absent_classes():
    assert uar([0, 0, 1, 1], [1, 0, 1, 1]) == pytest.approx(0.75)
    assert uar([0, 0, 2, 2], [1, 1, 0, 1], n_classes=3) == pytest.approx(0.75)


def test_holm_matches_hand_computation_and_leaves_two_tests_alone():
    # sorted p 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1 = 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.2
    adj, reject = holm([0.01, 0.04, 0.03, 0.2])
    assert adj == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert reject == [True, False, False, False]
    assert holm([0.01, 0.04]) == ([0.01, 0.04], [True, True])  # two comparisons: no correction
    assert holm([]) == ([], [])


def test_mean_sd_over_seeds():
    m, sd, n = mean_sd([0.64, 0.66])
    assert (m, n) == (pytest.approx(0.65), 2) and sd == pytest.approx(0.0141421356)
    assert mean_sd([0.7]) == (pytest.approx(0.7), 0.0, 1)
    assert np.isnan(mean_sd([])[0])


def _preds(folder, target, rows):
    p = folder / "predictions"
    p.mkdir(parents=True)
    pd.DataFrame(rows, columns=["file", "true", "predicted"]).to_csv(p / f"{target}.csv", index=False)


def test_pairing_by_file_and_missing_predictions(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    _preds(a, "in_domain", [("x1", "happy", "happy"), ("x2", "sad", "happy"), ("x3", "sad", "sad"),
                            ("x4", "angry", "sad")])
    # b lists the images in another order and lacks x4
    _preds(b, "in_domain", [("x3", "sad", "angry"), ("x1", "happy", "happy"), ("x2", "sad", "sad")])
    c.mkdir()
    p = paired_correctness(a, b, "in_domain")
    assert len(p.y_true) == 3
    assert contingency(p.correct_a, p.correct_b).tolist() == [[1, 1], [1, 0]]
    out = compare_runs(a, b, "in_domain", n_boot=50)
    assert out["table"] == [[1, 1], [1, 0]] and out["p"] == 1.0 and out["acc_diff"] == 0.0
    assert paired_correctness(a, c, "in_domain") is None  # no predictions kept (e.g. reference run records)
    assert paired_correctness(a, b, "synth:wild") is None
