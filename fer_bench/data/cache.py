"""Decode once: every (dataset split, resolution, colour mode, resize method) becomes one uint8 array on disk.

Training then streams that memory-mapped array through tf.data, so no JPEG is decoded per epoch and no float32
copy of the data set ever sits in RAM (a 224x224 FER2013 train split is 1.4 GB as grey uint8 on disk, read
through the page cache). The cache key is the manifest hash of the split (file list, labels, sizes, mtimes)
plus the decode settings, so an edited dataset gets a new cache entry automatically.

Layout of one entry (``<cache root>/<key>/``): ``images.npy`` (N,H,W,C uint8, C=3 RGB or C=1 grey),
``labels.npy`` (N int16 canonical indices), ``digests.npy`` (N uint64: first 8 bytes of the sha1 of each
decoded image, used to detect train/test leakage), ``items.json`` (item ids in array order), ``meta.json``
(source, split, manifest hash, content hash, unreadable items with reasons, timings). Entries are written to a
temporary folder and renamed into place, so an interrupted decode never leaves a half entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import FerBenchError, ImageReadError
from ..labels import CANONICAL_WITH_CONTEMPT
from .source import DataSource

CACHE_VERSION = 2
RESIZE_METHODS = {"area": None, "nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR}
COLOR_MODES = ("rgb", "gray", "auto")


def cache_root() -> Path:
    """``$FER_BENCH_CACHE`` or ``~/.cache/fer-bench/arrays``."""
    env = os.environ.get("FER_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fer-bench" / "arrays"


@dataclass
class CachedSplit:
    """A decoded split: memory-mapped images, canonical labels, and what was skipped."""

    images: np.ndarray  # (N, H, W, C) uint8, memory-mapped read-only
    labels: np.ndarray  # (N,) int16 canonical indices
    items: list[str]
    meta: dict
    path: Path

    @property
    def digests(self) -> np.ndarray:
        """(N,) uint64 pixel digests (sha1 prefix of each decoded image), in array order."""
        return np.load(self.path / "digests.npy")

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(self.meta["label_names"])

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def resize_square(img: np.ndarray, size: int, method: str = "area") -> np.ndarray:
    """Resize to size x size. ``area``: INTER_AREA to shrink and bicubic to enlarge (best quality);
    ``nearest``: what Keras flow_from_directory does by default (the paper protocol); ``bilinear``."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return img
    if method == "area":
        interp = cv2.INTER_AREA if (h >= size and w >= size) else cv2.INTER_CUBIC
    else:
        interp = RESIZE_METHODS[method]
    out = cv2.resize(img, (size, size), interpolation=interp)
    return out if out.ndim == 3 else out[..., None]


def _is_gray(img: np.ndarray) -> bool:
    return img.shape[-1] == 1 or (np.array_equal(img[..., 0], img[..., 1]) and
                                  np.array_equal(img[..., 1], img[..., 2]))


def cache_key(source: DataSource, split: str, size: int, color: str, resize: str) -> str:
    text = json.dumps([CACHE_VERSION, source.format, source.root, split, source.manifest_hash(split), size,
                       color, resize])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _resolve_color(source: DataSource, rows, color: str) -> str:
    if color != "auto":
        return color
    # grey when every probe image has R == G == B (e.g. FER2013 JPEGs); probes are spread over the split
    idx = np.linspace(0, len(rows) - 1, num=min(24, len(rows))).astype(int)
    for i in idx:
        try:
            if not _is_gray(source.read(rows[i])):
                return "rgb"
        except ImageReadError:
            continue
    return "gray"


