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
from .recipes import Recipe
from .schedules import WarmupCosine


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


class EpochClock(keras.callbacks.Callback):
    """Tell the training pipeline which epoch is starting (its shuffle and augmentation derive from it).

    ``offset`` keeps the two phases of a pretrained model apart: epoch e of the full phase is epoch
    ``frozen_epochs + e`` of the data stream.
    """

    def __init__(self, clock, offset: int):
        super().__init__()
        self.clock, self.offset = clock, offset

    def on_epoch_begin(self, epoch, logs=None):
        if self.clock is not None:
            self.clock.epoch = self.offset + epoch


class SaveProgress(keras.callbacks.Callback):
    """Write a checkpoint after every finished epoch; on resume, put the callbacks' counters back.

    It sits last in the callback list, so its ``on_train_begin`` runs after Keras' EarlyStopping and
    ReduceLROnPlateau have reset themselves, and its ``on_epoch_end`` after they have updated.
    """

    def __init__(self, checkpoint, phase: str, epochs: int, rows: list, best: dict, keep: KeepBest,
                 counters: dict, resume: dict | None):
        super().__init__()
        self.checkpoint, self.phase, self.epochs, self.rows, self.best = checkpoint, phase, epochs, rows, best
        self.keep, self.counters, self.resume = keep, counters, resume
        self._last_best_epoch = keep.best_epoch

    def on_train_begin(self, logs=None):
        for name, cb in self.counters.items():
            for attr, value in ((self.resume or {}).get(name) or {}).items():
                setattr(cb, attr, value)

    def on_epoch_end(self, epoch, logs=None):
        if self.checkpoint is None:
            return
        changed = self.keep.best_epoch != self._last_best_epoch
        self._last_best_epoch = self.keep.best_epoch
        self.checkpoint.save(
            self.model, phase=self.phase, epoch_done=epoch + 1, stopped=bool(self.model.stop_training),
            history=self.rows, best=self.best, best_weights=self.keep.weights, best_changed=changed,
            with_optimizer=True,
            callbacks={"keep": {"best": list(self.keep.best), "best_epoch": self.keep.best_epoch},
                       **{name: {a: _plain(getattr(cb, a)) for a in COUNTER_ATTRS[name]}
                          for name, cb in self.counters.items()}})


#: the state of Keras' callbacks that a resumed phase must carry over
COUNTER_ATTRS = {"early_stopping": ("wait", "best", "best_epoch", "stopped_epoch"),
                 "plateau": ("wait", "best", "cooldown_counter"), "cosine": ("step",)}


def _plain(v):
    return None if v is None else float(v) if isinstance(v, (float, np.floating)) else int(v) \
        if isinstance(v, (int, np.integer)) else v


def _phase(model, train_ds, val_ds, *, epochs: int, lr: float, recipe: Recipe, steps_per_epoch: int,
           es_patience: int, lr_patience: int, phase: str, rows: list, best: dict, on_epoch, clock=None,
           clock_offset: int = 0, checkpoint=None) -> KeepBest:
    _compile(model, lr, recipe)
    keep = KeepBest()
    counters: dict = {}
    if recipe.cosine:
        counters["cosine"] = WarmupCosine(lr, epochs * steps_per_epoch, recipe.warmup_epochs * steps_per_epoch)
    else:
        counters["plateau"] = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                                patience=lr_patience, min_lr=1e-10, verbose=0)
    if recipe.early_stopping:
        counters["early_stopping"] = keras.callbacks.EarlyStopping(monitor="val_loss", patience=es_patience,
                                                                   verbose=0)
    prog = checkpoint.progress if checkpoint is not None else None
    resume = prog if prog and prog["phase"] == phase else None
    initial_epoch = 0
    if resume is not None and resume["epoch_done"] > 0:  # inside this phase: model + optimizer + counters
        model.optimizer.build(model.trainable_variables)
        checkpoint.restore_variables(model, with_optimizer=True)
        k = resume["callbacks"]["keep"]
        keep.best, keep.best_epoch = tuple(k["best"]), int(k["best_epoch"])
        keep.weights = checkpoint.best_weights()
        initial_epoch = int(resume["epoch_done"])
    elif resume is not None:  # at the start of this phase (the previous phase finished): weights only
        checkpoint.restore_variables(model, with_optimizer=False)
    saver = SaveProgress(checkpoint, phase, epochs, rows, best, keep, counters,
                         resume["callbacks"] if resume is not None and initial_epoch else None)
    cbs: list = [EpochClock(clock, clock_offset), keep, EpochLog(phase, rows, on_epoch, epochs),
                 *counters.values(), saver]
    finished = resume is not None and (initial_epoch >= epochs or resume.get("stopped"))
    if not finished:
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch, callbacks=cbs,
                  verbose=0, shuffle=False)
    keep.restore()
    return keep


def fit(model, train_ds, val_ds, *, epochs: int, frozen_epochs: int, lr: float, recipe: Recipe,
        steps_per_epoch: int, es_patience: int = 20, lr_patience: int = 10,
        on_epoch: Callable | None = None, clock=None, checkpoint=None) -> dict:
    """Train in one or two phases; returns {"history": rows, "best": {...}} with the best weights loaded.

    With a :class:`~fer_bench.protocol.checkpoint.RunCheckpoint`, every finished epoch is saved and a run that
    has a checkpoint continues from it; ``clock`` (the training pipeline's epoch clock) is told each epoch.
    """
    prog = checkpoint.load() if checkpoint is not None else None
    rows: list[dict] = list(prog["history"]) if prog else []
    best: dict = dict(prog["best"]) if prog else {}
    backbone = backbone_of(model)
    phases = [("frozen", frozen_epochs)] if backbone is not None and frozen_epochs > 0 else []
    phases.append(("full", epochs))
    offset = 0
    for phase, n in phases:
        if prog and phase in best:  # finished before the checkpoint was written
            offset += n
            continue
        if backbone is not None:
            backbone.trainable = phase != "frozen"
        keep = _phase(model, train_ds, val_ds, epochs=n, lr=lr, recipe=recipe, steps_per_epoch=steps_per_epoch,
                      es_patience=es_patience, lr_patience=lr_patience, phase=phase, rows=rows, best=best,
                      on_epoch=on_epoch, clock=clock, clock_offset=offset, checkpoint=checkpoint)
        best[phase] = {"epoch": keep.best_epoch + 1, "val_accuracy": keep.best[0]}
        offset += n
        nxt = phases[phases.index((phase, n)) + 1][0] if (phase, n) != phases[-1] else None
        if checkpoint is not None and nxt is not None:  # the next phase starts from these (best) weights
            checkpoint.save(model, phase=nxt, epoch_done=0, stopped=False, history=rows, best=best, callbacks={},
                            best_weights=None, best_changed=False, with_optimizer=False)
    return {"history": rows, "best": best}
