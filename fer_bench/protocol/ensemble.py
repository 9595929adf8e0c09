"""Average several trained fer-bench models into one Keras file, optionally storing the weights in float16.

Why: independent runs (other seeds, other architectures) make different mistakes, and averaging their softmax
outputs is the cheapest reliable gain on FER2013. One file keeps scoring a single call - `fer-bench evaluate
ENSEMBLE.keras --data ...` - for us and for anyone checking the model on held-out data. float16 storage halves
the file, so two 1.8M-parameter members fit a 10 MB budget; the conversion is checked against the float32
members on images, not assumed, and the check's figure is returned for the model card.

Members keep their own Preprocess layer, so members of different architectures and preprocessing can be mixed
as long as they take the same input size and predict the same classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from ..fsutil import atomic_path

#: largest allowed |ensemble - float32 reference| on a softmax output before an export is refused
MAX_ABS_DIFF = {"float32": 1e-5, "float16": 2e-2}


def _retyped_config(obj, dtype: str):
    """A copy of a Keras config with every layer's dtype policy set to *dtype* (input layers stay float32)."""
    if isinstance(obj, list):
        return [_retyped_config(v, dtype) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if obj.get("class_name") == "InputLayer":
        return obj
    out = {}
    for key, value in obj.items():
        if key == "dtype" and isinstance(value, str) and value.startswith("float"):
            out[key] = dtype
        elif key == "dtype" and isinstance(value, dict) and value.get("class_name") == "DTypePolicy":
            out[key] = {**value, "config": {**value.get("config", {}), "name": dtype}}
        else:
            out[key] = _retyped_config(value, dtype)
    return out


def float32_copy(model):
    """*model* itself when every layer computes in float32, else a float32 copy (weights upcast exactly)."""
    def policies(m):
        for layer in m.layers:
            yield getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "float32")
            inner = getattr(layer, "inner", None)
            if inner is not None:
                yield from policies(inner)
            elif hasattr(layer, "layers"):
                yield from policies(layer)

    if all(p == "float32" for p in policies(model)):
        return model
    copy = model.__class__.from_config(_retyped_config(model.get_config(), "float32"))
    copy.set_weights([w.astype("float32") if np.issubdtype(w.dtype, np.floating) else w
                      for w in model.get_weights()])
    return copy


def _unwrap(model):
    """The classifier inside an exported TTA file (``image -> FlipAverage(inner)`` or ``ViewAverage(inner)``),
    else the model."""
    wrapped = [layer for layer in model.layers if type(layer).__name__ in ("FlipAverage", "ViewAverage")]
    if len(wrapped) == 1 and len(model.layers) == 2:
        return wrapped[0].inner
    return model


def _copy(model, name: str, dtype: str):
    """A renamed copy of *model* whose layers compute and store weights in *dtype*."""
    import keras

    config = _retyped_config(model.get_config(), dtype)
    config["name"] = name
    copy = model.__class__.from_config(config)
    weights = model.get_weights()
    copy.set_weights([w.astype(dtype) if np.issubdtype(w.dtype, np.floating) else w for w in weights])
    if not isinstance(copy, keras.Model):
        raise FerBenchError(f"{model.name}: not a Keras model; cannot be an ensemble member")
    return copy


