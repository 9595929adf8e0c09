"""What a model is: :class:`ModelSpec`, the table of registered specs, and the model/init/size rule.

This module imports no model family, so every family module can import it to register itself without an
import cycle; :mod:`fer_bench.models.registry` imports the families and answers the lookups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..errors import FerBenchError

INITS = ("scratch", "imagenet", "vggface")
#: Preprocessing modes understood by layers.Preprocess.
PREPROCESS_MODES = ("rescale", "tf", "torch", "caffe", "vggface1", "vggface2", "raw")
#: "native" = each backbone's own preprocessing for its init (fer-bench default);
#: "paper" = x/255 for every backbone, as the BTFER authors' notebooks did (their quirk, opt-in).
PREPROCESS_POLICIES = ("native", "paper")


class ModelMismatch(FerBenchError):
    """A model cannot be built with this init or at this input size (raised by :meth:`ModelSpec.check`).

    ``field`` says which setting is wrong: ``"weights"`` (the init) or ``"res"`` (the input size), so a caller
    that skips such combinations (a sweep) can say why without parsing the message.
    """

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ModelSpec:
    """Everything fer-bench knows about one architecture.

    builder(input_size, num_classes, init, preprocess_mode) -> keras.Model (input: HxWx3 float RGB 0..255).
    Builders of models with a pretrained init (``inits`` other than ``("scratch",)``) also take a keyword
    ``load_pretrained``: False builds the architecture without reading any weights file, None (the default) loads
    unless inside :func:`architecture_only` (see :func:`should_load`).
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

    def check(self, weights: str, res: int) -> None:
        """The one rule for which init (``--weights``) and input size (``--res``) this model accepts.

        Raises :class:`ModelMismatch` (a one-line FerBenchError naming the allowed values) otherwise.
        """
        if weights not in INITS:
            raise ModelMismatch(f"unknown init {weights!r}; use one of {', '.join(INITS)}", "weights")
        if weights not in self.inits:
            raise ModelMismatch(
                f"model {self.name} cannot be initialised from {weights!r}; allowed: {', '.join(self.inits)}",
                "weights",
            )
        if res < self.min_size:
            suggest = max(self.min_size, 224) if self.min_size > 48 else 48
            raise ModelMismatch(
                f"model {self.name} needs inputs of at least {self.min_size}x{self.min_size} pixels, got {res}; "
                f"use --res {suggest} or another model",
                "res",
            )


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


# ------------------------------------------------------------------------------------------------ weight loading
#: True inside :func:`architecture_only`; context-local (threads and tasks do not see each other's value).
_ARCHITECTURE_ONLY: ContextVar[bool] = ContextVar("fer_bench_architecture_only", default=False)


@contextlib.contextmanager
def architecture_only() -> Iterator[None]:
    """Inside this block builders skip loading pretrained weights (parameter counts, layer summaries).

    The block form of ``build_model(..., load_pretrained=False)``, for code that calls builders it cannot pass
    the parameter to.
    """
    token = _ARCHITECTURE_ONLY.set(True)
    try:
        yield
    finally:
        _ARCHITECTURE_ONLY.reset(token)


def loading_skipped() -> bool:
    """True inside :func:`architecture_only`."""
    return _ARCHITECTURE_ONLY.get()


def should_load(load_pretrained: bool | None) -> bool:
    """A builder's decision: an explicit True/False wins; None loads unless inside :func:`architecture_only`."""
    return (not loading_skipped()) if load_pretrained is None else bool(load_pretrained)
