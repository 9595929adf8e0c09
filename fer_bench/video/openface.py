"""Read OpenFace 2.x ``FeatureExtraction`` CSVs into per-frame 35-D action-unit sequences.

The appearance features of Keinert et al. (2025, JMIR; Methods, "Development of the Automatic FER Model",
"Appearance Features") are OpenFace's 17 AU intensities plus 18 AU presences (AU28 has presence only): a 35-D
vector per frame. Failed frames follow the paper's rule ("Facial Features Extraction", "Overview"): when no face
was found, the last extracted face is reused until a new one is detected, and gaps at the beginning or end of
the video are ignored. Here that is: leading and trailing invalid frames are dropped, interior invalid frames
are forward-filled with the last valid frame.

Parsing is by column name. OpenFace writes ``", "`` as separator (so names after the first have a leading
space); older builds write ``frame, timestamp, confidence, success`` without ``face_id``; some writers omit
``success`` too. All are accepted. Only the AU columns are required.

A frame is *valid* when ``success == 1`` (if the column exists), ``confidence >= min_confidence`` (if a
threshold is given and the column exists) and all 35 AU values parse as numbers.

Multi-face files (``FaceLandmarkVidMulti``: several rows per ``frame`` with different ``face_id``): the face
with the most valid frames is kept; ties go to the higher mean confidence, then the lower ``face_id``. Frames
in which the kept face has no row count as failed frames of that face.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FerBenchError
from .labels import LabelSet, read_labels

#: The 17 AU intensity columns (0-5), in OpenFace's CSV order.
AU_INTENSITY: tuple[str, ...] = tuple(
    f"AU{n:02d}_r" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
)
#: The 18 AU presence columns (0/1): the same 17 AUs plus AU28 (lip suck), in OpenFace's CSV order.
AU_PRESENCE: tuple[str, ...] = tuple(
    f"AU{n:02d}_c" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)
)
#: The canonical 35-D per-frame feature order: 17 intensities then 18 presences.
AU_COLUMNS: tuple[str, ...] = AU_INTENSITY + AU_PRESENCE


class OpenFaceReadError(FerBenchError):
    """An OpenFace CSV could not be turned into an AU sequence (base class of the specific errors below)."""


class NotOpenFaceCSVError(OpenFaceReadError):
    """The file is missing, unreadable, empty or not a CSV table."""


class MissingAUColumnError(OpenFaceReadError):
    """The CSV lacks one or more of the 35 AU columns."""


class NoValidFrameError(OpenFaceReadError):
    """The CSV has no frame with a successfully tracked face."""


@dataclass(frozen=True)
class AUSequence:
    """One video's per-frame AU features after trimming and forward-filling.

    ``features`` is ``(T, 35)`` float32 in :data:`AU_COLUMNS` order; ``timestamps`` (seconds, NaN when the
    CSV has no ``timestamp`` column) and ``frames`` (OpenFace frame numbers, or 1-based row numbers when there
    is no ``frame`` column) are aligned with its rows.
    """

    path: Path
    features: np.ndarray
    timestamps: np.ndarray
    frames: np.ndarray
    face_id: int | None
    n_rows: int  # frames of the kept face's span before trimming (leading + trailing + T)
    n_trimmed: int  # leading + trailing invalid frames dropped
    n_filled: int  # interior invalid frames forward-filled

    @property
    def n_frames(self) -> int:
        return int(self.features.shape[0])


def read_openface_table(path: str | Path) -> pd.DataFrame:
    """Read an OpenFace CSV as a DataFrame with stripped column names; raise :class:`NotOpenFaceCSVError`."""
    path = Path(path)
    if not path.is_file():
        raise NotOpenFaceCSVError(f"{path}: no such file; pass the path of an OpenFace FeatureExtraction CSV")
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotOpenFaceCSVError(
            f"{path}: not a readable CSV ({reason}); pass an OpenFace FeatureExtraction output CSV"
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _missing_au_error(path: Path, df: pd.DataFrame) -> MissingAUColumnError:
    missing = [c for c in AU_COLUMNS if c not in df.columns]
    if len(missing) == len(AU_COLUMNS):
        return MissingAUColumnError(
            f"{path}: no AU columns (not an OpenFace AU CSV?); run OpenFace FeatureExtraction with -aus"
        )
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return MissingAUColumnError(
        f"{path}: missing AU column(s) {shown}; re-run OpenFace 2.x FeatureExtraction with -aus (all 35 needed)"
    )


def _valid_mask(df: pd.DataFrame, au: pd.DataFrame, min_confidence: float | None) -> pd.Series:
    valid = au.notna().all(axis=1)
    if "success" in df.columns:
        valid &= pd.to_numeric(df["success"], errors="coerce").eq(1)
    if min_confidence is not None and "confidence" in df.columns:
        valid &= pd.to_numeric(df["confidence"], errors="coerce").ge(min_confidence)
    return valid


def _select_face(df: pd.DataFrame, valid: pd.Series) -> int | None:
    """The kept face id (see module docstring), or None when the file has no ``face_id`` column."""
    if "face_id" not in df.columns:
        return None
    face = pd.to_numeric(df["face_id"], errors="coerce")
    conf = pd.to_numeric(df["confidence"], errors="coerce") if "confidence" in df.columns else pd.Series(0.0, df.index)
    stats = pd.DataFrame({"face": face, "valid": valid.astype(int), "conf": conf}).dropna(subset=["face"])
    if stats.empty:
        return None
    table = stats.groupby("face").agg(n_valid=("valid", "sum"), conf=("conf", "mean")).reset_index()
    table = table.sort_values(["n_valid", "conf", "face"], ascending=[False, False, True])
    return int(table["face"].iloc[0])


def read_openface_csv(path: str | Path, *, min_confidence: float | None = None) -> AUSequence:
    """Read one OpenFace 2.x CSV into an :class:`AUSequence` (rules in the module docstring).

    Raises :class:`NotOpenFaceCSVError`, :class:`MissingAUColumnError` or :class:`NoValidFrameError`, each with
    a one-line message naming the file and the fix.
    """
    path = Path(path)
    df = read_openface_table(path)
    if any(c not in df.columns for c in AU_COLUMNS):
        raise _missing_au_error(path, df)
    if df.empty:
        raise NoValidFrameError(f"{path}: header only, no frames; re-run OpenFace on the video")
    au = df[list(AU_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    valid = _valid_mask(df, au, min_confidence)

    face_id = _select_face(df, valid)
    keep = pd.Series(True, index=df.index)
    if face_id is not None:
        keep = pd.to_numeric(df["face_id"], errors="coerce").eq(face_id)

    if "frame" in df.columns:
        frame_all = pd.to_numeric(df["frame"], errors="coerce")
    else:
        frame_all = pd.Series(np.arange(1, len(df) + 1), index=df.index)
    if "timestamp" in df.columns:
        ts_all = pd.to_numeric(df["timestamp"], errors="coerce")
    else:
        ts_all = pd.Series(np.nan, index=df.index)
    # Every frame of the file (any face) defines the time axis; the kept face may be absent in some frames.
    axis = (
        pd.DataFrame({"frame": frame_all, "timestamp": ts_all})
        .dropna(subset=["frame"])
        .groupby("frame", sort=True)["timestamp"]
        .first()
    )
    face = au[keep].assign(_valid=valid[keep], _frame=frame_all[keep]).dropna(subset=["_frame"])
    face = face.drop_duplicates("_frame").set_index("_frame").reindex(axis.index)
    face_valid = face["_valid"].eq(True).to_numpy()
    if not face_valid.any():
        extra = f" at confidence >= {min_confidence}" if min_confidence is not None else ""
        raise NoValidFrameError(
            f"{path}: no valid frame{extra} among {len(face_valid)} (no face tracked); "
            "check the video shows a face or lower min_confidence"
        )
    idx = np.flatnonzero(face_valid)
    first, last = int(idx[0]), int(idx[-1]) + 1
    feats = face[list(AU_COLUMNS)].where(pd.Series(face_valid, index=face.index), axis=0).iloc[first:last].ffill()
    n_filled = int((~face_valid[first:last]).sum())
    return AUSequence(
        path=path,
        features=feats.to_numpy(dtype=np.float32),
        timestamps=axis.iloc[first:last].to_numpy(dtype=np.float64),
        frames=axis.index[first:last].to_numpy().astype(np.int64),
        face_id=face_id,
        n_rows=len(face_valid),
        n_trimmed=len(face_valid) - (last - first),
        n_filled=n_filled,
    )


@dataclass
class FolderRead:
    """What :func:`read_folder` found: sequences by video id (file stem), labels, and skipped files."""

    sequences: dict[str, AUSequence] = field(default_factory=dict)
    labels: pd.DataFrame | None = None  # the labels table restricted to read videos (video order)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, one-line reason)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    @property
    def timestamps(self) -> dict[str, np.ndarray]:
        return {k: s.timestamps for k, s in self.sequences.items()}

    @property
    def n_frames(self) -> int:
        return sum(s.n_frames for s in self.sequences.values())


def read_folder(
    folder: str | Path,
    labels_csv: str | Path | None = None,
    *,
    label_set: str | LabelSet | Iterable[str] = "stres-woz",
    min_confidence: float | None = None,
) -> FolderRead:
    """Read every ``*.csv`` directly in ``folder`` (sorted by name) except the labels file itself.

    Files raising :class:`OpenFaceReadError` are skipped with their message. With ``labels_csv`` (read by
    :func:`fer_bench.video.labels.read_labels` with ``label_set``), CSVs without a label row are skipped too,
    and ``labels`` holds the rows of the videos read, in the order of ``sequences``. Labelled videos without a
    CSV are not an error here; compare ``labels`` with the full labels file to find them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FerBenchError(f"{folder}: not a folder; pass the folder holding the OpenFace CSVs")
    labels_path = Path(labels_csv).resolve() if labels_csv is not None else None
    table = None
    if labels_csv is not None:
        table = read_labels(labels_csv, label_set).set_index("video", drop=False)
    out = FolderRead()
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    for path in files:
        if labels_path is not None and path.resolve() == labels_path:
            continue
        if table is not None and path.stem not in table.index:
            out.skipped.append((path, f"{path}: no row for video '{path.stem}' in {labels_csv}; add it"))
            continue
        try:
            out.sequences[path.stem] = read_openface_csv(path, min_confidence=min_confidence)
        except OpenFaceReadError as exc:
            out.skipped.append((path, str(exc)))
    if table is not None:
        out.labels = table.loc[list(out.sequences)].reset_index(drop=True)
    return out
