"""The contract between dataset adapters and everything downstream.

An adapter turns a dataset on disk (or the synthetic generator) into a :class:`DataSource`: a manifest table
with one row per image in canonical labels, plus a ``read`` function that returns the pixels of one item.
Downstream stages (cache, pipeline, inspect) only ever see this object, never a dataset's native format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..imageio import name_bytes

#: Manifest columns. ``item``: unique id within the source (relative path, or "row:<n>" for CSV pixels);
#: ``label``: canonical label name; ``split``: "train", "val", "test" or "all" (no split given by the source);
#: ``fingerprint``: cheap change detector (file size + mtime, or a hash of the CSV pixels) used in the hash.
#: (Item ids are file names as Python sees them: undecodable bytes of a non-UTF-8 name are lone surrogates;
#: hash them with ``imageio.name_bytes`` and show them with ``imageio.display_name``.)
MANIFEST_COLUMNS = ("item", "label", "split", "fingerprint")
SPLITS = ("train", "val", "test", "all")


@dataclass
class DataSource:
    """A dataset as fer-bench sees it.

    Attributes:
        name: what the user typed (``synth:wild``, ``fer2013``, ``/data/RAF``); shown in results.
        format: adapter id: ``folder``, ``fer2013_csv``, ``rafdb``, ``affectnet_csv``, ``synth``.
        root: absolute path of the dataset root (or ``synth:<domain>``).
        manifest: DataFrame with MANIFEST_COLUMNS, rows sorted by (split, label, item).
        read: item -> HxWx3 uint8 RGB array; raises ImageReadError for a corrupt item.
        label_names: the canonical classes this source uses (7, or 8 with contempt).
        notes: adapter remarks (e.g. rows skipped and why), recorded in run files.
    """

    name: str
    format: str
    root: str
    manifest: pd.DataFrame
    read: Callable[[str], np.ndarray]
    label_names: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    def splits(self) -> list[str]:
        """Splits present, in SPLITS order."""
        present = set(self.manifest["split"])
        return [s for s in SPLITS if s in present]

    def subset(self, split: str) -> pd.DataFrame:
        """Manifest rows of one split (a copy, index reset)."""
        return self.manifest[self.manifest["split"] == split].reset_index(drop=True)

    def manifest_hash(self, split: str | None = None) -> str:
        """sha256 (first 16 hex) over (item, label, split, fingerprint) rows: names this exact data."""
        return manifest_hash(self.manifest if split is None else self.subset(split))


def manifest_hash(df: pd.DataFrame) -> str:
    """Stable hash of a manifest table (order-independent: rows are sorted first)."""
    rows = sorted(
        f"{r.item}\t{r.label}\t{r.split}\t{r.fingerprint}" for r in df[list(MANIFEST_COLUMNS)].itertuples()
    )
    h = hashlib.sha256()
    for line in rows:
        h.update(name_bytes(line))  # a non-UTF-8 file name hashes as its bytes (same as UTF-8 otherwise)
        h.update(b"\n")
    return h.hexdigest()[:16]


def make_manifest(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Build a manifest DataFrame from (item, label, split, fingerprint) tuples, sorted and typed."""
    df = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    if len(df):
        df = df.sort_values(["split", "label", "item"], kind="mergesort").reset_index(drop=True)
    return df.astype({"item": str, "label": str, "split": str, "fingerprint": str})
