"""The model registry: one table is the single source of truth for every network fer-bench can train.

Each entry is a frozen :class:`ModelSpec` registered with :func:`register`. Builders receive the input size,
the number of classes and the initialisation, and return a Keras model that takes **raw RGB pixels in 0..255**
(float32) and outputs softmax probabilities. Input preprocessing (x/255, caffe BGR mean subtraction, VGGFace
v1/v2, torch, tf) is the first layer of the model (:class:`fer_bench.models.layers.Preprocess`), so a saved
``.keras`` file is self-describing and the train / validation / test / cross-domain paths can never disagree.

Models whose ImageNet/VGGFace backbone is frozen in phase 1 keep that backbone as a nested layer named
``"backbone"`` (see :func:`backbone_of`); the trainer freezes and unfreezes it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import FerBenchError

INITS = ("scratch", "imagenet", "vggface")
#: Preprocessing modes understood by layers.Preprocess.
PREPROCESS_MODES = ("rescale", "tf", "torch", "caffe", "vggface1", "vggface2", "raw")
#: "native" = each backbone's own preprocessing for its init (fer-bench default);
#: "paper" = x/255 for every backbone, as the BTFER authors' notebooks did (their quirk, opt-in).
PREPROCESS_POLICIES = ("native", "paper")


@dataclass(frozen=True)
class ModelSpec:
    """Everything fer-bench knows about one architecture.

    builder(input_size, num_classes, init, preprocess_mode) -> keras.Model (input: HxWx3 float RGB 0..255).
    """

    name: str
    builder: Callable[..., Any]
    family: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    inits: tuple[str, ...] = ("scratch",)
    #: preprocessing mode per init, when the policy is "native"
    preprocessing: dict[str, str] = field(default_factory=lambda: {"scratch": "rescale"})
    min_size: int = 32
    resolutions: tuple[int, ...] = (48, 224)
    #: True when a pretrained backbone is trained in two phases (frozen, then all unfrozen)
    two_phase: bool = False
    #: learning rate of the paper's recipe for this model (Adam)
    learning_rate: float = 1e-4

    def preprocess_mode(self, init: str, policy: str = "native") -> str:
        if policy == "paper":
            return "rescale"
        return self.preprocessing.get(init, "rescale")


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec to the registry (names and aliases must be unique)."""
    for n in (spec.name, *spec.aliases):
        k = _key(n)
        if k in _ALIASES and _ALIASES[k] != spec.name:
            raise ValueError(f"model name {n!r} already registered for {_ALIASES[k]!r}")
        _ALIASES[k] = spec.name
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_loaded() -> None:
    # importing the package registers every family module
    from . import zoo  # noqa: F401


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch pattern, sorted."""
    _ensure_loaded()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_spec(name: str) -> ModelSpec:
    """Look up a model by name or alias; unknown names raise a one-line FerBenchError."""
    _ensure_loaded()
    k = _key(name)
    if k not in _ALIASES:
        close = [n for n in _REGISTRY if k[:4] in n][:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise FerBenchError(
            f"unknown model {name!r}{hint}; run `fer-bench models list` to see the {len(_REGISTRY)} models"
        )
    return _REGISTRY[_ALIASES[k]]


def check_build_args(spec: ModelSpec, input_size: int, init: str) -> None:
    if init not in INITS:
        raise FerBenchError(f"unknown init {init!r}; use one of {', '.join(INITS)}")
    if init not in spec.inits:
        raise FerBenchError(
            f"model {spec.name} cannot be initialised from {init!r}; allowed: {', '.join(spec.inits)}"
        )
    if input_size < spec.min_size:
        raise FerBenchError(
            f"model {spec.name} needs inputs of at least {spec.min_size}x{spec.min_size} pixels, got "
            f"{input_size}; use --res {max(spec.min_size, 224) if spec.min_size > 48 else 48} or another model"
        )


def build_model(name: str, input_size: int, num_classes: int = 7, init: str = "scratch",
                preprocess_policy: str = "native"):
    """Build a registered model; input (input_size, input_size, 3) RGB 0..255, output softmax(num_classes)."""
    spec = get_spec(name)
    check_build_args(spec, input_size, init)
    if preprocess_policy not in PREPROCESS_POLICIES:
        raise FerBenchError(f"unknown preprocessing policy {preprocess_policy!r}; use native or paper")
    return spec.builder(input_size, num_classes, init, spec.preprocess_mode(init, preprocess_policy))


def backbone_of(model) -> Any | None:
    """The nested pretrained backbone layer (named "backbone") or None for single-phase models."""
    try:
        return model.get_layer("backbone")
    except ValueError:
        return None
