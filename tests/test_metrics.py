"""Metrics on a hand-made confusion matrix (values computed by hand below)."""

import numpy as np
import pytest

from fer_bench.protocol.metrics import compute_metrics

NAMES = ("a", "b", "c")


def _probs(pred, k=3, second=None):
    p = np.full((len(pred), k), 0.05)
    p[np.arange(len(pred)), pred] = 0.9
    if second is not None:
        p[np.arange(len(pred)), second] = 0.5
    return p


def test_hand_made_confusion():
    # true a: 4 samples -> 3 a, 1 b ; true b: 2 -> 2 b ; true c: 4 -> 1 a, 1 b, 2 c
    y = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    pred = [0, 0, 0, 1, 1, 1, 0, 1, 2, 2]
    m = compute_metrics(y, _probs(pred), NAMES)
    assert m["confusion_matrix"] == [[3, 1, 0], [0, 2, 0], [1, 1, 2]]
    assert m["accuracy"] == pytest.approx(7 / 10)
    recalls = [3 / 4, 2 / 2, 2 / 4]
    precisions = [3 / 4, 2 / 4, 2 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precisions, recalls, strict=True)]
    assert m["recall"] == pytest.approx(np.mean(recalls))
    assert m["uar"] == pytest.approx(np.mean(recalls))
    assert m["precision"] == pytest.approx(np.mean(precisions))
    assert m["f1"] == pytest.approx(np.mean(f1))
    assert m["per_class"]["c"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["b"]["support"] == 2
    assert m["n"] == 10


def test_top2_counts_second_choice():
    y = [0, 1, 2]
    pred = [1, 1, 0]           # wrong, right, wrong
    second = [0, 2, 1]         # true class is 2nd for sample 0 only
    m = compute_metrics(y, _probs(pred, second=second), NAMES)
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["top2_accuracy"] == pytest.approx(2 / 3)


def test_absent_class_excluded_from_macro():
    y = [0, 0, 1, 1]
    pred = [0, 0, 1, 2]
    m = compute_metrics(y, _probs(pred), NAMES)
    assert m["absent_classes"] == ["c"]
    assert m["recall"] == pytest.approx((1 + 0.5) / 2)


def test_uar_equals_sklearn_balanced_accuracy_without_its_warning():
    """UAR is macro recall over the classes in y_true, even when a prediction names a class absent from it."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score


    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)  # classes 5 and 6 never occur in the truth
    probs = rng.random((200, 7))
    probs[:20, 6] = 10.0  # ... but are predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # compute_metrics itself must not warn
        m = compute_metrics(y, probs, [str(i) for i in range(7)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = balanced_accuracy_score(y, probs.argmax(1))
    assert m["uar"] == pytest.approx(expected)
