"""Dataset health report: counts, image sizes and modes, exact duplicates (incl. train/test leakage),
unreadable files.

For file-based sources (folder, RAF-DB, AffectNet) each file is read once: its sha256 is taken over the file
bytes, its size and mode come from the PIL header (the *stored* mode: RGB, L, RGBA, CMYK, I;16, ...), and it is
fully decoded with :func:`fer_bench.imageio.decode_image` (the reader every stage uses) to find unreadable
files. For pixel sources (FER2013 CSV, synth) ``source.read`` is called and the sha256 is over the pixel array;
the mode is ``L`` when the three channels are equal, else ``RGB``. (For AffectNet the size and mode are those
of the full image file, not of the face crop that ``read`` returns.) Work runs in a thread pool (file reads,
hashing and JPEG decoding release the GIL).

Files are read exactly as the cache reads them (:mod:`fer_bench.imageio`), so the images listed as unreadable
here, counted by kind (corrupt, too_small, too_large, ...), are exactly the ones a run or an evaluation skips.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ImageReadError
from ..imageio import BAD_KINDS, BadImage, bad_kind, decode_image, display_name, read_file_bytes
from .adapters import item_path
from .source import SPLITS, DataSource

#: items per thread-pool task
BATCH = 128
#: (sha256 or None, (w, h) or None, mode or None, (kind, error, detail) or None)
Probe = tuple[str | None, tuple[int, int] | None, str | None, tuple[str, str, str] | None]


def _bad(exc: Exception) -> tuple[str, str, str]:
    return bad_kind(exc), str(exc), getattr(exc, "detail", str(exc))


def _probe_file(path: Path, hash_contents: bool) -> Probe:
    try:
        data = read_file_bytes(path)
    except BadImage as exc:
        return None, None, None, _bad(exc)
    digest = hashlib.sha256(data).hexdigest() if hash_contents else None
    size = mode = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:  # the header only: a bomb is not decoded here
                size, mode = (int(im.size[0]), int(im.size[1])), str(im.mode)
    except Exception:
        pass
    try:
        decode_image(data, name=str(path))
    except ImageReadError as exc:
        return digest, size, mode, _bad(exc)
    return digest, size, mode, None


def _probe_pixels(read: Callable[[str], np.ndarray], item: str, hash_contents: bool) -> Probe:
    try:
        arr = np.ascontiguousarray(read(item))
    except ImageReadError as exc:
        return None, None, None, _bad(exc)
    except Exception as exc:  # an adapter's read failing on one item is a skip, reported with its type
        detail = f"{type(exc).__name__}: {exc}"
        return None, None, None, ("unreadable", f"{display_name(item)}: {detail}", detail)
    digest = None
    if hash_contents:
        h = hashlib.sha256(repr((arr.shape, str(arr.dtype))).encode())
        h.update(arr.tobytes())
        digest = h.hexdigest()
    size = (int(arr.shape[1]), int(arr.shape[0])) if arr.ndim >= 2 else None
    if arr.ndim == 3 and arr.shape[2] >= 3:
        mode = "L" if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]) \
            else "RGB"
    else:
        mode = "L"
    return digest, size, mode, None


def _sample(n: int, max_images: int | None) -> np.ndarray:
    """Row indices to examine: all, or *max_images* evenly spread (every class and split is represented)."""
    if max_images is None or max_images >= n:
        return np.arange(n)
    if max_images <= 0:
        return np.arange(0)
    return np.unique(np.linspace(0, n - 1, max_images).round().astype(int))


def inspect_dataset(
    source: DataSource,
    *,
    hash_contents: bool = True,
    max_images: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Examine *source* and return a JSON-serialisable report.

    Args:
        hash_contents: find exact duplicates (sha256); off saves the hashing time only.
        max_images: examine at most this many images, spread evenly over the manifest (counts always cover
            all rows).
        workers: thread-pool size (default: 4 per CPU, at most 32).
        progress: called as ``progress(done, total)`` while images are examined.

    Report keys: name, format, root, manifest_hash, n_images, splits, label_names, counts
    ({split: {label: n}}), class_totals, examined, sizes ({top, distinct, min, max}), modes ({mode: n}),
    duplicates ({checked, n_groups, n_items, n_redundant, n_label_conflict, n_cross_split, leakage
    ({"train/test": n_groups, ...}), groups: [{sha256, items, labels, splits, label_conflict, cross_split}]}),
    decoded (examined images that decode), skipped ({kind: n}, kinds as in ``fer_bench.imageio.BAD_KINDS``:
    unreadable, empty, not_an_image, corrupt, too_large, too_small), unreadable ([{item, kind, error, detail}]: every
    examined image that is not decoded, so ``decoded + len(unreadable) == examined``), notes, seconds.
    Item names are shown with ``display_name`` (non-UTF-8 bytes as ``\\xNN``), so the report always
    serialises and prints.
    """
    t0 = time.perf_counter()
    m = source.manifest
    splits = source.splits()
    counts: dict[str, dict[str, int]] = {}
    for split in splits:
        sub = m[m["split"] == split]["label"].value_counts()
        counts[split] = {lab: int(sub.get(lab, 0)) for lab in source.label_names}
    class_totals = {lab: int((m["label"] == lab).sum()) for lab in source.label_names}

    idx = _sample(len(m), max_images)
    items = m["item"].to_numpy()[idx].tolist()
    file_based = item_path(source, items[0]) is not None if items else False
    if file_based:
        paths = [item_path(source, it) for it in items]

        def work(k: int) -> Probe:
            return _probe_file(paths[k], hash_contents)  # type: ignore[arg-type]
    else:

        def work(k: int) -> Probe:
            return _probe_pixels(source.read, items[k], hash_contents)

    # Batches of BATCH items per task keep the future overhead negligible. Tiny JPEGs (FER2013) are GIL-bound
    # either way; large images, cold disks and network file systems gain from the threads.
    n_workers = max(1, workers or min(8, 2 * (os.cpu_count() or 1)))
    batches = [range(a, min(len(items), a + BATCH)) for a in range(0, len(items), BATCH)]
    results: list[Probe] = []
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for part in pool.map(lambda r: [work(k) for k in r], batches):
            results.extend(part)
            if progress is not None:
                progress(len(results), len(items))

    sizes: Counter = Counter()
    modes: Counter = Counter()
    kinds: Counter = Counter()
    unreadable = []
    by_hash: dict[str, list[int]] = defaultdict(list)
    for k, (digest, size, mode, err) in enumerate(results):
        if size is not None:
            sizes[size] += 1
        if mode is not None:
            modes[mode] += 1
        if err is not None:
            kinds[err[0]] += 1
            unreadable.append({"item": display_name(items[k]), "kind": err[0], "error": err[1], "detail": err[2]})
        if digest is not None:
            by_hash[digest].append(k)

    labels = m["label"].to_numpy()[idx]
    split_col = m["split"].to_numpy()[idx]
    order = {s: i for i, s in enumerate(SPLITS)}
    groups = []
    leakage: Counter = Counter()
    for digest, ks in by_hash.items():
        if len(ks) < 2:
            continue
        g_labels = [str(labels[k]) for k in ks]
        g_splits = [str(split_col[k]) for k in ks]
        distinct = sorted(set(g_splits), key=order.get)
        for i, a in enumerate(distinct):
            for b in distinct[i + 1:]:
                leakage[f"{a}/{b}"] += 1
        groups.append({
            "sha256": digest[:16],
            "items": [display_name(items[k]) for k in ks],
            "labels": g_labels,
            "splits": g_splits,
            "label_conflict": len(set(g_labels)) > 1,
            "cross_split": len(distinct) > 1,
        })
    groups.sort(key=lambda g: (not g["cross_split"], not g["label_conflict"], -len(g["items"]), g["items"][0]))
    n_dup_items = sum(len(g["items"]) for g in groups)

    all_sizes = list(sizes)
    report: dict[str, Any] = {
        "name": display_name(source.name),
        "format": source.format,
        "root": display_name(source.root),
        "manifest_hash": source.manifest_hash(),
        "n_images": len(m),
        "splits": splits,
        "label_names": list(source.label_names),
        "counts": counts,
        "class_totals": class_totals,
        "examined": len(items),
        "decoded": len(items) - len(unreadable),
        "skipped": {kind: kinds[kind] for kind in BAD_KINDS if kinds[kind]},
        "sizes": {
            "top": [{"width": w, "height": h, "count": c} for (w, h), c in sizes.most_common(5)],
            "distinct": len(sizes),
            "min": list(min(all_sizes, key=lambda s: (s[0] * s[1], s))) if all_sizes else None,
            "max": list(max(all_sizes, key=lambda s: (s[0] * s[1], s))) if all_sizes else None,
        },
        "modes": dict(modes.most_common()),
        "duplicates": {
            "checked": bool(hash_contents),
            "n_groups": len(groups),
            "n_items": n_dup_items,
            "n_redundant": n_dup_items - len(groups),
            "n_label_conflict": sum(g["label_conflict"] for g in groups),
            "n_cross_split": sum(g["cross_split"] for g in groups),
            "leakage": dict(sorted(leakage.items())),
            "groups": groups,
        },
        "unreadable": unreadable,
        "notes": list(source.notes),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return report
