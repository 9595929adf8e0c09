"""Folder-per-class datasets: Kaggle FER2013, AffectNet/RAF-DB folder copies, BTFER, ``build-btfer`` output.

Accepted layouts (names compared case-insensitively, synonyms such as ``Anger``/``Happiness`` accepted)::

    root/angry/*.jpg  root/happy/*.jpg ...                  -> split "all"
    root/train/angry/*.jpg  root/test/angry/*.jpg ...        -> splits train / val / test

Split folders: ``train``/``training``; ``val``/``valid``/``validation``/``PublicTest`` (-> val);
``test``/``testing``/``PrivateTest`` (-> test). Class folders may hold sub-folders (searched recursively).
Entries starting with ``.`` or ``_`` (``.detections``, ``_sheets``) and plain files at the top level
(``manifest.csv``, ``report.md``) are ignored. A folder holding images whose name is not an expression is an
error naming every such folder (a typo such as ``happpy`` must not silently drop a class). Numeric class
folders (``0`` .. ``7``) are only accepted with ``format="affectnet_folders"`` and then mapped through
``DATASET_ORDERS["affectnet"]``.

Symlinks are followed once: a folder reached twice (a loop, or two links to it) is scanned once; a link
inside a class folder to the root, a split or a class folder is not entered (those images belong to that
folder); an image reached both directly and through a symlink, or through two symlinks, is counted once
(the direct path wins). Every entry with an image suffix is listed, even a dangling symlink: it is reported
as unreadable when read, never silently dropped. All of this is summarised in the source's notes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import FerBenchError
from ...imageio import display_name, is_image_file, read_image
from ...labels import CANONICAL_WITH_CONTEMPT, DATASET_ORDERS, canonical_label, is_label, label_names_for
from ..source import DataSource, make_manifest
from ..walk import Walk, dir_id, image_entries
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


def _has_image(folder: Path, depth: int = 0, seen: set | None = None) -> bool:
    """True if *folder* holds an image file (recursive, stops at the first one; symlink loops visited once)."""
    seen = set() if seen is None else seen
    ident = dir_id(str(folder))
    if ident is None or ident in seen:
        return False
    seen.add(ident)
    subdirs = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                try:
                    is_dir = e.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    subdirs.append(e.path)
                elif is_image_file(e.name):
                    return True
    except OSError:
        return False
    return depth < MAX_DEPTH and any(_has_image(Path(d), depth + 1, seen) for d in subdirs)


@dataclass
class _Scan:
    """What one dataset scan found: the root, notes for the user, and the folder walk's state (folders already
    scanned, folders never entered through a link; see :mod:`fer_bench.data.walk`)."""

    root: Path
    notes: list[str]
    walk: Walk = field(default_factory=lambda: Walk(max_depth=MAX_DEPTH))


def _scan_images(folder: Path, scan: _Scan) -> tuple[list[tuple[str, str, tuple[int, int] | None, bool]], int]:
    """All image files under one class folder: ([(item, fingerprint, file identity, via symlink)], non-image
    files). Every entry with an image suffix is listed, even one that cannot be stat'ed (a dangling symlink, a
    symlink loop): reading it later reports it as unreadable instead of it silently disappearing."""
    ident = dir_id(folder)
    if ident is not None and ident in scan.walk.seen:
        raise FerBenchError(
            f"class folders {show(scan.walk.seen[ident])} and {show(folder)} are the same folder (a symlink); its "
            f"images cannot have two labels or splits: remove one of them"
        )
    try:
        entries, other = image_entries(folder, scan.walk)
    except OSError as exc:
        raise FerBenchError(
            f"cannot list class folder {show(folder)}: {exc.strerror or exc}; check its permissions"
        ) from None
    found: list[tuple[str, str, tuple[int, int] | None, bool]] = []
    for e, linked in entries:
        try:
            st = e.stat()
            fp, fid = fingerprint(st), (st.st_dev, st.st_ino)
        except OSError as exc:  # dangling symlink / loop: kept, reported when read
            fp, fid = f"error:{exc.errno}", None
        found.append((Path(e.path).relative_to(scan.root).as_posix(), fp, fid, linked))
    return found, other


def _dedup_links(
    rows: list[tuple[str, str, str, str]], ids: dict[str, tuple[tuple[int, int] | None, bool]], notes: list[str]
) -> list[tuple[str, str, str, str]]:
    """Count every image file once: drop entries reached through a symlink whose target is already listed.

    A file listed directly wins over its symlinks; among symlinks only, the first path in sort order wins.
    A symlink filed under another class than its target is named in a note (the target's folder decides).
    """
    by_file: dict[tuple[int, int], list[tuple[str, str, str, str]]] = {}
    for r in rows:
        fid, _ = ids[r[0]]
        if fid is not None:
            by_file.setdefault(fid, []).append(r)
    drop: set[str] = set()
    conflicts: list[str] = []
    for group in by_file.values():
        if len(group) < 2 or not any(ids[r[0]][1] for r in group):
            continue  # a single entry, or hard links only (separate directory entries: inspect flags them)
        direct = [r for r in group if not ids[r[0]][1]]
        keep = direct if direct else [min(group, key=lambda r: r[0])]
        kept = {r[0] for r in keep}
        for r in group:
            if r[0] not in kept:
                drop.add(r[0])
                target = keep[0]
                if (r[1], r[2]) != (target[1], target[2]):
                    conflicts.append(
                        f"{display_name(r[0])} ({r[2]}/{r[1]}) -> {display_name(target[0])} ({target[2]}/{target[1]})"
                    )
    if drop:
        notes.append(f"{len(drop)} symlink(s) to images already in the dataset counted once (not twice)")
    if conflicts:
        more = f" ... +{len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        notes.append(
            f"{len(conflicts)} symlink(s) filed under another class or split than their target, counted "
            f"under the target's: {'; '.join(conflicts[:5])}{more}"
        )
    return [r for r in rows if r[0] not in drop]


def _numeric(name: str) -> int | None:
    s = name.strip()
    return int(s) if s.isdigit() else None


def folders_phrase(root: Path, dirs: list[os.DirEntry] | None = None) -> str:
    """Names the sub-folders of *root* and says they are neither classes nor splits (for error messages)."""
    if dirs is None:
        try:
            dirs, _ = _visible_dirs(root)
        except FerBenchError:
            dirs = []
    names = [display_name(d.name) + "/" for d in dirs if not is_hidden(d.name)]
    if not names:
        return "it has no sub-folders"
    listed = ", ".join(names[:12]) + (f" ... +{len(names) - 12} more" if len(names) > 12 else "")
    return (
        f"its folders {listed} are neither expression names ({ACCEPTED_NAMES}) nor split names "
        f"(train, val/validation, test)"
    )


def not_a_dataset_message(root: Path, dirs: list[os.DirEntry] | None = None) -> str:
    """Why *root* is not a folder dataset, naming the sub-folders it has."""
    return f"{show(root)} has no class folders and no split folders: {folders_phrase(root, dirs)}"


def looks_like_folder_dataset(path: Path) -> bool:
    """True if *path* has split folders, class folders or numeric class folders at the top level."""
    dirs, _ = _visible_dirs(path)
    return any(
        not is_hidden(d.name) and (split_of(d.name) or is_label(d.name) or _numeric(d.name) is not None)
        for d in dirs
    )


ACCEPTED_NAMES = (
    f"{', '.join(CANONICAL_WITH_CONTEMPT)} (any case; synonyms such as anger, happiness, sadness, surprised "
    f"work)"
)


def _unknown_message(unknown: list[str], found: set[str]) -> str:
    listed = ", ".join(unknown[:12]) + (f" ... +{len(unknown) - 12} more" if len(unknown) > 12 else "")
    s = "s" if len(unknown) > 1 else ""
    return (
        f"unknown class folder{s} {listed}: not {'expression names' if s else 'an expression name'} (found "
        f"class folders: "
        f"{', '.join(sorted(found)) or 'none'}); accepted names are {ACCEPTED_NAMES}; rename the folder{s}, "
        f"move {'them' if s else 'it'} out of the dataset, or prefix {'them' if s else 'it'} with _ to have "
        f"{'them' if s else 'it'} ignored"
    )


def _class_level(
    folder: Path,
    scan: _Scan,
    split: str,
    numeric_order: tuple[str, ...] | None,
    unknown: list[str],
    found_labels: set[str],
    ids: dict[str, tuple[tuple[int, int] | None, bool]],
) -> list[tuple[str, str, str, str]]:
    """Manifest rows of one folder whose sub-folders are classes.

    Folders holding images whose names are not expressions are appended to *unknown* (the caller raises one
    error naming all of them, across splits); *found_labels* collects the classes found.
    """
    notes = scan.notes
    dirs, files = _visible_dirs(folder)
    classes: list[tuple[os.DirEntry, str]] = []
    numeric: list[str] = []
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
            unknown.append(show(d.path))
        else:
            notes.append(f"{show(d.path)}: not a class folder and holds no images; ignored")
    found_labels.update(lab for _, lab in classes)
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
    unknown.extend(show(folder / u) for u in numeric)
    stray = sum(1 for f in files if is_image_file(f.name))
    if stray:
        notes.append(f"{show(folder)}: {stray} image(s) outside any class folder; ignored")
    if not classes:
        return []
    rows: list[tuple[str, str, str, str]] = []
    seen: dict[str, str] = {}
    for d, label in classes:
        images, other = _scan_images(Path(d.path), scan)
        if not images:
            raise FerBenchError(
                f"class folder {show(d.path)} contains no images; add images to it or delete the folder"
            )
        if other:
            notes.append(f"{show(d.path)}: {other} non-image file(s) ignored")
        if label in seen:
            notes.append(f"{show(d.path)} and {seen[label]} both map to class {label!r}; merged")
        seen[label] = show(d.path)
        for item, fp, fid, linked in images:
            ids[item] = (fid, linked)
            rows.append((item, label, split, fp))
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
    scan = _Scan(root=root, notes=notes)
    dirs, _ = _visible_dirs(root)
    split_dirs = [(d, split_of(d.name)) for d in dirs if not is_hidden(d.name) and split_of(d.name)]
    label_dirs = [d for d in dirs if not is_hidden(d.name) and (is_label(d.name) or _numeric(d.name) is not None)]
    if split_dirs and label_dirs:
        raise FerBenchError(
            f"{show(root)} mixes split folders ({', '.join(display_name(d.name) for d, _ in split_dirs)}) and "
            f"class folders ({', '.join(display_name(d.name) for d in label_dirs)}); move the class folders into "
            f"a split folder"
        )
    # a symlink inside a class folder pointing at the root, a split or a class folder is not followed: its
    # images belong to (and are counted under) that folder, not under the class holding the link
    for folder in [root] + [Path(d.path) for d, _ in split_dirs]:
        scan.walk.reserved.add(dir_id(str(folder)))
        try:
            sub, _ = _visible_dirs(folder)
        except FerBenchError:
            continue
        scan.walk.reserved.update(dir_id(d.path) for d in sub if not is_hidden(d.name))
    scan.walk.reserved.discard(None)
    rows: list[tuple[str, str, str, str]] = []
    unknown: list[str] = []
    found_labels: set[str] = set()
    ids: dict[str, tuple[tuple[int, int] | None, bool]] = {}
    if split_dirs:
        for d in dirs:
            if not is_hidden(d.name) and not split_of(d.name):
                notes.append(f"{show(d.path)}: neither a split nor a class folder; ignored")
        for d, split in split_dirs:
            part = _class_level(Path(d.path), scan, split, order, unknown, found_labels, ids)
            if not part and not unknown:
                notes.append(f"{show(d.path)}: split folder without class folders; skipped")
            rows.extend(part)
    elif label_dirs:
        rows = _class_level(root, scan, "all", order, unknown, found_labels, ids)
    else:
        raise NotAFolderDataset(not_a_dataset_message(root, dirs))
    if unknown:
        raise FerBenchError(_unknown_message(unknown, found_labels))
    walk = scan.walk
    notes += [f"{show(f)}: cannot list ({why}); images inside it not counted" for f, why in walk.unlistable]
    notes += [f"{show(f)}: sub-folders deeper than {MAX_DEPTH} levels not searched" for f in walk.too_deep]
    if walk.revisited:
        shown = [show(f) for f in walk.revisited]
        more = f" ... +{len(shown) - 5} more" if len(shown) > 5 else ""
        notes.append(
            f"{len(shown)} folder(s) reached again through a symlink (a loop or a second link) not "
            f"scanned twice: {', '.join(shown[:5])}{more}"
        )
    rows = _dedup_links(rows, ids, notes)
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
