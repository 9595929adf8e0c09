"""Video label sets, the binary valence mapping, and the labels-file reader.

STREs WoZ (Keinert et al., 2025, JMIR; Methods, "Database", Table 1): 16 emotions, 4 negative (anger, anxiety,
disgust, sadness) and 12 positive. Spelling follows Table 1. The paper's text is not fully consistent: the
"Database" paragraph once lists "fear" among the negative emotions where Table 1 and the conditions list say
"anxiety", and the human-observer list ("Human Observers") says "contentedness" for Table 1's "contentment";
"contentedness" is accepted as an alias, "fear" is not (it would silently merge two names).

A labels file is a CSV with one row per video: ``video`` (the OpenFace CSV's file stem), ``participant`` and
``label`` (a few common alternative column names are accepted, see :data:`COLUMN_ALIASES`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FerBenchError
from ..labels import CANONICAL

#: The 16 STREs WoZ emotions in Table 1 order (alphabetical), which is also the class-index order.
STRES_WOZ_EMOTIONS: tuple[str, ...] = (
    "anger", "anxiety", "confidence", "contentment", "courage", "disgust", "excitement", "gratitude",
    "happiness", "joy", "love", "pride", "relaxation", "resolve", "sadness", "tranquility",
)
#: The 4 negative STREs WoZ emotions; the other 12 are positive.
STRES_WOZ_NEGATIVE: frozenset[str] = frozenset({"anger", "anxiety", "disgust", "sadness"})
#: Binary task classes, in index order (0 negative, 1 positive).
VALENCE_CLASSES: tuple[str, ...] = ("negative", "positive")
STRES_WOZ_VALENCE: dict[str, str] = {
    e: "negative" if e in STRES_WOZ_NEGATIVE else "positive" for e in STRES_WOZ_EMOTIONS
}
#: The 7 basic expressions (fer-bench's image-track order, :data:`fer_bench.labels.CANONICAL`).
BASIC_EMOTIONS: tuple[str, ...] = CANONICAL
#: RAVDESS emotions in file-name code order 01..08 (Livingstone & Russo, 2018, PLoS ONE).
CKPLUS_EMOTIONS: tuple[str, ...] = ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")
RAVDESS_EMOTIONS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")

#: Accepted column names (lower-case) for each labels-file field.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "video": ("video", "video_id", "clip", "file", "name"),
    "participant": ("participant", "participant_id", "subject", "subject_id", "speaker", "actor"),
    "label": ("label", "emotion", "class"),
}


class LabelsFileError(FerBenchError):
    """A labels file is missing, unreadable, lacks a column, or has duplicate videos."""


class UnknownLabelError(LabelsFileError):
    """A label is not in the chosen label set."""


@dataclass(frozen=True)
class LabelSet:
    """A named, ordered class list with optional aliases and an optional label -> valence mapping."""

    name: str
    classes: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    valence: Mapping[str, str] | None = None

    def canonical(self, label: str) -> str | None:
        """The class name for ``label`` (case/space-insensitive, aliases applied), or None if unknown."""
        key = str(label).strip().lower()
        key = self.aliases.get(key, key)
        return key if key in self.classes else None

    def index(self, label: str) -> int:
        name = self.canonical(label)
        if name is None:
            raise UnknownLabelError(f"unknown label '{label}' for label set '{self.name}'; use one of {self.classes}")
        return self.classes.index(name)


LABEL_SETS: dict[str, LabelSet] = {
    "stres-woz": LabelSet("stres-woz", STRES_WOZ_EMOTIONS, {"contentedness": "contentment"}, STRES_WOZ_VALENCE),
    "basic7": LabelSet("basic7", BASIC_EMOTIONS),
    "ravdess": LabelSet("ravdess", RAVDESS_EMOTIONS),
    # CK+ (Lucey et al. 2010) as the public CK+48 crops label it: no neutral, contempt instead
    "ckplus": LabelSet("ckplus", CKPLUS_EMOTIONS),
}


def get_label_set(spec: str | LabelSet | Iterable[str]) -> LabelSet:
    """A :class:`LabelSet` from a built-in name (:data:`LABEL_SETS`), a LabelSet, or a list of class names."""
    if isinstance(spec, LabelSet):
        return spec
    if isinstance(spec, str):
        if spec not in LABEL_SETS:
            raise FerBenchError(f"unknown label set '{spec}'; use one of {sorted(LABEL_SETS)} or a list of classes")
        return LABEL_SETS[spec]
    classes = tuple(str(c).strip().lower() for c in spec)
    if not classes or len(set(classes)) != len(classes):
        raise FerBenchError(f"label set {classes} is empty or has duplicates; pass distinct class names")
    return LabelSet("custom", classes)


def infer_label_set(path: str | Path) -> LabelSet:
    """The label set a labels CSV uses: the first built-in set (in :data:`LABEL_SETS` order) that names every
    label in the file, else a custom set of the file's labels (sorted), so ``--label-set auto`` just works."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise LabelsFileError(f"{path}: not a readable CSV; pass a labels CSV (columns video,participant,label)"
                              ) from None
    col = _find_column(list(raw.columns), "label")
    if col is None:
        raise LabelsFileError(f"{path}: no label column (found {', '.join(map(str, raw.columns))}); "
                              "the header must name video, participant and label")
    found = sorted({str(v).strip().lower() for v in raw[col] if str(v).strip()})
    if not found:
        raise LabelsFileError(f"{path}: no labels; add one row per video")
    for ls in LABEL_SETS.values():
        if all(ls.canonical(v) is not None for v in found):
            return ls
    return LabelSet("custom", tuple(found))


