"""Where one video dataset's files are: a labels CSV, OpenFace CSVs and/or videos (or image-sequence folders).

Users point fer-bench at one folder; the common layouts are recognised so that no flag is needed for them:

* ``labels.csv`` + ``openface/`` (+ ``videos/``): what ``fer-bench video synth`` writes;
* ``labels.csv`` + OpenFace CSVs directly in the folder (the openface-ravdess layout);
* ``labels.csv`` + ``frames/<video>/<frame>.png`` (image sequences, the CK+ / MMI / Oulu-CASIA layout) or
  ``videos/`` or video files directly in the folder.

``--labels``, ``--au-dir`` and ``--video-dir`` override what is found. A dataset's name (for tables) is the
folder's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import FerBenchError
from ..imageio import is_image_file
from .frames import VIDEO_SUFFIXES

LABEL_FILE_NAMES = ("labels.csv", "labels.CSV")
AU_SUBFOLDERS = ("openface", "au", "aus")
VIDEO_SUBFOLDERS = ("videos", "video", "frames", "sequences")


@dataclass(frozen=True)
class VideoDataset:
    """One dataset: its labels file, its OpenFace folder (AU features) and its video folder (deep features)."""

    root: Path
    labels: Path
    au_dir: Path | None
    video_dir: Path | None

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    def describe(self) -> dict:
        return {"name": self.name, "root": str(self.root), "labels": str(self.labels),
                "au_dir": str(self.au_dir) if self.au_dir else None,
                "video_dir": str(self.video_dir) if self.video_dir else None}

    def require(self, kind: str) -> None:
        """Fail in one line when the feature kind needs a folder this dataset lacks."""
        if kind in ("au", "both") and self.au_dir is None:
            raise FerBenchError(f"{self.root}: no OpenFace CSVs found (looked in the folder and in "
                                f"{'/'.join(AU_SUBFOLDERS)}/); pass --au-dir, or use --features deep")
        if kind in ("deep", "both") and self.video_dir is None:
            raise FerBenchError(f"{self.root}: no video files or image-sequence folders found (looked in the folder "
                                f"and in {'/'.join(VIDEO_SUBFOLDERS)}/); pass --video-dir, or use --features au")


def _has_csvs(folder: Path, exclude: Path | None) -> bool:
    return any(p.is_file() and p.suffix.lower() == ".csv" and (exclude is None or p.resolve() != exclude.resolve())
               for p in folder.iterdir())


def _has_videos(folder: Path) -> bool:
    for p in folder.iterdir():
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            return True
        if p.is_dir() and any(is_image_file(q) for q in p.iterdir() if q.is_file()):
            return True
    return False


def resolve_dataset(path: str | Path, *, labels: str | Path | None = None, au_dir: str | Path | None = None,
                    video_dir: str | Path | None = None) -> VideoDataset:
    """Find a dataset's labels file, OpenFace folder and video folder (see the module docstring)."""
    root = Path(path)
    if not root.exists():
        raise FerBenchError(f"{root}: no such folder; pass a folder holding labels.csv and OpenFace CSVs or videos")
    if not root.is_dir():
        raise FerBenchError(f"{root}: not a folder; pass the dataset folder (labels.csv + openface/ or videos/)")
    if labels is None:
        found = next((root / n for n in LABEL_FILE_NAMES if (root / n).is_file()), None)
        if found is None:
            raise FerBenchError(f"{root}: no labels.csv; add one (columns video,participant,label) or pass --labels")
        labels_path = found
    else:
        labels_path = Path(labels)
        if not labels_path.is_file():
            raise FerBenchError(f"{labels_path}: labels file not found; pass a CSV with columns "
                                "video,participant,label")
    for flag, given in (("--au-dir", au_dir), ("--video-dir", video_dir)):
        if given is not None and not Path(given).is_dir():
            raise FerBenchError(f"{given}: not a folder; pass an existing folder to {flag}")
    au = Path(au_dir) if au_dir is not None else None
    if au is None:
        au = next((root / n for n in AU_SUBFOLDERS if (root / n).is_dir() and _has_csvs(root / n, labels_path)),
                  None)
        if au is None and _has_csvs(root, labels_path):
            au = root
    vid = Path(video_dir) if video_dir is not None else None
    if vid is None:
        vid = next((root / n for n in VIDEO_SUBFOLDERS if (root / n).is_dir() and _has_videos(root / n)), None)
        if vid is None and _has_videos(root):
            vid = root
    return VideoDataset(root=root, labels=labels_path, au_dir=au, video_dir=vid)
