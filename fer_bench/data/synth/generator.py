"""Public API of the synthetic dataset: render one face, generate a split, write a folder dataset.

Determinism: every image has its own ``numpy.random.default_rng`` seeded from
``(seed, crc32(domain), crc32(split), class index, image index)``. So any single image can be rebuilt on its
own (:func:`synth_item`), :func:`generate` is just those images stacked, and adding classes or images never
changes the existing ones. Rendering uses only OpenCV drawing/resizing/JPEG and numpy, which are bit-exact for
the same library versions.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np

from ...errors import FerBenchError
from ...labels import CANONICAL
from .expressions import sample_aus
from .face import Sketch, draw_face, draw_glasses, sample_identity
from .scene import STYLES, background, finish, frame_for, occlude

DOMAINS: tuple[str, ...] = ("lab", "wild")
#: Bumped whenever the pixels produced for a given (domain, split, label, index, size, seed) change, so
#: caches keyed on it are invalidated.
GENERATOR_VERSION = 1
MIN_SIZE = 8


def _check_domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise FerBenchError(f"unknown synthetic domain {domain!r}; use synth:lab or synth:wild")
    return domain


def _check_label(label: str) -> int:
    if label not in CANONICAL:
        raise FerBenchError(f"unknown synthetic class {label!r}; use one of {', '.join(CANONICAL)}")
    return CANONICAL.index(label)


def _check_size(size: int) -> int:
    if int(size) != size or size < MIN_SIZE:
        raise FerBenchError(f"synthetic image size {size!r} is too small; use an integer >= {MIN_SIZE}")
    return int(size)


def render_face(label: str, domain: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Render one face showing *label* in the style of *domain*; returns ``size x size x 3`` uint8 RGB.

    Everything random (identity, expression intensities, pose, scene, artefacts) is drawn from *rng*.
    """
    _check_domain(domain)
    _check_label(label)
    size = _check_size(size)
    st = STYLES[domain]
    S = 2 * size  # render at 2x, downsample with INTER_AREA
    r = rng.random(8).tolist()
    # per-image severity: wild data is a continuum from near-clean to very hard, not uniformly hard
    sev = 1.0 if domain == "lab" else 0.15 + 0.85 * r[0]
    idt = sample_identity(rng, st.identity_variety)
    aus = sample_aus(label, rng, domain)
    img = background(rng, S, st)
    fr = frame_for(rng, S, st, idt, sev)
    gaze = (st.gaze * (2.0 * r[1] - 1.0), 0.5 * st.gaze * (2.0 * r[2] - 1.0))
    sk = Sketch(fr)
    draw_face(sk, idt, aus, gaze)
    if r[3] < st.glasses:
        col = tuple(float(c) for c in rng.uniform(0, 120, 3)) if r[4] < 0.8 else (200.0, 190.0, 150.0)
        draw_glasses(sk, idt, col, sun=r[5] < 0.35)
    if r[6] < st.occluder * (0.4 + 0.6 * sev):
        occlude(sk, rng, idt)
        if r[7] < 0.15:
            occlude(sk, rng, idt)
    sk.render(img)
    return finish(img, rng, size, st, sev)


