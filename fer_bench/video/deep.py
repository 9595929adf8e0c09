"""Deep-learned per-frame features: face crops embedded by a fer-bench image model's penultimate layer.

Keinert et al. (2025, JMIR; Methods, "Deep-Learned Features") embed each frame's face crop with a ResNet50
pretrained on VGGFace2 and FER+ (2048-D). fer-bench cannot ship those weights; any image model works here:

* the **embedding** is the input of the model's final classification ``Dense`` (the penultimate
  representation, e.g. 256-D for ``fer_vgg``). Ensembles (a merge layer such as ``Average`` over member
  models) give the concatenation of their members' embeddings, in member order; a member wrapped in
  fer-bench's ``FlipAverage`` (horizontal-flip test-time averaging) gives the mean of the embeddings of the crop
  and its mirror image, i.e. the representation its prediction is computed from;
* the **default model** is the shipped FER2013 model ``model_zoo/pretrained/fer2013_fer_vgg_ens2_48.keras``
  (2 x 256 = 512-D; works offline). ``model`` also takes a path to a ``.keras``/``.h5`` file, the name of a file
  in ``model_zoo/pretrained`` (stem), or a loaded Keras model.

Input preparation follows the model's training preprocessing: fer-bench models take raw RGB 0..255 at their
input size (normalisation is the model's first layer); the shipped model was trained on grey FER2013 faces, so
crops are turned grey (ITU-R 601 luma, as the image track's decode cache does) and repeated in the three
channels (``color="auto"`` does this for the shipped model and for 1-channel models; pass ``color="gray"`` for
other grey-trained models). Foreign models can be given ``scaling`` as in ``fer-bench evaluate``
(:data:`fer_bench.protocol.external.SCALINGS`).

Face crops reuse the image track's code (:mod:`fer_bench.btfer`): :func:`~fer_bench.btfer.detect.detect_image`
with a :class:`~fer_bench.btfer.detect.DetectorSpec` (MTCNN by default; padded retry for frames that are already
tight crops), :func:`~fer_bench.btfer.crop.choose_face` (confidence >= ``min_confidence``, largest face),
:func:`~fer_bench.btfer.crop.crop_box` (square box, ``margin`` px each side, clamped) and
:func:`~fer_bench.btfer.crop.crop_face` resized straight to the model's input size (INTER_AREA when shrinking,
cubic when enlarging: the ``area`` resize of the decode cache). ``detector="none"`` takes each frame as the face
(pre-cropped data such as CK+48) and only resizes it.

A frame without a usable face is a *failed frame*, treated like OpenFace's ``success == 0`` (paper, "Facial
Features Extraction"): leading and trailing failed frames are dropped, interior ones take the last valid
frame's embedding; a video with no face at all has no sequence (the caller skips it with the reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FerBenchError
from ..imageio import to_gray
from ..models.zoo import find_pretrained, missing_pretrained_hint
from .frames import Frame

#: bump when embedding or cropping semantics change: invalidates cached features
DEEP_VERSION = 1
DETECTORS = ("mtcnn", "haar", "none")
#: the shipped FER2013 model (default embedder)
DEFAULT_MODEL = "fer2013_fer_vgg_ens2_48"
#: models known to be trained on grey faces (``color="auto"`` greys their input)
GREY_TRAINED = frozenset({DEFAULT_MODEL})
#: layers that sit between the classification Dense and the model output without changing what it means
_PASS_THROUGH = ("Activation", "Softmax", "Dropout", "Identity", "Flatten", "Reshape")


def resolve_model_path(model: str | Path | None) -> Path:
    """A model file from None (the shipped model), a path, or the name of a file in ``model_zoo/pretrained``."""
    if model is None:
        model = DEFAULT_MODEL
    p = Path(model)
    if p.is_file():
        return p
    if len(p.parts) > 1:  # a path that is not there: no zoo name to look up
        raise FerBenchError(f"{model}: model file not found; pass an existing .keras/.h5 file or a "
                            "model_zoo/pretrained name")
    found = find_pretrained(p.name)
    if found is not None:
        return found
    raise FerBenchError(f"{model}: model file not found ({missing_pretrained_hint(p.name)}); pass a .keras/.h5 "
                        "file or a model_zoo/pretrained name")


# ------------------------------------------------------------------------------------------------ the embedder


def _producer(tensor) -> Any:
    hist = getattr(tensor, "_keras_history", None)
    return None if hist is None else hist[0]


def _inputs_of(layer) -> list:
    node = layer._inbound_nodes[0] if getattr(layer, "_inbound_nodes", None) else None
    if node is None:
        return []
    return list(node.input_tensors)


def _heads(model, flip: bool = False, depth: int = 0) -> list[tuple[Any, Any, bool]]:
    """``(functional model, classification Dense, flip)`` for each classifier in ``model`` (module docstring).

    Sub-models (ensemble members, ``FlipAverage.inner``) must take the outer model's input unchanged.
    """
    if depth > 8:
        raise FerBenchError("model nesting too deep to find its classification layer")
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) != 1:
        raise FerBenchError(f"model {model.name!r} has {len(outputs)} outputs; pass a single-output classifier")
    layer = _producer(outputs[0])
    seen = 0
    while layer is not None and type(layer).__name__ in _PASS_THROUGH and seen < 16:
        ins = _inputs_of(layer)
        layer = _producer(ins[0]) if len(ins) == 1 else None
        seen += 1
    if layer is None:
        raise FerBenchError(f"model {model.name!r}: cannot trace its output back to a layer")
    name = type(layer).__name__
    if name == "Dense":
        return [(model, layer, flip)]
    if name == "FlipAverage":
        return _heads(layer.inner, True, depth + 1)
    if hasattr(layer, "layers") and hasattr(layer, "outputs"):  # a nested model applied to the input
        return _heads(layer, flip, depth + 1)
    if name in ("Average", "Add", "Maximum", "Concatenate"):
        out = []
        for t in _inputs_of(layer):
            sub = _producer(t)
            if sub is None:
                raise FerBenchError(f"model {model.name!r}: cannot trace merge input {t}")
            if type(sub).__name__ == "FlipAverage":
                out += _heads(sub.inner, True, depth + 1)
            elif hasattr(sub, "layers") and hasattr(sub, "outputs"):
                out += _heads(sub, flip, depth + 1)
            elif type(sub).__name__ == "Dense":
                out.append((model, sub, flip))
            else:
                raise FerBenchError(
                    f"model {model.name!r}: ensemble member {sub.name!r} ({type(sub).__name__}) is not a model "
                    "or Dense; pass a model whose classifier ends in Dense"
                )
        return out
    raise FerBenchError(
        f"model {model.name!r} does not end in a Dense classification layer (found {name} {layer.name!r}); "
        "pass a classifier whose last layer is Dense"
    )


@dataclass
class Embedder:
    """Penultimate-layer embedding of face crops with one Keras image model (module docstring).

    Build with :func:`load_embedder`. :meth:`prepare` turns an RGB uint8 crop (already ``size x size``) into
    the model's input; :meth:`embed` maps a batch of prepared crops to ``(N, dim)`` float32.
    """

    model: Any
    name: str
    sha256: str | None
    size: int
    channels: int
    color: str  # "rgb" | "gray"
    scaling: str
    dim: int
    layers: list[str]
    batch_size: int = 64
    _fn: Callable | None = field(default=None, repr=False)

    @property
    def info(self) -> dict:
        return {
            "model": self.name, "model_sha256": self.sha256, "input_size": self.size, "color": self.color,
            "scaling": self.scaling, "dim": self.dim, "layers": self.layers, "version": DEEP_VERSION,
        }

    def prepare(self, crop: np.ndarray) -> np.ndarray:
        """size x size x 3 uint8 RGB -> size x size x channels uint8 as the model expects it."""
        if self.color == "gray":
            g = to_gray(crop)
            return g if self.channels == 1 else np.repeat(g, self.channels, axis=2)
        return crop if self.channels == 3 else to_gray(crop)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(N, size, size, channels) uint8 -> (N, dim) float32, in chunks of at most ``batch_size`` (one traced
        graph for any batch size; values can differ in the last float32 bits with the chunk size, as all
        batched TensorFlow inference does)."""
        n = len(batch)
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        out = np.empty((n, self.dim), np.float32)
        bs = self.batch_size
        for i in range(0, n, bs):
            chunk = batch[i : i + bs].astype(np.float32)
            out[i : i + len(chunk)] = np.asarray(self._fn(chunk))
        return out


