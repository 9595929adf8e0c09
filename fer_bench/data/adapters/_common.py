"""Helpers shared by the dataset adapters: split-folder names, file fingerprints, path display."""

from __future__ import annotations

import os
from pathlib import Path

from ...imageio import display_name

#: Split folder / column names seen in public datasets (compared lower-case, without ``_ -`` and spaces).
SPLIT_SYNONYMS: dict[str, str] = {
    "train": "train", "training": "train", "trainset": "train",
    "val": "val", "valid": "val", "validation": "val", "valset": "val", "publictest": "val",
    "test": "test", "testing": "test", "testset": "test", "privatetest": "test",
}


def split_of(name: str) -> str | None:
    """Canonical split ("train"/"val"/"test") for a folder or Usage name, or None if it is not one."""
    key = str(name).strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    return SPLIT_SYNONYMS.get(key)


def fingerprint(st: os.stat_result) -> str:
    """Cheap change detector of one file: ``"<size>:<mtime_ns>"``."""
    return f"{st.st_size}:{st.st_mtime_ns}"


def is_hidden(name: str) -> bool:
    """Entries fer-bench never treats as data: dot files/folders and ``_``-prefixed ones (``_sheets``)."""
    return name.startswith((".", "_"))


def show(path: str | Path) -> str:
    """A path for messages: absolute, with the home directory shortened to ``~``; non-UTF-8 bytes and
    control characters escaped (:func:`fer_bench.imageio.display_name`), so any name prints on one line."""
    p = Path(path).expanduser()
    try:
        p = p.absolute()
    except OSError:
        pass
    home = Path.home()
    try:
        return display_name("~/" + p.relative_to(home).as_posix() if p != home else "~")
    except ValueError:
        return display_name(str(p))
