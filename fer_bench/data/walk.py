"""Walk a folder tree for image files, following symlinks once.

The one home of this rule, shared by the folder dataset adapter and build-btfer's source scan: a folder reached
again (a symlink loop, a second link to the same folder) is not walked twice, a folder named in ``reserved``
(the dataset root, its split and class folders) is never entered through a link, and a sub-folder that cannot
be listed is recorded instead of aborting the scan. Entries that cannot be stat'ed (dangling links) are
returned: the reader reports them as unreadable rather than letting them disappear from the counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..imageio import is_image_file


def dir_id(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of a folder (symlinks followed), or None if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@dataclass
class Walk:
    """State of one scan over several top folders (so a folder linked from two class folders is walked once).

    ``seen``: (device, inode) -> the folder first walked there; ``reserved``: identities never entered through a
    link; ``revisited``: folders not walked again; ``unlistable``: (folder, reason) of sub-folders that could not
    be listed; ``too_deep``: folders whose sub-folders were beyond ``max_depth`` (None: no limit).
    """

    reserved: set = field(default_factory=set)
    max_depth: int | None = None
    seen: dict = field(default_factory=dict)
    revisited: list[Path] = field(default_factory=list)
    unlistable: list[tuple[Path, str]] = field(default_factory=list)
    too_deep: list[Path] = field(default_factory=list)


def image_entries(folder: Path, walk: Walk, *, depth: int = 0,
                  via_link: bool = False) -> tuple[list[tuple[os.DirEntry, bool]], int]:
    """Image files below *folder* as (entry, reached through a symlink), sorted by name per folder, and the
    number of other (non-image) files. Hidden entries are ignored. Listing *folder* itself raises OSError."""
    ident = dir_id(folder)
    if ident is not None:
        if ident in walk.seen or (depth > 0 and ident in walk.reserved):
            walk.revisited.append(Path(folder))
            return [], 0
        walk.seen[ident] = Path(folder)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if depth == 0:
            raise
        walk.unlistable.append((Path(folder), exc.strerror or str(exc)))
        return [], 0
    images: list[tuple[os.DirEntry, bool]] = []
    other = 0
    subdirs: list[tuple[Path, bool]] = []
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            link = e.is_symlink()
        except OSError:
            link = False
        try:
            is_dir = e.is_dir()
        except OSError:  # e.g. a symlink loop: is_dir() cannot tell
            is_dir = False
        if is_dir:
            subdirs.append((Path(e.path), via_link or link))
        elif is_image_file(e.name):
            images.append((e, via_link or link))
        else:
            other += 1
    if subdirs and walk.max_depth is not None and depth >= walk.max_depth:
        walk.too_deep.append(Path(folder))
        return images, other
    for d, linked in subdirs:
        im, o = image_entries(d, walk, depth=depth + 1, via_link=linked)
        images.extend(im)
        other += o
    return images, other
