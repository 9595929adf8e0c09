"""Which face to keep, the crop box around it, and the crop itself.

Crop arithmetic (all in pixels of the *full-resolution*, EXIF-rotated source image):

1. The detector box ``(x, y, w, h)`` is made square around its centre: ``side = max(w, h)``. MTCNN boxes are
   taller than wide, so without this the 256x256 output would squash the face horizontally.
2. ``margin`` pixels are added on every side (the BTFER paper's "additional 20 pixels around the region of
   interest"), giving ``side + 2 * margin`` pixels.
3. The side is rounded half-up to an integer, then the start (so the box is exactly square), giving the
   half-open box ``[x0, x1) x [y0, y1)``, which is clamped to the image. When clamping changes the box the
   face is near the border: the crop is then no longer square and is
   stretched slightly by the resize; the manifest records this in its ``clamped`` column so such faces can be
   reviewed or dropped.
4. The crop is resized to ``size x size`` (INTER_AREA when shrinking, INTER_CUBIC when enlarging).

All of this is pure and deterministic: the same source, detection and parameters give the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

MULTI_FACE_POLICIES = ("largest", "reject")


@dataclass(frozen=True)
class CropBox:
    """Half-open integer box ``[x0, x1) x [y0, y1)`` in source pixels; ``clamped`` if it hit the border."""

    x0: int
    y0: int
    x1: int
    y1: int
    clamped: bool

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def _round_half_up(v: float) -> int:
    return math.floor(v + 0.5)


def crop_box(
    box: tuple[float, float, float, float] | list[float],
    image_w: int,
    image_h: int,
    margin: int = 20,
    *,
    square: bool = True,
) -> CropBox:
    """The crop box for a detector box ``(x, y, w, h)``: squared (optional), plus ``margin``, clamped.

    >>> crop_box((100, 100, 50, 80), 500, 500, 20)
    CropBox(x0=65, y0=80, x1=185, y1=200, clamped=False)
    """
    x, y, w, h = (float(v) for v in box)
    if margin < 0:
        raise ValueError("margin must be >= 0")
    cx, cy = x + w / 2.0, y + h / 2.0
    if square:
        w = h = max(w, h)
    # integer size first, then the start: the unclamped box is exactly (side + 2 * margin) pixels square
    out_w, out_h = max(1, _round_half_up(w + 2 * margin)), max(1, _round_half_up(h + 2 * margin))
    x0, y0 = _round_half_up(cx - out_w / 2.0), _round_half_up(cy - out_h / 2.0)
    x1, y1 = x0 + out_w, y0 + out_h
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(int(image_w), x1), min(int(image_h), y1)
    # a degenerate box (face entirely outside the image: cannot come from a detector) still yields 1 pixel
    cx1, cy1 = max(cx1, min(cx0 + 1, int(image_w))), max(cy1, min(cy0 + 1, int(image_h)))
    cx0, cy0 = min(cx0, cx1 - 1), min(cy0, cy1 - 1)
    clamped = (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1)
    return CropBox(cx0, cy0, cx1, cy1, clamped)


def crop_face(rgb: np.ndarray, cbox: CropBox, size: int) -> np.ndarray:
    """Cut ``cbox`` out of an HxWx3 uint8 image and resize it to ``size x size`` (uint8 RGB, contiguous)."""
    patch = rgb[cbox.y0 : cbox.y1, cbox.x0 : cbox.x1]
    if patch.size == 0:
        raise ValueError(f"empty crop {cbox} for image {rgb.shape}")
    shrinking = patch.shape[0] >= size and patch.shape[1] >= size
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(np.ascontiguousarray(patch), (int(size), int(size)), interpolation=interp)
    return np.ascontiguousarray(out, dtype=np.uint8)


def face_size(face: dict[str, Any]) -> float:
    """A face's size for ``--min-face``: the shorter side of its detector box (source pixels)."""
    _, _, w, h = face["box"]
    return float(min(w, h))


def choose_face(
    faces: list[dict[str, Any]],
    *,
    min_confidence: float,
    min_face: int,
    multi_face: str = "largest",
) -> tuple[int | None, str | None]:
    """Pick the one face an image contributes, or say why it contributes none.

    A face *qualifies* when ``confidence >= min_confidence`` and ``face_size >= min_face``. Faces that do not
    qualify are ignored entirely (a tiny or doubtful face in the background does not make a photo
    "multi-face"). Among qualifying faces ``largest`` keeps the biggest box (ties: higher confidence, then
    top-left first); ``reject`` rejects the photo when more than one face qualifies.

    Returns ``(index into faces, None)`` or ``(None, reason)`` with reason one of ``no_face``,
    ``low_confidence``, ``too_small``, ``multiple_faces``.
    """
    if multi_face not in MULTI_FACE_POLICIES:
        raise ValueError(f"multi_face must be one of {MULTI_FACE_POLICIES}")
    if not faces:
        return None, "no_face"
    confident = [i for i, f in enumerate(faces) if float(f["confidence"]) >= min_confidence]
    if not confident:
        return None, "low_confidence"
    ok = [i for i in confident if face_size(faces[i]) >= min_face]
    if not ok:
        return None, "too_small"
    if len(ok) > 1 and multi_face == "reject":
        return None, "multiple_faces"

    def key(i: int) -> tuple[float, float, float, float]:
        x, y, w, h = faces[i]["box"]
        return (-float(w) * float(h), -float(faces[i]["confidence"]), float(y), float(x))

    return min(ok, key=key), None
