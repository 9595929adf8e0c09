"""Content hashes shared by the stages that record provenance (build-btfer manifests, evaluated model files,
pretrained weight files)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def file_hashes(path: Path | str, algorithms: Iterable[str] = ("sha256",)) -> dict[str, str]:
    """{algorithm: hex digest} of a file, all computed in one pass of 1 MiB blocks (weight files can be large)."""
    hashers = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for h in hashers.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashers.items()}


def file_sha256(path: Path | str) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks (model files and photos can be large)."""
    return file_hashes(path, ("sha256",))["sha256"]
