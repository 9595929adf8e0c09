"""AffectNet, official release: annotation CSVs plus the manually annotated images::

    root/Manually_Annotated_file_lists/training.csv     (or root/training.csv)
    root/Manually_Annotated_file_lists/validation.csv   (or root/validation.csv; often without a header row)
    root/Manually_Annotated_Images/<dir>/<file>.jpg     (or root/Manually_Annotated/Manually_Annotated_Images/)

CSV columns: ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks, expression,
valence, arousal``. ``expression``: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger,
7 Contempt (mapped explicitly through ``DATASET_ORDERS["affectnet"]``; contempt is kept, so ``label_names``
has 8 classes); 8 None, 9 Uncertain, 10 Non-face are skipped and counted in ``notes``.

Splits: ``training.csv`` -> train, ``validation.csv`` -> **test**. AffectNet's official test set was never
released, so its 500-per-class validation set is the de-facto test set in the literature; carve a validation
split out of train if you need one. ``read`` returns the annotated face box (clamped to the image) cropped from
the full image. Kaggle-style AffectNet *folder* copies are handled by the folder adapter
(``format="affectnet_folders"`` for numeric class folders).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FerBenchError
from ...imageio import read_image
from ...labels import DATASET_ORDERS, label_names_for
from ..source import DataSource, make_manifest
from ._common import fingerprint, show

COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")
CSV_SPLITS = {"training.csv": "train", "validation.csv": "test"}
IMAGE_DIRS = ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images")
LIST_DIRS = (".", "Manually_Annotated_file_lists")


def is_affectnet_csv(path: Path) -> bool:
    """True if *path* looks like an AffectNet annotation CSV (header, or the header-less validation.csv)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return False
    if "subdirectory_filepath" in first.lower():
        return True
    return path.name.lower() in CSV_SPLITS and first.count(",") >= 8


def _image_dir(root: Path) -> Path | None:
    for d in IMAGE_DIRS:
        if (root / d).is_dir():
            return root / d
    return None


def find_affectnet(path: Path) -> tuple[Path, list[Path]] | None:
    """(root, annotation CSVs) for an AffectNet folder or one of its CSV files, else None."""
    if path.is_file():
        if not is_affectnet_csv(path):
            return None
        for root in (path.parent, path.parent.parent):
            if _image_dir(root) is not None:
                return root, [path]
        return path.parent, [path]
    for sub in LIST_DIRS:
        csvs = [path / sub / n for n in CSV_SPLITS if (path / sub / n).is_file() and is_affectnet_csv(path / sub / n)]
        if csvs:
            return path, csvs
    return None


def _read_csv(csv: Path) -> pd.DataFrame:
    with open(csv, encoding="utf-8", errors="replace") as f:
        has_header = "subdirectory_filepath" in f.readline().lower()
    try:
        if has_header:
            df = pd.read_csv(csv, dtype=str, keep_default_na=False)
            df.columns = [str(c).strip() for c in df.columns]
        else:
            df = pd.read_csv(csv, dtype=str, keep_default_na=False, header=None)
            df.columns = list(COLUMNS[: df.shape[1]]) + [f"extra{i}" for i in range(df.shape[1] - len(COLUMNS))]
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise FerBenchError(f"cannot read {show(csv)}: {exc}; check that it is an AffectNet CSV") from None
    lower = {c.lower(): c for c in df.columns}
    need = ("subdirectory_filepath", "face_x", "face_y", "face_width", "face_height", "expression")
    missing = [c for c in need if c not in lower]
    if missing:
        raise FerBenchError(
            f"{show(csv)} lacks the AffectNet columns {', '.join(missing)}; pass the official training.csv / "
            f"validation.csv"
        )
    return df.rename(columns={lower[c]: c for c in need})[list(need)]


