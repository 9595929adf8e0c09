"""One interface for every model format: faces in, probabilities out.

A :class:`Runner` wraps a Keras file (or a run folder), a SavedModel folder, a ``.tflite`` file or an ``.onnx``
file together with its :class:`~fer_bench.deploy.meta.ModelMeta`. ``runner.predict(faces)`` takes uint8 face
crops at the model's input size (``N x S x S x 3`` RGB or ``N x S x S x 1`` grey), converts them the way the
model's training data was (grey when it was trained on grey faces), applies any outside-the-model scaling and
returns float32 softmax probabilities in ``runner.meta.labels`` order.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from .meta import ModelMeta, read_meta, scale

#: the one-line fix for a missing optional dependency of the ONNX path
DEPLOY_HINT = 'install the deploy extra: pip install -e ".[deploy]"'
FORMATS = ("keras", "savedmodel", "tflite", "onnx")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def need(module: str, what: str):
    """Import an optional dependency or raise the one-line error naming the deploy extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise FerBenchError(f"{what} needs the Python package {module.split('.')[0]}; {DEPLOY_HINT}") from None


def detect_format(path: Path) -> str:
    """keras | savedmodel | tflite | onnx, from the path (a run folder counts as keras)."""
    p = Path(path)
    if p.is_dir():
        if (p / "saved_model.pb").is_file():
            return "savedmodel"
        if (p / "model.keras").is_file():
            return "keras"
        raise FerBenchError(f"{p}: a folder that is neither a run folder (model.keras) nor a SavedModel "
                            "(saved_model.pb); pass a model file or folder")
    suffix = p.suffix.lower()
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if suffix == ".tflite":
        return "tflite"
    if suffix == ".onnx":
        return "onnx"
    raise FerBenchError(f"{p}: unknown model format; pass a .keras/.h5 file, a run folder, a SavedModel folder, "
                        "a .tflite or an .onnx file")


def keras_file(path: Path) -> Path:
    p = Path(path)
    return p / "model.keras" if p.is_dir() else p


def trained_color(model_path: Path) -> str:
    """``gray`` or ``rgb``: the colour of the faces a fer-bench model was trained on, from its run folder or the
    model card beside it. FER2013 (and anything decoded as grey) trains on grey faces in all three channels;
    a colour photo must then be converted to grey first, as the training data was."""
    from ..results.card import run_folder_of

    p = keras_file(model_path)
    configs: list[dict] = []
    run_dir = run_folder_of(p)
    if run_dir is not None:
        configs.append(json.loads((run_dir / "config.json").read_text()))
    card = p.with_name(p.stem + ".card.json")
    if card.is_file():
        try:
            data = json.loads(card.read_text())
        except ValueError:
            data = {}
        configs.append(data.get("config") or {})
        configs += [(m.get("record") or {}).get("config") or {} for m in data.get("members") or []]
    for cfg in configs:
        color = cfg.get("color")
        if color in ("gray", "rgb"):
            return color
        if "fer2013" in str(cfg.get("train", "")).lower():
            return "gray"
    return "rgb"


def keras_meta(model, model_path: Path, preset: str | None = None) -> ModelMeta:
    """Metadata of a loaded Keras model: a fer-bench model describes itself; a foreign one needs a preset."""
    from ..labels import CANONICAL_WITH_CONTEMPT
    from ..protocol.external import PRESETS, is_fer_bench_model

    shape = model.inputs[0].shape
    k = int(model.outputs[0].shape[-1])
    if is_fer_bench_model(model):  # a preset only describes foreign models
        modes = sorted({getattr(la, "mode", "") for la in _all_layers(model) if type(la).__name__ == "Preprocess"})
        flip = any(type(la).__name__ == "FlipAverage" for la in model.layers)
        return ModelMeta(labels=tuple(CANONICAL_WITH_CONTEMPT[:k]), input_size=int(shape[1]),
                         color=trained_color(model_path), channels=int(shape[-1]), scaling="none",
                         preprocessing_inside=f"fer-bench Preprocess layer ({', '.join(modes)})", flip_tta=flip)
    if not preset:
        raise FerBenchError(f"{model_path}: not a fer-bench model and no metadata beside it; pass --preset "
                            f"({', '.join(p for p in PRESETS if p != 'fer-bench')}) for a known foreign model")
    if preset not in PRESETS:
        raise FerBenchError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    spec = PRESETS[preset]
    if len(spec.labels) != k:
        raise FerBenchError(f"{model_path}: outputs {k} classes but preset {preset} has {len(spec.labels)}")
    return ModelMeta(labels=tuple(spec.labels), input_size=int(spec.input_size or shape[1]),
                     color=spec.color or "rgb", channels=int(shape[-1]), scaling=spec.scaling,
                     preprocessing_inside="none", extra={"preset": preset, "note": spec.note})


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        inner = getattr(layer, "inner", None)
        if inner is not None:
            yield from _all_layers(inner)
        elif hasattr(layer, "layers"):
            yield from _all_layers(layer)


