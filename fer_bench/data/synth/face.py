"""A parametric cartoon face whose parts are deformed by FACS action units, drawn with anti-aliased OpenCV.

Coordinates ("face units"): origin at the face centre, x to the viewer's right, y down, the face oval spans
about x in [-W, W] and y in [-H, H] (W ~ 1, H ~ 1.3). :class:`FaceFrame` maps face units to pixels: a
cylinder-like depth ``z(x, y)`` gives *yaw* (features slide towards the turned side and squash on the far
side, the nose tip, which sticks out, slides most), then in-plane rotation (*roll*), scale and translation.
All drawing goes through that one transform, so pose never needs an image warp. Shapes are recorded in a
:class:`Sketch` and transformed together (one vectorised transform per image) before OpenCV draws them.

How each action unit deforms the face (intensity ``a`` in [0, 1]):

* AU1 inner brow raiser: inner brow ends go up (the oblique "worried" brow), central forehead wrinkles.
* AU2 outer brow raiser: outer brow ends and the arch go up, forehead wrinkles widen.
* AU4 brow lowerer: inner brow ends go down and towards the midline (V shape with AU4 alone, a flat drawn
  brow with AU1), vertical frown lines between the brows, upper lids pushed down a little.
* AU5 upper lid raiser: upper lid rises well above the iris, so white sclera shows above it (wide eyes).
* AU6 cheek raiser: lower lid pushed up into a crescent, upper lid slightly down, cheek "apples" raised
  and flushed, crow's-feet at the outer eye corners.
* AU7 lid tightener: lower lid raised and straightened, eye narrowed.
* AU9 nose wrinkler: wrinkles across the nose bridge, nostrils raised and flared, deeper nasolabial folds;
  like the real muscle it also drags the inner brows down and bunches the lower lids up (narrowed eyes).
* AU10 upper lip raiser: the upper lip is pulled up (flattened, "squared"), parting the lips and baring
  upper teeth; nasolabial folds deepen.
* AU12 lip corner puller: mouth corners move up and out (smile), nasolabial folds deepen.
* AU15 lip corner depressor: mouth corners move down (frown).
* AU20 lip stretcher: corners pulled sideways, mouth wide and flat.
* AU23 lip tightener: lips thinned and pressed, mouth narrower.
* AU25 lips part: a small gap between the lips (teeth visible).
* AU26 jaw drop: the lower lip and chin drop, the mouth opens into an oval (rounder and narrower unless
  AU20 stretches it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Fixed-point bits for sub-pixel OpenCV drawing.
SHIFT = 4
_ONE = float(1 << SHIFT)
_AA = cv2.LINE_AA

# Anchor colours (RGB) spanning very dark to very pale skin; identities interpolate between neighbours.
_SKIN = np.array(
    [(70, 46, 36), (96, 63, 46), (128, 86, 60), (164, 116, 84), (196, 146, 110), (222, 178, 145),
     (238, 204, 178), (248, 224, 206)], dtype=np.float64)
_HAIR = np.array(
    [(20, 16, 14), (45, 30, 22), (80, 52, 32), (122, 84, 50), (196, 160, 104), (150, 66, 36), (150, 150, 150),
     (225, 220, 210)], dtype=np.float64)
_HAIR_P = np.array([0.3, 0.2, 0.15, 0.1, 0.08, 0.06, 0.07, 0.04])
_IRIS = np.array([(50, 32, 20), (90, 60, 30), (60, 90, 130), (70, 110, 70), (110, 100, 70)], dtype=np.float64)

_U = np.linspace(-1.0, 1.0, 17)          # parameter along lids, lips, brows
_U2 = _U * _U
_T = np.linspace(0.0, 2.0 * np.pi, 49)[:-1]  # angles for closed curves
_COS_T, _SIN_T = np.cos(_T), np.sin(_T)


def _arch(p: float) -> np.ndarray:
    """Profile ``(1 - u^2)^p`` over _U: 1 at the centre, 0 at both ends; small p = rounder."""
    return np.power(np.maximum(1.0 - _U2, 0.0), p)


@dataclass
class Identity:
    """Who the face is: everything that does not change with expression."""

    face_w: float
    face_h: float
    chin: float          # chin taper (0 round .. 0.3 pointed)
    skin: tuple
    hair: tuple
    hair_style: int      # 0 bald/shaved, 1 short cap, 2 long, 3 fringe/bangs
    hairline: float
    eye_y: float
    eye_sep: float
    eye_w: float
    eye_h: float
    iris: tuple
    brow_gap: float
    brow_thick: float
    brow_color: tuple
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_lo: float
    lip_color: tuple
    lines: float         # baseline wrinkle visibility (age)
    ears: bool
    clothes: tuple


_HAIR_CDF = np.cumsum(_HAIR_P)
_STYLE_CDF = np.cumsum([0.15, 0.35, 0.3, 0.2])
_LIP_K = np.array([0.92, 0.62, 0.62])
_LIP_ADD = np.array([18.0, 0.0, 4.0])


def sample_identity(rng: np.random.Generator, variety: float = 1.0) -> Identity:
    """A random identity. *variety* in (0, 1] scales geometric variation (skin tone always spans the range).

    All random numbers are drawn in one call (cheap), then consumed in a fixed order.
    """
    r = iter(rng.random(40).tolist())
    v = variety

    def u(lo: float, hi: float) -> float:
        return (lo + hi) / 2.0 + (hi - lo) / 2.0 * v * (2.0 * next(r) - 1.0)

    t = next(r) * (len(_SKIN) - 1)
    i = min(int(t), len(_SKIN) - 2)
    jitter = np.array([next(r), next(r), next(r)]) * 16.0 - 8.0
    skin = np.clip(_SKIN[i] + (t - i) * (_SKIN[i + 1] - _SKIN[i]) + jitter, 0, 255)
    hair = np.clip(_HAIR[min(int(np.searchsorted(_HAIR_CDF, next(r))), len(_HAIR) - 1)]
                   * (0.85 + 0.3 * next(r)), 0, 255)
    lip = np.clip(skin * _LIP_K + _LIP_ADD * (1.5 * next(r)), 0, 255)
    # brows: hair-coloured, but always clearly darker than the skin so they read on every skin tone
    brow = np.clip(0.35 * skin + 0.65 * hair, 0, 255) * 0.75 if next(r) < 0.85 else skin * 0.45
    brow = np.minimum(brow, skin * 0.55)
    face_h = u(1.2, 1.42)
    return Identity(
        face_w=u(0.88, 1.08),
        face_h=face_h,
        chin=u(0.05, 0.3),
        skin=tuple(skin.tolist()),
        hair=tuple(hair.tolist()),
        hair_style=min(int(np.searchsorted(_STYLE_CDF, next(r))), 3),
        hairline=-face_h * u(0.62, 0.8),
        eye_y=u(-0.2, -0.08),
        eye_sep=u(0.37, 0.46),
        eye_w=u(0.18, 0.22),
        eye_h=u(0.072, 0.092),
        iris=tuple(_IRIS[min(int(next(r) * len(_IRIS)), len(_IRIS) - 1)].tolist()),
        brow_gap=u(0.17, 0.23),
        brow_thick=u(0.05, 0.085),
        brow_color=tuple(brow.tolist()),
        nose_y=u(0.28, 0.38),
        nose_w=u(0.14, 0.2),
        mouth_y=u(0.62, 0.72),
        mouth_w=u(0.34, 0.42),
        lip_up=u(0.05, 0.075),
        lip_lo=u(0.06, 0.095),
        lip_color=tuple(lip.tolist()),
        lines=u(0.0, 0.25),
        ears=next(r) < 0.8,
        clothes=(20.0 + 215.0 * next(r), 20.0 + 215.0 * next(r), 20.0 + 215.0 * next(r)),
    )


class FaceFrame:
    """Face units -> image pixels (fixed point, ``SHIFT`` bits): yaw via depth, then roll, scale, shift."""

    def __init__(self, cx: float, cy: float, scale: float, roll: float, yaw: float, face_w: float,
                 face_h: float):
        self.cx, self.cy, self.s = cx, cy, scale
        self.cr, self.sr = math.cos(roll), math.sin(roll)
        self.cyaw, self.syaw = math.cos(yaw), math.sin(yaw)
        self.w, self.h = face_w, face_h
        self._iw2, self._ih2 = 1.0 / face_w ** 2, 0.25 / face_h ** 2
        self._zs = 0.9 * face_w * self.syaw
        s = scale * _ONE
        # fixed-point pixel position: gx = x' m0 + y m2 + m4, gy = x' m1 + y m3 + m5 (roll, scale, shift)
        self._m = (s * self.cr, s * self.sr, -s * self.sr, s * self.cr, cx * _ONE, cy * _ONE)

    def transform(self, x: np.ndarray, y: np.ndarray, depth: np.ndarray, dz: np.ndarray) -> np.ndarray:
        """Face units -> fixed-point pixels (N x 2 int32) for flat arrays of vertices.

        *depth* is 1 for points on the face surface (they move with yaw by their depth) and 0 for silhouettes
        (face outline, hair mass, occluders); *dz* adds protrusion (the nose tip sticks out).
        """
        q = x * x
        q *= -self._iw2
        q += 1.0
        q -= (y * y) * self._ih2
        np.maximum(q, 0.0, out=q)
        np.sqrt(q, out=q)
        q *= self._zs
        q *= depth
        q += dz * self.syaw
        q += x * self.cyaw                      # q is now x' (after yaw)
        m = self._m
        out = np.empty((x.shape[0], 2), dtype=np.float64)
        np.multiply(q, m[0], out=out[:, 0])
        out[:, 0] += y * m[2] + m[4]
        np.multiply(q, m[1], out=out[:, 1])
        out[:, 1] += y * m[3] + m[5]
        np.rint(out, out=out)
        return out.astype(np.int32)

    def thick(self, units: float) -> int:
        """Line thickness in whole pixels for a width in face units (at least 1)."""
        return max(1, int(units * self.s + 0.5))


class Sketch:
    """Records polygons and polylines in face units, then transforms every vertex at once and draws in order.

    One vectorised transform per image instead of one per shape keeps the Python/numpy call overhead (which
    dominates at 64 px) low. ``x``/``y`` may be (N,) for one shape or (K, N) for K shapes drawn in one OpenCV
    call (e.g. the left and right eye); shapes in one call must not overlap.
    """

    def __init__(self, fr: FaceFrame):
        self.fr = fr
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self._counts: list[int] = []
        self._depth: list[float] = []
        self._dz: list[float] = []
        self._ops: list[tuple] = []
        self._n = 0

    def _add(self, x, y, dz: float, flat: bool) -> tuple[int, int, tuple]:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            x, y = np.broadcast_arrays(x, y)
        n = x.size
        self._xs.append(x.ravel())
        self._ys.append(y.ravel())
        self._counts.append(n)
        self._depth.append(0.0 if flat else 1.0)
        self._dz.append(dz)
        a = self._n
        self._n += n
        return a, self._n, x.shape

    def fill(self, x, y, color, *, dz: float = 0.0, flat: bool = False) -> None:
        """A filled anti-aliased polygon (or a stack of disjoint ones)."""
        a, b, shape = self._add(x, y, dz, flat)
        self._ops.append((a, b, shape, color, -1, False))

    def line(self, x, y, color, thick: int, *, closed: bool = False, dz: float = 0.0,
             flat: bool = False) -> None:
        """An anti-aliased polyline (or a stack of them) *thick* pixels wide."""
        a, b, shape = self._add(x, y, dz, flat)
        self._ops.append((a, b, shape, color, thick, closed))

    def render(self, img: np.ndarray) -> None:
        """Draw everything recorded onto *img* (in recording order) and clear the record."""
        if not self._ops:
            return
        x = np.concatenate(self._xs)
        y = np.concatenate(self._ys)
        depth = np.repeat(np.array(self._depth), self._counts)
        dz = np.repeat(np.array(self._dz), self._counts)
        pts = self.fr.transform(x, y, depth, dz)
        for a, b, shape, color, thick, closed in self._ops:
            p = pts[a:b]
            polys = [p] if len(shape) == 1 else list(p.reshape(shape + (2,)))
            if thick < 0:
                cv2.fillPoly(img, polys, color, _AA, SHIFT)
            else:
                cv2.polylines(img, polys, closed, color, thick, _AA, SHIFT)
        self.__init__(self.fr)


def _mix(c1, c2, t: float) -> tuple:
    return tuple(a + (b - a) * t for a, b in zip(c1, c2, strict=True))


def _shade(c, k: float) -> tuple:
    return tuple(min(255.0, v * k) for v in c)


#: Side signs as a column: arrays built with it have one row per side (viewer's left, right), so each mirrored
#: feature costs one transform and one draw call.
_S = np.array([[-1.0], [1.0]])
_ARCH_06 = _arch(0.6)
_ARCH_055 = _arch(0.55)
_TT = np.linspace(0.0, 1.0, 9)
_BROW_T = (_U + 1.0) / 2.0
# Lagrange weights of a quadratic through (inner, mid, outer) brow points at parameters 0, 0.45, 1
_BL0 = (_BROW_T - 0.45) * (_BROW_T - 1.0) / 0.45
_BL1 = _BROW_T * (_BROW_T - 1.0) / (0.45 * (0.45 - 1.0))
_BL2 = _BROW_T * (_BROW_T - 0.45) / 0.55
_BROW_TAPER = 0.75 * _BROW_T ** 1.6
_CAP_ANG = np.linspace(np.pi + 0.25, 2.0 * np.pi - 0.25, 21)
_HAIR_WAVE = 0.02 * np.sin(5.0 * _U)
_LONG_ANG = _T[: len(_T) // 2 + 1] + np.pi


def draw_face(sk: Sketch, idt: Identity, aus: dict[int, float],
              gaze: tuple[float, float] = (0.0, 0.0)) -> None:
    """Record the head (hair, neck, face and features with the AU deformations) into *sk*."""
    fr = sk.fr
    a = aus.get
    a1, a2, a4, a5, a6, a7 = a(1, 0.0), a(2, 0.0), a(4, 0.0), a(5, 0.0), a(6, 0.0), a(7, 0.0)
    a9, a10, a12, a15, a20, a23 = a(9, 0.0), a(10, 0.0), a(12, 0.0), a(15, 0.0), a(20, 0.0), a(23, 0.0)
    a25, a26 = a(25, 0.0), a(26, 0.0)
    W, H = idt.face_w, idt.face_h
    skin = idt.skin
    H_lo = H + 0.14 * a26  # the jaw drop lengthens the lower face
    S = _S
    cat = np.concatenate

    # --- behind the face: clothes, long hair, neck, ears
    sk.fill(2.3 * W * _COS_T, 2.45 * H + 0.95 * H * _SIN_T, idt.clothes, flat=True)
    if idt.hair_style == 2:
        xs = cat([1.18 * W * np.cos(_LONG_ANG), [1.3 * W, -1.3 * W]])
        ys = cat([1.12 * H * np.sin(_LONG_ANG) - 0.05, [1.45 * H, 1.45 * H]])
        sk.fill(xs, ys, idt.hair, flat=True)
    nk = 0.48 * W
    sk.fill([-nk, nk, nk * 1.1, -nk * 1.1], [0.3 * H, 0.3 * H, 1.75 * H, 1.75 * H], _shade(skin, 0.78),
            flat=True)
    if idt.ears:
        sk.fill(S * (W * 0.97 + 0.09 * _COS_T[::3]), idt.eye_y + 0.12 + 0.2 * _SIN_T[::3], _shade(skin, 0.88),
                flat=True)

    # --- face oval (chin narrower than the forehead)
    lower = _SIN_T > 0
    taper = 1.0 - idt.chin * np.where(lower, _SIN_T, 0.0) ** 3
    ox = W * _COS_T * taper
    oy = np.where(lower, H_lo, H) * _SIN_T
    sk.fill(ox, oy, skin, flat=True)
    # soft shading band along the lower jaw reads as a 3-D chin
    sk.line(ox[3:22] * 0.97, oy[3:22] * 0.97, _shade(skin, 0.9), fr.thick(0.06), flat=True)

    # --- AU6 cheeks: raised, slightly flushed apples
    if a6 > 0.05 or a12 > 0.3:
        k = max(a6, 0.5 * a12)
        cheek = _mix(skin, (min(255.0, skin[0] * 1.1 + 25), skin[1] * 0.85, skin[2] * 0.85), 0.35 * k)
        cy = idt.eye_y + 0.32 - 0.08 * k
        sk.fill(S * (idt.eye_sep + 0.06) + 0.17 * _COS_T, cy + 0.1 * _SIN_T, cheek)

    wr = idt.lines  # baseline line visibility (age)
    # --- forehead wrinkles (AU1 central, AU2 wide)
    fw = max(a1, a2)
    if fw + wr > 0.25:
        col = _shade(skin, 1.0 - 0.4 * min(1.0, fw + wr))
        half_len = 0.22 + 0.3 * a2 + 0.1 * wr
        brow_top = idt.eye_y - idt.brow_gap - 0.12
        ys = [brow_top - 0.1 * j - 0.12 * fw for j in range(3 if fw > 0.6 else 2)]
        ys = np.array([y for y in ys if y > idt.hairline + 0.05])
        if len(ys):
            sk.line(half_len * _U, ys[:, None] + 0.025 * _U2, col, fr.thick(0.018))
    # --- AU4 vertical frown lines between the brows
    if a4 > 0.2:
        by = idt.eye_y - idt.brow_gap
        sk.line(S * [0.05, 0.07], [by + 0.04, by - 0.12 * a4], _shade(skin, 1.0 - 0.45 * a4), fr.thick(0.026))

    # --- nose: AU9 raises and flares the wings and wrinkles the bridge
    ny = idt.nose_y - 0.04 * a9 - 0.015 * a10
    nw = idt.nose_w * (1.0 + 0.22 * a9 + 0.08 * a10)
    if a9 > 0.15:
        yy = idt.eye_y + 0.07 + 0.055 * np.arange(3)[:, None]
        sk.line([-0.09, -0.03, 0.03, 0.09], yy + [0.01, -0.005, -0.005, 0.01], _shade(skin, 1.0 - 0.5 * a9),
                fr.thick(0.024), dz=0.1)
    # shaded nose side (the bridge)
    sk.line([0.06, 0.075, 0.09], [idt.eye_y + 0.08, ny - 0.15, ny - 0.05], _shade(skin, 0.86),
            fr.thick(0.025), dz=0.15)
    sk.line(S * nw * [0.55, 0.95, 1.0, 0.8, 0.45], ny + np.array([-0.09, -0.04, 0.02, 0.06, 0.07]),
            _shade(skin, 0.72), fr.thick(0.022), dz=0.12)
    sk.fill(S * (0.4 * nw) + 0.07 * _COS_T[::4], ny + 0.045 + 0.028 * _SIN_T[::4], _shade(skin, 0.4), dz=0.18)

    # --- mouth geometry (AU10, 12, 15, 20, 23, 25, 26)
    my = idt.mouth_y + 0.02 * (1.0 - a26)
    cxm = idt.mouth_w * (1.0 + 0.2 * a12 + 0.38 * a20 - 0.3 * a23 - 0.28 * a26 * (1.0 - a20) + 0.06 * a10)
    cym = my - 0.2 * a12 + 0.18 * a15 - 0.02 * a20 + 0.04 * a26 - 0.02 * a10
    o_up = 0.07 * a10 + 0.015 * a25 + 0.02 * a12 * a25
    o_lo = 0.42 * a26 + 0.07 * a25 + 0.04 * a20 * a26
    ui, li = my - o_up, my + o_lo
    thin = 1.0 - 0.8 * a23
    uo = ui - idt.lip_up * thin - 0.035 * a10
    lo = li + idt.lip_lo * thin
    gap = li - ui

    # --- nasolabial folds (AU12 smile lines, AU10/AU9 sneer lines)
    fold = max(0.9 * a12, a10, 0.7 * a9) + 0.5 * wr
    if fold > 0.2:
        x0, y0 = nw + 0.03, ny - 0.03
        x2, y2 = cxm + 0.07, cym + 0.04
        x1, y1 = max(nw, cxm) + 0.14, (y0 + y2) / 2
        tt = _TT
        bx = (1 - tt) ** 2 * x0 + 2 * (1 - tt) * tt * x1 + tt ** 2 * x2
        byy = (1 - tt) ** 2 * y0 + 2 * (1 - tt) * tt * y1 + tt ** 2 * y2
        sk.line(S * bx, byy, _shade(skin, 1.0 - 0.38 * min(1.0, fold)), fr.thick(0.022))

    xs = cxm * _U
    xs2 = cat([xs, xs[::-1]])
    prof_in = 1.0 - 0.55 * min(1.0, gap / 0.22)  # open mouths become oval
    up_in = cym + (ui - cym) * _arch(prof_in * (0.55 if a10 > 0.3 else 1.0))
    lo_in = cym + (li - cym) * _arch(prof_in)
    bow = 0.012 * np.exp(-(_U / 0.18) ** 2)  # cupid's bow dip
    up_out = cym + (uo - cym) * _ARCH_06 + bow * (ui - uo) / max(idt.lip_up, 1e-3)
    lo_out = cym + (lo - cym) * _ARCH_06
    lip = idt.lip_color
    if gap > 0.015:
        sk.fill(xs2, cat([up_in, lo_in[::-1]]), (45, 15, 20))
        if gap > 0.12:  # tongue
            sk.fill(0.6 * cxm * _COS_T[24:], li + 0.4 * gap * _SIN_T[24:] + 0.01, (150, 60, 70))
        th = min(0.06, 0.75 * gap)
        teeth_x = xs[2:-2]
        sk.fill(cat([teeth_x, teeth_x[::-1]]), cat([up_in[2:-2] - 0.005, up_in[2:-2][::-1] + th]),
                (236, 232, 222))
        sk.fill(xs2, cat([lo_in, lo_out[::-1]]), lip)
        sk.fill(xs2, cat([up_out, up_in[::-1]]), _shade(lip, 0.9))
    else:
        sk.fill(xs2, cat([up_out, lo_out[::-1]]), lip)
        sk.fill(xs2, cat([up_out, up_in[::-1]]), _shade(lip, 0.9))
        sk.line(xs, (up_in + lo_in) / 2, _shade(lip, 0.45), fr.thick(0.02))
    # dimples at the corners (AU12 pulls them in, AU15 drags them down)
    if a12 > 0.3 or a15 > 0.3:
        dx = S * (cxm + 0.03)
        sk.line(dx + S * [-0.01, 0.015], [cym - 0.035 * a12 + 0.02 * a15, cym + 0.035 * a12 + 0.05 * a15],
                _shade(skin, 0.7), fr.thick(0.018))

    # --- eyes (AU4, 5, 6, 7)
    up = idt.eye_h * (1.0 + 1.2 * a5 - 0.4 * a6 - 0.35 * a7 - 0.15 * a4 - 0.2 * a9)
    up = max(up, 0.012)
    lo_e = 0.75 * idt.eye_h * (1.0 + 0.25 * a5 - 1.0 * a6 - 0.65 * a7 - 0.5 * a9)
    lo_e = max(lo_e, -up + 0.012)
    ew = idt.eye_w
    iris_r = 0.105
    ey = idt.eye_y
    ex = S * idt.eye_sep                                       # (2, 1)
    xs_e = ex + ew * _U                                        # (2, N)
    y_up = ey - up * _ARCH_055 + 0.01 * S * _U * up            # peak slightly towards the nose
    y_lo = ey + lo_e * _arch(0.8 + 0.8 * a7) + 0 * S
    sk.fill(cat([xs_e, xs_e[:, ::-1]], 1), cat([y_up, y_lo[:, ::-1]], 1), (236, 232, 228))
    gx, gy = ex + gaze[0], ey + gaze[1]
    sk.fill(gx + iris_r * _COS_T, gy + iris_r * _SIN_T, idt.iris)
    sk.fill(gx + 0.5 * iris_r * _COS_T[::2], gy + 0.5 * iris_r * _SIN_T[::2], (12, 10, 10))
    sk.fill(gx + 0.03 + 0.025 * _COS_T[::4], gy - 0.035 + 0.025 * _SIN_T[::4], (250, 250, 250))
    # lids: skin masks above the upper lid and below the lower lid hide the overflowing iris
    top = np.minimum(ey - iris_r - 0.03, y_up.min(axis=1, keepdims=True) - 0.01)
    bot = np.maximum(ey + iris_r + 0.03, y_lo.max(axis=1, keepdims=True) + 0.01)
    ends = cat([xs_e[:, -1:] + 0.01, xs_e[:, :1] - 0.01], 1)
    mask_x = cat([xs_e, ends], 1)
    sk.fill(cat([mask_x, mask_x]), cat([cat([y_up, top, top], 1), cat([y_lo, bot, bot], 1)]), skin)
    # upper-lid crease (hidden when AU5 pulls the lid up), lashes, lower lid
    crease = 0.045 * (1.0 - 0.7 * a5) + 0.02
    sk.line(xs_e[:, 2:-2], y_up[:, 2:-2] - crease, _shade(skin, 0.8), fr.thick(0.016))
    sk.line(xs_e, y_up, _shade(idt.hair, 0.5), fr.thick(0.03))
    sk.line(xs_e[:, 3:-1], y_lo[:, 3:-1] + 0.005, _shade(skin, 0.72), fr.thick(0.014))
    if a6 > 0.25 or a7 > 0.4:  # lower-lid bulge line
        sk.line(xs_e[:, 3:-3], y_lo[:, 3:-3] + 0.05, _shade(skin, 1.0 - 0.3 * max(a6, a7)),
                fr.thick(0.016))
    if a6 + wr > 0.35:  # crow's feet
        oxs = ex + S * (ew + 0.03)
        dys = np.array([-0.04, 0.0, 0.045])
        # six short two-point lines, one per row (three per side)
        lx = np.stack([(oxs + 0 * dys).ravel(), (oxs + S * 0.07 + 0 * dys).ravel()], 1)
        ly = np.stack([np.tile(ey + 0.5 * dys, 2), np.tile(ey + 1.6 * dys, 2)], 1)
        sk.line(lx, ly, _shade(skin, 1.0 - 0.35 * min(1.0, a6 + wr)), fr.thick(0.014))

    # --- brows (AU1 inner up, AU2 outer up, AU4 inner down + together)
    bt = idt.brow_thick
    by = ey - idt.brow_gap - 0.02 * a5
    xi = S * (idt.eye_sep - 0.85 * ew) * (1.0 - 0.3 * a4 - 0.1 * a9)
    yi = by + 0.03 - 0.17 * a1 + 0.15 * a4 - 0.03 * a2 + 0.07 * a9
    xm = ex + S * 0.15 * ew
    ym = by - 0.04 - 0.06 * a1 - 0.13 * a2 + 0.05 * a4 + 0.03 * a9
    xo = ex + S * 1.2 * ew
    yo = by + 0.02 - 0.14 * a2 + 0.015 * a4 - 0.02 * a1
    bcx = xi * _BL0 + xm * _BL1 + xo * _BL2                   # (2, N)
    bcy = yi * _BL0 + ym * _BL1 + yo * _BL2                   # (N,)
    th = bt * (1.0 + 0.4 * a4 - _BROW_TAPER)
    sk.fill(cat([bcx, bcx[:, ::-1]], 1), cat([bcy - th / 2, (bcy + th / 2)[::-1]]), idt.brow_color)

    # --- hair in front: cap or fringe above the hairline
    if idt.hair_style in (1, 2, 3):
        # outer arc over the skull down to the temples, then back along the hairline
        cap_x = 1.06 * W * np.cos(_CAP_ANG)
        cap_y = 1.08 * H * np.sin(_CAP_ANG)
        side_y = float(cap_y[-1])
        hl = idt.hairline + (0.15 if idt.hair_style == 3 else 0.0)
        side_x = 0.99 * W * math.sqrt(max(0.0, 1.0 - (side_y / H) ** 2))
        bend = (_U2 ** 2) if idt.hair_style != 3 else (_U2 ** 4)
        hy = hl + (side_y - hl) * bend + _HAIR_WAVE
        sk.fill(cat([cap_x, side_x * _U[::-1]]), cat([cap_y, hy]), idt.hair, flat=True)


def draw_glasses(sk: Sketch, idt: Identity, color, *, sun: bool) -> None:
    """Glasses fixed to the face (they follow pose); sunglasses hide the eyes."""
    fr = sk.fr
    rw, rh = idt.eye_w + 0.08, idt.eye_h + 0.09
    th = fr.thick(0.03)
    ex = _S * idt.eye_sep
    rx = ex + rw * np.sign(_COS_T) * np.abs(_COS_T) ** 0.7
    ry = idt.eye_y + 0.01 + rh * np.sign(_SIN_T) * np.abs(_SIN_T) ** 0.7 + 0 * _S
    if sun:
        sk.fill(rx, ry, (25, 25, 30), dz=0.08)
    sk.line(rx, ry, color, th, closed=True, dz=0.08)
    sk.line(np.hstack([ex + _S * rw, _S * idt.face_w]), [[idt.eye_y - 0.02, idt.eye_y - 0.04]] * 2, color, th,
            dz=0.04)
    ey = idt.eye_y
    sk.line([-idt.eye_sep + rw, 0.0, idt.eye_sep - rw], [ey - 0.03, ey - 0.06, ey - 0.03], color, th, dz=0.12)