def load_embedder(
    model: Any = None, *, color: str = "auto", scaling: str = "none", batch_size: int = 64
) -> Embedder:
    """An :class:`Embedder` for ``model`` (None: the shipped FER2013 model; a path; a zoo name; a Keras model)."""
    import keras
    import tensorflow as tf

    from ..hashing import file_sha256
    from ..protocol.external import SCALINGS, ForeignSpec, input_transform

    if color not in ("auto", "rgb", "gray"):
        raise FerBenchError(f"unknown color {color!r}; use auto, rgb or gray")
    if scaling not in SCALINGS:
        raise FerBenchError(f"unknown scaling {scaling!r}; use one of {', '.join(SCALINGS)}")
    if batch_size < 1:
        raise FerBenchError(f"batch_size {batch_size} must be >= 1")
    if isinstance(model, keras.Model):
        net, name, sha = model, model.name, None
    else:
        from ..models.loading import load_keras

        path = resolve_model_path(model)
        net, name, sha = load_keras(path), path.stem, file_sha256(path)
    shape = net.inputs[0].shape
    if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[1] != shape[2]:
        raise FerBenchError(f"model {name!r}: input shape {tuple(shape)} is not a fixed square image; "
                            "pass an image classifier with a fixed input size")
    size, channels = int(shape[1]), int(shape[3])
    if channels not in (1, 3):
        raise FerBenchError(f"model {name!r}: {channels} input channels; use a 1- or 3-channel image model")
    if color == "auto":
        color = "gray" if channels == 1 or name in GREY_TRAINED else "rgb"
    heads = _heads(net)
    feats = [keras.Model(sub.inputs[0], dense.input) for sub, dense, _ in heads]
    flips = [f for _, _, f in heads]
    dim = int(sum(int(f.outputs[0].shape[-1]) for f in feats))
    transform = None if scaling == "none" else input_transform(ForeignSpec(size, "rgb", scaling))

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, channels], tf.float32)])
    def fn(x):
        if transform is not None:
            x = transform(x)
        parts = []
        for f, flip in zip(feats, flips, strict=True):
            e = f(x, training=False)
            if flip:
                e = (e + f(tf.reverse(x, axis=[2]), training=False)) * 0.5
            parts.append(tf.reshape(e, [tf.shape(x)[0], -1]))
        return tf.concat(parts, axis=1)

    layers = [f"{sub.name}/{dense.name}.input" + (" (flip-averaged)" if fl else "") for sub, dense, fl in heads]
    return Embedder(net, name, sha, size, channels, color, scaling, dim, layers, batch_size, fn)


