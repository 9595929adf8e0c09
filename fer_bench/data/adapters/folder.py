"""Folder-per-class datasets: Kaggle FER2013, AffectNet/RAF-DB folder copies, BTFER, ``build-btfer`` output.

Accepted layouts (names compared case-insensitively, synonyms such as ``Anger``/``Happiness`` accepted)::

    root/angry/*.jpg  root/happy/*.jpg ...                  -> split "all"
    root/train/angry/*.jpg  root/test/angry/*.jpg ...        -> splits train / val / test

Split folders: ``train``/``training``; ``val``/``valid``/``validation``/``PublicTest`` (-> val);
``test``/``testing``/``PrivateTest`` (-> test). Class folders may hold sub-folders (searched recursively).
Entries starting with ``.`` or ``_`` (``.detections``, ``_sheets``) and plain files at the top level
(``manifest.csv``, ``report.md``) are ignored. A folder holding images whose name is not an expression is an
error (a typo such as ``happpy`` must not silently drop a class). Numeric class folders (``0`` .. ``7``) are
only accepted with ``format="affectnet_folders"`` and then mapped through ``DATASET_ORDERS["affectnet"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import FerBenchError
from ...imageio import is_image_file, read_image
from ...labels import CANONICAL_WITH_CONTEMPT, DATASET_ORDERS, canonical_label, is_label, label_names_for
from ..source import DataSource, make_manifest
from ._common import fingerprint, is_hidden, show, split_of

#: How deep class folders are searched for images.
MAX_DEPTH = 8


class NotAFolderDataset(FerBenchError):
    """Raised when a folder has neither split nor class folders (format detection tries the next layout)."""


def _visible_dirs(folder: Path) -> tuple[list[os.DirEntry], list[os.DirEntry]]:
    """(visible sub-folders, visible files) of *folder*, sorted by name."""
    dirs, files = [], []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                try:
                    (dirs if e.is_dir() else files).append(e)
                except OSError:
                    continue
    except OSError as exc:
        raise FerBenchError(f"cannot list {show(folder)}: {exc.strerror or exc}; check the permissions") from None
    return sorted(dirs, key=lambda e: e.name), sorted(files, key=lambda e: e.name)


def _has_image(folder: Path, depth: int = 0) -> bool:
    """True if *folder* holds an image file (recursive, stops at the first one)."""
    try:
        with os.scandir(folder) as it:
            subdirs = []
            for e in it:
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    subdirs.append(e.path)
                elif is_image_file(e.name):
                    return True
    except OSError:
        return False
    return depth < MAX_DEPTH and any(_has_image(Path(d), depth + 1) for d in subdirs)


def _scan_images(folder: Path, root: Path, depth: int = 0) -> tuple[list[tuple[str, str]], int]:
    """All images under *folder*: ([(relative posix path, fingerprint)], number of non-image files)."""
    found: list[tuple[str, str]] = []
    other = 0
    subdirs = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith("."):
                continue
            try:
                if e.is_dir():
                    subdirs.append(e.path)
                    continue
                if not is_image_file(e.name):
                    other += 1
                    continue
                st = e.stat()
            except OSError:
                continue
            found.append((Path(e.path).relative_to(root).as_posix(), fingerprint(st)))
    if depth < MAX_DEPTH:
        for d in sorted(subdirs):
            f, o = _scan_images(Path(d), root, depth + 1)
            found.extend(f)
            other += o
    return found, other


def _numeric(name: str) -> int | None:
    s = name.strip()
    return int(s) if s.isdigit() else None


def looks_like_folder_dataset(path: Path) -> bool:
    """True if *path* has split folders, class folders or numeric class folders at the top level."""
    dirs, _ = _visible_dirs(path)
    return any(
        not is_hidden(d.name) and (split_of(d.name) or is_label(d.name) or _numeric(d.name) is not None)
        for d in dirs
    )


def _class_level(
    folder: Path, root: Path, split: str, numeric_order: tuple[str, ...] | None, notes: list[str]
) -> list[tuple[str, str, str, str]]:
    """Manifest rows of one folder whose sub-folders are classes."""
    dirs, files = _visible_dirs(folder)
    classes: list[tuple[os.DirEntry, str]] = []
    numeric: list[str] = []
    unknown: list[str] = []
    for d in dirs:
        if is_hidden(d.name):
            continue
        if is_label(d.name):
            classes.append((d, canonical_label(d.name)))
            continue
        num = _numeric(d.name)
        if num is not None:
            if numeric_order is None:
                numeric.append(d.name)
            elif num < len(numeric_order):
                classes.append((d, numeric_order[num]))
            else:
                notes.append(f"{show(d.path)}: class number {num} is not an expression "
                             f"(AffectNet 8-10 = none/uncertain/non-face); skipped")
            continue
        if _has_image(Path(d.path)):
            unknown.append(d.name)
        else:
            notes.append(f"{show(d.path)}: not a class folder and holds no images; ignored")
    found = sorted({lab for _, lab in classes})
    nums = {_numeric(d.name) for d in dirs if not is_hidden(d.name) and _numeric(d.name) is not None}
    if numeric_order is not None and nums == set(range(1, 8)):
        raise FerBenchError(
            f"class folders 1..7 in {show(folder)} (no 0) look like RAF-DB's 1-indexed order (1 surprise ... "
            f"7 neutral), not AffectNet's 0..7; rename the folders to expression names instead of using "
            f"--format affectnet_folders"
        )
    if numeric and not classes:
        raise FerBenchError(
            f"class folders in {show(folder)} are numbered ({', '.join(sorted(numeric, key=int))}) and numbers "
            f"have no fixed meaning; for an AffectNet folder copy (0 neutral, 1 happy, 2 sad, 3 surprise, "
            f"4 fear, 5 disgust, 6 angry, 7 contempt) pass --format affectnet_folders, otherwise (e.g. RAF-DB's "
            f"1..7) rename the folders to expression names ({', '.join(CANONICAL_WITH_CONTEMPT)})"
        )
    if numeric:
        unknown.extend(numeric)
    if unknown:
        raise FerBenchError(
            f"unknown class folder{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(show(folder / u) for u in unknown)} (found class folders: {', '.join(found) or 'none'}); "
            f"rename to one of {', '.join(CANONICAL_WITH_CONTEMPT)}, or move it out of {show(folder)} "
            f"(or prefix it with _ to have it ignored)"
        )
    stray = sum(1 for f in files if is_image_file(f.name))
    if stray:
        notes.append(f"{show(folder)}: {stray} image(s) outside any class folder; ignored")
    if not classes:
        return []
    rows: list[tuple[str, str, str, str]] = []
    seen: dict[str, str] = {}
    for d, label in classes:
        images, other = _scan_images(Path(d.path), root)
        if not images:
            raise FerBenchError(
                f"class folder {show(d.path)} contains no images; add images to it or delete the folder"
            )
        if other:
            notes.append(f"{show(d.path)}: {other} non-image file(s) ignored")
        if label in seen:
            notes.append(f"{show(d.path)} and {seen[label]} both map to class {label!r}; merged")
        seen[label] = show(d.path)
        rows.extend((item, label, split, fp) for item, fp in images)
    return rows


def open_folder(path: str | Path, *, name: str | None = None, numeric_order: str | None = None) -> DataSource:
    """Open a folder-per-class dataset (see module docstring).

    numeric_order: a DATASET_ORDERS key used for numeric class folder names (``"affectnet"`` for
    ``--format affectnet_folders``); None rejects numeric folder names.
    """
    root = Path(path).expanduser().absolute()
    if not root.is_dir():
        raise FerBenchError(f"dataset folder {show(root)} not found; check the path")
    order = DATASET_ORDERS[numeric_order] if numeric_order else None
    notes: list[str] = []
    dirs, _ = _visible_dirs(root)
    split_dirs = [(d, split_of(d.name)) for d in dirs if not is_hidden(d.name) and split_of(d.name)]
    label_dirs = [d for d in dirs if not is_hidden(d.name) and (is_label(d.name) or _numeric(d.name) is not None)]
    if split_dirs and label_dirs:
        raise FerBenchError(
            f"{show(root)} mixes split folders ({', '.join(d.name for d, _ in split_dirs)}) and class folders "
            f"({', '.join(d.name for d in label_dirs)}); move the class folders into a split folder"
        )
    rows: list[tuple[str, str, str, str]] = []
    if split_dirs:
        for d in dirs:
            if not is_hidden(d.name) and not split_of(d.name):
                notes.append(f"{show(d.path)}: neither a split nor a class folder; ignored")
        for d, split in split_dirs:
            part = _class_level(Path(d.path), root, split, order, notes)
            if not part:
                notes.append(f"{show(d.path)}: split folder without class folders; skipped")
            rows.extend(part)
    elif label_dirs:
        rows = _class_level(root, root, "all", order, notes)
    else:
        raise NotAFolderDataset(
            f"{show(root)} has no class folders (angry/, happy/, ...) and no split folders (train/, test/)"
        )
    if not rows:
        raise FerBenchError(
            f"no images found under {show(root)}; expected class folders such as happy/ holding .jpg/.png "
            f"files (optionally inside train/ val/ test/)"
        )
    dup = len(rows) - len({r[0] for r in rows})
    if dup:  # merged split folders (val + validation) cannot produce the same relative path; defensive
        raise FerBenchError(f"{show(root)} lists {dup} image(s) twice; check for symlinked folders")
    manifest = make_manifest(rows)

    def read(item: str):
        return read_image(root / item)

    return DataSource(
        name=name or str(path),
        format="affectnet_folders" if numeric_order == "affectnet" else "folder",
        root=str(root),
        manifest=manifest,
        read=read,
        label_names=label_names_for(manifest["label"]),
        notes=notes,
    )
