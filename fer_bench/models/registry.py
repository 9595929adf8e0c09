"""The model registry: one table is the single source of truth for every network fer-bench can train.

Each entry is a frozen :class:`~fer_bench.models.spec.ModelSpec` registered with
:func:`~fer_bench.models.spec.register` by its family module; :func:`load_families` imports those modules
(once, on the first lookup), so nothing else has to import them for their side effect. Builders receive the input
size, the number of classes and the initialisation, and return a Keras model that takes **raw RGB pixels in
0..255** (float32) and outputs softmax probabilities. Input preprocessing (x/255, caffe BGR mean subtraction,
VGGFace v1/v2, torch, tf) is the first layer of the model (:class:`fer_bench.models.layers.Preprocess`), so a saved
``.keras`` file is self-describing and the train / validation / test / cross-domain paths can never disagree.

Models whose ImageNet/VGGFace backbone is frozen in phase 1 keep that backbone as a nested layer named
``"backbone"`` (see :func:`backbone_of`); the trainer freezes and unfreezes it.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ..errors import FerBenchError
from .spec import (  # noqa: F401  re-exported: the registry's public names
    _ALIASES,
    _REGISTRY,
    INITS,
    PREPROCESS_MODES,
    PREPROCESS_POLICIES,
    ModelMismatch,
    ModelSpec,
    _key,
    architecture_only,
    loading_skipped,
    register,
)


def load_families() -> None:
    """Import every model family module so its ``register`` calls (and Keras serializables) exist.

    Lazy, so importing :mod:`fer_bench.models` does not import Keras; Python runs each module once.
    Add new family modules here.
    """
    from . import (  # noqa: F401
        applications,  # keras.applications backbones + paper head
        classic,  # LeNet5, AlexNet, ZFNet, VGGNet, GoogLeNet, ResNet18
        custom,  # the BTFER authors' own CNNs
        fer_vgg,  # compact VGG-style net of the strong recipe (fer-bench, not the paper)
        repvgg,  # RepVGG (multi-branch, re-parameterisable)
        vggface,  # VGGFace / VGGFace2 backbones (SENet50)
    )


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch pattern, sorted."""
    load_families()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_spec(name: str) -> ModelSpec:
    """Look up a model by name or alias; unknown names raise a one-line FerBenchError."""
    load_families()
    k = _key(name)
    if k not in _ALIASES:
        close = [n for n in _REGISTRY if k[:4] in n][:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise FerBenchError(
            f"unknown model {name!r}{hint}; run `fer-bench models list` to see the {len(_REGISTRY)} models"
        )
    return _REGISTRY[_ALIASES[k]]


def build_model(name: str, input_size: int, num_classes: int = 7, init: str = "scratch",
                preprocess_policy: str = "native", *, load_pretrained: bool | None = None):
    """Build a registered model; input (input_size, input_size, 3) RGB 0..255, output softmax(num_classes).

    ``load_pretrained=False`` builds a pretrained init's architecture without reading its weights file (the
    default, None, loads them unless inside :func:`~fer_bench.models.spec.architecture_only`).
    """
    spec = get_spec(name)
    spec.check(init, input_size)
    if preprocess_policy not in PREPROCESS_POLICIES:
        raise FerBenchError(f"unknown preprocessing policy {preprocess_policy!r}; use native or paper")
    mode = spec.preprocess_mode(init, preprocess_policy)
    if init == "scratch":  # nothing to load; scratch-only builders take no load_pretrained
        return _float32_head(spec.builder(input_size, num_classes, init, mode))
    return _float32_head(spec.builder(input_size, num_classes, init, mode, load_pretrained=load_pretrained))


def _float32_head(model):
    """Under a mixed-precision policy (``--precision mixed|bf16``), the same model with its softmax layer
    ("predictions") computing in float32: a float16/bfloat16 softmax rounds probabilities near 0 and 1, which
    the loss and the reported probabilities then inherit (Keras' own advice for mixed precision). Weights
    (pretrained ones included) are copied over; under float32 the model is returned unchanged."""
    import keras

    if keras.mixed_precision.global_policy().compute_dtype == "float32":
        return model
    config = model.get_config()
    changed = False
    for layer in config.get("layers", ()):  # the model's own softmax layers (an ensemble has one per member)
        c = layer.get("config", {})
        if c.get("name") == "predictions" or c.get("activation") == "softmax" or layer.get("class_name") == "Softmax":
            c["dtype"] = "float32"
            changed = True
    if not changed:
        return model
    rebuilt = model.__class__.from_config(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def backbone_of(model) -> Any | None:
    """The nested pretrained backbone layer (named "backbone") or None for single-phase models."""
    try:
        return model.get_layer("backbone")
    except ValueError:
        return None
