"""Fit a model under the protocol: one phase for scratch models, two for pretrained backbones.

Phase 1 (pretrained inits only): backbone frozen (BatchNorm in inference mode), head trained.
Phase 2: the best phase-1 weights are restored, everything unfrozen, recompiled at the same LR, trained to the
epoch cap with the recipe's callbacks. Selection always uses the validation split handed in by the caller
(carved from training data under the fer-bench protocol); the test split never reaches this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np

from ..models.registry import backbone_of
from .recipes import Recipe, WarmupCosine


class KeepBest(keras.callbacks.Callback):
    """Remember the weights of the best epoch (highest val_accuracy, ties broken by lower val_loss)."""

    def __init__(self):
        super().__init__()
        self.best = (-np.inf, -np.inf)
        self.best_epoch = -1
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        score = (float(logs.get("val_accuracy", -np.inf)), -float(logs.get("val_loss", np.inf)))
        if score > self.best:
            self.best, self.best_epoch = score, epoch
            self.weights = [w.copy() for w in self.model.get_weights()]

    def restore(self):
        if self.weights is not None:
            self.model.set_weights(self.weights)


class EpochLog(keras.callbacks.Callback):
    """Collect per-epoch logs (with phase, lr and wall time) and forward them to a progress hook."""

    def __init__(self, phase: str, rows: list, on_epoch: Callable | None, epochs: int):
        super().__init__()
        self.phase, self.rows, self.on_epoch, self.epochs = phase, rows, on_epoch, epochs
        self.t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"phase": self.phase, "epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        row["lr"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row["seconds"] = round(time.perf_counter() - self.t0, 3)
        self.rows.append(row)
        if self.on_epoch:
            self.on_epoch(self.phase, epoch + 1, self.epochs, row)


def _compile(model, lr: float, recipe: Recipe):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
        weighted_metrics=[],
    )


def _phase(model, train_ds, val_ds, *, epochs: int, lr: float, recipe: Recipe, steps_per_epoch: int,
           es_patience: int, lr_patience: int, phase: str, rows: list, on_epoch) -> KeepBest:
    _compile(model, lr, recipe)
    keep = KeepBest()
    cbs: list = [keep, EpochLog(phase, rows, on_epoch, epochs)]
    if recipe.cosine:
        cbs.append(WarmupCosine(lr, epochs * steps_per_epoch, recipe.warmup_epochs * steps_per_epoch))
    else:
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=lr_patience,
                                                     min_lr=1e-10, verbose=0))
    if recipe.early_stopping:
        cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=es_patience, verbose=0))
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=cbs, verbose=0, shuffle=False)
    keep.restore()
    return keep


def fit(model, train_ds, val_ds, *, epochs: int, frozen_epochs: int, lr: float, recipe: Recipe,
        steps_per_epoch: int, es_patience: int = 20, lr_patience: int = 10,
        on_epoch: Callable | None = None) -> dict:
    """Train in one or two phases; returns {"history": rows, "best": {...}} with the best weights loaded."""
    rows: list[dict] = []
    best = {}
    backbone = backbone_of(model)
    if backbone is not None and frozen_epochs > 0:
        backbone.trainable = False
        keep = _phase(model, train_ds, val_ds, epochs=frozen_epochs, lr=lr, recipe=recipe,
                      steps_per_epoch=steps_per_epoch, es_patience=es_patience, lr_patience=lr_patience,
                      phase="frozen", rows=rows, on_epoch=on_epoch)
        best["frozen"] = {"epoch": keep.best_epoch + 1, "val_accuracy": keep.best[0]}
        backbone.trainable = True
    keep = _phase(model, train_ds, val_ds, epochs=epochs, lr=lr, recipe=recipe,
                  steps_per_epoch=steps_per_epoch, es_patience=es_patience, lr_patience=lr_patience,
                  phase="full", rows=rows, on_epoch=on_epoch)
    best["full"] = {"epoch": keep.best_epoch + 1, "val_accuracy": keep.best[0]}
    return {"history": rows, "best": best}
