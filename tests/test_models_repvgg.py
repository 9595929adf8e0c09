"""RepVGG: the re-parameterised single-conv model computes the same function as the multi-branch one."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.models.registry import build_model
from fer_bench.models.repvgg import RepVGGBlock, build_repvgg, reparameterize


def _randomise_bn(model, seed=0):
    """Non-trivial BN statistics, so folding mean/var/gamma/beta is really exercised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, RepVGGBlock):
            for attr in ("bn3", "bn1", "bn_id"):
                bn = getattr(layer, attr, None)
                if bn is None:
                    continue
                c = bn.gamma.shape[0]
                bn.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                                rng.uniform(0.5, 2.0, c)])


def _features(model, x):
    return np.asarray(keras.Model(model.input, model.get_layer("gap").output)(x, training=False))


def test_block_branches_and_deploy_form():
    m = build_repvgg(32, 7, "scratch", "rescale", layout=((8, 1), (16, 2)), stem=8)
    stem, b1a, b2a = m.get_layer("stem"), m.get_layer("block1a"), m.get_layer("block2a")
    assert not stem.use_identity and b1a.use_identity and not b2a.use_identity  # identity only if shapes allow
    d = reparameterize(m)
    for layer in d.layers:
        if isinstance(layer, RepVGGBlock):
            assert layer.deploy and len(layer.weights) == 2  # one 3x3 kernel + bias
            assert tuple(layer.weights[0].shape[:2]) == (3, 3)


@pytest.mark.parametrize("size", [32, 33])  # even and odd sizes: stride-2 padding alignment
def test_reparameterized_equals_multibranch_small(size, tmp_path):
    keras.utils.set_random_seed(1)
    m = build_repvgg(size, 7, "scratch", "rescale", layout=((8, 1), (16, 2), (16, 1)), stem=8)
    _randomise_bn(m)
    d = reparameterize(m)
    x = np.random.default_rng(2).uniform(0, 255, (4, size, size, 3)).astype("float32")
    a, b = _features(m, x), _features(d, x)
    assert np.abs(a).max() > 1e-2  # not a degenerate all-zero comparison
    assert np.abs(a - b).max() < 1e-4
    pa, pb = np.asarray(m(x, training=False)), np.asarray(d(x, training=False))
    assert np.abs(pa - pb).max() < 1e-4
    assert d.count_params() < m.count_params()
    if size == 32:  # the deploy model is a plain .keras file (no custom_objects)
        path = tmp_path / "repvgg_deploy.keras"
        d.save(path)
        r = keras.saving.load_model(path)
        np.testing.assert_allclose(np.asarray(r(x, training=False)), pb, atol=1e-6)


def test_reparameterize_full_repvgg():
    keras.utils.set_random_seed(0)
    m = build_model("repvgg", 48)
    _randomise_bn(m)
    d = reparameterize(m)
    assert d.count_params() == 26_259_847  # the paper's "~26,5M" (training form: 29,253,511)
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype("float32")
    a, b = _features(m, x), _features(d, x)
    # 23 blocks deep with random weights: features reach ~1e3, so compare relative to their scale
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
    np.testing.assert_allclose(np.asarray(d(x, training=False)), np.asarray(m(x, training=False)), atol=1e-4)