def _find_column(columns: list[str], field_name: str) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[a] for a in COLUMN_ALIASES[field_name] if a in lower), None)


def read_labels(path: str | Path, label_set: str | LabelSet | Iterable[str] = "stres-woz") -> pd.DataFrame:
    """Read a labels CSV into a DataFrame ``video, participant, label, y`` (``y`` = class index).

    Labels are normalised to the label set's class names. Raises :class:`LabelsFileError` (missing file or
    column, empty file, duplicate video) or :class:`UnknownLabelError`, each a one-line message with the fix.
    """
    path = Path(path)
    ls = get_label_set(label_set)
    if not path.is_file():
        raise LabelsFileError(f"{path}: labels file not found; pass a CSV with columns video,participant,label")
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise LabelsFileError(f"{path}: not a readable CSV ({type(exc).__name__}); pass a labels CSV") from None
    cols = {f: _find_column(list(raw.columns), f) for f in COLUMN_ALIASES}
    missing = [f for f, c in cols.items() if c is None]
    if missing:
        raise LabelsFileError(
            f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(map(str, raw.columns))}); "
            "the header must name video, participant and label"
        )
    df = pd.DataFrame({f: raw[c].astype(str).str.strip() for f, c in cols.items()})
    if df.empty:
        raise LabelsFileError(f"{path}: no rows; add one row per video")
    names = df["label"].map(ls.canonical)
    bad = names.isna()
    if bad.any():
        rows = [f"row {i + 2} '{v}'" for i, v in zip(np.flatnonzero(bad)[:5], df["label"][bad][:5], strict=True)]
        more = f" and {int(bad.sum()) - 5} more" if bad.sum() > 5 else ""
        raise UnknownLabelError(
            f"{path}: unknown label(s) {', '.join(rows)}{more} for label set '{ls.name}'; "
            f"use one of {', '.join(ls.classes)} or choose another label set"
        )
    dup = df["video"].duplicated()
    if dup.any():
        raise LabelsFileError(f"{path}: video '{df['video'][dup].iloc[0]}' listed twice; keep one row per video")
    df["label"] = names
    df["y"] = names.map(ls.classes.index).astype(np.int64)
    return df


def to_valence(labels: Iterable[str], label_set: str | LabelSet = "stres-woz") -> np.ndarray:
    """Binary valence indices (0 negative, 1 positive; :data:`VALENCE_CLASSES`) for class names.

    Raises :class:`FerBenchError` when the label set has no valence mapping (e.g. RAVDESS, whose neutral, calm
    and surprised have no agreed valence: pass a LabelSet with an explicit ``valence``).
    """
    ls = get_label_set(label_set)
    if ls.valence is None:
        raise FerBenchError(
            f"label set '{ls.name}' has no valence mapping; pass a LabelSet with valence={{label: 'negative'|...}}"
        )
    out = []
    for label in labels:
        name = ls.canonical(label)
        if name is None:
            ls.index(label)  # raises UnknownLabelError
        if name not in ls.valence:
            raise FerBenchError(f"label '{name}' has no valence in label set '{ls.name}'; add it to the mapping")
        out.append(VALENCE_CLASSES.index(ls.valence[name]))
    return np.asarray(out, dtype=np.int64)