def item_rng(domain: str, split: str, label: str, index: int, seed: int = 0) -> np.random.Generator:
    """The per-image generator: a pure function of (seed, domain, split, label, index)."""
    key = [int(seed) % (1 << 64), zlib.crc32(domain.encode()), zlib.crc32(str(split).encode()),
           _check_label(label), int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


def synth_item(domain: str, split: str, label: str, index: int, *, size: int = 64,
               seed: int = 0) -> np.ndarray:
    """Image number *index* of class *label* in (*domain*, *split*, *seed*): deterministic, standalone."""
    _check_domain(domain)
    if int(index) < 0:
        raise FerBenchError(f"synthetic image index must be >= 0, got {index}")
    return render_face(label, domain, item_rng(domain, split, label, index, seed), size)


def generate(domain: str, n_per_class: int, *, size: int = 64, seed: int = 0,
             split: str = "train") -> tuple[np.ndarray, list[str]]:
    """``n_per_class`` images of each canonical class, class by class in CANONICAL order.

    Returns ``(images uint8 [N, size, size, 3], labels)`` with ``N = 7 * n_per_class``; row ``k * n + i``
    equals ``synth_item(domain, split, CANONICAL[k], i, size=size, seed=seed)``.
    """
    _check_domain(domain)
    size = _check_size(size)
    n = int(n_per_class)
    if n < 0:
        raise FerBenchError(f"n_per_class must be >= 0, got {n_per_class}")
    images = np.empty((n * len(CANONICAL), size, size, 3), np.uint8)
    labels: list[str] = []
    k = 0
    for label in CANONICAL:
        for i in range(n):
            images[k] = synth_item(domain, split, label, i, size=size, seed=seed)
            labels.append(label)
            k += 1
    return images, labels


def sample_grid(images, labels, path, *, rows: int = 6) -> None:
    """Save a PNG grid: one column per canonical class (titled), the first *rows* examples of each class."""
    # a bare Figure renders with Agg on savefig: no pyplot, no global backend switch, thread-safe
    from matplotlib.figure import Figure

    images = np.asarray(images)
    labels = list(labels)
    cols = list(CANONICAL)
    fig = Figure(figsize=(1.3 * len(cols), 1.3 * rows + 0.4), dpi=100)
    axes = fig.subplots(rows, len(cols), squeeze=False)
    for c, name in enumerate(cols):
        idx = [i for i, lab in enumerate(labels) if lab == name][:rows]
        for r in range(rows):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if r < len(idx):
                img = images[idx[r]]
                ax.imshow(img if img.ndim == 3 and img.shape[-1] == 3 else np.squeeze(img), cmap="gray",
                          interpolation="nearest", vmin=0, vmax=255)
        axes[0][c].set_title(name, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93, wspace=0.05, hspace=0.05)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path))


def write_folder(domain: str, out_dir, *, n_per_class: int, size: int = 64, seed: int = 0,
                 splits: dict[str, int] | None = None) -> dict:
    """Write a class-folder dataset: ``out_dir/<split>/<class>/<split>_<class>_<index:05d>.png`` (lossless).

    *splits* maps split name -> images per class (default ``{"train": n, "test": max(1, n // 4)}``). Also
    writes ``out_dir/sample_grid.png`` from the first non-empty split. Files with the same names are
    overwritten (same pixels for the same arguments); other files in *out_dir* are left alone. Returns
    ``{"counts": {split: {class: n}}, "grid": path, "domain", "size", "seed", "version"}``.
    """
    _check_domain(domain)
    size = _check_size(size)
    if splits is None:
        splits = {"train": int(n_per_class), "test": max(1, int(n_per_class) // 4)}
    for split, n in splits.items():
        if int(n) < 0:
            raise FerBenchError(f"split {split!r}: images per class must be >= 0, got {n}")
    out = Path(out_dir)
    counts: dict[str, dict[str, int]] = {}
    grid_imgs: list[np.ndarray] = []
    grid_labels: list[str] = []
    grid_split = next((s for s, n in splits.items() if int(n) > 0), None)
    for split, n in splits.items():
        n = int(n)
        counts[split] = {}
        for label in CANONICAL:
            d = out / split / label
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = f"cannot create folder {d}: {exc.strerror}; choose a writable folder"
                raise FerBenchError(msg) from None
            for i in range(n):
                img = synth_item(domain, split, label, i, size=size, seed=seed)
                p = d / f"{split}_{label}_{i:05d}.png"
                if not cv2.imwrite(str(p), img[:, :, ::-1]):
                    raise FerBenchError(f"cannot write {p}; check that the folder is writable")
                if split == grid_split and i < 6:
                    grid_imgs.append(img)
                    grid_labels.append(label)
            counts[split][label] = n
    grid = out / "sample_grid.png"
    out.mkdir(parents=True, exist_ok=True)
    sample_grid(np.array(grid_imgs) if grid_imgs else np.zeros((0, size, size, 3), np.uint8), grid_labels,
                grid)
    return {"counts": counts, "grid": str(grid), "domain": domain, "size": size, "seed": int(seed),
            "version": GENERATOR_VERSION}
