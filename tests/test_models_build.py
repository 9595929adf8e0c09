"""Every registered model (``fer-bench models list``, the shipped ``fer_vgg`` included) builds with the expected
parameter count, trains one step, saves to .keras and reloads without custom_objects with identical predictions.
Offline, scratch init only, at the smallest size the tests use (48 px or the model's minimum, whichever is larger).

The default run trains, saves and reloads every model except the :data:`HEAVY` ones, which it only builds and
counts; ``pytest -m slow`` trains, saves and reloads those too.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.errors import FerBenchError
from fer_bench.models import backbone_of, build_model, get_spec, list_models

#: every architecture of the paper (+ the authors' Mediapipe CNN)
PAPER_MODELS = (
    "vgg16", "vgg19", "vggnet", "resnet18", "resnet50", "senet50", "mobilenet", "mobilenetv2", "efficientnetv2b0",
    "nasnetmobile", "densenet121", "inceptionv3", "xception", "googlenet", "alexnet", "zfnet", "lenet5", "repvgg",
    "sequential_simple", "sequential_3conv", "sequential_4conv", "modular", "ensemble", "smmb", "mediapipe_cnn",
)
#: the registry is the list under test; the paper's models must all be in it
REGISTERED = tuple(list_models())

#: parameter counts with 7 classes at 48 px (or the model's minimum): the counts of the authors' code
#: (github.com/gipinze/ResearchModels_GIT) where fer-bench builds the same network; our own measured counts where
#: we follow the paper text instead (see each builder's docstring), and for fer-bench's own models.
EXPECTED_PARAMS = {
    # the authors' code (keras.applications + GAP head), built with weights=None
    "vgg16": 14_879_815, "vgg19": 20_189_511, "resnet50": 24_146_055, "mobilenet": 3_525_063,
    "mobilenetv2": 2_619_719, "efficientnetv2b0": 6_281_047, "nasnetmobile": 4_574_107, "densenet121": 7_333_703,
    "inceptionv3": 22_361_127, "xception": 21_419_823, "senet50": 26_650_487,
    # the authors' code, identical
    "resnet18": 11_710_919, "alexnet": 21_612_295, "zfnet": 21_589_127, "lenet5": 169_271, "vggnet": 33_625_927,
    "modular": 5_337_735, "ensemble": 2_001_045, "smmb": 5_512_455, "mediapipe_cnn": 7_054_279,
    "sequential_3conv": 1_365_703,
    # deviations (paper text / bug fixes): the authors' code has 5,909,319 / 26,454,023 / 2,489,671 / 1,365,703
    "googlenet": 5_973_047, "repvgg": 29_253_511, "sequential_simple": 695_431, "sequential_4conv": 2_840_775,
    # fer-bench's own: the architecture of the shipped model (strong recipe)
    "fer_vgg": 1_767_783,
}

#: over 20M parameters at the size tested (1-2 s per save or reload of their weights alone on a 2-core machine),
#: or, for nasnetmobile, over 700 layers (about 40 s to build, train, save and reload here): built and counted in
#: the default run, trained/saved/reloaded with -m slow
HEAVY = tuple(sorted({n for n, p in EXPECTED_PARAMS.items() if p > 20_000_000} | {"nasnetmobile"}))


def _size(name: str) -> int:
    return max(48, get_spec(name).min_size)


def _batch(size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_the_registry_is_what_is_tested():
    assert set(PAPER_MODELS) <= set(REGISTERED)
    assert "fer_vgg" in REGISTERED  # the shipped model's architecture
    assert set(EXPECTED_PARAMS) == set(REGISTERED), "give every registered model its expected parameter count"
    assert set(CHEAP_224) | set(HEAVY_224) == set(REGISTERED)


def _build(name: str):
    spec = get_spec(name)
    size = _size(name)
    keras.utils.set_random_seed(0)
    model = build_model(name, size, num_classes=7, init="scratch")
    assert model.input_shape == (None, size, size, 3)
    assert model.output_shape == (None, 7)
    assert model.count_params() == EXPECTED_PARAMS[name]
    if spec.two_phase:
        assert backbone_of(model) is not None, "pretrained-backbone models nest their backbone as 'backbone'"
    return model, size


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in REGISTERED])
def test_build_train_step_save_and_reload(name, tmp_path):
    model, size = _build(name)
    # one optimisation step on a tiny batch of raw 0..255 pixels (eager: no graph tracing, much faster here)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy", run_eagerly=True)
    x = _batch(size)
    y = np.eye(7, dtype="float32")[[0, 3]]
    loss = float(np.asarray(model.train_on_batch(x, y)).ravel()[0])
    assert np.isfinite(loss)
    probs = np.asarray(model(x, training=False))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    _assert_reloads(model, x, probs, tmp_path / f"{name}.keras")
    keras.backend.clear_session()


@pytest.mark.parametrize("name", HEAVY)
def test_heavy_models_build_with_the_expected_count(name):
    _build(name)
    keras.backend.clear_session()


def _assert_reloads(model, x, probs, path):
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects: fer-bench's custom layers are registered
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), probs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["inceptionv3", "xception", "alexnet", "zfnet", "sequential_4conv"])
def test_too_small_inputs_name_the_minimum(name):
    spec = get_spec(name)
    with pytest.raises(FerBenchError, match=rf"at least {spec.min_size}x{spec.min_size}"):
        build_model(name, spec.min_size - 1)


# 224 px: build only (keras.Input shapes), cheap models in the default run, the rest marked slow
CHEAP_224 = {
    "lenet5": 5_407_031, "sequential_simple": 22_322_311, "sequential_3conv": 1_365_703,
    "sequential_4conv": 2_840_775, "ensemble": 2_001_045, "googlenet": 5_980_727, "resnet18": 11_718_599,
    "inceptionv3": 22_361_127, "xception": 21_419_823, "mobilenetv2": 2_619_719, "fer_vgg": 1_243_495,
}
HEAVY_224 = {
    "vggnet": 134_289_223, "modular": 103_379_591, "smmb": 106_235_143, "mediapipe_cnn": 93_561_799,
    "alexnet": 58_312_455, "zfnet": 58_289_287, "repvgg": 29_253_511, "senet50": 26_650_487,
    "vgg16": 14_879_815, "resnet50": 24_146_055, "densenet121": 7_333_703, "nasnetmobile": 4_574_107,
    "vgg19": 20_189_511, "mobilenet": 3_525_063, "efficientnetv2b0": 6_281_047,
}


@pytest.mark.parametrize("name", sorted(CHEAP_224))
def test_builds_at_224(name):
    model = build_model(name, 224)
    assert model.output_shape == (None, 7)
    assert model.count_params() == CHEAP_224[name]
    keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HEAVY_224))
def test_builds_at_224_heavy(name):
    model = build_model(name, 224)
    assert model.count_params() == HEAVY_224[name]
    keras.backend.clear_session()


def test_two_stems_switch_at_112():
    from fer_bench.models.classic import LARGE_INPUT

    small = build_model("resnet18", LARGE_INPUT - 1)
    large = build_model("resnet18", LARGE_INPUT)
    assert small.get_layer("stem_conv").kernel.shape[0] == 3
    assert large.get_layer("stem_conv").kernel.shape[0] == 7
    keras.backend.clear_session()
