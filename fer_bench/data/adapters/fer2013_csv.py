"""FER2013 as released by the ICML 2013 challenge: one ``fer2013.csv`` with 48x48 grey pixels per row.

Columns: ``emotion`` (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral; mapped explicitly
through ``DATASET_ORDERS["fer2013"]``), ``pixels`` (space-separated 0..255 ints, row-major) and ``Usage``
(``Training`` -> train, ``PublicTest`` -> val, ``PrivateTest`` -> test). The Kaggle ``icml_face_data.csv``
variant (column names with leading spaces) is read the same way. Rows whose pixel string is malformed, or
whose emotion is not 0..6, are skipped and counted in ``notes``. Items are ``row:<n>`` (0-based data row).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import FerBenchError, ImageReadError
from ...labels import DATASET_ORDERS, label_names_for
from ..source import DataSource, make_manifest
from ._common import show, split_of

CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")


def is_fer2013_csv(path: Path) -> bool:
    """True if *path* is a CSV whose header has ``emotion`` and ``pixels`` columns."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            header = f.readline()
    except OSError:
        return False
    cols = {c.strip().lower() for c in header.split(",")}
    return {"emotion", "pixels"} <= cols


def find_fer2013_csv(folder: Path) -> Path | None:
    """``fer2013.csv`` (or ``icml_face_data.csv``) in *folder* or in its ``fer2013/`` sub-folder."""
    for base in (folder, folder / "fer2013"):
        for n in CSV_NAMES:
            if (base / n).is_file() and is_fer2013_csv(base / n):
                return base / n
    return None


_DIGITS_SPACE = b"0123456789 "


def _pixels_bytes(s: str) -> bytes | None:
    """The ASCII bytes of a well-formed pixel string (digits, single spaces, a square count), else None.

    Fast C-level checks only (this runs on ~36k strings of ~9 KB); a double space that still yields a square
    count is caught by ``read`` (raises ImageReadError).
    """
    b = s.encode("ascii", "replace")
    if not b or b.translate(None, _DIGITS_SPACE) or b[:1] == b" " or b[-1:] == b" ":
        return None
    n = b.count(b" ") + 1
    side = math.isqrt(n)
    return b if side * side == n and side >= 2 else None


def open_fer2013_csv(path: str | Path, *, name: str | None = None) -> DataSource:
    """Open ``fer2013.csv`` (a file, or a folder holding it)."""
    p = Path(path).expanduser().absolute()
    csv = p if p.is_file() else find_fer2013_csv(p)
    if csv is None:
        raise FerBenchError(f"no fer2013.csv found in {show(p)}; pass the path of the CSV file itself")
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise FerBenchError(f"cannot read {show(csv)}: {exc}; check that it is the FER2013 CSV") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    if not {"emotion", "pixels"} <= set(df.columns):
        raise FerBenchError(
            f"{show(csv)} lacks the FER2013 columns emotion and pixels (found {', '.join(df.columns)}); "
            f"pass the original fer2013.csv"
        )
    order = DATASET_ORDERS["fer2013"]
    pixels = df["pixels"].tolist()
    emotions = df["emotion"].str.strip().tolist()
    usages = df["usage"].tolist() if "usage" in df.columns else None
    rows: list[tuple[str, str, str, str]] = []
    bad_pixels = bad_label = bad_usage = 0
    for i, (emo, px) in enumerate(zip(emotions, pixels, strict=True)):
        if not emo.isdigit() or int(emo) >= len(order):
            bad_label += 1
            continue
        b = _pixels_bytes(px)
        if b is None:
            b = _pixels_bytes(" ".join(px.split()))  # tolerate stray whitespace (slow path, rare)
            if b is None:
                bad_pixels += 1
                continue
            pixels[i] = b.decode("ascii")
        if usages is None:
            split = "all"
        else:
            split = split_of(usages[i]) or ""
            if not split:
                bad_usage += 1
                continue
        fp = hashlib.sha1(b).hexdigest()[:16]
        rows.append((f"row:{i}", order[int(emo)], split, fp))
    notes = []
    if bad_pixels:
        notes.append(f"{show(csv)}: {bad_pixels} row(s) with a malformed pixels string skipped")
    if bad_label:
        notes.append(f"{show(csv)}: {bad_label} row(s) with an emotion outside 0..6 skipped")
    if bad_usage:
        notes.append(f"{show(csv)}: {bad_usage} row(s) with an unknown Usage skipped "
                     f"(expected Training, PublicTest, PrivateTest)")
    if usages is None:
        notes.append(f"{show(csv)}: no Usage column; all rows are in split 'all'")
    if not rows:
        raise FerBenchError(f"no usable rows in {show(csv)}; check that it is the FER2013 CSV")
    manifest = make_manifest(rows)

    def read(item: str) -> np.ndarray:
        try:
            idx = int(item.split(":", 1)[1])
            s = pixels[idx]
        except (IndexError, ValueError):
            raise ImageReadError(f"no row {item!r} in {show(csv)}; use an item from the manifest") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                arr = np.fromstring(s, dtype=np.int32, sep=" ")
            except ValueError:
                arr = np.zeros(0, dtype=np.int32)
        side = math.isqrt(arr.size)
        if arr.size != s.count(" ") + 1 or side * side != arr.size or arr.size == 0:
            raise ImageReadError(f"{show(csv)} {item}: malformed pixels string; fix or delete the row")
        if arr.min() < 0 or arr.max() > 255:
            raise ImageReadError(f"{show(csv)} {item}: pixel values outside 0..255; fix or delete the row")
        gray = arr.astype(np.uint8).reshape(side, side)
        return np.repeat(gray[..., None], 3, axis=2)

    return DataSource(
        name=name or str(path),
        format="fer2013_csv",
        root=str(csv),
        manifest=manifest,
        read=read,
        label_names=label_names_for(manifest["label"]),
        notes=notes,
    )