class Runner:
    """A model of any format with its metadata; see the module docstring."""

    def __init__(self, fmt: str, path: Path, meta: ModelMeta, fn, *, model=None):
        self.format, self.path, self.meta, self._fn, self.model = fmt, Path(path), meta, fn, model

    @property
    def labels(self) -> tuple[str, ...]:
        return self.meta.labels

    def prepare(self, faces: np.ndarray) -> np.ndarray:
        """uint8 (or float 0..255) faces at the input size -> the float32 batch the model itself takes."""
        from ..imageio import to_gray

        x = np.asarray(faces)
        if x.ndim == 3:
            x = x[None]
        if self.meta.color == "gray" and x.shape[-1] == 3:
            x = np.stack([to_gray(np.asarray(f, np.uint8)) for f in x])
        channels = self.meta.channels
        if x.shape[-1] != channels:
            x = np.repeat(x, channels, axis=-1) if x.shape[-1] == 1 else \
                np.stack([to_gray(np.asarray(f, np.uint8)) for f in x])
        return scale(x.astype(np.float32), self.meta.scaling).astype(np.float32)

    def run(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The raw model on an already prepared batch (any length; split into *batch_size* pieces)."""
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        out = [np.asarray(self._fn(x[i:i + batch_size]), np.float32) for i in range(0, len(x), batch_size)]
        return np.concatenate(out, axis=0)

    def predict(self, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
        return self.run(self.prepare(faces), batch_size)


def _keras_runner(path: Path, preset: str | None, meta: ModelMeta | None) -> Runner:
    from ..models.loading import load_keras

    file = keras_file(path)
    model = load_keras(file, hint="pass a .keras file, a run folder, a SavedModel folder, a .tflite or .onnx file")
    meta = meta or keras_meta(model, file, preset)
    import tensorflow as tf

    shape = [None, *model.inputs[0].shape[1:]]
    graph = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)])

    def fn(x):
        return graph(tf.constant(x, tf.float32)).numpy()

    from ..tfenv import quiet_native_stderr

    with quiet_native_stderr():  # the first call traces and prints oneDNN notes (float16 on CPUs without AVX-512)
        fn(np.zeros((1, *shape[1:]), np.float32))

    return Runner("keras", file, meta, fn, model=model)


def _savedmodel_runner(path: Path, meta: ModelMeta) -> Runner:
    import tensorflow as tf

    try:
        obj = tf.saved_model.load(str(path))
    except Exception as exc:
        raise FerBenchError(f"{path}: cannot be loaded as a SavedModel ({type(exc).__name__}); re-export it") \
            from None
    def fn(x):  # obj stays referenced here: its variables die with it
        call = getattr(obj, "serve", None) or obj.signatures["serving_default"]
        out = call(tf.constant(x))
        if isinstance(out, dict):
            out = next(iter(out.values()))
        return out.numpy()

    return Runner("savedmodel", path, meta, fn, model=obj)


def tflite_interpreter(model_path: Path | None = None, model_content: bytes | None = None, threads: int | None = None):
    """A TFLite interpreter: LiteRT's (``ai_edge_litert``) when installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():  # TF's interpreter warns that it moves to LiteRT
        warnings.simplefilter("ignore")
        kwargs = {"num_threads": threads} if threads else {}
        if model_content is not None:
            return Interpreter(model_content=model_content, **kwargs)
        return Interpreter(model_path=str(model_path), **kwargs)


def _tflite_runner(path: Path, meta: ModelMeta, threads: int | None = None) -> Runner:
    try:
        it = tflite_interpreter(path, threads=threads)
    except (ValueError, RuntimeError) as exc:
        raise FerBenchError(f"{path}: cannot be loaded as a TFLite model ({type(exc).__name__}); re-export it") \
            from None
    inp, outp = it.get_input_details()[0], it.get_output_details()[0]
    state = {"n": None}

    def fn(x):
        n = len(x)
        if state["n"] != n:
            it.resize_tensor_input(inp["index"], [n, *inp["shape"][1:]])
            it.allocate_tensors()
            state["n"] = n
        if inp["dtype"] in (np.int8, np.uint8):  # a fully quantised input: quantise with its own scale
            s, z = inp["quantization"]
            x = np.clip(np.round(x / s + z), np.iinfo(inp["dtype"]).min, np.iinfo(inp["dtype"]).max)
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        y = it.get_tensor(outp["index"])
        if outp["dtype"] in (np.int8, np.uint8):
            s, z = outp["quantization"]
            y = (y.astype(np.float32) - z) * s
        return y.copy()

    return Runner("tflite", path, meta, fn)


def _onnx_runner(path: Path, meta: ModelMeta, threads: int | None = None) -> Runner:
    ort = need("onnxruntime", "running an ONNX model")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise FerBenchError(f"{path}: cannot be loaded as an ONNX model ({type(exc).__name__}); re-export it") \
            from None
    name = sess.get_inputs()[0].name

    def fn(x):
        return sess.run(None, {name: x})[0]

    return Runner("onnx", path, meta, fn)


def runner_for(path: Path, fmt: str, meta: ModelMeta, *, threads: int | None = None) -> Runner:
    """A runner for *path* in a known format with known metadata (used right after an export)."""
    if fmt == "keras":
        return _keras_runner(path, None, meta)
    if fmt == "savedmodel":
        return _savedmodel_runner(path, meta)
    if fmt == "tflite":
        return _tflite_runner(path, meta, threads)
    if fmt == "onnx":
        return _onnx_runner(path, meta, threads)
    raise FerBenchError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def open_runner(path: Path, *, preset: str | None = None, threads: int | None = None) -> Runner:
    """A runner for any supported model path; one-line errors for a missing or unusable model."""
    path = Path(path)
    if not path.exists():
        raise FerBenchError(f"{path}: no such model file or folder")
    fmt = detect_format(path)
    if fmt == "keras":
        return _keras_runner(path, preset, read_meta(keras_file(path)))
    meta = read_meta(path)
    if meta is None:
        raise FerBenchError(f"{path}: no fer-bench metadata ({path.name}.json or {path.name}/fer_bench.json) "
                            "beside it; export the model with fer-bench export")
    return runner_for(path, fmt, meta, threads=threads)
