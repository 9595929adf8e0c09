"""Export a Keras model to keras | savedmodel | tflite | onnx, optionally quantised, checked on real faces.

Steps: load the source (a ``.keras`` file or a run folder), re-parameterise RepVGG blocks (checked numerically),
bake in flip TTA if asked, make a float32 copy when the source computes in float16 (TFLite's builtin kernels and
ONNX want float32 graphs; the stored weights are upcast exactly), convert, write the file atomically, write the
metadata JSON beside it (:mod:`fer_bench.deploy.meta`) and compare the exported file with the source model on
real images: top-1 agreement and max / mean abs difference of the probabilities.

Converters: Keras' own ``model.export`` (SavedModel, and ONNX through tf2onnx), TensorFlow Lite's
``TFLiteConverter.from_saved_model`` (float32; ``float16`` weights; ``int8`` full-integer weights and
activations calibrated on a seeded sample of the model's training data, float32 input and output kept so the
interface is the same for every file).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from ..fsutil import atomic_path, atomic_write
from ..protocol.ensemble import float32_copy
from .meta import portable, write_meta
from .runners import FORMATS, Runner, detect_format, keras_file, keras_meta, need, runner_for

QUANTIZE = ("none", "float16", "int8")
#: what each format supports
FORMAT_QUANTIZE = {"keras": ("none",), "savedmodel": ("none",), "tflite": QUANTIZE, "onnx": ("none",)}
SUFFIX = {"keras": ".keras", "tflite": ".tflite", "onnx": ".onnx", "savedmodel": ""}
#: calibration images for int8 (seeded sample of the training split)
CALIBRATION_IMAGES = 1000


# ------------------------------------------------------------------------------------------- real images


def recorded_data(src: Path) -> str | None:
    """The training dataset recorded for a model: its run folder's config, or the model card beside it."""
    from ..results.card import run_folder_of

    p = keras_file(src)
    run_dir = run_folder_of(p)
    candidates: list = []
    if run_dir is not None:
        candidates.append(json.loads((run_dir / "config.json").read_text()).get("train"))
    card = p.with_name(p.stem + ".card.json")
    if card.is_file():
        with contextlib.suppress(ValueError):
            data = json.loads(card.read_text())
            candidates.append((data.get("config") or {}).get("train"))
            candidates += [((m.get("record") or {}).get("config") or {}).get("train")
                           for m in data.get("members") or []]
    for c in candidates:
        if c and (str(c).startswith("synth:") or Path(str(c)).exists()):
            return str(c)
    from ..data.adapters import open_dataset

    for c in candidates:  # a name registered in datasets.toml (cards hold names, not paths)
        if c:
            with contextlib.suppress(Exception):
                open_dataset(str(c))
                return str(c)
    return None


def sample_faces(data: str, *, size: int, color: str, split: str | None = None, n: int = 0, seed: int = 0,
                 prefer: tuple[str, ...] = ("test", "val", "all")) -> tuple[np.ndarray, np.ndarray, dict]:
    """Faces of a dataset split as uint8 ``N x S x S x C`` with canonical labels; ``n`` > 0: a seeded sample.

    Returns (faces, labels, info) where info names the data without absolute paths.
    """
    from ..data.adapters import open_dataset
    from ..data.cache import decode_split

    src = open_dataset(data)
    splits = src.splits()
    if split is None:
        split = next((s for s in prefer if s in splits), splits[0])
    if split not in splits:
        raise FerBenchError(f"dataset {src.name} has no split {split!r}; it has {', '.join(splits)}")
    cache = decode_split(src, split, size, color="gray" if color == "gray" else "rgb")
    idx = np.arange(len(cache))
    if n and n < len(idx):
        idx = np.sort(np.random.default_rng(seed).choice(idx, n, replace=False))
    info = {"dataset": portable(src.name), "split": split, "n": int(len(idx)), "of": int(len(cache)),
            "seed": seed if n and n < len(cache) else None, "manifest_hash": src.manifest_hash(split)}
    return np.asarray(cache.images[idx]), np.asarray(cache.labels[idx]).astype(int), info


def compare(source: Runner, exported: Runner, faces: np.ndarray, labels: np.ndarray | None = None,
            batch_size: int = 128) -> dict:
    """Top-1 agreement and probability differences of two runners on the same faces (+ accuracy of each)."""
    a = source.predict(faces, batch_size)
    b = exported.predict(faces, batch_size)
    out = {"n": int(len(faces)), "top1_agreement": float(np.mean(a.argmax(1) == b.argmax(1))) if len(a) else None,
           "max_abs_diff": float(np.max(np.abs(a - b))) if len(a) else None,
           "mean_abs_diff": float(np.mean(np.abs(a - b))) if len(a) else None}
    if labels is not None and len(a):
        acc_a, acc_b = accuracy(a, labels, source.labels), accuracy(b, labels, exported.labels)
        out.update(accuracy_source=acc_a, accuracy_exported=acc_b, accuracy_change=acc_b - acc_a)
    return out


