"""Load a saved Keras model (``.keras`` or ``.h5``) that may use fer-bench's own layers.

The one place that knows a fer-bench file needs every model family imported first (their Keras
serializables, e.g. ``Preprocess``, ``FlipAverage`` and ``RepVGGBlock``, register on import), and that turns
Keras' many exception types for a bad file into one line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FerBenchError
from .registry import load_families

DEFAULT_HINT = "pass a Keras .keras or .h5 model file"


def load_keras(path: str | Path, *, what: str = "model file", hint: str = DEFAULT_HINT):
    """Load ``path`` without compiling it; FerBenchError (one line) when it is missing or unreadable.

    ``what`` names the file in the message (``"--init-from file"``), ``hint`` says what to pass instead.
    """
    import keras

    load_families()
    path = Path(path)
    if not path.is_file():
        raise FerBenchError(f"{path}: {what} not found; {hint}")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a bad file
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        raise FerBenchError(f"{path}: cannot be loaded as a Keras model ({detail}); {hint}") from None
