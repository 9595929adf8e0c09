"""Training recipes (fer_bench.protocol.recipes): the WarmupCosine schedule's values and the RECIPES table."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest

from fer_bench.protocol import config
from fer_bench.protocol.recipes import RECIPES, Recipe
from fer_bench.protocol.schedules import WarmupCosine


class _LR:
    def __init__(self):
        self.value = None

    def assign(self, v):
        self.value = float(v)


def _schedule(steps, **kw):
    """The LR WarmupCosine sets before each of the first *steps* batches."""
    cb = WarmupCosine(**kw)
    lr = _LR()
    cb.set_model(SimpleNamespace(optimizer=SimpleNamespace(learning_rate=lr)))
    out = []
    for b in range(steps):
        cb.on_train_batch_begin(b)
        out.append(lr.value)
    return out


def test_warmup_is_linear_then_cosine_decays_to_the_floor():
    lrs = _schedule(130, base_lr=1.0, total_steps=110, warmup_steps=10, floor=0.01)
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])  # warm-up: 0.1, 0.2, ..., 1.0
    assert lrs[10] == pytest.approx(1.0)  # cosine starts at the base LR
    assert lrs[60] == pytest.approx(0.01 + 0.99 * 0.5)  # half-way: midpoint between base and floor
    assert lrs[35] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.25)))
    assert lrs[110] == pytest.approx(0.01)  # the end of the schedule: floor * base_lr
    assert lrs[129] == pytest.approx(0.01)  # past the end: stays at the floor
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))  # never rises after the warm-up


def test_schedule_scales_with_base_lr_and_works_without_warmup():
    lrs = _schedule(51, base_lr=1e-3, total_steps=50, warmup_steps=0, floor=0.1)
    assert lrs[0] == pytest.approx(1e-3)
    assert lrs[25] == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert lrs[50] == pytest.approx(1e-4)
    assert _schedule(3, base_lr=1.0, total_steps=0, warmup_steps=0) == pytest.approx([1.0, 0.01, 0.01])


def test_step_counter_carries_over_epochs():
    """The step is the callback's own counter (checkpointed on resume), not the batch index within an epoch."""
    cb = WarmupCosine(base_lr=1.0, total_steps=20, warmup_steps=4)
    lr = _LR()
    cb.set_model(SimpleNamespace(optimizer=SimpleNamespace(learning_rate=lr)))
    for _ in range(2):  # two epochs of 3 batches, batch index restarting at 0
        for b in range(3):
            cb.on_train_batch_begin(b)
    assert cb.step == 6
    assert lr.value == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 1 / 16)))


def test_recipes_table():
    assert set(RECIPES) == set(config.RECIPES) == {"paper", "strong"}  # the config's choices exist here
    assert all(r.name == key for key, r in RECIPES.items())
    assert RECIPES["paper"] == Recipe("paper")  # the BTFER recipe is the defaults
    paper = RECIPES["paper"]
    assert (paper.label_smoothing, paper.cosine, paper.early_stopping, paper.flip_tta) == (0.0, False, True, False)
    assert paper.default_lr is None  # each model's own paper LR
    assert (paper.aug_rotation_deg, paper.aug_shift, paper.aug_zoom) == (20.0, 0.2, 0.2)
    strong = RECIPES["strong"]
    assert (strong.label_smoothing, strong.cosine, strong.warmup_epochs) == (0.1, True, 2)
    assert (strong.early_stopping, strong.flip_tta, strong.default_lr) == (False, True, 1e-3)
    assert (strong.aug_rotation_deg, strong.aug_shift, strong.aug_zoom) == (10.0, 0.1, 0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        strong.cosine = False
