"""Keras-2 legacy h5 weight files: reading, writing, assigning by layer name, and checking a file's layout.

VGGFace h5 files are in the Keras-2 legacy weight layout (root attribute ``layer_names``; one group per layer
with attribute ``weight_names``). Their layer names contain ``/`` (``conv1/7x7_s2/bn``), which Keras 3 forbids
in layer names, so fer-bench names those layers with ``__`` instead of ``/`` (:func:`keras_layer_name`) and
:func:`load_h5_by_name` maps the names while it assigns weights layer by layer. keras.applications files are
loaded topologically by Keras itself; :func:`check_topological_layout` checks one against an architecture.

Nothing here knows which file belongs to which model (that is :mod:`fer_bench.models.weights_table`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import FerBenchError


def keras_layer_name(h5_name: str) -> str:
    """Keras 3 forbids ``/`` in layer names: ``conv1/7x7_s2/bn`` -> ``conv1__7x7_s2__bn``."""
    return h5_name.replace("/", "__")


def h5_layer_name(keras_name: str) -> str:
    """Inverse of :func:`keras_layer_name`."""
    return keras_name.replace("__", "/")


def _decode(v: Any) -> str:
    return v.decode("utf8") if isinstance(v, bytes | np.bytes_) else str(v)


def read_legacy_h5(path: str | os.PathLike) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Read a Keras-2 legacy h5 weights file: {layer_name: [(weight_name, array), ...]} in file order.

    Layers without weights are left out. Accepts full-model files (weights under ``model_weights``).
    """
    import h5py

    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    try:
        with h5py.File(path, "r") as f:
            g = f
            if "layer_names" not in g.attrs and "model_weights" in g:
                g = g["model_weights"]
            if "layer_names" not in g.attrs:
                raise FerBenchError(
                    f"{path} is not a Keras legacy h5 weights file (no 'layer_names' attribute); "
                    "expected the keras-vggface / keras.applications h5 layout"
                )
            for lname in (_decode(n) for n in g.attrs["layer_names"]):
                lg = g[lname]
                wnames = [_decode(n) for n in lg.attrs.get("weight_names", [])]
                if wnames:
                    out[lname] = [(wn, np.asarray(lg[wn])) for wn in wnames]
    except OSError as exc:
        raise FerBenchError(f"cannot read {path} as HDF5: {exc}") from exc
    return out


def write_legacy_h5(path: str | os.PathLike, layers: dict[str, list[tuple[str, np.ndarray]]]) -> None:
    """Write {layer: [(weight_name, array)]} in the Keras-2 legacy layout (used by tests and exports)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode("utf8") for n in layers], dtype="S")
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for lname, ws in layers.items():
            g = f.require_group(lname)
            g.attrs["weight_names"] = np.array([wn.encode("utf8") for wn, _ in ws], dtype="S")
            for wn, arr in ws:
                g.create_dataset(wn, data=np.asarray(arr))


_SUFFIXES = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "depthwise_kernel",
             "pointwise_kernel")


def _suffix(weight_name: str) -> str:
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def _ordered_for(layer, ws: list[tuple[str, np.ndarray]]) -> list[np.ndarray]:
    """Arrays of one h5 layer group in the order of ``layer.weights`` (by weight-name suffix when possible)."""
    targets = [w.name for w in layer.weights]
    by_suffix = {_suffix(wn): a for wn, a in ws}
    if len(by_suffix) == len(ws) and all(t in by_suffix for t in targets) and all(
            s in _SUFFIXES for s in by_suffix):
        return [by_suffix[t] for t in targets]
    return [a for _, a in ws]


def walk_layers(model) -> Iterator[Any]:
    """Every layer of ``model``, descending into nested models (the containers themselves are skipped)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from walk_layers(layer)
        else:
            yield layer


def load_h5_by_name(model, path: str | os.PathLike, skip_mismatch: bool = False,
                    require_all: bool = True) -> dict[str, list[str]]:
    """Assign weights from a Keras-2 legacy h5 file to the layers of ``model`` (nested models included)
    whose names match, mapping ``/`` to ``__`` (see :func:`keras_layer_name`).

    The Keras-3 equivalent of Keras 2's ``model.load_weights(path, by_name=True)``. With ``require_all`` every
    layer of ``model`` that has weights must be found in the file. Shape mismatches raise FerBenchError unless
    ``skip_mismatch``. Returns {"loaded": [...], "missing": [...], "mismatched": [...], "unused": [...]}.
    """
    stored = read_legacy_h5(path)
    by_keras = {keras_layer_name(n): ws for n, ws in stored.items()}
    report: dict[str, list[str]] = {"loaded": [], "missing": [], "mismatched": [], "unused": []}
    seen: set[str] = set()
    for layer in walk_layers(model):
        if not layer.weights:
            continue
        ws = by_keras.get(layer.name)
        if ws is None:
            report["missing"].append(layer.name)
            continue
        seen.add(layer.name)
        arrays = _ordered_for(layer, ws)
        shapes_ok = len(arrays) == len(layer.weights) and all(
            tuple(a.shape) == tuple(w.shape) for a, w in zip(arrays, layer.weights, strict=False))
        if not shapes_ok:
            report["mismatched"].append(layer.name)
            if not skip_mismatch:
                want = [tuple(w.shape) for w in layer.weights]
                got = [tuple(a.shape) for a in arrays]
                raise FerBenchError(
                    f"weights file {path}: layer {h5_layer_name(layer.name)!r} has shapes {got}, the model "
                    f"expects {want}; the file does not match this architecture"
                )
            continue
        layer.set_weights(arrays)
        report["loaded"].append(layer.name)
    report["unused"] = [h5_layer_name(n) for n in by_keras if n not in seen]
    if require_all and report["missing"]:
        names = ", ".join(h5_layer_name(n) for n in report["missing"][:5])
        more = f" and {len(report['missing']) - 5} more" if len(report["missing"]) > 5 else ""
        raise FerBenchError(
            f"weights file {path} lacks layers {names}{more}; is it the right file for this architecture?"
        )
    return report


def check_topological_layout(model, path: str | os.PathLike) -> None:
    """Check a keras.applications weight file against ``model``: same number of weighted layers, same shapes
    in order (Keras loads these files topologically, not by name)."""
    stored = list(read_legacy_h5(path).items())
    mine = [lay for lay in walk_layers(model) if lay.weights]
    if len(stored) != len(mine):
        raise FerBenchError(
            f"weights file {path} has {len(stored)} layers with weights, the architecture has {len(mine)}; "
            "is it the right (no-top) file?"
        )
    for (sname, ws), layer in zip(stored, mine, strict=True):
        got = [tuple(a.shape) for _, a in ws]
        want = [tuple(w.shape) for w in layer.weights]
        if sorted(got) != sorted(want):
            raise FerBenchError(
                f"weights file {path}: layer {sname!r} has shapes {got}, the architecture expects {want} "
                f"(layer {layer.name!r})"
            )
