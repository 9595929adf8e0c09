"""Decode once: every (dataset split, resolution, colour mode, resize method) becomes one uint8 array on disk.

Training then streams that memory-mapped array through tf.data, so no JPEG is decoded per epoch and no float32
copy of the data set ever sits in RAM (a 224x224 FER2013 train split is 1.4 GB as grey uint8 on disk, read
through the page cache). The cache key is the manifest hash of the split (file list, labels, sizes, mtimes)
plus the decode settings, so an edited dataset gets a new cache entry automatically.

Layout of one entry (``<cache root>/<key>/``): ``images.npy`` (N,H,W,C uint8, C=3 RGB or C=1 grey),
``labels.npy`` (N int16 canonical indices), ``digests.npy`` (N uint64: first 8 bytes of the sha1 of each
decoded image, used to detect train/test leakage), ``items.json`` (item ids in array order, shown with
``imageio.display_name``), ``meta.json`` (source, split, manifest hash, content hash, ``unreadable``: every
skipped item with its ``kind`` and reason, ``skipped``: counts per kind, ``files``: size, mtime and sha256 of
the other files, timings).

Integrity: an entry is written to a temporary folder (blocks reserved up front, so a full disk fails with a
one-line error instead of a crash; files fsync'ed) and renamed into place, so a crash or a full disk never
leaves a half entry behind. Every load verifies the entry (:func:`verify_entry`); a damaged one (truncated,
edited, content hash mismatch) is deleted and rebuilt, and the new meta says why (``rebuilt``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import FerBenchError, ImageReadError
from ..fsutil import fsync_path
from ..imageio import BAD_KINDS, bad_kind, display_name
from ..labels import CANONICAL_WITH_CONTEMPT
from .source import DataSource

CACHE_VERSION = 3  # 3: too small / too large images skipped, display-safe item names
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
        except Exception:  # an unreadable probe is skipped here and reported by the decode
            continue
    return "gray"


def decode_split(source: DataSource, split: str, size: int, *, color: str = "auto", resize: str = "area",
                 workers: int | None = None, progress=None, root: Path | None = None) -> CachedSplit:
    """Return the cached arrays for one split, decoding the images first if no valid cache entry exists.

    An existing entry is verified first (:func:`verify_entry`); a damaged one (truncated file, content hash
    mismatch, unparsable meta) is removed and rebuilt, and the new meta records why (``rebuilt``).
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
    rebuilt = None
    if entry.exists():
        problem = verify_entry(entry)
        if problem is None:
            return _load(entry)
        rebuilt = problem
        _discard(entry, root, key)

    items = df["item"].tolist()
    mode = _resolve_color(source, items, color)
    channels = 1 if mode == "gray" else 3
    label_index = {n: i for i, n in enumerate(CANONICAL_WITH_CONTEMPT)}
    tmp = root / f".{key}.tmp-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise _write_error(root, exc, 0) from None
    t0 = time.perf_counter()
    try:
        meta = _build(source, split, df, items, tmp, size, channels, mode, resize, label_index, workers,
                      progress, rebuilt)
        meta["decode_seconds"] = round(time.perf_counter() - t0, 2)
        _write_bytes(tmp / "meta.json", json.dumps(meta, indent=1).encode())
        fsync_path(tmp)
    except OSError as exc:  # a full disk, a read-only or vanished cache folder: no entry is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(root, exc, len(items) * size * size * channels) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, entry)  # atomic: readers see no entry or a complete one
        fsync_path(root)
    except OSError:  # another process finished first (its entry is verified like any other)
        shutil.rmtree(tmp, ignore_errors=True)
        if verify_entry(entry) is not None:
            raise FerBenchError(
                f"the decode cache entry {entry} is damaged and another process holds it; delete it and re-run"
            ) from None
    return _load(entry)