def build_ensemble(members: list[Path], out: Path, *, flip_tta: bool = False, dtype: str = "float32",
                   check_images: np.ndarray | None = None, seed: int = 0, views: str | None = None) -> dict:
    """Load *members*, average their softmax outputs (each with flip TTA if asked) and save one model to *out*.

    views: a named multi-view test-time set of :data:`fer_bench.models.layers.VIEW_SETS` for every member
    (``"flip"`` is the same as ``flip_tta``).

    check_images: float32 RGB 0..255 images to compare the ensemble with the float32 members on (default:
    16 random images). Returns a summary: member files and sha256, parameters, file size, the max abs
    difference of the check, and the dtype.
    """
    import keras

    from ..hashing import file_sha256
    from ..models.layers import FlipAverage, ViewAverage, view_names
    from .external import is_fer_bench_model, load_any_model

    if len(members) < 2:
        raise FerBenchError("an ensemble needs at least two member models")
    if views is not None:
        view_names(views)  # an unknown name fails here, before any loading
        if views == "flip":
            flip_tta, views = True, None
        elif flip_tta:
            raise FerBenchError(f"--tta and --views {views}: every view set already holds the flipped views; "
                                "pass one of them")
    if dtype not in MAX_ABS_DIFF:
        raise FerBenchError(f"--dtype {dtype}: use float32 or float16")
    out = Path(out)
    if out.suffix != ".keras":
        raise FerBenchError(f"{out}: the ensemble file must end in .keras")
    if out.resolve() in {Path(m).resolve() for m in members}:
        raise FerBenchError(f"{out}: is also a member; write the ensemble to a new file")
    loaded = []
    for path in members:
        model = load_any_model(Path(path))
        if not is_fer_bench_model(model):
            raise FerBenchError(f"{path}: not a fer-bench model (no Preprocess layer); only fer-bench runs or "
                                "exports can be ensembled")
        loaded.append(_unwrap(model))
    shapes = {tuple(m.input_shape[1:]) for m in loaded}
    classes = {int(m.output_shape[-1]) for m in loaded}
    if len(shapes) != 1 or len(classes) != 1:
        listing = ", ".join(f"{p}: in {tuple(m.input_shape[1:])} out {m.output_shape[-1]}"
                            for p, m in zip(members, loaded, strict=True))
        raise FerBenchError(f"members disagree on input shape or class count ({listing}); ensemble models "
                            "trained at the same resolution on the same label set")
    shape = shapes.pop()
    copies = [_copy(m, f"member{i}_{m.name}", dtype) for i, m in enumerate(loaded)]
    inputs = keras.Input(shape, name="image")
    def wrapped(i, c):
        if views:
            return ViewAverage(c, views, name=f"member{i}_views")(inputs)
        return FlipAverage(c, name=f"member{i}_flip_tta")(inputs) if flip_tta else c(inputs)

    outs = [wrapped(i, c) for i, c in enumerate(copies)]
    mean = keras.layers.Average(dtype="float32", name="ensemble_mean")(outs)
    ensemble = keras.Model(inputs, mean, name=f"ensemble_{len(copies)}")

    x = check_images if check_images is not None else \
        np.random.default_rng(seed).uniform(0, 255, size=(16, *shape)).astype("float32")

    def reference(batch):
        if views:
            return np.mean([keras.Sequential([ViewAverage(m, views)]).predict(batch, verbose=0) for m in loaded],
                           axis=0)
        probs = [m.predict(batch, verbose=0) for m in loaded]
        if flip_tta:
            flipped = batch[:, :, ::-1]
            probs = [(p + m.predict(flipped, verbose=0)) / 2 for p, m in zip(probs, loaded, strict=True)]
        return np.mean(probs, axis=0)

    diff = float(np.max(np.abs(ensemble.predict(x, verbose=0) - reference(x))))
    if diff > MAX_ABS_DIFF[dtype]:
        half = [str(p) for p, m in zip(members, loaded, strict=True)
                if any(getattr(layer.dtype_policy, "compute_dtype", "") == "float16" for layer in m.layers)]
        hint = f"; {', '.join(half)} computes in float16: pass --dtype float16" if half and dtype != "float16" \
            else ""
        raise FerBenchError(f"the {dtype} ensemble differs from its members by {diff:.2e} "
                            f"(limit {MAX_ABS_DIFF[dtype]:.0e}); not written{hint}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, ".keras") as tmp:  # Keras insists on the .keras suffix
        ensemble.save(tmp)
    return {"output": str(out), "members": [{"file": str(p), "sha256": file_sha256(Path(p)),
                                             "architecture": m.name, "params": int(m.count_params())}
                                            for p, m in zip(members, loaded, strict=True)],
            "flip_tta": flip_tta or bool(views), "views": views or ("flip" if flip_tta else None),
            "dtype": dtype, "params": int(ensemble.count_params()),
            "max_abs_diff_vs_float32_members": diff, "check_images": int(len(x)), "bytes": out.stat().st_size}
