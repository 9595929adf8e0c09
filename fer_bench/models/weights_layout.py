"""Does a weights file fit the fer-bench architecture it is meant for? Checked before a file enters the cache.

This module builds the reference architectures (VGGFace backbones, keras.applications backbones), so it sits
above the model families; the families themselves only need :mod:`~fer_bench.models.weights_cache` and
:mod:`~fer_bench.models.h5io`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import FerBenchError
from .h5io import check_topological_layout, load_h5_by_name, walk_layers
from .weights_cache import store
from .weights_table import WeightsEntry, get_entry


def reference_model(e: WeightsEntry):
    """The architecture a weights file must fit (built without loading anything)."""
    from . import applications, vggface  # Keras only when a file is checked, not for `weights status`

    if e.name.startswith("vggface_"):
        return vggface.backbone(e.name.split("_", 1)[1], 224)
    return applications.backbone_architecture(e.model, 224)


def verify_layout(name: str, path: str | os.PathLike) -> dict[str, Any]:
    """Check that ``path`` holds weights in the layout the fer-bench architecture of ``name`` expects."""
    e = get_entry(name)
    if e.store == "keras_hub":
        p = Path(path)
        if not (p.is_dir() and (p / "config.json").is_file()):
            raise FerBenchError(f"{path} is not a keras-hub preset folder (no config.json)")
        return {"kind": "keras_hub preset"}
    if not Path(path).is_file():
        raise FerBenchError(f"file not found: {path}")
    model = reference_model(e)
    if e.store == "fer_bench":
        report = load_h5_by_name(model, path, require_all=True)
        return {"kind": "by-name", "layers": len(report["loaded"]), "unused": report["unused"]}
    check_topological_layout(model, path)
    return {"kind": "topological", "layers": len([x for x in walk_layers(model) if x.weights])}


def import_file(name: str, src: str | os.PathLike) -> Path:
    """Verify the layout of a user's file and copy it into the cache under the expected name."""
    src = Path(src).expanduser()
    if not src.exists():
        raise FerBenchError(f"file not found: {src}")
    verify_layout(name, src)
    return store(name, src)
