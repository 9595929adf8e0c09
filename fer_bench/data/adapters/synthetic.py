"""The embedded synthetic dataset as a DataSource: ``synth:<domain>[?options]``.

Domains: ``lab`` (frontal, clean) and ``wild`` (pose, lighting, clutter). Options (URL query syntax)::

    n=200     training images per class
    test=60   test images per class
    val=0     validation images per class (none by default)
    seed=0    generator seed
    size=64   image side in pixels
    skew=0    1: the training split has FER2013's class imbalance (the largest class gets ``n`` images, the
              others in proportion to FER2013's train counts, disgust about 6 %), so class weights matter;
              test and val stay balanced

e.g. ``synth:wild?n=100&test=30&seed=1&size=64``. Items are ``<split>/<label>/<index:05d>``; pixels are generated
on demand by :func:`fer_bench.data.synth.synth_item` (nothing is written to disk).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import numpy as np

from ...errors import FerBenchError
from ...labels import CANONICAL
from ..source import DataSource, make_manifest

#: used when the generator cannot be imported; otherwise its GENERATOR_VERSION is used, so manifest hashes
#: change whenever the generated pixels do
FALLBACK_VERSION = 1
DEFAULTS = {"n": 200, "test": 60, "val": 0, "seed": 0, "size": 64, "skew": 0}
#: FER2013's train-split class counts (Kaggle folder layout), the shape ``skew=1`` gives the training split
FER2013_TRAIN_COUNTS = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830, "surprise": 3171,
                        "neutral": 4965}
FALLBACK_DOMAINS = ("lab", "wild")


def _version() -> int:
    try:
        from ..synth import GENERATOR_VERSION
    except ImportError:
        return FALLBACK_VERSION
    return int(GENERATOR_VERSION)


def _domains() -> tuple[str, ...]:
    try:
        from ..synth import DOMAINS
    except ImportError:
        return FALLBACK_DOMAINS
    return tuple(DOMAINS)


def parse_synth_spec(spec: str) -> tuple[str, dict[str, int]]:
    """``"synth:wild?n=100&seed=1"`` -> ("wild", {"n": 100, "test": 60, "val": 0, "seed": 1, "size": 64})."""
    parts = urlsplit(spec.strip())
    if parts.scheme.lower() != "synth":
        raise FerBenchError(f"{spec!r} is not a synthetic dataset spec; write synth:lab or synth:wild")
    domain = parts.path.strip().strip("/").lower()
    domains = _domains()
    if domain not in domains:
        raise FerBenchError(
            f"unknown synthetic domain {domain!r} in {spec!r}; use one of "
            f"{', '.join('synth:' + d for d in domains)}"
        )
    opts = dict(DEFAULTS)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        k = key.strip().lower()
        if k not in DEFAULTS:
            raise FerBenchError(
                f"unknown option {key!r} in {spec!r}; synthetic options are {', '.join(DEFAULTS)} "
                f"(e.g. synth:wild?n=100&test=30&seed=1&size=64)"
            )
        try:
            opts[k] = int(value)
        except ValueError:
            raise FerBenchError(f"option {key}={value!r} in {spec!r} must be an integer") from None
    if opts["n"] < 1 or opts["test"] < 0 or opts["val"] < 0 or opts["seed"] < 0:
        raise FerBenchError(f"{spec!r}: n must be >= 1 and test, val, seed >= 0")
    if opts["skew"] not in (0, 1):
        raise FerBenchError(f"{spec!r}: skew must be 0 (balanced) or 1 (FER2013's class imbalance)")
    if not 16 <= opts["size"] <= 1024:
        raise FerBenchError(f"{spec!r}: size must be between 16 and 1024 pixels")
    return domain, opts


def train_counts(n: int, skew: bool) -> dict[str, int]:
    """Training images per class: ``n`` each, or with ``skew`` FER2013's shape scaled so the largest has ``n``
    (every class keeps at least one image)."""
    if not skew:
        return {label: n for label in CANONICAL}
    top = max(FER2013_TRAIN_COUNTS.values())
    return {label: max(1, round(n * FER2013_TRAIN_COUNTS[label] / top)) for label in CANONICAL}


def open_synth(spec: str, *, name: str | None = None) -> DataSource:
    """DataSource for ``synth:<domain>[?options]`` (see module docstring); pixels are generated lazily."""
    domain, o = parse_synth_spec(spec)
    fp = f"synth-v{_version()}:{o['size']}:{o['seed']}"
    train_n = train_counts(o["n"], bool(o["skew"]))
    rows = [
        (f"{split}/{label}/{i:05d}", label, split, fp)
        for split, per_class in (("train", train_n), ("val", None), ("test", None))
        for label in CANONICAL
        for i in range(per_class[label] if per_class is not None else o[split])
    ]
    size, seed = o["size"], o["seed"]

    def read(item: str) -> np.ndarray:
        try:
            from ..synth import synth_item
        except ImportError as exc:
            raise FerBenchError(
                f"the synthetic generator fer_bench.data.synth is not available ({exc}); reinstall fer-bench"
            ) from None
        split, label, idx = item.split("/")
        return synth_item(domain, split, label, int(idx), size=size, seed=seed)

    shape = (" (FER2013's imbalance: " + ", ".join(f"{k} {v}" for k, v in train_n.items()) + ")"
             if o["skew"] else "")
    train_text = f"{sum(train_n.values())} train{shape}" if o["skew"] else f"{o['n']} train"
    note = (f"synthetic domain {domain}: {train_text}, {o['val']} val, {o['test']} test per class, "
            f"size {size}, seed {seed}")
    return DataSource(
        name=name or spec,
        format="synth",
        root=f"synth:{domain}",
        manifest=make_manifest(rows),
        read=read,
        label_names=CANONICAL,
        notes=[note],
    )
