"""Pretrained weights, offline first: one import for the names the CLI, the tests and older code use.

The work is done in four modules, one concern each:

* :mod:`~fer_bench.models.weights_table`: the known files (names, URLs, hashes, the model/init each serves);
* :mod:`~fer_bench.models.weights_cache`: where they live, finding them, fetching/copying them in on request;
* :mod:`~fer_bench.models.h5io`: reading Keras-2 legacy h5 files, assigning weights by layer name, layout checks;
* :mod:`~fer_bench.models.weights_layout`: checking a user's file against the fer-bench architecture.

Skipping weight loading is a parameter of :func:`fer_bench.models.registry.build_model` and of the builders
(``load_pretrained=False``); :func:`architecture_only` is the block form of it.
"""

from __future__ import annotations

from .h5io import (
    check_topological_layout,
    h5_layer_name,
    keras_layer_name,
    load_h5_by_name,
    read_legacy_h5,
    walk_layers,
    write_legacy_h5,
)
from .spec import architecture_only, loading_skipped
from .weights_cache import (
    DEFAULT_DIR,
    ENV_VAR,
    fetch,
    find,
    fix_hint,
    keras_hub_available,
    keras_hub_preset_dir,
    keras_models_dir,
    require,
    status,
    verify_hash,
    weights_dir,
)
from .weights_layout import import_file, verify_layout
from .weights_table import KNOWN, WeightsEntry, entry_for, get_entry

__all__ = [
    "DEFAULT_DIR", "ENV_VAR", "KNOWN", "WeightsEntry", "architecture_only", "check_topological_layout", "entry_for",
    "fetch", "find", "fix_hint", "get_entry", "h5_layer_name", "import_file", "keras_hub_available",
    "keras_hub_preset_dir", "keras_layer_name", "keras_models_dir", "load_h5_by_name", "loading_skipped",
    "read_legacy_h5", "require", "status", "verify_hash", "verify_layout", "walk_layers", "weights_dir",
    "write_legacy_h5",
]