# ------------------------------------------------------------------------------------------------ face crops


@dataclass(frozen=True)
class CropConfig:
    """How a face crop is cut from a frame (the image track's rules; module docstring)."""

    detector: str = "mtcnn"  # mtcnn | haar | none
    margin: int = 20  # pixels added on every side of the squared detector box (build-btfer's --margin)
    min_confidence: float = 0.9  # build-btfer's --min-confidence
    min_face: int = 40  # build-btfer's --min-face (source pixels); also sets the detection downscale
    max_side: int = 640
    pad: float = 0.25

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise FerBenchError(f"unknown detector {self.detector!r}; use one of {', '.join(DETECTORS)}")
        if self.margin < 0 or self.min_face < 0 or not (0.0 <= self.min_confidence <= 1.0):
            raise FerBenchError("crop settings: margin and min_face must be >= 0, min_confidence in 0..1")

    def spec(self):
        from ..btfer.detect import DetectorSpec

        return DetectorSpec(self.detector, self.max_side, self.min_face, pad=self.pad)

    def as_dict(self) -> dict:
        if self.detector == "none":
            return {"detector": "none"}
        return {
            "detector": self.detector, "margin": self.margin, "min_confidence": self.min_confidence,
            "min_face": self.min_face, "detector_key": self.spec().key(),
        }


