"""Model registry, builders per family, preprocessing layers and the pretrained-weights cache."""

from .registry import ModelSpec, backbone_of, build_model, get_spec, list_models, register

__all__ = ["ModelSpec", "backbone_of", "build_model", "get_spec", "list_models", "register"]
