"""Content hashes shared by the stages that record provenance (build-btfer manifests, evaluated model files)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks (model files and photos can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
