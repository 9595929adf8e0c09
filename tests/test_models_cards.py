"""Model cards (data), paper numbers, the registry contract and the `fer-bench models` CLI."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import tomllib

from fer_bench.errors import FerBenchError
from fer_bench.models import cards as C
from fer_bench.models.registry import INITS, PREPROCESS_MODES, get_spec, list_models

ROOT = Path(__file__).resolve().parents[1]
PAPER_MODELS = (
    "vgg16", "vgg19", "vggnet", "resnet18", "resnet50", "senet50", "mobilenet", "mobilenetv2", "efficientnetv2b0",
    "nasnetmobile", "densenet121", "inceptionv3", "xception", "googlenet", "alexnet", "zfnet", "lenet5", "repvgg",
    "sequential_simple", "sequential_3conv", "sequential_4conv", "modular", "ensemble", "smmb", "mediapipe_cnn",
)
APPLICATIONS = ("vgg16", "vgg19", "resnet50", "mobilenet", "mobilenetv2", "efficientnetv2b0", "nasnetmobile",
                "densenet121", "inceptionv3", "xception")


# ------------------------------------------------------------------------------------------------ registry
@pytest.mark.parametrize("alias,name", [
    ("VGG16 - IN", "vgg16"), ("VGG-19", "vgg19"), ("SeNet50", "senet50"), ("EfficientNetV2_B0", "efficientnetv2b0"),
    ("NasNetMobile", "nasnetmobile"), ("DenseNet121", "densenet121"), ("InceptionV3", "inceptionv3"),
    ("AlexNet*", "alexnet"), ("ZFNET", "zfnet"), ("LeNet5*", "lenet5"), ("GoogLeNet", "googlenet"),
    ("ResNet18 + Dropout + Dense", "resnet18"), ("Sequential 3Conv", "sequential_3conv"),
    ("Sequential 4Conv*", "sequential_4conv"), ("Sequential Simple*", "sequential_simple"), ("Modular", "modular"),
    ("MNN", "modular"), ("Ensemble", "ensemble"), ("SMMB", "smmb"), ("RepVGG", "repvgg"), ("VGGNet", "vggnet"),
    ("MobilNetV2", "mobilenetv2"), ("Mediapipe CNN", "mediapipe_cnn"),
])
def test_paper_spellings_resolve(alias, name):
    assert get_spec(alias).name == name


def test_inits_and_preprocessing_contract():
    for name in PAPER_MODELS:
        spec = get_spec(name)
        assert set(spec.inits) <= set(INITS) and "scratch" in spec.inits
        for init in spec.inits:
            assert spec.preprocess_mode(init) in PREPROCESS_MODES
    for name in APPLICATIONS:
        spec = get_spec(name)
        assert spec.family == "keras.applications" and spec.two_phase
        assert {"scratch", "imagenet"} <= set(spec.inits)
        assert spec.preprocess_mode("scratch") == spec.preprocess_mode("imagenet")
    assert set(get_spec("vgg16").inits) == {"scratch", "imagenet", "vggface"}
    assert set(get_spec("resnet50").inits) == {"scratch", "imagenet", "vggface"}
    assert set(get_spec("senet50").inits) == {"vggface", "scratch"}
    for name in ("vggnet", "googlenet", "alexnet", "zfnet", "lenet5", "repvgg", "sequential_simple",
                 "sequential_3conv", "sequential_4conv", "modular", "ensemble", "smmb"):
        assert get_spec(name).inits == ("scratch",)
    assert get_spec("inceptionv3").min_size == 75 and get_spec("xception").min_size == 71


def test_user_errors_are_one_line_ferbencherrors():
    from fer_bench.models import build_model

    with pytest.raises(FerBenchError, match="unknown model"):
        get_spec("resnet999")
    with pytest.raises(FerBenchError, match="cannot be initialised from 'imagenet'"):
        build_model("lenet5", 48, init="imagenet")
    with pytest.raises(FerBenchError, match="cannot be initialised from 'vggface'"):
        build_model("mobilenet", 48, init="vggface")


def test_one_rule_for_init_and_size():
    """ModelSpec.check is the rule; build_model, the run and the sweep all apply it."""
    from fer_bench.models.registry import ModelMismatch
    from fer_bench.protocol.config import RunConfig
    from fer_bench.protocol.sweep import expand

    spec = get_spec("inceptionv3")
    spec.check("imagenet", 75)
    with pytest.raises(ModelMismatch, match=r"at least 75x75 pixels, got 48; use --res 224") as exc:
        spec.check("scratch", 48)
    assert exc.value.field == "res" and isinstance(exc.value, FerBenchError)
    with pytest.raises(ModelMismatch, match="cannot be initialised from 'vggface'") as exc:
        spec.check("vggface", 224)
    assert exc.value.field == "weights"
    with pytest.raises(ModelMismatch, match="unknown init 'imagenet21k'"):
        spec.check("imagenet21k", 224)
    configs, notes = expand(["inceptionv3", "lenet5"], [48, 224], ["scratch", "imagenet"], ["simple"],
                            ["synth:lab"], [0], RunConfig())
    assert {(c.model, c.res, c.weights) for c in configs} == {
        ("inceptionv3", 224, "scratch"), ("inceptionv3", 224, "imagenet"), ("lenet5", 48, "scratch"),
        ("lenet5", 224, "scratch")}
    assert notes == ["skipped inceptionv3 at 48px (needs >= 75)",
                     "skipped lenet5 with --weights imagenet (allowed: scratch)"]


def test_a_run_applies_the_rule_before_reading_data(tmp_path, monkeypatch):
    import fer_bench.protocol.run as run_mod
    from fer_bench.protocol.config import RunConfig

    def no_decoding(*a, **k):
        raise AssertionError("decoded data before checking the model")

    monkeypatch.setattr(run_mod, "decode_split", no_decoding)
    with pytest.raises(FerBenchError, match="model lenet5 cannot be initialised from 'imagenet'"):
        run_mod.execute_run(RunConfig(model="lenet5", weights="imagenet", train="synth:lab"), tmp_path)
    with pytest.raises(FerBenchError, match="model xception needs inputs of at least 71x71"):
        run_mod.execute_run(RunConfig(model="xception", res=48, train="synth:lab"), tmp_path)


# ------------------------------------------------------------------------------------------------ cards
def test_every_paper_model_has_a_card():
    cards = C.load_cards()
    assert set(PAPER_MODELS) <= set(cards)
    for name in PAPER_MODELS:
        card = cards[name]
        for key in ("family", "builder", "min_size", "inits", "preprocessing", "params", "paper_param",
                    "reference_params"):
            assert key in card, (name, key)
        assert "48" in card["params"]["scratch"] and "224" in card["params"]["scratch"]


def test_generated_block_matches_the_registry():
    """The measured block is regenerated by benchmarks/count_params.py; it must not drift from the code."""
    for name, card in C.load_cards().items():
        spec = get_spec(name)
        assert card["family"] == spec.family
        assert card["min_size"] == spec.min_size
        assert card["inits"] == list(spec.inits)
        assert card["aliases"] == list(spec.aliases)
        assert card["preprocessing"] == {i: spec.preprocess_mode(i) for i in spec.inits}
        module, qualname = card["builder"].split(":")
        assert getattr(importlib.import_module(module), qualname) is spec.builder
        assert set(card["params"]) <= set(spec.inits)


def test_measured_counts_match_reference_where_we_build_the_authors_network():
    cards = C.load_cards()
    same = ("vgg16", "vgg19", "resnet50", "mobilenet", "mobilenetv2", "efficientnetv2b0", "nasnetmobile",
            "densenet121", "inceptionv3", "xception", "senet50", "resnet18", "vggnet", "alexnet", "zfnet", "lenet5",
            "modular", "ensemble", "smmb", "mediapipe_cnn", "sequential_3conv")
    for name in same:
        card = cards[name]
        init = card["paper_default_init"]
        for res, ref in card["reference_params"].items():
            assert card["params"][init][res] == ref, (name, res)
    assert cards["resnet50"]["params"]["vggface"]["224"] == 24_119_495  # VGGFace2 ResNet50, the authors' code


def test_paper_numbers_spot_checks():
    # Table 3 of Ipinze Tutuianu et al. (2024): ResNet50 - VF, RAF-DB, simple
    r = C.paper_numbers("resnet50", 224, "rafdb", "simple", init="vggface")
    assert r == {"in_domain": {"precision": 0.86, "recall": 0.86, "f1": 0.86, "accuracy": 0.86},
                 "cross_domain": {"precision": 0.64, "recall": 0.62, "f1": 0.61, "accuracy": 0.62}}
    # Table 2: VGG16 - IN (the default init of vgg16), RAF-DB, conservative
    r = C.paper_numbers("vgg16", 48, "rafdb", "conservative")
    assert r["in_domain"]["accuracy"] == 0.79 and r["cross_domain"]["f1"] == 0.50
    # VGG16 - VF / - SC rows are separate
    assert C.paper_numbers("vgg16", 48, "rafdb", "simple", init="vggface")["in_domain"]["accuracy"] == 0.72
    assert C.paper_numbers("VGG16 - IN", 48, "fer2013", "simple", init="scratch")["cross_domain"]["precision"] == 0.61
    # aliases and dataset spellings
    assert C.paper_numbers("SeNet50", 224, "RAF-DB", "conservative")["in_domain"]["accuracy"] == 0.86
    assert C.paper_numbers("Sequential 4Conv*", 48, "AffectNet", "simple")["cross_domain"]["accuracy"] == 0.38
    assert C.paper_numbers("modular", 224, "fer2013", "conservative")["cross_domain"]["f1"] == 0.48
    # absent rows: 224-only models at 48, the untranscribed "Table 2 (continued)", cards-less models
    assert C.paper_numbers("inceptionv3", 48, "rafdb", "simple") is None
    assert C.paper_numbers("smmb", 48, "rafdb", "simple") is None
    assert C.paper_numbers("lenet5", 224, "rafdb", "simple") is None
    with pytest.raises(FerBenchError):
        C.paper_numbers("vgg16", 48, "rafdb", "balanced")
    with pytest.raises(FerBenchError):
        C.paper_numbers("vgg16", 48, "ckplus", "simple")


def test_paper_table_rows_are_complete():
    raw = tomllib.loads(C.cards_text())
    n = 0
    for name, card in raw.items():
        for key, row in card.get("paper", {}).items():
            res, init, ds = key.split("/")
            assert res in ("48", "224") and ds in C.DATASETS and init in get_spec(name).inits
            assert len(row) == 4 and all(len(cell) == 4 for cell in row)
            assert all(0.0 <= v <= 1.0 for cell in row for v in cell)
            n += 1
    assert n == 111  # 17 models x 3 datasets (Table 2, first page) + 20 x 3 (Table 3)


def test_cards_ship_inside_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "models/cards.toml" in pyproject["tool"]["setuptools"]["package-data"]["fer_bench"]
    assert (ROOT / "fer_bench" / "models" / "cards.toml").is_file()
    # model_zoo/cards/cards.toml is a symlink to the packaged file: readable where users look, no copy to drift
    zoo = ROOT / "model_zoo"
    link = zoo / "cards" / "cards.toml"
    assert link.is_symlink() and link.resolve() == (ROOT / "fer_bench" / "models" / "cards.toml").resolve()
    assert [p for p in zoo.rglob("*.toml") if not p.is_symlink()] == []
    assert "fer_bench/models/cards.toml" in (zoo / "cards" / "README.md").read_text()


# ------------------------------------------------------------------------------------------------ CLI
def _run(args):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    return CliRunner().invoke(app, args)


def test_models_list_json():
    res = _run(["models", "list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert set(PAPER_MODELS) <= set(rows)
    assert set(rows) == set(list_models())
    assert rows["vgg16"]["params_48"] == 14_879_815 and rows["vgg16"]["params_224"] == 14_879_815
    assert rows["vgg16"]["inits"] == ["scratch", "imagenet", "vggface"]
    assert "VGG16 - IN" in rows["vgg16"]["aliases"]
    assert rows["inceptionv3"]["min_size"] == 75


def test_models_list_res_filter_and_table():
    res = _run(["models", "list", "--res", "48", "--json"])
    names = {r["name"] for r in json.loads(res.stdout)}
    assert "inceptionv3" not in names and "xception" not in names and "lenet5" in names
    res = _run(["models", "list"])
    assert res.exit_code == 0 and "sequential_4conv" in res.stdout


def test_models_show():
    res = _run(["models", "show", "SeNet50", "--no-layers"])
    assert res.exit_code == 0, res.output
    assert "senet50" in res.stdout and "vggface2" in res.stdout and "0.85" in res.stdout
    res = _run(["models", "show", "lenet5", "--res", "48"])
    assert res.exit_code == 0, res.output
    assert "predictions" in res.stdout and "169,271" in res.stdout
    res = _run(["models", "show", "nope"])
    assert isinstance(res.exception, FerBenchError)
    res = _run(["models", "show", "vgg16", "--json"])
    assert json.loads(res.stdout)["paper_default_init"] == "imagenet"
