"""Deep per-frame features: penultimate-layer embedding (plain, ensemble, flip-averaged), crops, failed frames."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from test_video_frames import face_frames

from fer_bench.errors import FerBenchError
from fer_bench.video.deep import (
    CropConfig,
    FaceCropper,
    apply_failed_frame_rule,
    embed_frames,
    load_embedder,
    window_mask,
)
from fer_bench.video.frames import Frame

CKPLUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ckplus-seq"


def tiny_classifier(size: int = 16, channels: int = 3, name: str = "tiny", seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, channels), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, activation="relu", name="penultimate")(x)
    x = keras.layers.Dropout(0.1)(x)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name=name)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("m") / "tiny.keras"
    tiny_classifier().save(path)
    return path


def crops(n: int = 5, size: int = 16) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_embedding_is_the_input_of_the_final_dense(tiny_model_path):
    emb = load_embedder(tiny_model_path, batch_size=2)
    assert (emb.dim, emb.size, emb.channels, emb.color) == (8, 16, 3, "rgb")
    assert emb.sha256 and len(emb.sha256) == 64 and emb.layers == ["tiny/predictions.input"]
    x = crops()
    got = emb.embed(np.stack([emb.prepare(c) for c in x]))
    ref_model = keras.Model(emb.model.inputs[0], emb.model.get_layer("penultimate").output)
    ref = np.asarray(ref_model(x.astype(np.float32), training=False))
    assert got.shape == (5, 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_grey_model_and_forced_grey(tiny_model_path):
    grey = load_embedder(tiny_classifier(channels=1, name="g"))
    assert grey.color == "gray" and grey.sha256 is None
    assert grey.prepare(crops(1)[0]).shape == (16, 16, 1)
    forced = load_embedder(tiny_model_path, color="gray")
    p = forced.prepare(crops(1)[0])
    assert p.shape == (16, 16, 3) and np.array_equal(p[..., 0], p[..., 2])


def test_ensemble_of_flip_averaged_members_concatenates(tmp_path):
    from fer_bench.models.layers import FlipAverage

    inp = keras.Input((16, 16, 3), name="image")
    members = [tiny_classifier(name="m0", seed=0), tiny_classifier(name="m1", seed=1)]
    outs = [members[0](inp), FlipAverage(members[1], name="m1_flip")(inp)]
    ens = keras.Model(inp, keras.layers.Average()(outs), name="ens")
    path = tmp_path / "ens.keras"
    ens.save(path)
    emb = load_embedder(path)
    assert emb.dim == 16 and emb.layers[1].endswith("(flip-averaged)")
    x = crops(3)
    got = emb.embed(x)
    f0 = keras.Model(members[0].inputs[0], members[0].get_layer("penultimate").output)
    f1 = keras.Model(members[1].inputs[0], members[1].get_layer("penultimate").output)
    xf = x.astype(np.float32)
    ref1 = (np.asarray(f1(xf)) + np.asarray(f1(xf[:, :, ::-1]))) / 2
    np.testing.assert_allclose(got[:, :8], np.asarray(f0(xf)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[:, 8:], ref1, rtol=1e-4, atol=1e-5)


def test_models_without_a_final_dense_are_refused(tmp_path):
    inp = keras.Input((16, 16, 3))
    out = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(3, 3)(inp))
    with pytest.raises(FerBenchError, match="Dense"):
        load_embedder(keras.Model(inp, out))
    with pytest.raises(FerBenchError, match="not found"):
        load_embedder(tmp_path / "nope.keras")


def test_failed_frame_rule_trims_and_fills():
    frames = np.arange(6)
    times = frames / 10
    feats = np.arange(6, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    ok = np.array([False, True, False, False, True, False])
    f, t, x, n_trim, n_fill = apply_failed_frame_rule(frames, times, feats, ok)
    assert list(f) == [1, 2, 3, 4] and n_trim == 2 and n_fill == 2
    assert list(x[:, 0]) == [1, 1, 1, 4]
    assert t == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert apply_failed_frame_rule(frames, times, feats, np.zeros(6, bool)) is None
    assert list(window_mask(times, (0.15, 0.3))) == [False, False, True, True, False, False]


def test_embed_frames_detector_none_resizes_whole_frame(tiny_model_path):
    emb = load_embedder(tiny_model_path)
    cropper = FaceCropper(CropConfig(detector="none"), emb.size)
    imgs = face_frames(3, size=40)
    raw = embed_frames((Frame(i, i / 5, im) for i, im in enumerate(imgs)), emb, cropper)
    assert raw.ok.all() and raw.features.shape == (3, 8) and list(raw.frames) == [0, 1, 2]
    from fer_bench.data.cache import resize_square

    ref = emb.embed(np.stack([resize_square(im, 16) for im in imgs]))
    np.testing.assert_allclose(raw.features, ref, rtol=1e-5, atol=1e-6)


def test_mtcnn_crops_a_face_and_fails_on_a_blank_frame(tiny_model_path):
    """The one MTCNN test: a drawn face on a plain background is found and cropped; a blank frame fails."""
    emb = load_embedder(tiny_model_path)
    cropper = FaceCropper(CropConfig(detector="mtcnn", min_confidence=0.5, min_face=20), emb.size)
    frame = np.full((160, 160, 3), 128, np.uint8)
    frame[24:136, 24:136] = face_frames(1, size=112, seed=3)[0]
    blank = np.full((160, 160, 3), 128, np.uint8)
    raw = embed_frames([Frame(0, 0.0, blank), Frame(1, 0.1, frame), Frame(2, 0.2, blank)], emb, cropper)
    assert list(raw.ok) == [False, True, False]
    assert raw.reasons.get("no_face") == 2
    assert np.abs(raw.features[1]).sum() > 0 and not raw.features[0].any()


@pytest.mark.slow
@pytest.mark.skipif(not (CKPLUS / "frames").is_dir(), reason="ckplus-seq not found")
def test_shipped_model_on_real_ckplus_crops():
    emb = load_embedder()
    assert emb.dim == 512 and emb.color == "gray" and emb.size == 48
    folder = sorted((CKPLUS / "frames").iterdir())[0]
    from fer_bench.video.frames import iter_frames

    cropper = FaceCropper(CropConfig(detector="none"), emb.size)
    raw = embed_frames(iter_frames(folder), emb, cropper)
    assert raw.ok.all() and raw.features.shape[1] == 512 and np.isfinite(raw.features).all()
    assert os.environ.get("CUDA_VISIBLE_DEVICES", "") == ""  # conftest keeps the tests on CPU