def accuracy(probs: np.ndarray, labels: np.ndarray, order: tuple[str, ...]) -> float:
    """Accuracy of probabilities in *order* against canonical label indices (classes outside *order* dropped)."""
    from ..labels import CANONICAL_WITH_CONTEMPT

    pos = {name: i for i, name in enumerate(order)}
    y = np.array([pos.get(CANONICAL_WITH_CONTEMPT[int(i)], -1) for i in labels])
    keep = y >= 0
    return float(np.mean(probs[keep].argmax(1) == y[keep])) if keep.any() else float("nan")


# ------------------------------------------------------------------------------------------- conversion


def inference_model(model, *, flip_tta: bool, seed: int = 0):
    """RepVGG fused (checked), flip TTA wrapped, float32: the graph every converter gets. Returns (model, diff)."""
    import keras

    from ..models.layers import FlipAverage
    from ..models.repvgg import RepVGGBlock, reparameterize

    diff = 0.0
    fused = model
    if any(isinstance(la, RepVGGBlock) for la in model.layers):
        fused = reparameterize(model)
        x = np.random.default_rng(seed).uniform(0, 255, (8, *model.input_shape[1:])).astype("float32")
        diff = float(np.max(np.abs(model.predict(x, verbose=0) - fused.predict(x, verbose=0))))
        if diff >= 1e-4:
            raise FerBenchError(f"re-parameterised model differs from the original by {diff:.2e}; not exported")
    if flip_tta:
        inputs = keras.Input(model.input_shape[1:], name="image")
        fused = keras.Model(inputs, FlipAverage(fused, name="flip_tta")(inputs), name=f"{model.name}_flip_tta")
    final = float32_copy(fused)
    final(np.zeros((1, *model.input_shape[1:]), np.float32), training=False)  # Keras' ONNX export needs a call
    return final, diff


def _quiet():
    from ..tfenv import quiet_native_stderr

    return quiet_native_stderr()


def to_savedmodel(model, folder: Path) -> None:
    with _quiet():
        model.export(str(folder), format="tf_saved_model", verbose=False)


def to_tflite(model, out: Path, quantize: str, representative: np.ndarray | None) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="fer-bench-tflite-") as tmp:
        to_savedmodel(model, Path(tmp) / "sm")
        conv = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm"))
        if quantize in ("float16", "int8"):
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            conv.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            if representative is None or not len(representative):
                raise FerBenchError("int8 quantisation needs calibration images; pass --calibration DATASET")

            def rep():
                for i in range(len(representative)):
                    yield [representative[i:i + 1]]

            conv.representative_dataset = rep
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            with _quiet():
                blob = conv.convert()
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise FerBenchError(f"TensorFlow Lite could not convert the model ({type(exc).__name__}: {first})") \
                from None
    atomic_write(out, blob)


def to_onnx(model, out: Path) -> None:
    need("tf2onnx", "ONNX export")
    need("onnx", "ONNX export")
    with atomic_path(out, ".onnx") as tmp:
        try:
            with _quiet():
                model.export(str(tmp), format="onnx", verbose=False)
        except ImportError as exc:
            raise FerBenchError(f"ONNX export needs {exc.name or 'tf2onnx'}; "
                                'install the deploy extra: pip install -e ".[deploy]"') from None
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise FerBenchError(f"the ONNX converter failed ({type(exc).__name__}: {first})") from None


def _versions(fmt: str) -> dict:
    import importlib.metadata as md

    names = ["fer-bench", "tensorflow", "keras"] + (["tf2onnx", "onnx"] if fmt == "onnx" else [])
    out = {}
    for n in names:
        with contextlib.suppress(md.PackageNotFoundError):
            out[n] = md.version(n)
    return out


def source_record(src: Path) -> dict:
    """How exported metadata names its source: file name, sha256 and, for a run, the config hash."""
    from ..hashing import file_sha256
    from ..results.card import run_folder_of

    p = keras_file(src)
    rec = {"file": p.name, "sha256": file_sha256(p)}
    run_dir = run_folder_of(p)
    if run_dir is not None:
        rec["config_hash"] = json.loads((run_dir / "config.json").read_text()).get("config_hash")
    return rec


def default_out(src: Path, fmt: str, quantize: str) -> Path:
    p = keras_file(src)
    tag = "" if quantize == "none" else f"_{quantize}"
    return p.with_name(f"{p.stem}{tag}{SUFFIX[fmt]}" if fmt != "savedmodel" else f"{p.stem}_savedmodel")


