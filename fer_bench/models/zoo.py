"""Where fer-bench's own pretrained model files live, and which one is the default of ``predict``.

They are committed to the source tree (``model_zoo/pretrained/`` beside the package), so the README's editable
install (``pip install -e .``) finds them. A wheel keeps them out (they are MBs of weights, and the cache is the
documented home of weights), so a file copied into ``<weights cache>/pretrained/`` (``$FER_BENCH_WEIGHTS``,
default ``~/.cache/fer-bench/weights``) is found as well. This module is the one home of both rules.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FerBenchError
from .weights_cache import weights_dir

#: the model ``predict`` and ``bench-latency shipped`` use when none is named
SHIPPED_MODEL = "fer2013_fer_vgg_ens2_48.keras"


def source_zoo_dir() -> Path:
    """``model_zoo/pretrained`` of the source checkout this package was imported from."""
    return Path(__file__).resolve().parents[2] / "model_zoo" / "pretrained"


def pretrained_dirs() -> list[Path]:
    """The folders searched for a pretrained file by name, first hit wins."""
    return [source_zoo_dir(), weights_dir() / "pretrained"]


def find_pretrained(name: str) -> Path | None:
    """The file called ``name`` (or ``name`` + .keras / .h5) in :func:`pretrained_dirs`; None if absent."""
    names = [name] if Path(name).suffix else [f"{name}.keras", f"{name}.h5"]
    for folder in pretrained_dirs():
        for n in names:
            if (folder / n).is_file():
                return folder / n
    return None


def missing_pretrained_hint(name: str) -> str:
    """What to do when a pretrained file is not found: where it was looked for, and how to put it there."""
    file = name if Path(name).suffix else f"{name}.keras"
    return (f"looked in {' and '.join(str(d) for d in pretrained_dirs())}; install from a source checkout "
            f"(pip install -e .) or copy model_zoo/pretrained/{file} from the repository into "
            f"{pretrained_dirs()[1]}/")


def shipped_model() -> Path:
    """The shipped model's path, or a one-line error that says where to put it."""
    path = find_pretrained(SHIPPED_MODEL)
    if path is None:
        raise FerBenchError(f"the shipped model {SHIPPED_MODEL} is not in this install ("
                            f"{missing_pretrained_hint(SHIPPED_MODEL)}), or pass MODEL (a .keras file, a run "
                            "folder, a SavedModel folder, a .tflite or .onnx file)")
    return path
