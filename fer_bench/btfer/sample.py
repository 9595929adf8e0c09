"""Balanced, seeded, exclusion-stable sampling and stable output names.

Sampling: every candidate face gets a priority ``sha256("btfer-sample", seed, source)``; a class keeps its
``per_class`` candidates with the smallest priorities. This is a uniformly random sample for a given seed, but
unlike shuffling a list, an item's rank does not depend on which *other* items exist. So excluding one
selected face (``--exclude``) removes exactly that face and pulls in the next-ranked unused face of its class;
every other selected face stays.

Output names: ``<class>/<class>_<h>.jpg`` with ``h`` the first 10 hex digits of sha1 of the source id (its path
relative to SRC). Names therefore never change when other files are excluded, added or removed, and the same
source always lands in the same file. (A sequence number like ``angry_0003`` would renumber every later file
after one exclusion.)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..errors import FerBenchError
from ..imageio import display_name, name_bytes

NAME_HASH_LEN = 10
_BACKSLASH = re.compile(r"\\(?!x[0-9a-fA-F]{2})")


def priority(seed: int, source: str) -> str:
    """The sampling rank key of one source for a seed (smaller = chosen first)."""
    return hashlib.sha256(name_bytes(f"btfer-sample\0{int(seed)}\0{source}")).hexdigest()


def output_name(label: str, source: str) -> str:
    """Stable output file name (relative to the output folder) for a source id.

    The hash is over the name's bytes (``imageio.name_bytes``): UTF-8 for ordinary names, the raw bytes for a
    non-UTF-8 file name (which ``str.encode("utf-8")`` cannot encode).
    """
    h = hashlib.sha1(name_bytes(source)).hexdigest()[:NAME_HASH_LEN]
    return f"{label}/{label}_{h}.jpg"


def sample_class(candidates: list[str], per_class: int, seed: int) -> list[str]:
    """The ``per_class`` chosen sources of one class (fewer if there are fewer), sorted by source id."""
    ranked = sorted(candidates, key=lambda s: (priority(seed, s), s))
    return sorted(ranked[: max(0, int(per_class))])


def read_exclude_file(path: str | Path) -> list[str]:
    """Entries of an exclusion list: one output name or source path per line; ``#`` starts a comment line.

    Trailing ``  # note`` comments are also stripped (a ``#`` preceded by whitespace), so a file name that
    itself contains ``#`` still works. Raises FerBenchError when the file cannot be read.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FerBenchError(
            f"--exclude file {p} does not exist; pass a text file with one output name "
            f"(e.g. angry/angry_0123456789.jpg) or source path per line"
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FerBenchError(f"cannot read --exclude file {p}: {exc}; pass a UTF-8 text file") from None
    if "\0" in text:
        raise FerBenchError(
            f"--exclude file {p} is not a text file; pass one output name or source path per line"
        )
    entries: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        for sep in (" #", "\t#"):
            if sep in s:
                s = s.split(sep, 1)[0].strip()
        if s:  # Windows separators become /, except in the \xNN escapes that show non-UTF-8 bytes of a name
            entries.append(_BACKSLASH.sub("/", s))
    return entries


def match_exclusions(entries: list[str], items: list[tuple[str, str, Path]]) -> tuple[set[str], list[str]]:
    """Resolve exclusion entries against ``(source, label, absolute path)`` items.

    An entry matches an output name (``angry/angry_<h>.jpg`` or just ``angry_<h>.jpg``), a source id as in the
    manifest (for a non-UTF-8 name: as the manifest and reports show it, ``\\xNN`` escapes), or an absolute
    source path. Returns (excluded source ids, unmatched entries).
    """
    by_key: dict[str, str] = {}
    for source, label, path in items:
        out = output_name(label, source)
        posix = Path(path).as_posix()
        for key in (out, out.split("/", 1)[1], source, display_name(source), posix, display_name(posix)):
            by_key.setdefault(key, source)
    excluded: set[str] = set()
    unmatched: list[str] = []
    for e in entries:
        key = e.removeprefix("./")
        if key not in by_key and Path(key).is_absolute():
            key = Path(key).resolve().as_posix()
        if key in by_key:
            excluded.add(by_key[key])
        else:
            unmatched.append(e)
    return excluded, unmatched
