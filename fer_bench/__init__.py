"""fer-bench: reproducible benchmarking of facial expression recognition.

The Python API (:mod:`fer_bench.api`) is re-exported here lazily, so ``import fer_bench`` stays cheap (no
TensorFlow): ``fer_bench.run(fer_bench.RunConfig(...))``, ``fer_bench.leaderboard("results")``, ...
"""

__version__ = "0.1.0"

_API = ("BALANCES", "RunConfig", "open_dataset", "run", "run_sweep", "sweep", "expand_sweep", "load_sweep",
        "evaluate", "ensemble", "leaderboard", "write_leaderboard", "list_models", "get_model")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'fer_bench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
