"""Face detection for build-btfer: MTCNN (default, as in the BTFER paper) or OpenCV's Haar cascade (light).

Speed: detection never runs on the full photo. The image is downscaled so that

* its longest side is at most ``max_side`` (default 640), and
* the smallest face we keep (``--min-face``, source pixels) is ~20 px at detection scale, MTCNN's default
  smallest detectable face (``scale <= DETECT_MIN_FACE / (0.8 * min_face)``; 0.8 leaves slack).

Boxes and keypoints are mapped back to full resolution for cropping. The second rule also works around an
mtcnn 1.0 quirk: passing ``min_face_size`` > ~20 makes its image pyramid shrink below PNet's 12-px input
and it then finds no face at all, so we always call it with its default and rescale the image instead.

Determinism: each image is detected on its own (no batching). mtcnn pads a batch to its largest image and
TensorFlow's kernels give results that differ in the 5th decimal with the batch shape, which would make the
output depend on how images were grouped; one image per call is bit-identical across runs, thread counts and
worker processes (checked), and is fast enough: the three MTCNN networks are compiled with ``tf.function``
(see :func:`_mtcnn_detector`), ~25 ms CPU for a 350-px photo.
Detections are rounded (box and keypoints to 0.01 px, confidence to 1e-6) before anything uses them, so a
cached detection and a fresh one are the same numbers.

Pre-cropped faces (``DetectorSpec.pad``): MTCNN often finds nothing when the face fills the whole frame
(a face photo already cropped to the face): its networks need some context around the face. With
``pad > 0`` a border of ``pad x`` the detection image's longer side is added on every side (``pad_fill``:
``replicate`` the edge pixels, or ``black``) and the detector runs on the padded image; ``pad_policy``
``retry`` (default) does this only when the plain image gave no face at all, so photos where the plain
detection already works keep exactly the plain result and cost; ``always`` detects on the padded image only.
Boxes found in the padded image are mapped back to image coordinates and clipped to the image like any other
box (keypoints are mapped, not clipped); a padded detection whose box centre lies outside the image (a
"face" in the fill) is dropped. The padding settings are part of :meth:`DetectorSpec.key`, so detections
cached with other settings are never reused; with ``pad=0`` the key is the one from before padding existed
(same behaviour, same numbers). Measured on FER2013 faces upscaled to 350 px:
``results/benchmarks/btfer_padding.md`` (``benchmarks/btfer_padding.py``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

# TensorFlow's C++ start-up banner goes to fd 2 whatever TF_CPP_MIN_LOG_LEVEL says; one helper hides it
# (also used as detect.quiet_native_stderr by build.py's workers)
from ..tfenv import quiet_native_stderr

DETECTORS = ("mtcnn", "haar")
#: bump when detection semantics change: invalidates cached detections
DETECT_VERSION = 3
#: the face size (pixels at detection scale) the detector can reliably find
DETECT_MIN_FACE = 20
#: images whose shorter side is below this at detection scale are not run through the detector
DETECT_MIN_IMAGE = 24
#: when to detect on the padded image: only when the plain image gave no face, or always instead of the plain one
PAD_POLICIES = ("retry", "always")
#: how the border is filled: copies of the edge pixels, or black
PAD_FILLS = ("replicate", "black")

Face = dict[str, Any]
#: a detector: HxWx3 uint8 RGB image (detection scale) -> faces in that image's pixels
DetectFn = Callable[[np.ndarray], list[Face]]


@dataclass(frozen=True)
class DetectorSpec:
    """What determines a detection result (besides the image): part of the cache key."""

    name: str = "mtcnn"
    max_side: int = 640
    min_face: int = 40
    #: border added on every side, as a fraction of the detection image's longer side (0: no padding)
    pad: float = 0.25
    #: ``retry``: pad only when the plain image gave no face; ``always``: detect on the padded image only
    pad_policy: str = "retry"
    #: ``replicate`` (edge pixels) or ``black``
    pad_fill: str = "replicate"

    def __post_init__(self) -> None:
        if not (isinstance(self.pad, (int, float)) and math.isfinite(self.pad) and 0.0 <= self.pad <= 2.0):
            raise ValueError(f"pad {self.pad!r} must be a fraction in 0..2")
        if self.pad_policy not in PAD_POLICIES:
            raise ValueError(f"pad_policy {self.pad_policy!r}: use one of {PAD_POLICIES}")
        if self.pad_fill not in PAD_FILLS:
            raise ValueError(f"pad_fill {self.pad_fill!r}: use one of {PAD_FILLS}")

    def scale_for(self, height: int, width: int) -> float:
        """Downscale factor (<= 1) applied to a ``height x width`` image before detection."""
        s = 1.0
        longest = max(height, width)
        if longest > self.max_side:
            s = self.max_side / longest
        if self.min_face > 0:
            s = min(s, DETECT_MIN_FACE / (0.8 * self.min_face))
        return min(1.0, s)

    def key(self) -> str:
        """Stable short id of these parameters (cache key component)."""
        d = asdict(self)
        if not self.pad:  # no padding = the behaviour before padding existed: keep its key (and its cache)
            for k in ("pad", "pad_policy", "pad_fill"):
                d.pop(k)
        else:
            d["pad"] = round(float(self.pad), 6)  # 0.25 and 0.250 are the same setting
        blob = json.dumps({**d, "v": DETECT_VERSION}, sort_keys=True)
        import hashlib

        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- detectors


def _mtcnn_detector() -> DetectFn:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        import tensorflow as tf
        from mtcnn import MTCNN

        model = MTCNN()
        # mtcnn runs its three Keras networks eagerly, where Python dispatch dominates (~100 layer calls per
        # photo). Compiling each network once with tf.function (shape-generic signature: one trace per
        # network) cuts CPU per photo ~4x with identical detections (checked against eager, 1 vs 2 threads).
        for stage in getattr(model, "stages", []):
            net = getattr(stage, "_model", None)
            if net is None:
                continue
            graph = tf.function(
                lambda x, net=net: net(x),
                input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                reduce_retracing=True,
            )
            stage._model = lambda x, graph=graph: graph(tf.cast(x, tf.float32))
        # warm-up: traces the graphs and runs the first ops (more C++ log lines) while fd 2 is quiet
        with contextlib.suppress(Exception):  # a failed warm-up only costs speed on the first photo
            model.detect_faces(np.zeros((64, 64, 3), np.uint8))

    def detect(rgb: np.ndarray) -> list[Face]:
        # mtcnn may normalise its input in place: give it a private copy
        res = model.detect_faces(np.array(rgb, dtype=np.uint8, copy=True))
        faces = []
        for f in res or []:
            faces.append(
                {
                    "box": [float(v) for v in f["box"]],
                    "confidence": float(f["confidence"]),
                    "keypoints": {
                        k: [float(v[0]), float(v[1])] for k, v in (f.get("keypoints") or {}).items()
                    },
                }
            )
        return faces

    return detect


def _haar_detector() -> DetectFn:
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():  # pragma: no cover - broken OpenCV install
        from ..errors import FerBenchError

        raise FerBenchError(f"cannot load the Haar cascade {path}; reinstall opencv-python-headless")

    def detect(rgb: np.ndarray) -> list[Face]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        gray = cv2.equalizeHist(gray)
        boxes = cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(DETECT_MIN_FACE, DETECT_MIN_FACE)
        )
        # Haar gives no calibrated score: every detection carries confidence 1.0 (so --min-confidence has no
        # effect with --detector haar) and no keypoints.
        return [
            {"box": [float(x), float(y), float(w), float(h)], "confidence": 1.0, "keypoints": {}}
            for (x, y, w, h) in (boxes if len(boxes) else [])
        ]

    return detect


def make_detector(name: str) -> DetectFn:
    """A detector function by name (``mtcnn`` or ``haar``). MTCNN loads its bundled weights (offline)."""
    if name == "mtcnn":
        return _mtcnn_detector()
    if name == "haar":
        return _haar_detector()
    raise ValueError(f"unknown detector {name!r}; use one of {DETECTORS}")


# ---------------------------------------------------------------------------------------------- one image


def detection_image(rgb: np.ndarray, spec: DetectorSpec) -> tuple[np.ndarray, float]:
    """The downscaled copy of ``rgb`` the detector sees, and the scale used."""
    h, w = rgb.shape[:2]
    s = spec.scale_for(h, w)
    if s >= 1.0:
        return np.array(rgb, copy=True), 1.0
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, s


def pad_image(small: np.ndarray, spec: DetectorSpec) -> tuple[np.ndarray, int]:
    """``small`` with a border of ``round(spec.pad * longer side)`` pixels on every side, and that border."""
    b = max(1, round(float(spec.pad) * max(small.shape[:2])))
    if spec.pad_fill == "replicate":
        out = cv2.copyMakeBorder(small, b, b, b, b, cv2.BORDER_REPLICATE)
    else:
        out = cv2.copyMakeBorder(small, b, b, b, b, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return np.ascontiguousarray(out), b


def _map_face(face: Face, sx: float, sy: float, w: int, h: int, off: float = 0.0) -> Face:
    """A face from the detection image (padded by ``off`` px on every side) in full-resolution pixels: box
    clipped to the ``w x h`` image, keypoints mapped only."""
    x, y, bw, bh = face["box"]
    x, y = x - off, y - off
    x0, y0 = max(0.0, x / sx), max(0.0, y / sy)
    x1, y1 = min(float(w), (x + bw) / sx), min(float(h), (y + bh) / sy)
    kp = {
        k: [round((float(v[0]) - off) / sx, 2), round((float(v[1]) - off) / sy, 2)]
        for k, v in sorted((face.get("keypoints") or {}).items())
    }
    conf = float(face.get("confidence", 0.0))
    if not math.isfinite(conf):
        conf = 0.0
    return {
        "box": [round(x0, 2), round(y0, 2), round(max(0.0, x1 - x0), 2), round(max(0.0, y1 - y0), 2)],
        "confidence": round(conf, 6),
        "keypoints": kp,
    }


def _centre_inside(face: Face, off: float, sw: int, sh: int) -> bool:
    """Whether a padded detection's (unclipped) box centre lies in the image, not in the added border."""
    x, y, bw, bh = (float(v) for v in face["box"])
    cx, cy = x + bw / 2.0 - off, y + bh / 2.0 - off
    return 0.0 <= cx < sw and 0.0 <= cy < sh


