"""Warm start: copy weights from a saved Keras model into a freshly built one, matched by layer name.

Why by name: a run's ``model.keras`` and its exported form (wrapped in :class:`FlipAverage`) hold the same
layers at different depths of nesting; matching by name finds them in both. Every weighted layer of the new
model must be found with identical shapes - a partial warm start would silently train a different network
from what the run config says, so it is an error, not a warning.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FerBenchError
from ..hashing import file_sha256
from .loading import load_keras


def _weighted_layers(layer, out: dict) -> dict:
    """Name -> layer for every layer holding weights, looking inside sub-models and wrapper layers."""
    import keras

    children = list(layer.layers) if isinstance(layer, keras.Model) else []
    inner = getattr(layer, "inner", None)
    if isinstance(inner, keras.layers.Layer):
        children.append(inner)
    if children:
        for child in children:
            _weighted_layers(child, out)
    elif layer.weights:
        out.setdefault(layer.name, layer)
    return out


def warm_start(model, path: str | Path) -> dict:
    """Load the weights of *path* into *model* (in place). Returns {file, sha256, layers} for the run record."""
    path = Path(path)
    source = load_keras(path, what="--init-from file", hint="pass a run's model.keras or an exported .keras")
    src_layers = _weighted_layers(source, {})
    dst_layers = _weighted_layers(model, {})
    for name, layer in dst_layers.items():
        src = src_layers.get(name)
        if src is None:
            raise FerBenchError(f"{path}: has no layer {name!r} of model {model.name}; --init-from needs a model "
                                "of the same architecture")
        got = [tuple(w.shape) for w in src.get_weights()]
        want = [tuple(w.shape) for w in layer.get_weights()]
        if got != want:
            raise FerBenchError(f"{path}: layer {name!r} has weight shapes {got}, the model needs {want}; "
                                "use a model of the same architecture, input size and class count")
        layer.set_weights(src.get_weights())
    return {"file": str(path), "sha256": file_sha256(path), "layers": len(dst_layers)}
