"""Named sets of test-time views (no Keras import, so the CLI can check a --views name before loading models).

Each set lists transforms; every transform is also taken flipped (2x as many forward passes). "shift" moves
the face by res/24 px (2 px at 48) in one of four directions with edge pixels repeated; "zoom" is the central
44/48 of the face resized back. Which set helps is measured on a validation carve of the training data
(benchmarks/tta_views.py), never on a test split. The graph ops are
:func:`fer_bench.models.layers.apply_view` and :class:`fer_bench.models.layers.ViewAverage`.
"""

from __future__ import annotations

from ..errors import FerBenchError

VIEW_SETS = {
    "flip": ("id",),
    "flip+zoom": ("id", "zoom"),
    "flip+shift": ("id", "right", "left", "down", "up"),
    "flip+shift+zoom": ("id", "right", "left", "down", "up", "zoom"),
}


def view_names(views: str) -> tuple[str, ...]:
    """The transforms of a named view set, each also taken flipped (so 2x as many forward passes)."""
    if views not in VIEW_SETS:
        raise FerBenchError(f"unknown view set {views!r}; use one of {', '.join(VIEW_SETS)}")
    return VIEW_SETS[views]
