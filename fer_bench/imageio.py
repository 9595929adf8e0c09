"""Read any image file the way every stage of fer-bench expects it: uint8 RGB, EXIF orientation applied.

One reader is shared by the dataset adapters, the decode-once cache and build-btfer, so a CMYK JPEG, a 16-bit
PNG, an RGBA WebP or a rotated phone photo is handled identically everywhere, and so is a bad file: every
file that cannot be used raises :class:`BadImage` (an :class:`~fer_bench.errors.ImageReadError`) with a
one-line message naming the file and a short ``kind``:

================ ==========================================================================================
``unreadable``   the file cannot be opened or read (permissions, dangling symlink, not a regular file)
``empty``        zero bytes
``not_an_image`` no decoder recognises the bytes (a text file called ``x.jpg``)
``corrupt``      recognised but broken: truncated, bad data, a decoder error
``too_large``    over ``FER_BENCH_MAX_PIXELS`` (default 50 MP), checked from the header *before* decoding
                 (a 12000x12000 PNG of a few hundred KB would otherwise take ~430 MB of RAM, 1.6 GB through
                 the float stages), or a file over ``8 bytes x FER_BENCH_MAX_PIXELS`` (400 MB)
``too_small``    a side under ``FER_BENCH_MIN_SIDE`` pixels (default 8): no face fits, and up-scaling a 1x1
                 image to the model input gives a flat patch that the model would still "classify"
================ ==========================================================================================

Stages skip such files and count them by kind (``datasets inspect`` lists them, the cache records them in
its meta, runs and evaluations report the count); nothing decodes them anyway. A broken EXIF block is not a
reason to skip: the pixels are used as stored, like image viewers do.

File names are not always text: on Linux a name is bytes, and Python represents undecodable bytes as lone
surrogates (``b"\\xff.jpg"`` -> ``"\\udcff.jpg"``). :func:`name_bytes` turns such a name back into its bytes
for hashing, :func:`display_name` into printable text (``\\xff.jpg``) for messages, JSON and CSV reports.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import FerBenchError, ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")

#: env var: the largest image (width x height, pixels) that is decoded; ``50000000``, ``50M`` or ``50MP``
MAX_PIXELS_ENV = "FER_BENCH_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 50_000_000
#: env var: the smallest accepted side in pixels (``1`` keeps every image)
MIN_SIDE_ENV = "FER_BENCH_MIN_SIDE"
DEFAULT_MIN_SIDE = 8
#: the kinds of bad image, in report order
BAD_KINDS = ("unreadable", "empty", "not_an_image", "corrupt", "too_large", "too_small")


class BadImage(ImageReadError):
    """One image file fer-bench skips. ``kind``: one of BAD_KINDS; ``detail``: the short reason (for tables);
    ``str()``: the one-line message ``<what> <file>: <detail>; <fix>``."""

    def __init__(self, kind: str, shown: str, detail: str, fix: str = "replace or delete the file",
                 what: str = "cannot decode image") -> None:
        super().__init__(f"{what} {shown}: {detail}; {fix}")
        self.kind = kind
        self.detail = detail


def bad_kind(exc: BaseException) -> str:
    """The BAD_KINDS entry for an exception raised while reading one item (``unreadable`` if unknown)."""
    return getattr(exc, "kind", "unreadable")


# ------------------------------------------------------------------------------------------ names


def name_bytes(name: str) -> bytes:
    """The bytes of a file name or path as the OS stores them (UTF-8, undecodable bytes restored).

    Valid UTF-8 names give exactly ``name.encode("utf-8")``, so hashes of ordinary names do not change.
    """
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that does not stand for a byte (not from the file system)
        return name.encode("utf-8", "surrogatepass")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(name: str | os.PathLike) -> str:
    """*name* as printable, encodable text: undecodable bytes as ``\\xNN``, control characters escaped.

    Ordinary names are returned unchanged. Used in every message and report (JSON, CSV, Markdown, terminal),
    so a file called ``b"\\xff\\xfe.jpg"`` or ``"a\\nb.jpg"`` cannot break the output or fake a line.
    """
    s = os.fspath(name)
    if isinstance(s, bytes):
        s = s.decode("utf-8", "surrogateescape")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = name_bytes(s).decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def is_image_file(path: str | Path) -> bool:
    """True for file names with a supported image suffix (case-insensitive), skipping hidden files."""
    p = Path(path)
    return p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


# ------------------------------------------------------------------------------------------ limits


def _env_int(var: str, default: int, *, megapixels: bool = False) -> int:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    text = raw.upper()
    scale = 1
    if megapixels:
        for suffix in ("MP", "M"):
            if text.endswith(suffix):
                text, scale = text[: -len(suffix)].strip(), 1_000_000
                break
    try:
        value = int(float(text) * scale)
    except ValueError:
        value = 0
    if value < 1:
        example = "50000000 or 50M" if megapixels else "8"
        raise FerBenchError(f"${var}={raw!r} is not a positive number; set it like {var}={example} or unset it")
    return value


def max_pixels() -> int:
    """Largest width x height decoded (``$FER_BENCH_MAX_PIXELS``, default 50 MP)."""
    return _env_int(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS, megapixels=True)


def min_side() -> int:
    """Smallest accepted image side in pixels (``$FER_BENCH_MIN_SIDE``, default 8)."""
    return _env_int(MIN_SIDE_ENV, DEFAULT_MIN_SIDE)


def max_file_bytes() -> int:
    """Largest image file read into memory: 8 bytes per allowed pixel (400 MB at the default limit)."""
    return 8 * max_pixels()


def _mp(n: float) -> str:
    return f"{n / 1e6:.1f}".rstrip("0").rstrip(".") + " MP"


# ------------------------------------------------------------------------------------------ decoding


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if arr.size and arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        arr = (arr - lo) / (hi - lo + 1e-12) * 255.0
        return np.repeat(np.clip(arr, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return arr


_ADDRESS = re.compile(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>")


def _short(exc: BaseException) -> str:
    """A decoder exception as a short phrase: first line, no object reprs (``<_io.BytesIO ... at 0x..>``)."""
    text = _ADDRESS.sub("", str(exc)).strip().splitlines()
    msg = text[0].strip() if text else ""
    msg = msg or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def _check_size(w: int, h: int, shown: str, limit: int, smallest: int) -> None:
    if w * h > limit:
        raise BadImage(
            "too_large", shown, f"{w}x{h} px ({_mp(w * h)}), over the {_mp(limit)} limit",
            f"downscale it, or raise ${MAX_PIXELS_ENV} if the memory is there", what="image too large:",
        )
    if w < smallest or h < smallest:
        raise BadImage(
            "too_small", shown, f"{w}x{h} px, under the {smallest} px minimum side (no face fits)",
            f"replace or delete the file (or lower ${MIN_SIDE_ENV})", what="image too small:",
        )


def decode_image(data: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to an HxWx3 uint8 RGB array (EXIF orientation applied).

    Raises :class:`BadImage` (one line, naming *name*) for empty, unrecognised, corrupt, too large or too
    small images; the size limits are checked from the header before the pixels are decoded.
    """
    shown = display_name(name)
    limit, smallest = max_pixels(), min_side()  # a bad env var fails here, as one FerBenchError
    if not data:
        raise BadImage("empty", shown, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning, "possibly corrupt EXIF", ...
            img = Image.open(io.BytesIO(data))
            w, h = (int(v) for v in img.size)
            _check_size(w, h, shown, limit, smallest)
            img.load()
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # a broken EXIF block: use the pixels as stored
                pass
            arr = _to_rgb_uint8(img)
    except FerBenchError:
        raise
    except UnidentifiedImageError:
        raise BadImage("not_an_image", shown, f"not an image (no decoder recognises its {len(data):,} bytes)") \
            from None
    except Image.DecompressionBombError as exc:
        raise BadImage("too_large", shown, _short(exc), "downscale it", what="image too large:") from None
    except MemoryError:
        raise BadImage("too_large", shown, "out of memory while decoding", "downscale it") from None
    except Exception as exc:  # any decoder failure on user data is a bad file, not a crash
        raise BadImage("corrupt", shown, f"corrupt or truncated ({_short(exc)})") from None
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise BadImage("corrupt", shown, f"unexpected pixel layout {arr.shape}")
    _check_size(int(arr.shape[1]), int(arr.shape[0]), shown, limit, smallest)
    return arr


_READ_FIX = "check the file and its permissions"


def read_file_bytes(path: str | Path, *, name: str | None = None) -> bytes:
    """The bytes of an image file; :class:`BadImage` (``unreadable``/``too_large``) instead of OSError.

    Never blocks on a FIFO or device that carries an image suffix, and never reads a file larger than
    :func:`max_file_bytes` into memory.
    """
    p = os.fspath(path)
    shown = display_name(name if name is not None else p)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, FileNotFoundError) and os.path.islink(p):
            reason = "dangling symlink (its target does not exist)"
        raise BadImage("unreadable", shown, reason, _READ_FIX, what="cannot read image") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise BadImage("unreadable", shown, what, "remove or rename it", what="cannot read image")
        if st.st_size > max_file_bytes():
            raise BadImage(
                "too_large", shown,
                f"a {st.st_size / 1e6:,.0f} MB file, over the {max_file_bytes() / 1e6:,.0f} MB read limit "
                f"(8 bytes x ${MAX_PIXELS_ENV})", "downscale it", what="image too large:",
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    except OSError as exc:
        raise BadImage("unreadable", shown, exc.strerror or str(exc), _READ_FIX, what="cannot read image") from None
    finally:
        os.close(fd)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file to an HxWx3 uint8 RGB array; raises :class:`BadImage` (one line) on failure."""
    return decode_image(read_file_bytes(path), name=os.fspath(path))


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, HxWx1 uint8 (the same weights as OpenCV and PIL)."""
    if rgb.shape[-1] == 1:
        return rgb
    g = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)[..., None]
