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


# Hashes computed with the code before RunConfig.tests could be left out (None -> the default rule): every run
# folder written before keeps its name.
PINNED = [
    (dict(model="sequential_4conv", train="/data/x", tests=()), "7d8f46bf8913"),
    (dict(model="lenet5", train="synth:lab", tests=("synth:wild",)), "279a8f2aadb2"),
    (dict(), "cead397f4234"),
    (dict(model="resnet50", res=224, weights="imagenet", balance="simple", train="data/rafdb",
          tests=("data/fer2013", "data/affectnet"), seed=2, epochs=30, recipe="strong"), "ef479651aaae"),
    (dict(model="sequential_simple", train="synth:lab?n=120&test=40", tests=("synth:wild?n=10&test=40",), epochs=15,
          batch_size=32, recipe="strong", init_from="x/model.keras"), "0c431a109ff2"),
]


@pytest.mark.parametrize("kwargs,expected", PINNED)
def test_config_hash_pinned(kwargs, expected):
    assert RunConfig(**kwargs).config_hash() == expected


def test_default_tests_rule_keeps_hashes():
    # left out, tests follow the one rule; the hash equals the one of the same tests given explicitly
    assert RunConfig(model="sequential_4conv", train="/data/x").config_hash() == "7d8f46bf8913"
    assert RunConfig(model="lenet5", train="synth:lab").config_hash() == "279a8f2aadb2"
    cfg = RunConfig(train="synth:lab")
    assert cfg.tests == ("synth:wild",) and not cfg.tests_given
    assert cfg.replace(train="/data/x").tests == ()  # a new training set gets its own default
    assert RunConfig(train="/data/x", tests=("a",)).replace(train="synth:lab").tests == ("a",)
    assert RunConfig.from_dict(cfg.to_dict()).config_hash() == cfg.config_hash()


def test_resolved_maps_alias_to_registry_name():
    a = RunConfig(model="vgg_16", res=48, train="/data/x").resolved()
    assert a.model == "vgg16"
    assert a.config_hash() == RunConfig(model="vgg16", res=48, train="/data/x", tests=()).config_hash()
    with pytest.raises(FerBenchError):
        RunConfig(model="no_such_net").resolved()


def test_load_sweep_toml(tmp_path):
    from fer_bench.protocol.sweep import load_sweep

    f = tmp_path / "s.toml"
    f.write_text('[sweep]\nmodels = ["lenet5", "vgg_16"]\nbalance = ["simple"]\ntrain = ["synth:lab", "/d/x"]\n'
                 'epochs = 3\n')
    cfgs = load_sweep(f)
    assert [(c.model, c.train, c.tests, c.epochs) for c in cfgs] == [
        ("lenet5", "synth:lab", ("synth:wild",), 3), ("lenet5", "/d/x", (), 3),
        ("vgg16", "synth:lab", ("synth:wild",), 3), ("vgg16", "/d/x", (), 3)]
    f.write_text('[sweep]\nmodels = ["lenet5"]\nepoch = 3\n')
    with pytest.raises(FerBenchError, match="unknown key 'epoch'") as exc:
        load_sweep(f)
    assert str(f) in str(exc.value) and "\n" not in str(exc.value)
