"""Sequence models of the video track: explicit masks (padding invariance, zero frames are real frames),
attention weights, .keras save/reload and a tiny fit, for the average, attention and conv heads."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.video.models import HEADS, attention_model, build_sequence_model, pad_batch

N_FEATURES = 3
N_CLASSES = 4


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(7)
    return {h: build_sequence_model(N_FEATURES, N_CLASSES, h, compile=False) for h in HEADS}


def _run(model, x, mask):
    return keras.ops.convert_to_numpy(model([x, mask], training=False))


def _video(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, N_FEATURES)).astype(np.float32)


def test_pad_batch_shapes_and_truncation():
    x, m = pad_batch([_video(2), _video(5), np.zeros((0, N_FEATURES))])
    assert x.shape == (3, 5, N_FEATURES) and x.dtype == np.float32 and m.dtype == bool
    np.testing.assert_array_equal(m.sum(axis=1), [2, 5, 0])
    np.testing.assert_array_equal(x[0, 2:], 0.0)
    np.testing.assert_allclose(x[1], _video(5))
    x, m = pad_batch([_video(5)], max_len=3)
    assert x.shape == (1, 3, N_FEATURES) and m.all()
    np.testing.assert_allclose(x[0], _video(5)[:3])
    with pytest.raises(ValueError, match="feature count"):
        pad_batch([_video(2), np.zeros((2, N_FEATURES + 1))])
    with pytest.raises(ValueError, match="at least one"):
        pad_batch([])


def test_unknown_head_rejected():
    with pytest.raises(ValueError, match="unknown head"):
        build_sequence_model(N_FEATURES, N_CLASSES, "lstm")


@pytest.mark.parametrize("head", HEADS)
def test_padding_invariance(models, head):
    model = models[head]
    video = _video(4, seed=1)
    alone = _run(model, *pad_batch([video]))
    x, m = pad_batch([_video(12, seed=2), video, _video(7, seed=3)], max_len=12)  # 3x the video's length
    x[1, 4:] = 123.0  # garbage in the padding: only the mask may decide what counts
    batched = _run(model, x, m)
    np.testing.assert_allclose(batched[1], alone[0], atol=1e-5)
    np.testing.assert_allclose(alone.sum(axis=1), 1.0, atol=1e-5)


def test_attention_weights_valid_frames_only(models):
    weights_model = attention_model(models["attention"])
    x, m = pad_batch([_video(5, seed=4), _video(2, seed=5), _video(8, seed=6)])
    alpha = keras.ops.convert_to_numpy(weights_model([x, m], training=False))
    assert alpha.shape == m.shape
    np.testing.assert_allclose((alpha * m).sum(axis=1), 1.0, atol=1e-6)
    assert np.all(alpha[~m] == 0.0)
    assert np.all(alpha[m] > 0.0)
    with pytest.raises(ValueError, match="no attention layer"):
        attention_model(models["average"])


@pytest.mark.parametrize("head", HEADS)
def test_all_zero_frame_is_a_real_frame(models, head):
    model = models[head]
    a, b = _video(3, seed=8), _video(3, seed=9)
    with_zero = np.concatenate([a, np.zeros((1, N_FEATURES), np.float32), b])
    x, m = pad_batch([with_zero])
    out_valid = _run(model, x, m)
    m_dropped = m.copy()
    m_dropped[0, 3] = False  # same values, different mask
    out_masked = _run(model, x, m_dropped)
    assert np.abs(out_valid - out_masked).max() > 1e-6
    out_without = _run(model, *pad_batch([np.concatenate([a, b])]))  # the zero frame removed altogether
    assert np.abs(out_valid - out_without).max() > 1e-6


@pytest.mark.parametrize("head", HEADS)
def test_save_reload_identical(models, head, tmp_path):
    model = models[head]
    x, m = pad_batch([_video(6, seed=10), _video(3, seed=11)])
    path = tmp_path / f"{head}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(_run(reloaded, x, m), _run(model, x, m))
    if head == "attention":
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(attention_model(reloaded)([x, m], training=False)),
            keras.ops.convert_to_numpy(attention_model(model)([x, m], training=False)),
        )


@pytest.mark.parametrize("head", HEADS)
def test_tiny_fit_lowers_loss(head):
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    labels = np.array([0, 1] * 8)
    seqs = [rng.normal(loc=1.5 if y else -1.5, scale=0.5, size=(int(rng.integers(3, 8)), N_FEATURES)) for y in labels]
    x, m = pad_batch(seqs)
    model = build_sequence_model(N_FEATURES, 2, head)
    history = model.fit([x, m], labels, batch_size=16, epochs=6, shuffle=False, verbose=0).history["loss"]
    assert history[-1] < history[0]  # one full-batch Adam step per epoch: the training loss goes down
