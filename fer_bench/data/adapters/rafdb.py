"""RAF-DB basic, as distributed by its authors::

    basic/EmoLabel/list_patition_label.txt     lines "train_00001.jpg 5" (1-indexed label)
    basic/Image/aligned/train_00001_aligned.jpg  (100x100 aligned faces; used when present)
    basic/Image/original/train_00001.jpg         (fallback)

Labels are 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral, mapped explicitly through
``DATASET_ORDERS["rafdb"]``. The split comes from the file-name prefix (``train_`` / ``test_``; others -> "all").
Listed images that are missing on disk are counted in ``notes`` (a partial copy still opens).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import FerBenchError
from ...imageio import read_image
from ...labels import DATASET_ORDERS, label_names_for
from ..source import DataSource, make_manifest
from ._common import fingerprint, show, split_of

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"


def find_rafdb_root(path: Path) -> Path | None:
    """The RAF-DB basic root at *path* or at ``path/basic`` (the folder holding ``EmoLabel/``)."""
    for base in (path, path / "basic"):
        if (base / LABEL_FILE).is_file():
            return base
    return None


def _listing(folder: Path) -> dict[str, os.stat_result]:
    out: dict[str, os.stat_result] = {}
    try:
        with os.scandir(folder) as it:
            for e in it:
                try:
                    if e.is_file():
                        out[e.name] = e.stat()
                except OSError:
                    continue
    except OSError:
        pass
    return out


def open_rafdb(path: str | Path, *, name: str | None = None) -> DataSource:
    """Open RAF-DB basic at *path* (the ``basic`` folder, or the folder holding it)."""
    p = Path(path).expanduser().absolute()
    root = find_rafdb_root(p)
    if root is None:
        raise FerBenchError(
            f"{show(p)} is not RAF-DB basic: {LABEL_FILE.as_posix()} not found; pass the 'basic' folder"
        )
    label_file = root / LABEL_FILE
    aligned, original = root / "Image" / "aligned", root / "Image" / "original"
    if aligned.is_dir():
        img_dir, aligned_names = aligned, True
    elif original.is_dir():
        img_dir, aligned_names = original, False
    else:
        raise FerBenchError(
            f"RAF-DB images not found: neither {show(aligned)} nor {show(original)} exists; "
            f"extract aligned.zip (or original.zip) into {show(root / 'Image')}"
        )
    files = _listing(img_dir)
    order = DATASET_ORDERS["rafdb"]
    rows: list[tuple[str, str, str, str]] = []
    missing = bad = 0
    rel_dir = img_dir.relative_to(root).as_posix()
    try:
        lines = label_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise FerBenchError(f"cannot read {show(label_file)}: {exc.strerror or exc}; check the file") from None
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(order):
            bad += 1
            continue
        fname, lab = parts[0], int(parts[1])
        stem, ext = os.path.splitext(fname)
        disk = f"{stem}_aligned{ext}" if aligned_names else fname
        st = files.get(disk)
        if st is None:
            missing += 1
            continue
        split = split_of(fname.split("_", 1)[0]) or "all"
        rows.append((f"{rel_dir}/{disk}", order[lab - 1], split, fingerprint(st)))
    notes = [f"images from {rel_dir}/"]
    if missing:
        notes.append(f"{missing} image(s) listed in {LABEL_FILE.as_posix()} are missing from {show(img_dir)}")
    if bad:
        notes.append(f"{bad} malformed line(s) in {show(label_file)} skipped (expected 'train_00001.jpg 5')")
    if not rows:
        raise FerBenchError(
            f"none of the images listed in {show(label_file)} exist in {show(img_dir)}; "
            f"check that the images were extracted there"
        )
    manifest = make_manifest(rows)

    def read(item: str):
        return read_image(root / item)

    return DataSource(
        name=name or str(path),
        format="rafdb",
        root=str(root),
        manifest=manifest,
        read=read,
        label_names=label_names_for(manifest["label"]),
        notes=notes,
    )