def open_affectnet_csv(path: str | Path, *, name: str | None = None) -> DataSource:
    """Open AffectNet from its official CSVs (a root folder, or one CSV file)."""
    p = Path(path).expanduser().absolute()
    found = find_affectnet(p)
    if found is None:
        raise FerBenchError(
            f"{show(p)} is not an AffectNet release: no training.csv / validation.csv (in "
            f"Manually_Annotated_file_lists/) found; pass the AffectNet root folder"
        )
    root, csvs = found
    img_dir = _image_dir(root)
    if img_dir is None:
        raise FerBenchError(
            f"AffectNet images not found: {show(root / IMAGE_DIRS[0])} does not exist; extract "
            f"Manually_Annotated.tar next to the CSV folder"
        )
    rel_img = img_dir.relative_to(root).as_posix()
    order = DATASET_ORDERS["affectnet"]
    listings: dict[str, dict[str, os.stat_result]] = {}

    def stat_of(sub: str) -> os.stat_result | None:
        d, _, fname = sub.rpartition("/")
        if d not in listings:
            entries: dict[str, os.stat_result] = {}
            try:
                with os.scandir(img_dir / d if d else img_dir) as it:
                    for e in it:
                        try:
                            entries[e.name] = e.stat()
                        except OSError:
                            continue
            except OSError:
                pass
            listings[d] = entries
        return listings[d].get(fname)

    rows: list[tuple[str, str, str, str]] = []
    boxes: dict[str, tuple[int, int, int, int]] = {}
    no_class = bad = missing = dup = 0
    for csv in csvs:
        split = CSV_SPLITS.get(csv.name.lower(), "all")
        df = _read_csv(csv)
        expr = pd.to_numeric(df["expression"].str.strip(), errors="coerce")
        box = df[["face_x", "face_y", "face_width", "face_height"]].apply(
            lambda c: pd.to_numeric(c.str.strip(), errors="coerce")
        )
        subs = df["subdirectory_filepath"].str.strip().str.replace("\\", "/", regex=False).tolist()
        for sub, e, bx in zip(subs, expr.tolist(), box.itertuples(index=False), strict=True):
            if pd.isna(e) or not float(e).is_integer() or e < 0:
                bad += 1
                continue
            e = int(e)
            if e >= len(order):
                no_class += 1
                continue
            if any(pd.isna(v) for v in bx) or not sub:
                bad += 1
                continue
            item = f"{rel_img}/{sub}"
            if item in boxes:
                dup += 1
                continue
            st = stat_of(sub)
            if st is None:
                missing += 1
                continue
            b = tuple(round(float(v)) for v in bx)
            boxes[item] = b  # type: ignore[assignment]
            rows.append((item, order[e], split, f"{fingerprint(st)}:{b[0]},{b[1]},{b[2]},{b[3]}"))
    notes = []
    if "validation.csv" in {c.name.lower() for c in csvs}:
        notes.append("AffectNet validation.csv is used as the test split (the official test set is not public)")
    if no_class:
        notes.append(f"{no_class} row(s) with expression 8-10 (none/uncertain/non-face) skipped")
    if bad:
        notes.append(f"{bad} malformed row(s) skipped")
    if missing:
        notes.append(f"{missing} listed image(s) missing under {show(img_dir)}")
    if dup:
        notes.append(f"{dup} repeated row(s) for the same image skipped (first kept)")
    if not rows:
        raise FerBenchError(
            f"no usable AffectNet rows: none of the images listed in {', '.join(show(c) for c in csvs)} exist "
            f"under {show(img_dir)}; check the extraction"
        )
    manifest = make_manifest(rows)

    def read(item: str) -> np.ndarray:
        img = read_image(root / item)
        x, y, w, h = boxes.get(item, (0, 0, 0, 0))
        H, W = img.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
        if x1 - x0 < 2 or y1 - y0 < 2:  # no usable box: the whole image
            return img
        return np.ascontiguousarray(img[y0:y1, x0:x1])

    return DataSource(
        name=name or str(path),
        format="affectnet_csv",
        root=str(root),
        manifest=manifest,
        read=read,
        label_names=label_names_for(manifest["label"]),
        notes=notes,
    )
