"""The per-batch learning-rate schedule of the ``strong`` recipe (a Keras callback, so it imports Keras)."""

from __future__ import annotations

import math

import keras


class WarmupCosine(keras.callbacks.Callback):
    """Per-batch LR: linear warm-up for `warmup_steps`, then cosine decay to `floor * base_lr`."""

    def __init__(self, base_lr: float, total_steps: int, warmup_steps: int, floor: float = 0.01):
        super().__init__()
        self.base_lr, self.total, self.warmup, self.floor = base_lr, max(1, total_steps), warmup_steps, floor
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        s = self.step
        if s < self.warmup:
            lr = self.base_lr * (s + 1) / self.warmup
        else:
            t = min(1.0, (s - self.warmup) / max(1, self.total - self.warmup))
            lr = self.base_lr * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * t)))
        self.model.optimizer.learning_rate.assign(lr)
        self.step += 1
