"""Class weights reproduce the reference numbers (../shared/reference/btfer-reference-code.md §4.1)."""

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.protocol.balance import class_counts, class_weights

# canonical order: angry, disgust, fear, happy, neutral, sad, surprise
FER2013 = [3995, 436, 4097, 7215, 4965, 4830, 3171]
RAFDB = [606, 613, 248, 4169, 2242, 1722, 1133]  # the authors' 70 % re-split train counts


def _rounded(w):
    return [round(w[i], 3) for i in range(7)]


def test_simple_fer2013_matches_reference():
    assert _rounded(class_weights(FER2013, "simple")) == [1.806, 16.548, 1.761, 1.0, 1.453, 1.494, 2.275]


def test_simple_rafdb_matches_reference():
    assert _rounded(class_weights(RAFDB, "simple")) == [6.880, 6.801, 16.810, 1.0, 1.860, 2.421, 3.680]


def test_conservative_caps_at_three():
    assert _rounded(class_weights(RAFDB, "conservative")) == [3.0, 3.0, 3.0, 1.0, 1.860, 2.421, 3.0]
    # FER2013: only disgust changes (16.548 -> 3)
    assert _rounded(class_weights(FER2013, "conservative")) == [1.806, 3.0, 1.761, 1.0, 1.453, 1.494, 2.275]


def test_none_and_absent_classes():
    assert set(class_weights(FER2013, "none").values()) == {1.0}
    w = class_weights([10, 0, 5, 20, 0, 0, 0], "simple")
    assert w[1] == 1.0 and w[2] == 4.0 and w[3] == 1.0


def test_bad_method_is_user_error():
    with pytest.raises(FerBenchError, match="unknown balancing"):
        class_weights(FER2013, "heavy")


def test_class_counts():
    assert class_counts([0, 0, 3, 6], 7).tolist() == [2, 0, 0, 1, 0, 0, 1]