def _build(source: DataSource, split: str, df, items: list[str], tmp: Path, size: int, channels: int,
           mode: str, resize: str, label_index: dict[str, int], workers: int | None, progress,
           rebuilt: str | None) -> dict:
    """Decode every item into ``tmp``; returns the meta dict (everything but meta.json is written)."""
    images = _alloc(tmp / "images.npy", (len(items), size, size, channels))
    ok = np.zeros(len(items), dtype=bool)
    digests: list[str] = [""] * len(items)
    bad: list[dict] = []

    def work(i: int):
        try:
            img = source.read(items[i])
            img = resize_square(img, size, resize)
            if channels == 1 and img.shape[-1] == 3:
                img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None]
        except ImageReadError as exc:
            return i, None, (bad_kind(exc), str(exc))
        except FerBenchError:  # not about this image (e.g. a bad $FER_BENCH_MAX_PIXELS): stop with it
            raise
        except Exception as exc:  # an adapter failing on one item is a skip with its reason, not a crash
            return i, None, ("unreadable", f"{display_name(items[i])}: {type(exc).__name__}: {exc}")
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
                bad.append({"item": display_name(items[i]), "kind": err[0], "reason": err[1]})
            done += 1
            if progress and (done % 256 == 0 or done == len(items)):
                progress(done, len(items))
    images.flush()
    del images
    keep = np.flatnonzero(ok)
    if len(keep) == 0:
        kinds = ", ".join(f"{k} {n}" for k, n in _kind_counts(bad).items())
        example = f"; e.g. {bad[0]['reason']}" if bad else ""
        raise FerBenchError(
            f"no readable image in split {split!r} of {display_name(source.name)} ({len(bad)} skipped: {kinds})"
            f"{example}"
        )
    if len(keep) < len(items):  # compact: drop unreadable rows
        full = np.load(tmp / "images.npy", mmap_mode="r")
        compact = _alloc(tmp / "images.c.npy", (len(keep), size, size, channels))
        for start in range(0, len(keep), 4096):
            compact[start:start + 4096] = full[keep[start:start + 4096]]
        compact.flush()
        del compact, full
        os.replace(tmp / "images.c.npy", tmp / "images.npy")
    fsync_path(tmp / "images.npy")
    labels = np.array([label_index[lab] for lab in df["label"].to_numpy()[keep]], dtype=np.int16)
    _write_npy(tmp / "labels.npy", labels)
    _write_npy(tmp / "digests.npy", np.array([int(digests[i][:16], 16) for i in keep], dtype=np.uint64))
    # item ids for display (predictions tables, run records): a non-UTF-8 file name is shown as \xNN
    _write_bytes(tmp / "items.json", json.dumps([display_name(items[i]) for i in keep]).encode())
    content = hashlib.sha256("\n".join(sorted(digests[i] for i in keep)).encode()).hexdigest()[:16]
    meta = {
        "cache_version": CACHE_VERSION, "source": display_name(source.name), "format": source.format,
        "root": display_name(source.root), "split": split, "manifest_hash": source.manifest_hash(split),
        "content_hash": content, "size": size, "color": mode, "resize": resize, "n": len(keep),
        "n_manifest": len(items), "unreadable": bad, "skipped": _kind_counts(bad),
        "label_names": list(source.label_names), "files": _stamp(tmp),
    }
    if rebuilt:
        meta["rebuilt"] = rebuilt
    return meta


def _kind_counts(bad: list[dict]) -> dict[str, int]:
    """{kind: n} of skipped items, in BAD_KINDS order."""
    counts = Counter(b.get("kind", "unreadable") for b in bad)
    order = [*BAD_KINDS, *sorted(set(counts) - set(BAD_KINDS))]
    return {k: counts[k] for k in order if counts[k]}


# ------------------------------------------------------------------------------------------ atomic writes


def _alloc(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """A writable uint8 .npy memmap whose blocks are reserved now: a full disk fails here with ENOSPC, not
    later with SIGBUS (writing into a sparse memory-mapped file on a full disk kills the process)."""
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    if hasattr(os, "posix_fallocate") and arr.nbytes:
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                del arr
                raise
        finally:
            os.close(fd)
    return arr


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, arr)
        fh.flush()
        os.fsync(fh.fileno())


def _write_error(root: Path, exc: OSError, need: int) -> FerBenchError:
    need_txt = f" ({need / 1e6:,.0f} MB needed)" if need else ""
    return FerBenchError(
        f"cannot write the decode cache in {display_name(str(root))}: {exc.strerror or exc}{need_txt}; free disk "
        f"space or set FER_BENCH_CACHE to a writable folder on a bigger disk"
    )


def _discard(entry: Path, root: Path, key: str) -> None:
    """Move a damaged entry out of the way (atomically), then delete it."""
    trash = root / f".{key}.damaged-{os.getpid()}"
    try:
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(entry, trash)
    except OSError:
        trash = entry
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:  # a stray file (or link) where the entry folder should be
        trash.unlink(missing_ok=True)
    if entry.exists():
        raise FerBenchError(f"the decode cache entry {entry} is damaged and cannot be removed; delete it and re-run")


# ------------------------------------------------------------------------------------------ verification

#: files of an entry whose size and mtime are recorded in meta["files"] (and whose hashes, except images.npy)
ENTRY_FILES = ("images.npy", "labels.npy", "digests.npy", "items.json")
#: rows whose pixels are re-hashed on every load of an unchanged entry (spread evenly)
VERIFY_SAMPLE_ROWS = 64
#: ``FER_BENCH_CACHE_VERIFY=full`` re-hashes every image on every load (the default does it only when a file
#: of the entry differs from what was written: size or modification time)
VERIFY_ENV = "FER_BENCH_CACHE_VERIFY"


