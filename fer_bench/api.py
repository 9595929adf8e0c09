"""The Python API of fer-bench: every rule lives here or below (``fer_bench.protocol``, ``fer_bench.results``,
``fer_bench.models``, ``fer_bench.data``); the ``fer-bench`` CLI parses options, calls one of these functions and
prints. Nothing here prints: progress goes through callbacks.

    import fer_bench as fb
    cfg = fb.RunConfig(model="lenet5", train="synth:lab?n=10&test=5", epochs=1)
    outcome = fb.run(cfg, "results")            # trains (or finds the finished run) and tests
    fb.leaderboard("results")                   # a pandas DataFrame, best in-domain accuracy first

Importing this module is cheap; TensorFlow is imported by the functions that need it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import FerBenchError
from .protocol.config import BALANCES, RunConfig
from .protocol.sweep import expand_sweep, load_sweep

if TYPE_CHECKING:
    import pandas as pd

    from .data.source import DataSource
    from .models.spec import ModelSpec
    from .protocol.run import RunOutcome

__all__ = [
    "BALANCES", "RunConfig", "open_dataset", "run", "run_sweep", "sweep", "expand_sweep", "load_sweep", "evaluate",
    "ensemble", "leaderboard", "write_leaderboard", "list_models", "get_model",
]

OnEpoch = Callable[[str, int, int, dict], None]  # (phase "frozen"|"full", epoch, epochs, history row)
OnStage = Callable[[str], None]  # a stage of a run: "decoding ...", "training ...", ...


def open_dataset(spec: str) -> DataSource:
    """A dataset by spec: a folder path, a name from datasets.toml, or ``synth:lab`` / ``synth:wild`` (with
    ``?n=..&test=..`` options). ``.splits()`` names its splits, ``.subset(split)`` lists its items."""
    from .data.adapters import open_dataset as _open

    return _open(spec)


def run(config: RunConfig, results: str | Path = "results", *, force: bool = False, on_epoch: OnEpoch | None = None,
        on_stage: OnStage | None = None) -> RunOutcome:
    """Train and test one config (resolved first: model alias -> registry name, default tests applied).

    A finished run is found by its config hash and returned with ``skipped=True`` unless ``force``; a run killed
    part-way resumes from its checkpoint. Returns a RunOutcome (config, folder, skipped, metrics, status).
    Raises RunLockedError (a FerBenchError) while another process trains the same config.
    """
    from .protocol.run import execute_run

    cfg = config.resolved()
    try:
        return execute_run(cfg, Path(results), force=force, on_epoch=on_epoch, on_stage=on_stage)
    finally:
        if "keras" in sys.modules:  # free the graph between runs of a sweep or a notebook
            import keras

            keras.backend.clear_session()


def run_sweep(configs: Iterable[RunConfig], results: str | Path = "results", *, force: bool = False,
              on_start: Callable[[RunConfig], None] | None = None, on_epoch: OnEpoch | None = None,
              on_stage: OnStage | None = None,
              on_run: Callable[[RunConfig, RunOutcome | None, str | None, float], None] | None = None,
              backend: str | object = "local", backend_options: dict | None = None,
              on_failed: Callable | None = None, on_progress: Callable[[dict], None] | None = None
              ) -> list[RunOutcome]:
    """Run configs (each as :func:`run`). A config another process is training right now is skipped:
    ``on_run(cfg, None, reason, seconds)``; otherwise ``on_run(cfg, outcome, None, seconds)``. ``on_start(cfg)``
    comes before each run; on_epoch/on_stage are passed to the run in progress. Returns the outcomes of the
    configs that ran or had finished before.

    backend: ``"local"`` (default: one after another in this process) or ``"ray"`` (each run a Ray task; options
    in ``backend_options``: address, cpus_per_run, gpus_per_run, retries, num_cpus; see
    :mod:`fer_bench.protocol.backends`), or a backend object. With Ray, on_start/on_epoch are not called (runs
    happen in workers), ``on_progress(counts)`` reports done/running/failed/queued, and a run that failed its
    last retry goes to ``on_failed(RunFailure)``; without on_failed, the failures are raised as one
    FerBenchError after every other run has finished.
    """
    from .protocol.backends import make_backend

    b = make_backend(backend, **(backend_options or {})) if isinstance(backend, str) else backend
    report = b.run(list(configs), Path(results), force=force, on_start=on_start, on_epoch=on_epoch,
                   on_stage=on_stage, on_run=on_run, on_failed=on_failed, on_progress=on_progress)
    if report.failures and on_failed is None:
        f = report.failures
        raise FerBenchError(f"{len(f)} run{'s' if len(f) != 1 else ''} failed after retries: "
                            + "; ".join(f"{x.config.config_hash()} ({x.config.short_name()}): {x.error}" for x in f))
    return report.outcomes


def sweep(axes: dict | None = None, base: dict | None = None, *, config: str | Path | None = None,
          results: str | Path = "results", force: bool = False, on_run=None, on_start=None, on_epoch=None,
          on_stage=None, backend: str | object = "local", backend_options: dict | None = None, on_failed=None,
          on_progress=None) -> list[RunOutcome]:
    """Expand a sweep (see :func:`expand_sweep`: axes models/res/weights/balance/train/seeds as lists or comma
    strings, base RunConfig options, an optional TOML file) and run every config (see :func:`run_sweep`, also
    for ``backend``: ``"local"`` or ``"ray"``)."""
    configs, _notes = expand_sweep(axes, base, config=Path(config) if config else None)
    return run_sweep(configs, results, force=force, on_run=on_run, on_start=on_start, on_epoch=on_epoch,
                     on_stage=on_stage, backend=backend, backend_options=backend_options, on_failed=on_failed,
                     on_progress=on_progress)


def evaluate(model_path: str | Path, data: str, *, split: str | None = None, preset: str | None = None,
             input_size: int | None = None, color: str | None = None, scaling: str | None = None,
             labels: str | None = None, flip_tta: bool = False, out: str | Path | None = None,
             results: str | Path | None = None, name: str | None = None, trained_on: str = "external",
             role: str = "in_domain", on_stage: OnStage | None = None) -> dict:
    """Score any Keras model file on a dataset split with a run's metrics (what `fer-bench evaluate` computes).

    Foreign models: preset (``fer``) or input_size / color / scaling / labels. out: also write the metrics JSON
    there. results: add the score to that results folder's leaderboard (a run folder; foreign models as
    external rows named ``name``, training set ``trained_on``, column ``role``: in_domain | cross_domain).
    Returns the metrics dict (accuracy, uar, precision, recall, f1, top2_accuracy, per_class, n, provenance).
    """
    if role not in ("in_domain", "cross_domain"):
        raise FerBenchError(f"unknown --role {role!r}; use in_domain or cross_domain")
    model_path = Path(model_path)
    if not model_path.is_file():  # before the seconds-long TensorFlow import
        raise FerBenchError(f"model file {model_path} not found; check the path")
    from .protocol.evaluate import evaluate_model, write_external_run

    metrics, table = evaluate_model(model_path, data, split=split, preset=preset, input_size=input_size,
                                    color=color, scaling=scaling, labels=labels, flip_tta=flip_tta)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(metrics, indent=2) + "\n")
    if results:
        folder = write_external_run(Path(results), model_path, name or model_path.stem, trained_on, role, data,
                                    metrics, table)
        if on_stage:
            on_stage(f"external row written to {folder}")
    return metrics


def ensemble(out: str | Path, members: Sequence[str | Path], *, flip_tta: bool = False, dtype: str = "float32",
             card_data: str | None = None, views: str | None = None) -> dict:
    """One Keras file averaging the softmax outputs of several fer-bench model files, with a model card.

    Returns {"summary": build summary, "evaluation": metrics on card_data (or None), "card": card path}.
    """
    if views is not None:  # before the files and the seconds-long TensorFlow import
        from .models.views import view_names

        view_names(views)
        if flip_tta and views != "flip":
            raise FerBenchError(f"--tta and --views {views}: every view set already holds the flipped views; "
                                "pass one of them")
    for m in members:
        if not Path(m).is_file():
            raise FerBenchError(f"model file {m} not found; check the path")
    from .protocol.ensemble import build_ensemble
    from .results.card import write_ensemble_card

    summary = build_ensemble([Path(m) for m in members], Path(out), flip_tta=flip_tta, dtype=dtype, views=views)
    evaluation = evaluate(out, card_data) if card_data else None
    return {"summary": summary, "evaluation": evaluation, "card": write_ensemble_card(Path(out), summary, evaluation)}


def write_leaderboard(results: str | Path = "results", merge: Sequence[str | Path] = ()) -> dict[str, Path]:
    """Write leaderboard.md / .csv / .json into the results folder; returns {"md", "csv", "json": path}."""
    from .results.leaderboard import write_leaderboard as _write

    return _write(Path(results), tuple(Path(m) for m in merge))


def leaderboard(results: str | Path = "results", merge: Sequence[str | Path] = (), *, ranked: bool = True
                ) -> pd.DataFrame:
    """The leaderboard of a results folder as a DataFrame (nothing written).

    ranked (default): one row per model group and balancing, best in-domain accuracy first (the terminal view);
    ranked=False: the tidy aggregate, one row per group x balancing x test set with mean/sd/seeds per metric
    and ``superseded_by`` (non-empty for a row that a longer run of the same cell replaces; the ranking leaves it out)
    (what leaderboard.csv holds). Empty when no run has finished.
    """
    from .results.leaderboard import build_leaderboard, current_rows, ranked_table

    results = Path(results)
    if not (results / "runs").is_dir() and not merge:
        raise FerBenchError(f"no runs found under {results}/runs; run `fer-bench quickstart` or "
                            "`fer-bench run` first, or pass --results DIR")
    agg, _tables = build_leaderboard(results, tuple(Path(m) for m in merge))
    return ranked_table(current_rows(agg)) if ranked else agg


def list_models(res: int | None = None, pattern: str = "*") -> list[ModelSpec]:
    """The registered models (ModelSpec: name, inits, min_size, ...), sorted by name; res: only those that
    accept that input size."""
    from .models.registry import get_spec
    from .models.registry import list_models as _names

    specs = [get_spec(n) for n in _names(pattern)]
    return [s for s in specs if res is None or int(res) >= s.min_size]


def get_model(name: str) -> ModelSpec:
    """A model's ModelSpec by registry name or alias (unknown names raise a one-line FerBenchError)."""
    from .models.registry import get_spec

    return get_spec(name)
