"""Run configs: hashing is stable and sensitive; bad options are one-line user errors."""

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.protocol.config import RunConfig


def test_hash_stable_and_roundtrips():
    a = RunConfig(model="lenet5", res=48, seed=3, tests=("x", "y"))
    b = RunConfig.from_dict(a.to_dict())
    assert a == b and a.config_hash() == b.config_hash()
    assert len(a.config_hash()) == 12


@pytest.mark.parametrize("change", [dict(seed=1), dict(balance="simple"), dict(res=224), dict(tests=("z",)),
                                    dict(protocol="paper"), dict(epochs=5)])
def test_hash_changes_with_any_field(change):
    base = RunConfig()
    assert RunConfig(**{**base.to_dict(), **change, "tests": change.get("tests", base.tests),
                        "extra": ()}).config_hash() != base.config_hash()


@pytest.mark.parametrize("bad", [dict(balance="heavy"), dict(protocol="x"), dict(recipe="y"),
                                 dict(val_fraction=0.9), dict(epochs=0)])
def test_bad_values_raise_user_errors(bad):
    with pytest.raises(FerBenchError):
        RunConfig(**bad)
