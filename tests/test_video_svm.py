"""SVM baseline of the video track: train-only standardisation, masked time averaging, UAR."""

import numpy as np
import pytest

from fer_bench.video.svm import build_svm, fit_evaluate_svm, sequence_means, time_average, uar


def test_time_average_ignores_padded_values():
    x = np.zeros((2, 4, 2))
    x[0, :2] = [[1.0, 2.0], [3.0, 4.0]]
    x[0, 2:] = 1000.0  # garbage in the padding must not count
    x[1, :4] = [[0.0, 0.0], [0.0, 0.0], [4.0, 8.0], [0.0, 0.0]]  # all-zero frames are real frames
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    np.testing.assert_allclose(time_average(x, mask), [[2.0, 3.0], [1.0, 2.0]])


def test_time_average_matches_sequence_means_and_rejects_empty():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(n, 3)) for n in (1, 4, 7)]
    x = np.zeros((3, 7, 3))
    mask = np.zeros((3, 7), dtype=bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    np.testing.assert_allclose(time_average(x, mask), sequence_means(seqs))
    mask[1] = False
    with pytest.raises(ValueError, match="without a valid frame"):
        time_average(x, mask)


def test_scaler_is_fitted_on_train_only():
    rng = np.random.default_rng(1)
    train = rng.normal(loc=2.0, size=(12, 3))
    labels = np.array([0, 1] * 6)
    evaluation = rng.normal(loc=-5.0, scale=3.0, size=(5, 3))
    result = fit_evaluate_svm(train, labels, evaluation, [0, 1, 0, 1, 0])
    scaler = result.pipeline.named_steps["scaler"]
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, train.std(axis=0))
    svc = result.pipeline.named_steps["svc"]
    assert (svc.kernel, svc.C, svc.gamma) == ("rbf", 1.0, "scale")
    assert result.predictions.shape == (5,)


def test_uar_hand_computed():
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 0, 2, 1]
    # recalls: class 0 = 3/4, class 1 = 1/2, class 2 = 1/2 -> UAR = (0.75 + 0.5 + 0.5) / 3
    assert uar(y_true, y_pred) == pytest.approx(1.75 / 3)
    # class 3 named but absent from y_true counts as recall 0
    assert uar(y_true, y_pred, labels=[0, 1, 2, 3]) == pytest.approx(1.75 / 4)


def test_fit_evaluate_on_separable_means():
    rng = np.random.default_rng(2)
    train = np.concatenate([rng.normal(-3, 0.3, size=(10, 2)), rng.normal(3, 0.3, size=(10, 2))])
    y_train = np.array([0] * 10 + [1] * 10)
    evaluation = np.array([[-3.0, -3.0], [3.0, 3.0], [-2.5, -3.2], [2.9, 3.1]])
    y_eval = np.array([0, 1, 0, 0])  # the last is "mislabelled": predicted 1
    result = fit_evaluate_svm(train, y_train, evaluation, y_eval)
    np.testing.assert_array_equal(result.predictions, [0, 1, 0, 1])
    assert result.uar == pytest.approx((2 / 3 + 1.0) / 2)
    assert result.accuracy == pytest.approx(0.75)
    assert build_svm().named_steps["svc"].kernel == "rbf"