class FaceCropper:
    """Frame (RGB uint8) -> face crop at the model size (RGB uint8), or None for a failed frame."""

    def __init__(self, cfg: CropConfig, size: int) -> None:
        self.cfg, self.size = cfg, int(size)
        self._detect = None
        if cfg.detector != "none":
            from ..btfer.detect import make_detector

            self._spec = cfg.spec()
            self._detect = make_detector(cfg.detector)

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        from ..btfer.crop import choose_face, crop_box, crop_face
        from ..data.cache import resize_square

        if self._detect is None:
            return resize_square(np.ascontiguousarray(rgb), self.size, "area"), None
        from ..btfer.detect import detect_image

        faces, note = detect_image(rgb, self._spec, self._detect)
        if note:
            return None, note
        idx, reason = choose_face(faces, min_confidence=self.cfg.min_confidence, min_face=self.cfg.min_face)
        if idx is None:
            return None, reason
        h, w = rgb.shape[:2]
        cb = crop_box(faces[idx]["box"], w, h, self.cfg.margin)
        return crop_face(rgb, cb, self.size), None


# ------------------------------------------------------------------------------------------------ per video


@dataclass
class RawFeatures:
    """Per sampled frame, before the failed-frame rule: indices, times, embeddings (zeros where failed), ok."""

    frames: np.ndarray  # (N,) int64
    times: np.ndarray  # (N,) float64
    features: np.ndarray  # (N, D) float32
    ok: np.ndarray  # (N,) bool
    reasons: dict[str, int] = field(default_factory=dict)  # failed-frame reasons and counts
    seconds: float = 0.0


def embed_frames(frames: Iterable[Frame], embedder: Embedder, cropper: FaceCropper) -> RawFeatures:
    """Crop and embed every frame (batched); failed frames get ``ok=False`` and zero features."""
    t0 = time.perf_counter()
    idx, ts, ok, crops, pos = [], [], [], [], []
    reasons: dict[str, int] = {}
    for fr in frames:
        crop, why = cropper(fr.image)
        idx.append(int(fr.index))
        ts.append(float(fr.time))
        ok.append(crop is not None)
        if crop is None:
            reasons[why or "no_face"] = reasons.get(why or "no_face", 0) + 1
        else:
            crops.append(embedder.prepare(crop))
            pos.append(len(idx) - 1)
    feats = np.zeros((len(idx), embedder.dim), np.float32)
    if crops:
        feats[np.asarray(pos)] = embedder.embed(np.stack(crops))
    return RawFeatures(np.asarray(idx, np.int64), np.asarray(ts, np.float64), feats, np.asarray(ok, bool), reasons,
                       time.perf_counter() - t0)


def apply_failed_frame_rule(
    frames: np.ndarray, times: np.ndarray, features: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int] | None:
    """Drop leading/trailing failed frames, forward-fill interior ones (paper rule; module docstring).

    Returns ``(frames, times, features, n_trimmed, n_filled)`` or None when no frame is valid.
    """
    ok = np.asarray(ok, bool)
    if not ok.any():
        return None
    valid = np.flatnonzero(ok)
    a, b = int(valid[0]), int(valid[-1]) + 1
    seg_ok = ok[a:b]
    last = np.maximum.accumulate(np.where(seg_ok, np.arange(b - a), 0))
    feats = features[a:b][last].astype(np.float32, copy=False)
    return (frames[a:b].astype(np.int64), times[a:b].astype(np.float64), np.ascontiguousarray(feats),
            len(ok) - (b - a), int((~seg_ok).sum()))


def window_mask(times: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Frames whose time lies in ``[start, end]`` (all frames when ``window`` is None)."""
    t = np.asarray(times, np.float64)
    if window is None:
        return np.ones(len(t), bool)
    lo, hi = window
    eps = 1e-6
    return (t >= lo - eps) & (t <= hi + eps) & np.isfinite(t)