def decode_split(source: DataSource, split: str, size: int, *, color: str = "auto", resize: str = "area",
                 workers: int | None = None, progress=None, root: Path | None = None) -> CachedSplit:
    """Return the cached arrays for one split, decoding the images first if no cache entry exists.

    progress: optional callable(done, total) for a progress display.
    """
    if color not in COLOR_MODES:
        raise FerBenchError(f"unknown colour mode {color!r}; use rgb, gray or auto")
    if resize not in RESIZE_METHODS:
        raise FerBenchError(f"unknown resize method {resize!r}; use {', '.join(RESIZE_METHODS)}")
    df = source.subset(split)
    if len(df) == 0:
        raise FerBenchError(f"dataset {source.name} has no {split!r} split; it has {', '.join(source.splits())}")
    root = Path(root) if root else cache_root()
    key = cache_key(source, split, size, color, resize)
    entry = root / key
    if (entry / "meta.json").is_file():
        return _load(entry)

    items = df["item"].tolist()
    mode = _resolve_color(source, items, color)
    channels = 1 if mode == "gray" else 3
    label_index = {n: i for i, n in enumerate(CANONICAL_WITH_CONTEMPT)}
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8,
                                       shape=(len(items), size, size, channels))
    ok = np.zeros(len(items), dtype=bool)
    digests: list[str] = [""] * len(items)
    bad: list[dict] = []

    def work(i: int):
        try:
            img = source.read(items[i])
        except ImageReadError as exc:
            return i, None, str(exc)
        img = resize_square(img, size, resize)
        if channels == 1 and img.shape[-1] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None]
        return i, img, None

    n_workers = workers or min(8, (os.cpu_count() or 2) + 2)
    done = 0
    with ThreadPoolExecutor(n_workers) as pool:
        for i, img, err in pool.map(work, range(len(items)), chunksize=64):
            if err is None:
                images[i] = img
                ok[i] = True
                digests[i] = hashlib.sha1(img.tobytes()).hexdigest()
            else:
                bad.append({"item": items[i], "reason": err})
            done += 1
            if progress and (done % 256 == 0 or done == len(items)):
                progress(done, len(items))
    images.flush()
    del images
    keep = np.flatnonzero(ok)
    if len(keep) == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FerBenchError(f"no readable image in split {split!r} of {source.name}; check the files")
    if len(keep) < len(items):  # compact: drop unreadable rows
        full = np.load(tmp / "images.npy", mmap_mode="r")
        compact = np.lib.format.open_memmap(tmp / "images.c.npy", mode="w+", dtype=np.uint8,
                                            shape=(len(keep), size, size, channels))
        for start in range(0, len(keep), 4096):
            compact[start:start + 4096] = full[keep[start:start + 4096]]
        compact.flush()
        del compact, full
        os.replace(tmp / "images.c.npy", tmp / "images.npy")
    labels = np.array([label_index[lab] for lab in df["label"].to_numpy()[keep]], dtype=np.int16)
    np.save(tmp / "labels.npy", labels)
    np.save(tmp / "digests.npy", np.array([int(digests[i][:16], 16) for i in keep], dtype=np.uint64))
    kept_items = [items[i] for i in keep]
    (tmp / "items.json").write_text(json.dumps(kept_items))
    content = hashlib.sha256("\n".join(sorted(digests[i] for i in keep)).encode()).hexdigest()[:16]
    meta = {
        "cache_version": CACHE_VERSION, "source": source.name, "format": source.format, "root": source.root,
        "split": split, "manifest_hash": source.manifest_hash(split), "content_hash": content,
        "size": size, "color": mode, "resize": resize, "n": len(keep), "n_manifest": len(items),
        "unreadable": bad, "label_names": list(source.label_names),
        "decode_seconds": round(time.perf_counter() - t0, 2),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.replace(tmp, entry)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return _load(entry)


def _load(entry: Path) -> CachedSplit:
    meta = json.loads((entry / "meta.json").read_text())
    images = np.load(entry / "images.npy", mmap_mode="r")
    labels = np.load(entry / "labels.npy")
    items = json.loads((entry / "items.json").read_text())
    return CachedSplit(images=images, labels=labels, items=items, meta=meta, path=entry)


def cache_disk_bytes(entry: Path) -> int:
    """Bytes used on disk by one cache entry."""
    return sum(f.stat().st_size for f in Path(entry).iterdir() if f.is_file())
