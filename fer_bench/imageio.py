"""Read any image file the way every stage of fer-bench expects it: uint8 RGB, EXIF orientation applied.

One reader is shared by the dataset adapters, the decode-once cache and build-btfer, so a CMYK JPEG, a 16-bit
PNG, an RGBA WebP or a rotated phone photo is handled identically everywhere.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def is_image_file(path: str | Path) -> bool:
    """True for file names with a supported image suffix (case-insensitive), skipping hidden files."""
    p = Path(path)
    return p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo + 1e-12) * 255.0
        return np.repeat(arr.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return arr


def decode_image(data: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to an HxWx3 uint8 RGB array (EXIF orientation applied)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            img.load()
            img = ImageOps.exif_transpose(img)
            arr = _to_rgb_uint8(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"cannot decode image {name}: {exc}; replace or delete the file") from None
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(f"cannot decode image {name}: empty image; replace or delete the file")
    return arr


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file to an HxWx3 uint8 RGB array; raises ImageReadError (one line) on failure."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read image {p}: {exc.strerror or exc}; check the path") from None
    return decode_image(data, name=str(p))


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, HxWx1 uint8 (the same weights as OpenCV and PIL)."""
    if rgb.shape[-1] == 1:
        return rgb
    g = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)[..., None]