def _failed(exc: Exception) -> str:
    return f"detector failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def detect_image(rgb: np.ndarray, spec: DetectorSpec, detector: DetectFn) -> tuple[list[Face], str | None]:
    """Detect faces in a full-resolution image; boxes/keypoints in full-resolution pixels, rounded.

    With ``spec.pad > 0`` the detector also (``retry``: only when the plain image gave no face) or instead
    (``always``) runs on a padded copy; see the module docstring.

    Returns ``(faces, note)``; ``note`` explains an image the detector could not run on (too small, or the
    detector raised), in which case ``faces`` is empty.
    """
    h, w = rgb.shape[:2]
    small, _s = detection_image(rgb, spec)
    if min(small.shape[:2]) < DETECT_MIN_IMAGE:
        return [], f"image too small for detection ({w}x{h})"
    sh, sw = small.shape[:2]
    sx, sy = sw / w, sh / h
    faces: list[Face] = []
    if not (spec.pad and spec.pad_policy == "always"):
        try:
            raw = detector(small)
        except Exception as exc:
            return [], _failed(exc)
        faces = [_map_face(f, sx, sy, w, h) for f in raw]
        faces = [f for f in faces if f["box"][2] > 0 and f["box"][3] > 0]
    if spec.pad and not faces:
        padded, off = pad_image(small, spec)
        try:
            raw = detector(padded)
        except Exception as exc:
            return [], _failed(exc)
        faces = [_map_face(f, sx, sy, w, h, off) for f in raw if _centre_inside(f, off, sw, sh)]
        faces = [f for f in faces if f["box"][2] > 0 and f["box"][3] > 0]
    faces.sort(key=lambda f: (-f["confidence"], f["box"][1], f["box"][0]))
    return faces, None
