"""Training recipes: the optimiser, loss, schedule and callbacks of a run.

``paper``  : the BTFER recipe. Adam(lr, 0.9, 0.999), categorical cross-entropy, ReduceLROnPlateau(val_loss,
             x0.5, patience 10, min 1e-10), EarlyStopping(val_loss, patience 20), best weights (on validation
             accuracy) restored at the end of each phase.
``strong`` : a better-regularised recipe for small-image FER (issue: reproduce FER2013): Adam with a linear
             warm-up then cosine decay over the epoch cap, label smoothing 0.1, no early stopping (the cosine
             schedule needs the full run), best-on-validation weights restored, horizontal-flip test-time
             augmentation at evaluation, and milder geometric augmentation (rotation 10 deg, shift 0.1,
             zoom 0.1, flip): at 48 px the paper's 20 deg / 0.2 / 0.2 with dropout made a VGG-BN net underfit
             (train accuracy 0.57 < validation 0.59 after 24 FER2013 epochs, measured).

Kept free of TensorFlow (the leaderboard reads ``early_stopping`` to tell a budget cap from a schedule); the
warm-up + cosine callback lives in :mod:`fer_bench.protocol.schedules`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    name: str
    label_smoothing: float = 0.0
    cosine: bool = False
    warmup_epochs: int = 0
    early_stopping: bool = True
    flip_tta: bool = False
    default_lr: float | None = None  # None: the model's own paper LR
    aug_rotation_deg: float = 20.0  # the paper's ImageDataGenerator settings
    aug_shift: float = 0.2
    aug_zoom: float = 0.2


RECIPES = {
    "paper": Recipe("paper"),
    "strong": Recipe("strong", label_smoothing=0.1, cosine=True, warmup_epochs=2, early_stopping=False,
                     flip_tta=True, default_lr=1e-3, aug_rotation_deg=10.0, aug_shift=0.1, aug_zoom=0.1),
}
