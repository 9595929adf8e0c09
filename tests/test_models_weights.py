"""Pretrained weights, offline: VGGFace layouts and by-name loading, the caches, fetch/import, preprocessing.

No test touches the network (urlopen is replaced where fetch logic is exercised) and none needs real weight
files: tiny h5 files are written with h5py in the Keras-2 legacy layout (root attribute ``layer_names``, per-layer
attribute ``weight_names``) with the real keras-vggface layer names and random values.
"""

from __future__ import annotations

import io
import json

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.errors import FerBenchError
from fer_bench.models import (
    build_model,
    vggface,
)
from fer_bench.models import weights as W
from fer_bench.models.layers import Preprocess


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty fer-bench and Keras caches; any attempt to download fails the test."""
    fb, kh = tmp_path / "fb-weights", tmp_path / "keras-home"
    monkeypatch.setenv(W.ENV_VAR, str(fb))
    monkeypatch.setenv("KERAS_HOME", str(kh))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))

    def no_network(*a, **k):
        raise AssertionError("a test tried to download something")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network)
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    return fb, kh / "models"


# ------------------------------------------------------------------------------------------------ layouts
def _expected_resnet_names(se: bool) -> set[str]:
    """The keras-vggface v2.0 layer names (with weights) of VGGFace2 ResNet50 / SENet50, written out here
    independently of fer_bench.models.vggface."""
    names = {"conv1/7x7_s2", "conv1/7x7_s2/bn"}
    for stage, blocks in ((2, 3), (3, 4), (4, 6), (5, 3)):
        for b in range(1, blocks + 1):
            p = f"conv{stage}_{b}"
            for part in ("1x1_reduce", "3x3", "1x1_increase") + (("1x1_proj",) if b == 1 else ()):
                names |= {f"{p}_{part}", f"{p}_{part}/bn"}
            if se:
                names |= {f"{p}_1x1_down", f"{p}_1x1_up"}
    return names


def _weighted_h5_names(model) -> set[str]:
    return {W.h5_layer_name(lay.name) for lay in W.walk_layers(model) if lay.weights}


def test_vggface_layer_names_match_keras_vggface_files():
    vgg = vggface.backbone("vgg16", 32)
    assert _weighted_h5_names(vgg) == {f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
                                       for i in range(1, n + 1)}
    res = vggface.backbone("resnet50", 32)
    assert _weighted_h5_names(res) == _expected_resnet_names(se=False)
    assert res.get_layer("conv2_1_3x3").use_bias is False
    assert res.get_layer("conv1__7x7_s2__bn").epsilon == pytest.approx(1e-3)
    se = vggface.backbone("senet50", 32)
    assert _weighted_h5_names(se) == _expected_resnet_names(se=True)
    assert se.get_layer("conv1__7x7_s2__bn").epsilon == pytest.approx(1e-4)
    assert se.get_layer("conv3_2_1x1_down").use_bias is True
    assert tuple(se.get_layer("conv3_2_1x1_down").kernel.shape) == (1, 1, 512, 32)
    # backbone-only parameter counts: the keras-vggface no-top models
    assert vgg.count_params() == 14_714_688
    assert res.count_params() == 23_561_152
    assert se.count_params() == 26_092_144
    keras.backend.clear_session()


def test_vggface_resnet50_is_size_agnostic():
    # the VGGFace2 architecture without any weights file
    model = build_model("resnet50", 48, init="vggface", load_pretrained=False)
    assert model.get_layer("preprocess").mode == "vggface2"
    assert model.get_layer("backbone").get_layer("conv5_3_1x1_increase") is not None
    assert model.count_params() == 24_119_495  # the authors' code (keras-vggface ResNet50 + paper head)
    assert model.output_shape == (None, 7)
    keras.backend.clear_session()


def test_architecture_only_block_skips_loading_and_ends_with_the_block(caches):
    assert not W.loading_skipped()
    from fer_bench.models import get_spec

    with W.architecture_only():
        assert W.loading_skipped()
        model = build_model("mobilenet", 48, init="imagenet")  # no file cached: would raise if it loaded
        spec = get_spec("senet50")  # builders called directly (benchmarks/count_params.py) skip loading too
        assert spec.builder(48, 7, "vggface", "vggface2").count_params() == 26_650_487
    assert model.get_layer("preprocess").mode == "tf"
    assert not W.loading_skipped()
    with pytest.raises(FerBenchError, match="weights fetch imagenet_mobilenet"):
        build_model("mobilenet", 48, init="imagenet")
    keras.backend.clear_session()


def test_name_mapping_round_trips():
    for name in ("conv1/7x7_s2/bn", "conv2_1_1x1_reduce/bn", "conv5_3"):
        assert W.h5_layer_name(W.keras_layer_name(name)) == name
        assert "/" not in W.keras_layer_name(name)


# ------------------------------------------------------------------------------------------------ h5 loading
def _write_keras2_h5(path, layers: dict, wrap_model_weights: bool = False):
    """Keras-2 legacy weights layout, by hand: weight datasets live at <layer>/<layer>/<weight>:0."""
    with h5py.File(path, "w") as f:
        g = f.create_group("model_weights") if wrap_model_weights else f
        g.attrs["layer_names"] = np.array([n.encode() for n in layers], dtype="S")
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.1.5"
        for lname, ws in layers.items():
            lg = g.require_group(lname)
            lg.attrs["weight_names"] = np.array([wn.encode() for wn, _ in ws], dtype="S")
            for wn, arr in ws:
                lg.create_dataset(wn, data=arr)


@pytest.mark.parametrize("wrapped", [False, True])
def test_load_by_name_puts_values_into_the_right_layers(tmp_path, wrapped):
    model = vggface.backbone("senet50", 32)
    rng = np.random.default_rng(0)
    conv1 = rng.normal(size=(7, 7, 3, 64)).astype("float32")
    bn = [rng.uniform(0.5, 1.5, 64).astype("float32") for _ in range(4)]  # gamma, beta, mean, var
    down_k = rng.normal(size=(1, 1, 512, 32)).astype("float32")
    down_b = rng.normal(size=(32,)).astype("float32")
    proj = rng.normal(size=(1, 1, 64, 256)).astype("float32")
    layers = {
        "conv1/7x7_s2": [("conv1/7x7_s2/kernel:0", conv1)],
        # weight order scrambled on purpose: matched by name suffix, not position
        "conv1/7x7_s2/bn": [("conv1/7x7_s2/bn/moving_variance:0", bn[3]), ("conv1/7x7_s2/bn/gamma:0", bn[0]),
                            ("conv1/7x7_s2/bn/moving_mean:0", bn[2]), ("conv1/7x7_s2/bn/beta:0", bn[1])],
        "conv3_2_1x1_down": [("conv3_2_1x1_down/kernel:0", down_k), ("conv3_2_1x1_down/bias:0", down_b)],
        "conv2_1_1x1_proj": [("conv2_1_1x1_proj/kernel:0", proj)],
        "classifier": [("classifier/kernel:0", np.zeros((2048, 8631), "float32")[:, :3])],  # not in notop
    }
    path = tmp_path / "tiny_senet50.h5"
    _write_keras2_h5(path, layers, wrap_model_weights=wrapped)
    untouched_before = np.asarray(model.get_layer("conv5_3_1x1_increase").kernel).copy()

    report = W.load_h5_by_name(model, path, require_all=False)

    np.testing.assert_array_equal(np.asarray(model.get_layer("conv1__7x7_s2").kernel), conv1)
    got_bn = model.get_layer("conv1__7x7_s2__bn")
    for var, want in zip((got_bn.gamma, got_bn.beta, got_bn.moving_mean, got_bn.moving_variance), bn, strict=True):
        np.testing.assert_array_equal(np.asarray(var), want)
    np.testing.assert_array_equal(np.asarray(model.get_layer("conv3_2_1x1_down").kernel), down_k)
    np.testing.assert_array_equal(np.asarray(model.get_layer("conv3_2_1x1_down").bias), down_b)
    np.testing.assert_array_equal(np.asarray(model.get_layer("conv2_1_1x1_proj").kernel), proj)
    np.testing.assert_array_equal(np.asarray(model.get_layer("conv5_3_1x1_increase").kernel), untouched_before)
    assert sorted(report["loaded"]) == sorted(["conv1__7x7_s2", "conv1__7x7_s2__bn", "conv3_2_1x1_down",
                                               "conv2_1_1x1_proj"])
    assert report["unused"] == ["classifier"]
    assert "conv5_3_1x1_increase" in report["missing"]
    with pytest.raises(FerBenchError, match="lacks layers"):
        W.load_h5_by_name(model, path, require_all=True)
    keras.backend.clear_session()


def test_load_by_name_rejects_wrong_shapes(tmp_path):
    model = vggface.backbone("vgg16", 32)
    path = tmp_path / "bad.h5"
    _write_keras2_h5(path, {"conv1_1": [("conv1_1/kernel:0", np.zeros((3, 3, 3, 32), "float32")),
                                        ("conv1_1/bias:0", np.zeros((32,), "float32"))]})
    with pytest.raises(FerBenchError, match="conv1_1"):
        W.load_h5_by_name(model, path, require_all=False)
    report = W.load_h5_by_name(model, path, require_all=False, skip_mismatch=True)
    assert report["mismatched"] == ["conv1_1"]
    with pytest.raises(FerBenchError, match="not a Keras legacy h5"):
        with h5py.File(tmp_path / "empty.h5", "w"):
            pass
        W.read_legacy_h5(tmp_path / "empty.h5")
    keras.backend.clear_session()


def test_import_vggface_file_then_build_loads_it(caches, tmp_path):
    fb, _ = caches
    src_model = vggface.backbone("vgg16", 48)  # random weights play the part of the real file
    layers = {W.h5_layer_name(lay.name): [(f"{W.h5_layer_name(lay.name)}/{w.name}:0", np.asarray(w))
                                          for w in lay.weights]
              for lay in src_model.layers if lay.weights}
    src = tmp_path / "downloaded_vgg16.h5"
    _write_keras2_h5(src, layers)

    dst = W.import_file("vggface_vgg16", src)
    assert dst == fb / "rcmalli_vggface_tf_notop_vgg16.h5" and dst.is_file()
    assert W.find("vggface_vgg16") == dst

    model = build_model("vgg16", 48, init="vggface")
    assert model.get_layer("preprocess").mode == "vggface1"
    bb = model.get_layer("backbone")
    np.testing.assert_array_equal(np.asarray(bb.get_layer("conv5_3").kernel),
                                  np.asarray(src_model.get_layer("conv5_3").kernel))
    keras.backend.clear_session()


def test_import_rejects_a_file_for_another_architecture(caches, tmp_path):
    src = tmp_path / "tiny.h5"
    _write_keras2_h5(src, {"conv1_1": [("conv1_1/kernel:0", np.zeros((3, 3, 3, 64), "float32")),
                                       ("conv1_1/bias:0", np.zeros((64,), "float32"))]})
    with pytest.raises(FerBenchError, match="lacks layers"):
        W.import_file("vggface_resnet50", src)
    with pytest.raises(FerBenchError, match="layers with weights"):
        W.import_file("imagenet_mobilenet", src)
    assert W.find("vggface_resnet50") is None and W.find("imagenet_mobilenet") is None
    keras.backend.clear_session()


def test_imagenet_weights_come_from_the_keras_cache_never_downloaded(caches, tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    _, keras_models = caches
    src_model = keras.applications.MobileNet(include_top=False, weights=None, input_shape=(48, 48, 3))
    src = tmp_path / "mobilenet_notop.h5"
    with h5py.File(src, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, src_model)

    with pytest.raises(FerBenchError, match=r"weights fetch imagenet_mobilenet"):
        build_model("mobilenet", 48, init="imagenet")
    dst = W.import_file("imagenet_mobilenet", src)
    assert dst == keras_models / "mobilenet_1_0_224_tf_no_top.h5"

    model = build_model("mobilenet", 48, init="imagenet")
    assert model.get_layer("preprocess").mode == "tf"
    want = np.asarray(src_model.get_layer("conv1").kernel)
    np.testing.assert_array_equal(np.asarray(model.get_layer("backbone").get_layer("conv1").kernel), want)
    keras.backend.clear_session()


# ------------------------------------------------------------------------------------------------ absent weights
@pytest.mark.parametrize("model,init,entry", [
    ("resnet50", "vggface", "vggface_resnet50"),
    ("senet50", "vggface", "vggface_senet50"),
    ("vgg16", "vggface", "vggface_vgg16"),
    ("vgg16", "imagenet", "imagenet_vgg16"),
    ("densenet121", "imagenet", "imagenet_densenet121"),
])
def test_absent_weights_raise_with_the_fix(caches, model, init, entry):
    fb, keras_models = caches
    with pytest.raises(FerBenchError) as exc:
        build_model(model, 48, init=init)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"`fer-bench weights fetch {entry}`" in msg
    assert f"`fer-bench weights import {entry} FILE`" in msg
    assert str(keras_models if init == "imagenet" else fb) in msg


def test_resnet18_imagenet_needs_cached_keras_hub_preset(caches):
    with pytest.raises(FerBenchError, match="imagenet_resnet18"):
        build_model("resnet18", 48, init="imagenet")


def test_keras_vggface_cache_folder_is_also_read(caches):
    _, keras_models = caches
    legacy = keras_models / "vggface" / "rcmalli_vggface_tf_notop_senet50.h5"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"")
    assert W.find("vggface_senet50") == legacy


# ------------------------------------------------------------------------------------------------ fetch/status
class _FakeResponse(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_fetch_verifies_known_hashes_and_writes_atomically(caches, monkeypatch):
    fb, keras_models = caches
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout=None: _FakeResponse(b"not weights"))
    with pytest.raises(FerBenchError, match="md5"):
        W.fetch("imagenet_vgg16")  # md5 known: the fake bytes are rejected
    assert not keras_models.exists() or not any(keras_models.iterdir())
    path = W.fetch("vggface_vgg16")  # no hash known for the keras-vggface release files
    assert path == fb / "rcmalli_vggface_tf_notop_vgg16.h5" and path.read_bytes() == b"not weights"
    assert W.fetch("vggface_vgg16") == path  # cached: no second download


def test_status_lists_every_known_entry(caches):
    rows = {r["name"]: r for r in W.status()}
    assert {"vggface_vgg16", "vggface_resnet50", "vggface_senet50", "imagenet_vgg16", "imagenet_resnet50",
            "imagenet_efficientnetv2b0", "imagenet_resnet18"} <= set(rows)
    assert not any(r["cached"] for r in rows.values())
    assert rows["vggface_resnet50"]["url"].endswith("v2.0/rcmalli_vggface_tf_notop_resnet50.h5")
    assert rows["imagenet_vgg16"]["target"].endswith("keras-home/models/"
                                                     "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")


def test_weights_cli(caches, tmp_path):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    runner = CliRunner()
    res = runner.invoke(app, ["weights", "status", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["weights_dir"] == str(caches[0])
    res = runner.invoke(app, ["weights", "fetch", "no_such_weights"])
    assert isinstance(res.exception, FerBenchError)
    res = runner.invoke(app, ["weights", "import", "vggface_vgg16", str(tmp_path / "missing.h5")])
    assert isinstance(res.exception, FerBenchError) and "not found" in str(res.exception)


# ------------------------------------------------------------------------------------------------ preprocessing
def _vggface_reference(x_rgb: np.ndarray, version: int) -> np.ndarray:
    """keras_vggface.utils.preprocess_input semantics, written out: RGB->BGR, minus per-version BGR means."""
    bgr = x_rgb[..., ::-1].astype("float64")
    means = {1: (93.5940, 104.7624, 129.1863), 2: (91.4953, 103.8827, 131.0912)}[version]
    return bgr - np.array(means)


def test_preprocessing_modes_match_their_references():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    out = {m: np.asarray(Preprocess(m)(x)) for m in ("vggface1", "vggface2", "caffe", "tf", "torch", "rescale",
                                                     "raw")}
    np.testing.assert_allclose(out["vggface1"], _vggface_reference(x, 1), atol=1e-3)
    np.testing.assert_allclose(out["vggface2"], _vggface_reference(x, 2), atol=1e-3)
    assert not np.allclose(out["vggface1"], out["vggface2"])  # version 1 and 2 means differ
    # channel 0 of the output is blue: BGR order
    np.testing.assert_allclose(out["vggface2"][..., 0], x[..., 2] - 91.4953, atol=1e-3)
    np.testing.assert_allclose(out["caffe"], keras.applications.vgg16.preprocess_input(x.copy()), atol=1e-3)
    np.testing.assert_allclose(out["tf"], keras.applications.mobilenet.preprocess_input(x.copy()), atol=1e-5)
    np.testing.assert_allclose(out["torch"], keras.applications.densenet.preprocess_input(x.copy()), atol=1e-4)
    np.testing.assert_allclose(out["rescale"], x / 255.0, atol=1e-6)
    np.testing.assert_array_equal(out["raw"], x)


@pytest.mark.parametrize("name,init,mode", [
    ("vgg16", "imagenet", "caffe"), ("vgg16", "vggface", "vggface1"), ("resnet50", "vggface", "vggface2"),
    ("senet50", "vggface", "vggface2"), ("senet50", "scratch", "vggface2"), ("mobilenetv2", "imagenet", "tf"),
    ("densenet121", "imagenet", "torch"), ("efficientnetv2b0", "imagenet", "raw"), ("xception", "scratch", "tf"),
    ("resnet50", "scratch", "caffe"), ("lenet5", "scratch", "rescale"), ("resnet18", "imagenet", "torch"),
])
def test_native_preprocessing_per_init(name, init, mode):
    from fer_bench.models import get_spec

    spec = get_spec(name)
    assert spec.preprocess_mode(init) == mode
    assert spec.preprocess_mode(init, policy="paper") == "rescale"
