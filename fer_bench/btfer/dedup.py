"""Near-duplicate removal with perceptual hashes of the face crop and of the whole source photo.

Each face carries two 64-bit ImageHash ``phash`` values: one of the final ``size x size`` crop (catches the
same face re-framed: a photo cropped differently, or pasted into another picture) and one of the whole
source photo after EXIF rotation (catches the same photo resized or re-encoded: there the detector box
jitters by a few pixels between copies, which alone can move the crop hash by 10+ bits). Two faces are
duplicates when **either** hash pair is within ``threshold`` bits (Hamming distance ``<= threshold``,
default 6 of 64; ``threshold < 0`` disables dedup). Duplicates are grouped transitively (connected
components), within and across classes:

* a group whose members carry **two or more labels** is a labelling conflict: every member is dropped and the
  group is reported (``cross_label_duplicate``);
* a single-label group keeps exactly one member, the lexicographically first source path; the others are
  dropped as ``duplicate`` (detail: the kept source).

A mirror image is *not* a duplicate: phash keeps the sign of the DCT coefficients, and flipping changes the
sign of every horizontally odd frequency, so a flipped copy is typically 20-30 bits away under both hashes.
Mirrored copies therefore both stay; weed them out in the manual clean-up if you do not want them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import imagehash
import numpy as np
from PIL import Image

PHASH_VERSION = 1


def phash_hex(rgb: np.ndarray) -> str:
    """64-bit ImageHash phash of an RGB uint8 image, as 16 hex digits."""
    return str(imagehash.phash(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))))


def hamming(a: str, b: str) -> int:
    """Hamming distance of two hex phashes."""
    return int((int(a, 16) ^ int(b, 16)).bit_count())


def duplicate_pairs(hashes: list[str], threshold: int, *, chunk: int = 2048) -> list[tuple[int, int]]:
    """All index pairs ``i < j`` whose hashes are within ``threshold`` bits (vectorised, chunked)."""
    n = len(hashes)
    if n < 2 or threshold < 0:
        return []
    h = np.array([int(x, 16) for x in hashes], dtype=np.uint64)
    pairs: list[tuple[int, int]] = []
    for start in range(0, n, chunk):
        block = h[start : start + chunk]
        dist = np.bitwise_count(block[:, None] ^ h[None, :])
        ii, jj = np.nonzero(dist <= threshold)
        for i, j in zip((ii + start).tolist(), jj.tolist(), strict=True):
            if i < j:
                pairs.append((i, j))
    return pairs


def _components(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    return [sorted(g) for g in groups.values() if len(g) > 1]


@dataclass
class DedupResult:
    """``dropped``: source -> (reason, detail); groups list (source, label) members, sorted."""

    kept: list[str]
    dropped: dict[str, tuple[str, str]] = field(default_factory=dict)
    same_label_groups: list[list[tuple[str, str]]] = field(default_factory=list)
    cross_label_groups: list[list[tuple[str, str]]] = field(default_factory=list)


def dedup(entries: list[tuple[str, str, str] | tuple[str, str, str, str]], threshold: int) -> DedupResult:
    """Deduplicate ``(source, label, phash_hex[, second_phash_hex])`` entries (module docstring has the rules).

    With two hashes per entry, a pair is a duplicate when either hash is within ``threshold``.
    """
    entries = sorted(entries)
    sources = [e[0] for e in entries]
    pairs: list[tuple[int, int]] = []
    for col in range(2, max((len(e) for e in entries), default=2)):
        pairs += duplicate_pairs([e[col] for e in entries], threshold)
    result = DedupResult(kept=[])
    dropped: dict[str, tuple[str, str]] = {}
    groups = sorted(_components(len(entries), pairs), key=lambda g: sources[g[0]])
    for g in groups:
        members = [(entries[i][0], entries[i][1]) for i in g]
        labels = sorted({lab for _, lab in members})
        if len(labels) > 1:
            result.cross_label_groups.append(members)
            for src, _ in members:
                others = ", ".join(f"{s} ({lab})" for s, lab in members if s != src)
                dropped[src] = ("cross_label_duplicate", f"also labelled {'/'.join(labels)}: {others}")
        else:
            result.same_label_groups.append(members)
            keep = members[0][0]  # entries are sorted: the lexicographically first source path
            for src, _ in members[1:]:
                dropped[src] = ("duplicate", f"duplicate of {keep}")
    result.dropped = dropped
    result.kept = [s for s in sources if s not in dropped]
    return result