def export(src: Path, out: Path, fmt: str, quantize: str = "none", *, flip_tta: bool = False,
           preset: str | None = None, calibration: str | None = None, calibration_n: int = CALIBRATION_IMAGES,
           check_data: str | None = None, check_split: str | None = None, check_n: int = 512, seed: int = 0,
           on_stage: Callable[[str], None] | None = None, calibration_option: str = "--calibration") -> dict:
    """Export *src* to *out* in *fmt*; returns a summary with the check against the source (see module doc).

    check_n: images of the check split (0 = all of it). check_data: DATASET for the check (default: the
    model's recorded training data, its test/val split).
    """
    from ..models.loading import load_keras

    stage = on_stage or (lambda _s: None)
    src, out = Path(src), Path(out)
    if fmt not in FORMATS:
        raise FerBenchError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZE:
        raise FerBenchError(f"--quantize {quantize}: use one of {', '.join(QUANTIZE)}")
    if quantize not in FORMAT_QUANTIZE[fmt]:
        raise FerBenchError(f"--quantize {quantize} is not available for --format {fmt}; use --format tflite "
                            "(float16, int8) or --quantize none")
    if not src.exists():
        raise FerBenchError(f"{src}: no such model file; pass a .keras file or a run folder")
    if detect_format(src) != "keras":
        raise FerBenchError(f"{src}: exports start from a Keras model (.keras/.h5 file or a run folder)")
    if fmt != "savedmodel" and out.suffix.lower() != SUFFIX[fmt]:
        raise FerBenchError(f"{out}: a {fmt} export must end in {SUFFIX[fmt]}")
    if out.resolve() == keras_file(src).resolve():
        raise FerBenchError(f"{out}: is the source model; write the export to a new path")
    if fmt == "onnx":
        need("tf2onnx", "ONNX export")
        need("onnxruntime", "checking an ONNX export")
    stage("loading the source model")
    source_file = keras_file(src)
    model = load_keras(source_file)
    meta = keras_meta(model, source_file, preset)
    source = Runner("keras", source_file, meta, lambda x: model(x, training=False), model=model)
    data = check_data or recorded_data(src)
    reparam_diff = None
    calib_info = None
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "keras":
        from ..protocol.export import export_model

        stage("writing the .keras file")
        summary = export_model(source_file, out, flip_tta=flip_tta)
        reparam_diff = summary["max_abs_diff_reparam"]
    else:
        stage("re-parameterising and building the float32 inference graph")
        final, reparam_diff = inference_model(model, flip_tta=flip_tta, seed=seed)
        if fmt == "savedmodel":
            stage("writing the SavedModel")
            if out.exists():
                if not (out.is_dir() and (out / "saved_model.pb").is_file()):
                    raise FerBenchError(f"{out}: exists and is not a SavedModel folder; choose a new path")
                shutil.rmtree(out)
            with atomic_path(out) as tmp:
                to_savedmodel(final, tmp)
        elif fmt == "tflite":
            rep = None
            if quantize == "int8":
                calib = calibration or recorded_data(src)
                if not calib:
                    raise FerBenchError(f"{src}: no training data recorded for int8 calibration; pass "
                                        f"{calibration_option} DATASET")
                stage(f"sampling {calibration_n} calibration images")
                faces, _y, calib_info = sample_faces(calib, size=meta.input_size, color=meta.color,
                                                     n=calibration_n, seed=seed, prefer=("train", "all"))
                rep = source.prepare(faces)
            stage(f"converting to TensorFlow Lite ({quantize})")
            to_tflite(final, out, quantize, rep)
        else:
            stage("converting to ONNX")
            to_onnx(final, out)
    out_meta = replace(meta, format=fmt, quantize=quantize, flip_tta=meta.flip_tta or flip_tta,
                      extra={**meta.extra, "source": source_record(src), "calibration": calib_info,
                             "crop": {"detector": "mtcnn", "square": True, "margin_px": 20,
                                      "resize": "INTER_AREA to shrink, bicubic to enlarge"},
                             "versions": _versions(fmt)})
    exported = runner_for(out, fmt, out_meta)
    stage("checking the export against the source model")
    if data:
        faces, labels, info = sample_faces(data, size=meta.input_size, color=meta.color, split=check_split,
                                           n=check_n, seed=seed)
        check = {**compare(source, exported, faces, labels), "data": info, "real_images": True}
    else:
        x = np.random.default_rng(seed).uniform(0, 255, (32, meta.input_size, meta.input_size, 3))
        check = {**compare(source, exported, x.astype(np.uint8)), "real_images": False,
                 "data": "32 random images (no dataset recorded: pass --check-data DATASET for real faces)"}
    out_meta.extra["check"] = check
    meta_file = write_meta(out, out_meta)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) if out.is_dir() else out.stat().st_size
    return {"source": source_record(src), "output": out.name, "format": fmt, "quantize": quantize,
            "flip_tta": out_meta.flip_tta, "bytes": int(size), "metadata": meta_file.name,
            "max_abs_diff_reparam": reparam_diff, "calibration": calib_info, "check": check}