def _stamp(folder: Path) -> dict[str, dict]:
    out = {}
    for name in ENTRY_FILES:
        st = (folder / name).stat()
        rec: dict = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        if name != "images.npy":
            rec["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        out[name] = rec
    return out


def verify_entry(entry: Path, *, full: bool | None = None) -> str | None:
    """None if the cache entry at *entry* is intact, else a short reason why it must be rebuilt.

    Checked on every load: meta.json parses and matches the arrays' shapes; labels, digests and items match
    their recorded sha256; ``VERIFY_SAMPLE_ROWS`` images match their recorded digests. When a file's size or
    modification time differs from the meta record (a crash mid-write, a full disk, a copy, an edit), when the
    entry predates these records, or with ``FER_BENCH_CACHE_VERIFY=full``, every image is re-hashed and the
    split's content hash recomputed and compared with the recorded one.
    """
    try:
        meta = json.loads((entry / "meta.json").read_text())
        n, size, color = int(meta["n"]), int(meta["size"]), meta["color"]
        recorded = meta["content_hash"]
        channels = 1 if color == "gray" else 3
        images = np.load(entry / "images.npy", mmap_mode="r")
        labels = np.load(entry / "labels.npy")
        digests = np.load(entry / "digests.npy")
        items = json.loads((entry / "items.json").read_text())
    except FileNotFoundError as exc:
        return f"missing file {Path(exc.filename or '?').name}"
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        return f"unreadable entry ({type(exc).__name__}: {str(exc)[:80]})"
    if images.shape != (n, size, size, channels) or images.dtype != np.uint8:
        return f"images.npy has shape {images.shape}, meta says {(n, size, size, channels)}"
    if labels.shape != (n,) or digests.shape != (n,) or not isinstance(items, list) or len(items) != n:
        return "labels/digests/items do not match the number of images"
    if n and (labels.min() < 0 or labels.max() >= len(CANONICAL_WITH_CONTEMPT)):
        return "labels.npy holds invalid class indices"
    files = meta.get("files")
    changed = not isinstance(files, dict)
    if isinstance(files, dict):
        for name in ENTRY_FILES:
            rec = files.get(name) or {}
            try:
                st = (entry / name).stat()
            except OSError:
                return f"missing file {name}"
            if rec.get("bytes") != st.st_size:
                return f"{name} is {st.st_size} bytes, {rec.get('bytes')} were written (truncated or replaced)"
            if "sha256" in rec and hashlib.sha256((entry / name).read_bytes()).hexdigest() != rec["sha256"]:
                return f"{name} does not match its recorded hash"
            changed |= rec.get("mtime_ns") != st.st_mtime_ns
    if full is None:
        full = changed or os.environ.get(VERIFY_ENV, "").strip().lower() == "full"
    rows = np.arange(n) if full else np.unique(np.linspace(0, n - 1, min(n, VERIFY_SAMPLE_ROWS)).astype(int))
    hexes = []
    try:
        for i in rows:
            h = hashlib.sha1(np.ascontiguousarray(images[i]).tobytes()).hexdigest()
            if int(h[:16], 16) != int(digests[i]):
                return f"image {int(i)} does not match its recorded digest (corrupted images.npy)"
            hexes.append(h)
    except (OSError, ValueError) as exc:
        return f"cannot read images.npy ({type(exc).__name__})"
    if full:
        content = hashlib.sha256("\n".join(sorted(hexes)).encode()).hexdigest()[:16]
        if content != recorded:
            return f"content hash {content} != recorded {recorded}"
        if changed:
            _restamp(entry, meta)
    return None


def _restamp(entry: Path, meta: dict) -> None:
    """After a successful full check of a changed (or old) entry, record its files so loads are quick again."""
    try:
        meta = {**meta, "files": _stamp(entry)}
        tmp = entry / f".meta.json.tmp-{os.getpid()}"
        _write_bytes(tmp, json.dumps(meta, indent=1).encode())
        os.replace(tmp, entry / "meta.json")
    except OSError:  # a read-only cache: verified again next time
        pass


def _load(entry: Path) -> CachedSplit:
    meta = json.loads((entry / "meta.json").read_text())
    images = np.load(entry / "images.npy", mmap_mode="r")
    labels = np.load(entry / "labels.npy")
    items = json.loads((entry / "items.json").read_text())
    return CachedSplit(images=images, labels=labels, items=items, meta=meta, path=entry)


def cache_disk_bytes(entry: Path) -> int:
    """Bytes used on disk by one cache entry."""
    return sum(f.stat().st_size for f in Path(entry).iterdir() if f.is_file())
