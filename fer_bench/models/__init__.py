"""Model registry, builders per family, preprocessing layers and the pretrained-weights cache.

Importing this package is cheap (no Keras): the family modules register their models the first time the
registry is asked (:func:`~fer_bench.models.registry.load_families`).
"""

from .registry import ModelSpec, backbone_of, build_model, get_spec, list_models, register

__all__ = ["ModelSpec", "backbone_of", "build_model", "get_spec", "list_models", "register"]
