"""A synthetic video-emotion dataset in the shape of STREs WoZ (Keinert et al., 2025, JMIR 27:e68942): OpenFace 2.x
``FeatureExtraction`` CSVs, a ``labels.csv`` and, optionally, rendered mp4 clips of the synthetic face with an
audio track.

Why it exists: the real STREs WoZ videos are not public, so the video track (OpenFace reader, VAD, GRU heads,
SVM baseline, statistics) needs a dataset that has the *structure* of the real one: one emotion per video,
several participants with their own way of showing each emotion (so participant-independent folds are harder
than random ones), an onset-apex-offset time course, tracking failures at the start, middle and end, and real
files in the real formats. It makes no claim about how people actually show these emotions.

What one video is (all random numbers from one generator seeded by (seed, label set, participant, class, repeat),
so every video is a pure function of those and adding participants or repeats never changes existing videos):

* a length drawn from ``frames`` (default 36-90 frames at 30 fps, mean 2.1 s: the paper's segmented videos
  average 1.9 s, 7 h 44 min over 14,412 videos; shorter clips also keep the quickstart's GRU training cheap);
* an envelope: neutral lead-in, a raised-cosine rise (faster for high-arousal emotions, see ``tempo`` in
  :data:`PROTOTYPES`), an apex hold, a raised-cosine decay to a small residual, a neutral tail;
* apex AU intensities = the class prototype (OpenFace 0-5 scale) x the participant's personal version of that
  class x the participant's expressivity and per-AU gains x a per-video apex strength (50-110 %) and per-AU
  log-normal jitter (sd 0.35), with a 50 % chance of a 10-50 % blend of another class of the label set (mixed
  displays); ranges in :data:`VARIATION`;
* plus the participant's resting AU offsets, talking (AU25/AU26 at ~4 syllables/s during the voiced segment:
  participants said a sentence in every video), blinks (AU45), and AR(1) measurement noise of a
  participant-specific size, clipped to [0, 5];
* failed frames: a leading run (30 % of videos), an interior run (25 %) and a trailing run (30 %), written as
  OpenFace writes them (``success`` 0, low ``confidence``, every AU column 0).

Participant style (seeded by (seed, participant) only): expressivity gain 0.6-1.3, per-AU log-normal gains
(sd 0.25), resting offsets on 2-4 AUs (0.2-0.9), noise level 0.15-0.35, blink rate 0.15-0.5 /s, and per class
a personal version of the prototype (each AU x log-normal, sd 0.55; 60 % chance of an extra idiosyncratic AU at
0.5-2.0). Participant-level variation is what makes participant-independent folds hard; it was lowered from
the first guess (sd 0.7, 80 %) because the GRUs, trained on 4-5 participants, then generalised poorly
(test UAR 0.28 vs SVM 0.46 on one fold), while the per-video variation could stay high.

The 16 STREs WoZ prototypes below are **synthetic assumptions, not FACS ground truth**. The four basic ones
(anger, disgust, sadness, happiness; anxiety ~ fear) follow the EMFACS predictions used by the image generator
(:mod:`fer_bench.data.synth.expressions`). For the other positive emotions there is no agreed FACS coding; the
prototypes are plausible guesses inspired by the emotion-expression literature (Duchenne smile AU6+AU12 for
enjoyment; Tracy & Robins' pride display: small smile + raised chin; relaxed states as low activation with
half-closed eyes), chosen so that classes overlap the way the paper's confusion matrix suggests (the positive
emotions share AU6/AU12; courage, resolve and confidence share AU17/AU23; relaxation, tranquility and
contentment are all low-activation) yet stay separable. Calibration target: with :data:`QUICKSTART_DEFAULTS`
the SVM and all three GRU heads are clearly above chance but far from 100 % (measured by
``benchmarks/video_synth_quickstart.py``).

Rendering (``render=True``): each frame is drawn by :func:`fer_bench.data.synth.face.draw_face` from the frame's
AU intensities (OpenFace 0-5 mapped to the renderer's 0-1 by /4), the participant's identity and a slowly
drifting head pose; failed frames show the backdrop only (the face left the frame). The audio track is silent
(-60 dB noise) except in the voiced segment: a harmonic tone (f0 100-230 Hz, 5 harmonics, vibrato) with a
syllable envelope and breath noise. Written with PyAV (bundled FFmpeg): H.264 (libx264) video when the wheel has
it, else MPEG-4 Part 2; AAC audio at 16 kHz mono. The summary names the codecs used.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from ..fsutil import atomic_path, atomic_write
from .labels import LabelSet, get_label_set
from .openface import AU_INTENSITY, AU_PRESENCE

#: Bumped whenever the bytes written for a given (arguments, seed) change.
SYNTH_VERSION = 1

#: AU numbers of the 17 intensity columns, in OpenFace order.
AU_R_NUMBERS: tuple[int, ...] = tuple(int(c[2:4]) for c in AU_INTENSITY)
#: Intensity at or above which an AU counts as present (``AUxx_c`` = 1). OpenFace's presence classifiers are
#: separate models; here presence is derived from intensity so the two never contradict each other.
PRESENCE_THRESHOLD = 1.0
#: Pose columns written before the AU columns (OpenFace ``-pose``), as in the real writer's column order.
POSE_COLUMNS: tuple[str, ...] = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
#: The CSV header exactly as OpenFace 2.x writes it (``", "`` separator: every name after the first has a space).
HEADER_COLUMNS: tuple[str, ...] = ("frame", "face_id", "timestamp", "confidence", "success",
                                   *POSE_COLUMNS, *AU_INTENSITY, *AU_PRESENCE)


@dataclass(frozen=True)
class Prototype:
    """A synthetic emotion display: apex AU intensities (OpenFace 0-5 scale; 28 = AU28 lip suck, presence only),
    ``tempo`` (rise speed: 1 = typical, > 1 faster) and ``pitch`` (head pitch at apex, radians, up < 0)."""

    aus: dict[int, float]
    tempo: float = 1.0
    pitch: float = 0.0


#: Apex displays per emotion name; synthetic assumptions, not FACS ground truth (module docstring).
PROTOTYPES: dict[str, Prototype] = {
    # negative STREs WoZ emotions / basic emotions (EMFACS-like)
    "anger": Prototype({4: 3.0, 5: 1.4, 7: 2.4, 23: 2.4, 17: 1.2}, tempo=1.3),
    "anxiety": Prototype({1: 2.4, 2: 1.4, 4: 1.8, 5: 1.8, 20: 2.0, 25: 1.0, 28: 1.2}, tempo=1.1),
    "disgust": Prototype({9: 3.0, 10: 2.4, 15: 1.3, 17: 1.0, 4: 0.8}, tempo=1.1),
    "sadness": Prototype({1: 2.4, 4: 1.8, 15: 2.4, 17: 1.4, 45: 0.6}, tempo=0.7, pitch=0.12),
    "fear": Prototype({1: 2.6, 2: 2.0, 4: 1.8, 5: 2.6, 20: 2.4, 25: 1.4, 26: 1.0}, tempo=1.4),
    "surprise": Prototype({1: 2.8, 2: 2.8, 5: 2.6, 25: 1.6, 26: 2.6}, tempo=1.8),
    "neutral": Prototype({}, tempo=1.0),
    # positive STREs WoZ emotions: the smile family shares AU6/AU12
    "happiness": Prototype({6: 2.4, 12: 3.0, 25: 1.4}, tempo=1.0),
    "joy": Prototype({6: 3.0, 12: 3.6, 25: 2.4, 26: 1.6, 7: 0.8}, tempo=1.4),
    "excitement": Prototype({1: 1.4, 2: 1.8, 5: 1.4, 6: 1.6, 12: 2.8, 25: 2.4, 26: 2.0}, tempo=1.8),
    "love": Prototype({6: 2.0, 12: 2.2, 1: 0.9, 45: 1.4, 14: 0.6}, tempo=0.7, pitch=0.06),
    "gratitude": Prototype({6: 1.6, 12: 2.0, 1: 1.4, 14: 1.0, 17: 0.6}, tempo=0.9, pitch=0.08),
    "contentment": Prototype({12: 1.6, 6: 0.9, 14: 0.8, 45: 0.8}, tempo=0.6),
    "relaxation": Prototype({45: 2.0, 12: 0.8, 25: 0.8, 26: 0.6}, tempo=0.5, pitch=-0.06),
    "tranquility": Prototype({45: 1.4, 12: 1.2, 6: 0.6, 17: 0.5}, tempo=0.5),
    "pride": Prototype({12: 1.8, 14: 1.4, 17: 1.2, 5: 0.6}, tempo=0.9, pitch=-0.15),
    # the determination family shares AU17/AU23 (and AU4/AU7 with anger)
    "confidence": Prototype({12: 1.2, 17: 1.6, 23: 1.0, 7: 0.8, 2: 0.5}, tempo=1.0, pitch=-0.08),
    "courage": Prototype({4: 1.4, 7: 1.6, 17: 1.6, 23: 1.6, 5: 0.9}, tempo=1.2, pitch=-0.04),
    "resolve": Prototype({4: 1.0, 7: 1.2, 17: 2.2, 23: 2.2, 14: 0.9, 28: 0.8}, tempo=1.0),
}
#: Other spellings of the same displays (basic7 / RAVDESS class names).
PROTOTYPE_ALIASES: dict[str, str] = {
    "angry": "anger", "happy": "happiness", "sad": "sadness", "fearful": "fear", "surprised": "surprise",
    "calm": "relaxation",
}

#: Generation, training and evaluation parameters of ``fer-bench video quickstart``. Measured with
#: ``benchmarks/video_synth_quickstart.py`` (results/benchmarks/video_synth_quickstart.json; 480 videos, 3
#: participant folds, 2-core CPU shared with other jobs at load 12-16): pooled test UAR SVM 0.58, GRU average
#: 0.48, attention 0.49, conv 0.44 (chance 0.0625), 624 s in all (generation 2.6 s). With max_epochs 30 and
#: patience 8 it took 468 s with the same UARs except conv 0.43: the best epochs were 16-32, so 40 leaves room.
QUICKSTART_DEFAULTS: dict = {
    "label_set": "stres-woz",
    "n_participants": 10,
    "videos_per_class_per_participant": 3,
    "frames": (36, 90),
    "fps": 30,
    "seed": 0,
    "n_splits": 3,
    "max_epochs": 40,
    "patience": 10,
    "batch_size": 32,
}

#: How much displays vary (the difficulty of the dataset): participant-level (``personal_sd``: log-normal sd of
#: each AU of a participant's own version of a class; ``extra_p``/``extra``: chance and range of an idiosyncratic
#: extra AU; ``gain``: expressivity range; ``noise``: measurement-noise sd range) and video-level (``apex``:
#: apex strength range; ``jitter_sd``: per-AU log-normal sd; ``blend_p``/``blend``: chance and weight range of
#: mixing in another class). Calibrated with ``benchmarks/video_synth_quickstart.py`` so that the quickstart's
#: methods land well above chance and well below 100 % (module docstring).
VARIATION: dict = {
    "personal_sd": 0.55, "extra_p": 0.6, "extra": (0.5, 2.0), "gain": (0.6, 1.3), "noise": (0.15, 0.35),
    "apex": (0.5, 1.1), "jitter_sd": 0.35, "blend_p": 0.5, "blend": (0.1, 0.5),
}

_VIDEO_CODECS = ("libx264", "mpeg4")
AUDIO_RATE = 16000


def prototype(label: str) -> Prototype:
    """The :class:`Prototype` of an emotion name (aliases applied); FerBenchError if there is none."""
    key = str(label).strip().lower()
    key = PROTOTYPE_ALIASES.get(key, key)
    if key not in PROTOTYPES:
        raise FerBenchError(
            f"no synthetic display for emotion '{label}'; use a label set whose classes are among "
            f"{', '.join(sorted({*PROTOTYPES, *PROTOTYPE_ALIASES}))}"
        )
    return PROTOTYPES[key]


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in key]))


# all AU numbers a display can use: the 17 intensity AUs plus AU28 (presence only)
_ALL_AUS: tuple[int, ...] = (*AU_R_NUMBERS[:-1], 28, 45)
_AU_INDEX = {au: i for i, au in enumerate(_ALL_AUS)}
_N_AU = len(_ALL_AUS)


def _vec(aus: dict[int, float]) -> np.ndarray:
    v = np.zeros(_N_AU)
    for au, x in aus.items():
        v[_AU_INDEX[au]] = x
    return v


@dataclass(frozen=True)
class ParticipantStyle:
    """How one synthetic participant moves their face (module docstring, "Participant style")."""

    pid: str
    gain: float
    au_gain: np.ndarray      # [_N_AU]
    rest: np.ndarray         # [_N_AU] resting offsets
    noise: float
    blink_rate: float        # blinks per second
    seed_key: int


def participant_style(seed: int, index: int) -> ParticipantStyle:
    """The style of participant ``index`` (0-based) for ``seed``; independent of label set and dataset size."""
    rng = _rng(seed, 1, index)
    gain = float(rng.uniform(*VARIATION["gain"]))
    au_gain = np.exp(rng.normal(0.0, 0.25, _N_AU))
    rest = np.zeros(_N_AU)
    n_rest = int(rng.integers(2, 5))
    idx = rng.choice([_AU_INDEX[a] for a in AU_R_NUMBERS if a != 45], size=n_rest, replace=False)
    rest[idx] = rng.uniform(0.2, 0.9, n_rest)
    return ParticipantStyle(
        pid=f"P{index + 1:02d}", gain=gain, au_gain=au_gain, rest=rest, noise=float(rng.uniform(*VARIATION["noise"])),
        blink_rate=float(rng.uniform(0.15, 0.5)), seed_key=int(rng.integers(2**31)),
    )


def personal_display(style: ParticipantStyle, label: str, seed: int) -> np.ndarray:
    """The participant's own version of ``label``'s apex (participants were free to personalise the display)."""
    rng = _rng(seed, 2, style.seed_key, _crc(label))
    base = _vec(prototype(label).aus)
    out = base * np.exp(rng.normal(0.0, VARIATION["personal_sd"], _N_AU))
    if rng.random() < VARIATION["extra_p"]:
        extra = int(rng.integers(_N_AU))
        out[extra] = max(out[extra], float(rng.uniform(*VARIATION["extra"])))
    return out * style.gain * style.au_gain


@dataclass(frozen=True)
class VideoPlan:
    """Everything about one synthetic video; the CSV rows and the rendered frames are both derived from it."""

    video: str
    participant: str
    label: str
    aus: np.ndarray           # [T, _N_AU] clean+noisy intensities, 0-5, before failure zeroing
    success: np.ndarray       # [T] bool
    confidence: np.ndarray    # [T]
    pose: np.ndarray          # [T, 6]
    envelope: np.ndarray      # [T] 0-1 expression envelope
    phases: dict              # frame indices (0-based): onset, apex_start, apex_end, offset_end
    voiced: tuple[int, int]   # voiced frames [start, end)
    f0: float
    fps: int

    @property
    def n_frames(self) -> int:
        return int(self.aus.shape[0])


def _ramp(n: int) -> np.ndarray:
    """A raised-cosine rise over n frames (0 -> 1, exclusive of both ends)."""
    if n <= 0:
        return np.zeros(0)
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(1, n + 1) / (n + 1)))


def plan_video(
    style: ParticipantStyle, label: str, classes: tuple[str, ...], rep: int, *, seed: int, label_set_name: str,
    frames: tuple[int, int], fps: int,
) -> VideoPlan:
    """Plan one video (module docstring): length, envelope, AU time courses, speech, blinks, noise, failures."""
    rng = _rng(seed, 3, _crc(label_set_name), style.seed_key, _crc(label), rep)
    proto = prototype(label)
    lo, hi = frames
    n = int(rng.integers(lo, hi + 1))

    # envelope: lead-in, rise, apex hold, decay, tail (fractions of the length)
    lead = int(round(n * rng.uniform(0.03, 0.18)))
    rise = max(3, int(round(n * rng.uniform(0.12, 0.28) / proto.tempo)))
    decay = max(3, int(round(n * rng.uniform(0.10, 0.25))))
    apex = max(3, n - lead - rise - decay - int(round(n * rng.uniform(0.0, 0.12))))
    tail = n - lead - rise - apex - decay
    if tail < 0:  # very short video: shorten the hold
        apex = max(1, apex + tail)
        tail = n - lead - rise - apex - decay
        if tail < 0:
            lead = max(0, lead + tail)
            tail = n - lead - rise - apex - decay
    residual = float(rng.uniform(0.0, 0.25))
    env = np.concatenate([
        np.zeros(lead), _ramp(rise), np.ones(apex), 1.0 - (1.0 - residual) * _ramp(decay), np.full(tail, residual),
    ])[:n]
    env = np.pad(env, (0, n - len(env)), constant_values=residual)

    # apex intensities: personal display x strength x per-AU jitter, sometimes blended with another class
    v = VARIATION
    apex_vec = personal_display(style, label, seed) * rng.uniform(*v["apex"]) * np.exp(
        rng.normal(0, v["jitter_sd"], _N_AU))
    if len(classes) > 1 and rng.random() < v["blend_p"]:
        other = classes[int(rng.integers(len(classes)))]
        if other != label:
            w = float(rng.uniform(*v["blend"]))
            apex_vec = (1.0 - w) * apex_vec + w * personal_display(style, other, seed)
    # per-AU onset lag (AUs of one display do not start on the same frame): shift the envelope by -2..+3 frames
    lags = rng.integers(-2, 4, _N_AU)
    t = np.arange(n)
    env_au = np.stack([np.interp(t - lag, t, env) for lag in lags], axis=1)
    aus = style.rest[None, :] + env_au * apex_vec[None, :]

    # speech: a sentence during (roughly) the apex; lips part and jaw moves with ~4 syllables/s
    v0 = max(0, lead + rise - int(rng.integers(0, max(2, rise))))
    v1 = min(n, lead + rise + apex + int(rng.integers(0, max(2, decay))))
    if v1 - v0 < 6:
        v0, v1 = max(0, n // 4), min(n, n // 4 + max(6, n // 2))
    syl_hz = float(rng.uniform(3.0, 5.0))
    phase = float(rng.uniform(0, 2 * np.pi))
    talk = np.zeros(n)
    tt = np.arange(v1 - v0) / fps
    talk[v0:v1] = 0.5 + 0.5 * np.sin(2 * np.pi * syl_hz * tt + phase)
    aus[:, _AU_INDEX[25]] += talk * rng.uniform(0.8, 1.8)
    aus[:, _AU_INDEX[26]] += talk * rng.uniform(0.4, 1.2)

    # blinks: 3-5 frame AU45 bumps
    n_blinks = int(rng.poisson(style.blink_rate * n / fps))
    for start in rng.integers(0, n, n_blinks):
        length = int(rng.integers(3, 6))
        bump = np.sin(np.pi * np.arange(1, length + 1) / (length + 1)) * rng.uniform(1.5, 3.0)
        end = min(n, start + length)
        aus[start:end, _AU_INDEX[45]] += bump[: end - start]

    # AR(1) measurement noise, then clip to the OpenFace range
    eps = rng.normal(0.0, style.noise, (n, _N_AU))
    noise = np.empty_like(eps)
    noise[0] = eps[0]
    for i in range(1, n):
        noise[i] = 0.6 * noise[i - 1] + 0.8 * eps[i]
    aus = np.clip(aus + noise, 0.0, 5.0)

    # head pose: drift + a class-specific pitch at apex
    drift = np.cumsum(rng.normal(0.0, 0.004, (n, 3)), axis=0)
    rot = drift + np.array([proto.pitch, 0.0, 0.0])[None, :] * env[:, None]
    trans = np.array([rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(430, 530)])[None, :] + np.cumsum(
        rng.normal(0.0, 0.6, (n, 3)), axis=0)
    pose = np.concatenate([trans, rot], axis=1)

    # tracking failures: leading, interior and trailing runs
    success = np.ones(n, dtype=bool)
    u = rng.random(3)
    if u[0] < 0.30:
        success[: int(rng.integers(1, 9))] = False
    if u[1] < 0.25:
        start = int(rng.integers(n // 4, max(n // 4 + 1, 3 * n // 4)))
        success[start:start + int(rng.integers(1, 7))] = False
    if u[2] < 0.30:
        success[n - int(rng.integers(1, 9)):] = False
    if success.sum() < max(5, n // 3):  # keep most of the video trackable
        success[:] = True
    confidence = np.where(success, rng.uniform(0.85, 0.98, n), rng.uniform(0.0, 0.4, n))

    return VideoPlan(
        video=f"{style.pid}_{label}_{rep + 1:02d}", participant=style.pid, label=label, aus=aus,
        success=success, confidence=confidence, pose=pose, envelope=env,
        phases={"onset": lead, "apex_start": lead + rise, "apex_end": lead + rise + apex,
                "offset_end": lead + rise + apex + decay},
        voiced=(int(v0), int(v1)), f0=float(rng.uniform(100.0, 230.0)), fps=fps,
    )


def _fmt(values: np.ndarray, decimals: int) -> list[str]:
    # + 0.0 turns -0.0 into 0.0 so no "-0.00" appears
    return [f"{v:.{decimals}f}" for v in (np.round(values, decimals) + 0.0).tolist()]


def openface_rows(plan: VideoPlan) -> tuple[np.ndarray, np.ndarray]:
    """The 17 ``AUxx_r`` and 18 ``AUxx_c`` values per frame as written (2 dp / 0-1), failed frames all 0."""
    r_idx = [_AU_INDEX[a] for a in AU_R_NUMBERS]
    r = np.round(plan.aus[:, r_idx], 2)
    c = (r >= PRESENCE_THRESHOLD).astype(np.float64)
    c28 = (plan.aus[:, _AU_INDEX[28]] >= PRESENCE_THRESHOLD).astype(np.float64)
    pos = AU_PRESENCE.index("AU28_c")
    c = np.concatenate([c[:, :pos], c28[:, None], c[:, pos:]], axis=1)
    r[~plan.success] = 0.0
    c[~plan.success] = 0.0
    return r, c


def openface_csv_text(plan: VideoPlan) -> str:
    """The CSV text of a plan, formatted like OpenFace 2.x's RecorderCSV (``", "`` separator; frame, face_id and
    success as integers, timestamp 3 dp, confidence 2 dp, pose translation 1 dp and rotation 3 dp, AU
    intensities 2 dp, presences 1 dp)."""
    r, c = openface_rows(plan)
    n = plan.n_frames
    cols = [
        [str(i + 1) for i in range(n)],
        ["0"] * n,
        _fmt(np.arange(n) / plan.fps, 3),
        _fmt(plan.confidence, 2),
        ["1" if s else "0" for s in plan.success],
    ]
    pose = np.where(plan.success[:, None], plan.pose, 0.0)
    cols += [_fmt(pose[:, j], 1) for j in range(3)] + [_fmt(pose[:, j], 3) for j in range(3, 6)]
    cols += [_fmt(r[:, j], 2) for j in range(r.shape[1])] + [_fmt(c[:, j], 1) for j in range(c.shape[1])]
    lines = [", ".join(HEADER_COLUMNS)]
    lines += [", ".join(row) for row in zip(*cols, strict=True)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# rendering

def _identity(seed: int, style: ParticipantStyle):
    from ..data.synth.face import sample_identity

    return sample_identity(_rng(seed, 4, style.seed_key), 0.8)


def render_frames(plan: VideoPlan, identity, *, size: int, backdrop: np.ndarray) -> np.ndarray:
    """[T, size, size, 3] uint8 RGB frames of the plan: the face drawn from each frame's AUs (OpenFace 0-5 / 4,
    clipped to the renderer's 0-1), posed by the plan's head pose; failed frames show the backdrop only."""
    import cv2

    from ..data.synth.face import FaceFrame, Sketch, draw_face

    S = 2 * size
    face_aus = [a for a in AU_R_NUMBERS if a not in (14, 17, 45)]  # AUs the renderer draws
    out = np.empty((plan.n_frames, size, size, 3), np.uint8)
    base = cv2.resize(backdrop, (S, S), interpolation=cv2.INTER_LINEAR)
    for i in range(plan.n_frames):
        img = base.copy()
        if plan.success[i]:
            tx, ty, tz, rx, ry, rz = plan.pose[i].tolist()
            scale = S / 2.9 * (475.0 / tz)
            fr = FaceFrame(S * (0.5 + tx / 400.0), S * (0.5 + ty / 400.0 + rx * 0.3) + 0.1 * scale, scale,
                           rz, ry, identity.face_w, identity.face_h)
            aus = {a: float(min(1.0, plan.aus[i, _AU_INDEX[a]] / 4.0)) for a in face_aus}
            sk = Sketch(fr)
            draw_face(sk, identity, aus, (0.0, 0.0))
            sk.render(img)
        out[i] = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return out


def synth_audio(plan: VideoPlan, rate: int = AUDIO_RATE, seed: int = 0) -> np.ndarray:
    """Mono float32 audio for the plan's duration: -60 dB noise, and in the voiced segment a harmonic tone
    (5 harmonics, 1/k amplitudes, 5 Hz vibrato) under a syllable envelope plus breath noise (peak ~0.5)."""
    rng = _rng(seed, 5, _crc(plan.video))
    n = int(round(plan.n_frames / plan.fps * rate))
    y = rng.normal(0.0, 1e-3, n)
    s0 = int(round(plan.voiced[0] / plan.fps * rate))
    s1 = min(n, int(round(plan.voiced[1] / plan.fps * rate)))
    t = np.arange(s1 - s0) / rate
    f = plan.f0 * (1.0 + 0.02 * np.sin(2 * np.pi * 5.0 * t))
    ph = 2 * np.pi * np.cumsum(f) / rate
    tone = sum(np.sin(k * ph) / k for k in range(1, 6))
    syl = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 2 * np.pi))
    edge = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02) if len(t) else t  # 20 ms fades, no clicks
    voiced = (0.3 * tone / 1.5 + 0.03 * rng.normal(0.0, 1.0, len(t))) * syl * edge
    y[s0:s1] += voiced
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def video_codec() -> str:
    """The first video encoder of :data:`_VIDEO_CODECS` the installed PyAV has (libx264, else mpeg4)."""
    import av

    for name in _VIDEO_CODECS:
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # PyAV raises different types across versions for an unknown codec
            continue
    raise FerBenchError("PyAV has neither libx264 nor mpeg4 encoders; install a PyAV wheel with FFmpeg bundled")


def write_mp4(path: Path, frames: np.ndarray, audio: np.ndarray, *, fps: int, codec: str,
              rate: int = AUDIO_RATE) -> None:
    """Write RGB frames [T, H, W, 3] and mono float audio as an mp4 (video ``codec`` yuv420p, AAC), atomically."""
    import av

    with atomic_path(Path(path), suffix=".mp4") as tmp:
        with av.open(str(tmp), "w", format="mp4") as box:
            vs = box.add_stream(codec, rate=fps)
            vs.width, vs.height = int(frames.shape[2]), int(frames.shape[1])
            vs.pix_fmt = "yuv420p"
            if codec == "libx264":
                vs.options = {"preset": "veryfast", "crf": "23"}
            else:
                vs.bit_rate = 400_000
            aus = box.add_stream("aac", rate=rate, layout="mono")
            for img in frames:
                for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                    box.mux(pkt)
            for pkt in vs.encode():
                box.mux(pkt)
            step = 1024
            for k, start in enumerate(range(0, len(audio), step)):
                chunk = audio[start:start + step]
                af = av.AudioFrame.from_ndarray(chunk[None, :].astype(np.float32), format="fltp", layout="mono")
                af.sample_rate = rate
                af.pts = k * step
                for pkt in aus.encode(af):
                    box.mux(pkt)
            for pkt in aus.encode():
                box.mux(pkt)


# ---------------------------------------------------------------------------------------------------------------
# the dataset

def _check(label_set, n_participants, videos_per_class_per_participant, frames, fps, size) -> LabelSet:
    ls = get_label_set(label_set)
    for c in ls.classes:
        prototype(c)
    if int(n_participants) < 1 or int(videos_per_class_per_participant) < 1:
        raise FerBenchError("n_participants and videos_per_class_per_participant must be >= 1")
    lo, hi = frames
    if not 10 <= int(lo) <= int(hi):
        raise FerBenchError(f"frames={frames}: use (min, max) with 10 <= min <= max")
    if int(fps) < 1:
        raise FerBenchError(f"fps={fps}: must be >= 1")
    if int(size) < 16 or int(size) % 2:
        raise FerBenchError(f"size={size}: use an even number of pixels >= 16 (yuv420p needs even sizes)")
    return ls


def generate_video_dataset(
    out_dir: str | Path,
    *,
    label_set: str | LabelSet = "stres-woz",
    n_participants: int = QUICKSTART_DEFAULTS["n_participants"],
    videos_per_class_per_participant: int = QUICKSTART_DEFAULTS["videos_per_class_per_participant"],
    seed: int = 0,
    render: bool = False,
    fps: int = 30,
    size: int = 112,
    frames: tuple[int, int] = QUICKSTART_DEFAULTS["frames"],
    overwrite: bool = False,
    fsync: bool = False,
    on_video: Callable[[int, int, str], None] | None = None,
) -> dict:
    """Write a synthetic STREs-WoZ-like dataset to ``out_dir`` and return a summary dict.

    Layout: ``openface/<video>.csv`` (OpenFace 2.x format, read by
    :func:`fer_bench.video.openface.read_openface_csv`), ``labels.csv`` (``video,participant,label``, read by
    :func:`fer_bench.video.labels.read_labels`), ``meta.csv`` (per video: frames, failed frames, envelope phases
    and the voiced segment in seconds, the ground truth a VAD can be checked against), ``summary.json`` and, with
    ``render``, ``videos/<video>.mp4`` (needs PyAV). Video ids are ``P01_anger_01``: participant, class, repeat.

    Every file is written atomically (:mod:`fer_bench.fsutil`); the CSVs are byte-identical for the same
    arguments. ``fsync`` is off by default (thousands of small files; a crash leaves either a complete old file
    or none, and re-running regenerates them). Existing CSVs or mp4s in ``openface/`` / ``videos/`` that this
    call would not write raise FerBenchError (they would silently join the dataset) unless ``overwrite``, which
    deletes them. ``on_video(i, n, video)`` reports progress.
    """
    t0 = time.perf_counter()
    ls = _check(label_set, n_participants, videos_per_class_per_participant, frames, fps, size)
    frames = (int(frames[0]), int(frames[1]))
    out = Path(out_dir)
    of_dir = out / "openface"
    vid_dir = out / "videos"
    styles = [participant_style(seed, p) for p in range(int(n_participants))]
    jobs = [(s, c, r) for s in styles for c in ls.classes for r in range(int(videos_per_class_per_participant))]
    names = {f"{s.pid}_{c}_{r + 1:02d}" for s, c, r in jobs}
    stale = [p for d, ext in ((of_dir, ".csv"), (vid_dir, ".mp4")) if d.is_dir()
             for p in sorted(d.iterdir()) if p.suffix == ext and p.stem not in names]
    if stale and not overwrite:
        raise FerBenchError(
            f"{out}: {len(stale)} file(s) not part of this dataset (e.g. {stale[0].name}); "
            "choose an empty folder or pass overwrite=True to delete them"
        )
    for p in stale:
        p.unlink()
    of_dir.mkdir(parents=True, exist_ok=True)
    codec = None
    if render:
        codec = video_codec()
        vid_dir.mkdir(parents=True, exist_ok=True)
        from ..data.synth.scene import STYLES, background

        identities = {s.pid: _identity(seed, s) for s in styles}
        backdrops = {s.pid: background(_rng(seed, 6, s.seed_key), 2 * size, STYLES["lab"]) for s in styles}

    label_lines = ["video,participant,label"]
    meta_lines = ["video,participant,label,n_frames,n_failed,failed_leading,failed_trailing,onset,apex_start,"
                  "apex_end,offset_end,voiced_start_s,voiced_end_s"]
    n_frames = n_failed = 0
    for i, (style, label, rep) in enumerate(jobs):
        plan = plan_video(style, label, ls.classes, rep, seed=seed, label_set_name=ls.name, frames=frames, fps=fps)
        atomic_write(of_dir / f"{plan.video}.csv", openface_csv_text(plan), fsync=fsync)
        if render:
            imgs = render_frames(plan, identities[style.pid], size=size, backdrop=backdrops[style.pid])
            write_mp4(vid_dir / f"{plan.video}.mp4", imgs, synth_audio(plan, seed=seed), fps=fps, codec=codec)
        ok = plan.success
        lead = int(np.argmax(ok)) if ok.any() else len(ok)
        trail = int(np.argmax(ok[::-1])) if ok.any() else len(ok)
        label_lines.append(f"{plan.video},{plan.participant},{label}")
        ph = plan.phases
        meta_lines.append(
            f"{plan.video},{plan.participant},{label},{plan.n_frames},{int((~ok).sum())},{lead},{trail},"
            f"{ph['onset']},{ph['apex_start']},{ph['apex_end']},{ph['offset_end']},"
            f"{plan.voiced[0] / fps:.3f},{plan.voiced[1] / fps:.3f}"
        )
        n_frames += plan.n_frames
        n_failed += int((~ok).sum())
        if on_video is not None:
            on_video(i + 1, len(jobs), plan.video)
    atomic_write(out / "labels.csv", "\n".join(label_lines) + "\n", fsync=fsync)
    atomic_write(out / "meta.csv", "\n".join(meta_lines) + "\n", fsync=fsync)
    summary = {
        "synth_version": SYNTH_VERSION,
        "label_set": ls.name,
        "classes": list(ls.classes),
        "seed": int(seed),
        "n_participants": int(n_participants),
        "videos_per_class_per_participant": int(videos_per_class_per_participant),
        "n_videos": len(jobs),
        "n_frames": n_frames,
        "n_failed_frames": n_failed,
        "frames": list(frames),
        "fps": int(fps),
        "rendered": bool(render),
        "size": int(size) if render else None,
        "video_codec": codec,
        "audio_codec": "aac" if render else None,
        "audio_rate": AUDIO_RATE if render else None,
        "paths": {
            "openface": str(of_dir), "labels": str(out / "labels.csv"), "meta": str(out / "meta.csv"),
            "videos": str(vid_dir) if render else None, "summary": str(out / "summary.json"),
        },
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }
    atomic_write(out / "summary.json", json.dumps(summary, indent=2) + "\n", fsync=fsync)
    return summary


__all__ = [
    "HEADER_COLUMNS",
    "PROTOTYPES",
    "QUICKSTART_DEFAULTS",
    "ParticipantStyle",
    "Prototype",
    "VideoPlan",
    "generate_video_dataset",
]
