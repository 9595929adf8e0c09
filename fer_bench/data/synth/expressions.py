"""Expressions as sets of FACS action-unit (AU) intensities, and how each domain samples them.

An expression is a ``dict[int, float]``: AU number -> intensity in [0, 1]. The prototypes follow the EMFACS
"basic emotion" predictions (Ekman & Friesen; as used for CK+ labelling):

* happy    AU6 + AU12        cheek raiser, lip-corner puller (optionally AU25 lips part: a toothy smile)
* sad      AU1 + AU4 + AU15  inner-brow raiser, brow lowerer, lip-corner depressor
* surprise AU1 + AU2 + AU5 + AU26   brows up, upper lid up, jaw drop
* fear     AU1 + AU2 + AU4 + AU5 + AU20 + AU26   raised *and* drawn-together brows, wide eyes, lips stretched
* angry    AU4 + AU5 + AU7 + AU23   lowered brows, glaring lids, tightened lids, pressed lips
* disgust  AU9 + AU10 + AU15  nose wrinkler, upper-lip raiser, lip-corner depressor
* neutral  no AU

How an AU moves the drawing is in :mod:`.face`. Here we only decide *how much* of each AU a sample shows:

* ``lab`` (posed, CK+/JAFFE-like): the prototype at 80-100 % with small per-AU jitter, no stray AUs.
* ``wild`` (spontaneous, RAF-DB/AffectNet-like): weaker apex (65-100 %), per-AU jitter (75-115 %: partial
  displays, some AUs of the prototype weaker than others), 0-2 stray AUs up to 0.2, and in 30 % of samples
  a 10-30 % blend with a second expression. This is what makes wild classes overlap the way real ones do
  (weak sad ~ neutral, fear ~ surprise, disgust ~ angry). Weaker settings made wild unlearnable from small
  data (a tiny CNN stayed at chance), so these are deliberately moderate.
"""

from __future__ import annotations

import numpy as np

from ...labels import CANONICAL

#: The action units the face model implements (FACS number -> name).
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser",
    2: "outer brow raiser",
    4: "brow lowerer",
    5: "upper lid raiser",
    6: "cheek raiser",
    7: "lid tightener",
    9: "nose wrinkler",
    10: "upper lip raiser",
    12: "lip corner puller",
    15: "lip corner depressor",
    20: "lip stretcher",
    23: "lip tightener",
    25: "lips part",
    26: "jaw drop",
}
AUS: tuple[int, ...] = tuple(sorted(AU_NAMES))

#: Prototype AU intensities at the apex of a full, posed display.
PROTOTYPES: dict[str, dict[int, float]] = {
    "angry": {4: 1.0, 5: 0.6, 7: 0.8, 23: 1.0},
    "disgust": {9: 1.0, 10: 0.9, 15: 0.6},
    "fear": {1: 0.9, 2: 0.6, 4: 0.7, 5: 1.0, 20: 1.0, 26: 0.45},
    "happy": {6: 0.8, 12: 1.0},
    "neutral": {},
    "sad": {1: 0.9, 4: 0.6, 15: 0.9},
    "surprise": {1: 1.0, 2: 1.0, 5: 0.9, 26: 1.0},
}
assert tuple(sorted(PROTOTYPES)) == CANONICAL


def sample_aus(label: str, rng: np.random.Generator, domain: str) -> dict[int, float]:
    """AU intensities for one sample of *label* in *domain* (``lab`` or ``wild``); values in [0, 1].

    All random numbers come from one ``rng.random`` call (cheap), consumed in a fixed order.
    """
    r = iter(rng.random(32).tolist())

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * next(r)

    proto = PROTOTYPES[label]
    aus = dict.fromkeys(AUS, 0.0)
    if domain == "lab":
        apex = u(0.8, 1.0)
        for au, v in proto.items():
            aus[au] = v * apex * u(0.9, 1.1)
        if label == "happy" and next(r) < 0.4:
            aus[25] = u(0.5, 1.0)
    else:
        # spontaneous displays: weaker apex, partial AUs (each prototype AU kept at 75-115 %)
        apex = u(0.65, 1.0)
        for au, v in proto.items():
            aus[au] = v * apex * u(0.75, 1.15)
        if label == "happy" and next(r) < 0.5:
            aus[25] = u(0.2, 1.0) * apex
        if next(r) < 0.3:
            # mixed display: blend in a second expression (e.g. fearful surprise, angry disgust)
            other = CANONICAL[min(int(next(r) * len(CANONICAL)), len(CANONICAL) - 1)]
            w = u(0.1, 0.3)
            for au, v in PROTOTYPES[other].items():
                aus[au] = (1.0 - w) * aus[au] + w * v * u(0.5, 1.0)
        # stray low-intensity AUs (talking, blinking, idle facial motion)
        for _ in range(int(next(r) * 3.0)):
            au = AUS[min(int(next(r) * len(AUS)), len(AUS) - 1)]
            aus[au] = max(aus[au], u(0.0, 0.2))
    return {au: min(1.0, max(0.0, v)) for au, v in aus.items()}
