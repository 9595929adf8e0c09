"""Everything around the face: domain styles, background, pose, occluders, lighting and camera artefacts.

The two domains differ the way posed lab corpora (CK+, JAFFE, KDEF) differ from in-the-wild ones (RAF-DB,
AffectNet, FER2013):

* ``lab``: frontal (roll <= 3 deg), centred, same scale, plain studio background, even lighting, no
  occluders, no blur or compression; identity still varies (face shape, skin tone, hair) and expressions
  are strong.
* ``wild``: head roll up to +-8 deg, yaw up to +-0.22 rad, scale 0.88-1.06, off-centre crops, cluttered
  backgrounds, gradient lighting, contrast/brightness changes and colour casts, 40 % grayscale, occluders
  (hands, bars, patches, glasses/sunglasses), defocus blur, sensor noise, JPEG artefacts; and
  weaker/partial/mixed expressions (see :mod:`.expressions`). Each wild image draws a *severity* in
  [0.15, 1] that scales all of these, so wild data runs from nearly clean to hard.

The ranges are tuned (see :mod:`.shiftcheck`) so that a tiny CNN trained on 150 lab images per class reaches
about 0.9 on lab but about 0.45 on wild, while the same CNN trained on wild reaches about 0.55 on wild:
the cross-domain drop of real FER studies. Stronger pose variation mostly made wild unlearnable from small
data rather than more realistic.

Rendering happens at twice the output size; :func:`finish` downsamples with ``INTER_AREA`` (anti-aliasing)
and applies lighting and camera artefacts at the output size, which keeps the per-image cost low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .face import FaceFrame, Identity, Sketch, _shade

_AA = cv2.LINE_AA


@dataclass(frozen=True)
class Style:
    """Variation ranges of one domain."""

    identity_variety: float
    roll_deg: float
    yaw: float
    scale: tuple[float, float]
    shift: float             # max centre offset, fraction of the image
    clutter: float           # probability of a cluttered background
    occluder: float          # probability of at least one occluder
    glasses: float
    light: float             # lighting gradient strength
    contrast: tuple[float, float]
    brightness: float
    cast: float              # per-channel colour gain spread
    blur: float              # probability of blur
    blur_sigma: tuple[float, float]
    noise: float             # max noise sigma (grey levels)
    jpeg: float              # probability of JPEG
    jpeg_q: tuple[int, int]
    gray: float              # probability of a grayscale image
    gaze: float


STYLES: dict[str, Style] = {
    "lab": Style(identity_variety=0.6, roll_deg=3.0, yaw=0.05, scale=(0.95, 1.03), shift=0.015, clutter=0.0,
                 occluder=0.0, glasses=0.0, light=0.06, contrast=(0.95, 1.05), brightness=8.0, cast=0.03,
                 blur=0.0, blur_sigma=(0.3, 0.5), noise=2.0, jpeg=0.0, jpeg_q=(90, 95), gray=0.0, gaze=0.01),
    "wild": Style(identity_variety=1.0, roll_deg=8.0, yaw=0.22, scale=(0.88, 1.06), shift=0.04, clutter=0.9,
                  occluder=0.3, glasses=0.12, light=0.45, contrast=(0.5, 1.35), brightness=40.0, cast=0.15,
                  blur=0.4, blur_sigma=(0.3, 0.9), noise=8.0, jpeg=0.5, jpeg_q=(20, 80), gray=0.4,
                  gaze=0.04),
}


def background(rng: np.random.Generator, S: int, st: Style) -> np.ndarray:
    """An S x S x 3 uint8 canvas: a plain studio backdrop (lab) or a gradient with clutter shapes (wild)."""
    if st.clutter <= 0.0:
        r = rng.random(4)
        img = np.empty((S, S, 3), np.uint8)
        img[:] = np.clip(150.0 + 75.0 * r[0] + 12.0 * r[1:] - 6.0, 0, 255).astype(np.uint8)
        return img
    corners = rng.uniform(0, 255, (2, 2, 3)).astype(np.float32)
    img = cv2.resize(corners, (S, S), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    if rng.random() < st.clutter:
        n = int(rng.integers(3, 10))
        shapes = rng.random((n, 10))  # one row of random numbers per shape
        for row in shapes.tolist():
            col = (255.0 * row[0], 255.0 * row[1], 255.0 * row[2])
            kind = row[3]
            x, y = (1.2 * row[4] - 0.1) * S, (1.2 * row[5] - 0.1) * S
            if kind < 0.35:
                w, h = (0.05 + 0.45 * row[6]) * S, (0.05 + 0.45 * row[7]) * S
                cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), col, -1, _AA)
            elif kind < 0.65:
                cv2.circle(img, (int(x), int(y)), int((0.05 + 0.3 * row[6]) * S), col, -1, _AA)
            else:
                x2, y2 = (1.2 * row[6] - 0.1) * S, (1.2 * row[7] - 0.1) * S
                width = 1 + int(row[8] * max(1, S // 12))
                cv2.line(img, (int(x), int(y)), (int(x2), int(y2)), col, width, _AA)
    return img


def frame_for(rng: np.random.Generator, S: int, st: Style, idt: Identity, sev: float = 1.0) -> FaceFrame:
    """Head pose and placement: roll, yaw, scale and centre in the S x S canvas (ranges scaled by *sev*)."""
    r = (2.0 * rng.random(5) - 1.0).tolist()  # five numbers in [-1, 1)
    lo, hi = st.scale
    scale = (0.5 * (lo + hi) + 0.5 * (hi - lo) * sev * r[0]) * S / 2.9
    cx = S * (0.5 + sev * st.shift * r[1])
    cy = S * (0.5 + sev * st.shift * r[2]) + 0.1 * scale
    roll = math.radians(sev * st.roll_deg * r[3])
    yaw = sev * st.yaw * r[4]
    return FaceFrame(cx, cy, scale, roll, yaw, idt.face_w, idt.face_h)


def occlude(sk: Sketch, rng: np.random.Generator, idt: Identity) -> None:
    """One random occluder over the face: a hand, a bar (microphone, strap), or a patch (object, sticker)."""
    kind = rng.random()
    # occluder centre in face units, biased to the lower face (hands at the chin/mouth are common)
    ox = rng.uniform(-0.9, 0.9)
    oy = rng.uniform(-0.4, 1.2)
    if kind < 0.4:  # hand: palm + fingers in a skin colour (own or another person's)
        col = idt.skin if rng.random() < 0.7 else tuple(float(c) for c in rng.uniform(60, 240, 3))
        col = _shade(col, rng.uniform(0.85, 1.05))
        ang = rng.uniform(0, 2 * np.pi)
        ca, sa = math.cos(ang), math.sin(ang)
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        px, py = 0.32 * np.cos(t), 0.26 * np.sin(t)
        sk.fill(ox + px * ca - py * sa, oy + px * sa + py * ca, col, flat=True)
        for k in range(4):
            off = (k - 1.5) * 0.13
            bx, by = 0.25, off
            tx, ty = 0.25 + rng.uniform(0.3, 0.45), off * 1.2
            fx = [ox + bx * ca - by * sa, ox + tx * ca - ty * sa]
            fy = [oy + bx * sa + by * ca, oy + tx * sa + ty * ca]
            sk.line(fx, fy, col, sk.fr.thick(0.11), flat=True)
            sk.line(fx, fy, _shade(col, 0.8), 1, flat=True)
    elif kind < 0.7:  # bar
        col = tuple(float(c) for c in rng.uniform(0, 255, 3))
        ang = rng.uniform(0, np.pi)
        L = 2.5
        dx, dy = L * math.cos(ang), L * math.sin(ang)
        sk.line([ox - dx, ox + dx], [oy - dy, oy + dy], col, sk.fr.thick(rng.uniform(0.1, 0.3)), flat=True)
    else:  # patch
        col = tuple(float(c) for c in rng.uniform(0, 255, 3))
        w, h = rng.uniform(0.2, 0.55, 2)
        if rng.random() < 0.5:
            xs = ox + np.array([-w, w, w, -w])
            ys = oy + np.array([-h, -h, h, h])
        else:
            t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
            xs, ys = ox + w * np.cos(t), oy + h * np.sin(t)
        sk.fill(xs, ys, col, flat=True)


def finish(img: np.ndarray, rng: np.random.Generator, size: int, st: Style, sev: float = 1.0) -> np.ndarray:
    """Downsample to *size* (INTER_AREA) and apply lighting, colour cast, blur, noise, grayscale and JPEG.

    *sev* in [0, 1] scales the strength of lighting, colour cast, contrast/brightness changes, noise and the
    chance of blur and compression.
    """
    r = rng.random(16)
    out = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    f = out.astype(np.float32)
    c_lo, c_hi = st.contrast
    contrast = 1.0 + sev * (c_lo + (c_hi - c_lo) * r[0] - 1.0)
    # lighting gradient x colour cast x contrast as one 2x2 gain image, bilinearly stretched over the frame
    light = 1.0 + sev * st.light * (2.0 * r[1:5].reshape(2, 2, 1) - 1.0)
    cast = 1.0 + sev * st.cast * (2.0 * r[5:8] - 1.0)
    gain_map = cv2.resize((light * cast * contrast).astype(np.float32), (size, size),
                          interpolation=cv2.INTER_LINEAR)
    offset = 128.0 * (1.0 - contrast) + sev * st.brightness * (2.0 * r[8] - 1.0)
    f *= gain_map
    f += np.float32(offset)
    if r[9] < st.blur * sev:
        f = cv2.GaussianBlur(f, (0, 0), st.blur_sigma[0] + (st.blur_sigma[1] - st.blur_sigma[0]) * r[10])
    sigma = sev * st.noise * r[11]
    if sigma > 0.5:
        f += rng.standard_normal(f.shape, dtype=np.float32) * np.float32(sigma)
    np.clip(f, 0, 255, out=f)
    out = f.astype(np.uint8)
    if r[12] < st.gray:
        g = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = cv2.merge([g, g, g])
    if r[13] < st.jpeg * (0.5 + 0.5 * sev):
        q = int(st.jpeg_q[1] - sev * r[14] * (st.jpeg_q[1] - st.jpeg_q[0]) + 0.5)
        ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return np.ascontiguousarray(out)
