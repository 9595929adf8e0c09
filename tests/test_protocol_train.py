"""The trainer's rules (fer_bench.protocol.train): best-epoch selection, the two phases, the scratch rule.

Checkpoint/resume behaviour of the same code is pinned in test_resume.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_bench.protocol import run as run_mod
from fer_bench.protocol import train as train_mod
from fer_bench.protocol.config import RunConfig
from fer_bench.protocol.recipes import RECIPES
from fer_bench.protocol.train import KeepBest, fit


def _model(backbone: bool = True, seed: int = 0):
    keras.utils.set_random_seed(seed)
    layers = [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.BatchNormalization(),
              keras.layers.GlobalAveragePooling2D()]
    inp = keras.Input((12, 12, 3))
    if backbone:
        x = keras.Sequential([keras.Input((12, 12, 3)), *layers], name="backbone")(inp)
    else:
        x = inp
        for layer in layers:
            x = layer(x)
    return keras.Model(inp, keras.layers.Dense(7, activation="softmax")(x))


def _data(n=28, seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12, 12, 3)).astype("float32") * 3 + 5  # far from BatchNorm's initial statistics
    y = keras.utils.to_categorical(np.arange(n) % 7, 7)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(14)


# ---- KeepBest -------------------------------------------------------------------------------------------------

def test_keep_best_prefers_higher_accuracy_then_lower_loss():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep = KeepBest()
    keep.set_model(model)
    logs = [{"val_accuracy": 0.5, "val_loss": 1.0},
            {"val_accuracy": 0.6, "val_loss": 1.2},   # higher accuracy: best
            {"val_accuracy": 0.6, "val_loss": 0.9},   # tie, lower loss: best
            {"val_accuracy": 0.6, "val_loss": 1.0},   # tie, higher loss: not
            {"val_accuracy": 0.55, "val_loss": 0.1}]  # lower accuracy, whatever the loss: not
    snapshots = []
    for epoch, log in enumerate(logs):
        model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
        snapshots.append(model.get_weights())
        keep.on_epoch_end(epoch, log)
    assert keep.best_epoch == 2 and keep.best == (0.6, -0.9)
    keep.restore()
    for a, b in zip(model.get_weights(), snapshots[2], strict=True):
        np.testing.assert_array_equal(a, b)


def test_keep_best_copies_weights_and_restore_without_a_best_is_a_no_op():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep = KeepBest()
    keep.set_model(model)
    before = model.get_weights()
    keep.restore()  # nothing kept yet
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    keep.on_epoch_end(0, {"val_accuracy": 0.3, "val_loss": 2.0})
    model.set_weights([w + 1 for w in model.get_weights()])  # later training does not alter the kept copy
    keep.restore()
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


# ---- phases ---------------------------------------------------------------------------------------------------

def test_two_phase_fit_freezes_then_unfreezes_the_backbone():
    model = _model()
    backbone = model.get_layer("backbone")
    start = [w.copy() for w in backbone.get_weights()]  # kernel, bias, BatchNorm gamma/beta/mean/variance
    seen: list = []

    def on_epoch(phase, epoch, n, row):
        seen.append((phase, epoch, backbone.trainable, [w.copy() for w in backbone.get_weights()]))

    out = fit(model, _data(), _data(seed=1), epochs=1, frozen_epochs=2, lr=1e-2, recipe=RECIPES["paper"],
              steps_per_epoch=2, on_epoch=on_epoch)
    assert [(p, e, t) for p, e, t, _ in seen] == [("frozen", 1, False), ("frozen", 2, False), ("full", 1, True)]
    assert [r["phase"] for r in out["history"]] == ["frozen", "frozen", "full"]
    assert set(out["best"]) == {"frozen", "full"}
    # frozen: no backbone weight moves, BatchNorm statistics included (inference mode); full: they do
    for a, b in zip(seen[1][3], start, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(seen[2][3], start, strict=True))
    assert backbone.trainable


def test_without_a_backbone_there_is_one_phase():
    out = fit(_model(backbone=False), _data(), _data(seed=1), epochs=1, frozen_epochs=3, lr=1e-2,
              recipe=RECIPES["paper"], steps_per_epoch=2)
    assert [r["phase"] for r in out["history"]] == ["full"] and set(out["best"]) == {"full"}


@pytest.mark.parametrize("weights, expected", [("scratch", 0), ("imagenet", 5)])
def test_scratch_models_are_never_frozen(monkeypatch, weights, expected):
    calls = {}
    monkeypatch.setattr(train_mod, "fit", lambda *a, **kw: calls.update(kw) or {"history": [], "best": {}})
    cfg = RunConfig(model="vgg16", weights=weights, frozen_epochs=5, epochs=7)
    run_mod._fit(None, None, None, cfg, 1e-4, RECIPES["paper"], 3, None)
    assert calls["frozen_epochs"] == expected and calls["epochs"] == 7 and calls["steps_per_epoch"] == 3
