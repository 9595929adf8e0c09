"""Sweeps: the cross product of comma lists (or a TOML file) expanded into RunConfigs.

Combinations a model cannot take (an init it does not support, a resolution below its minimum) are
dropped with a note instead of failing the whole sweep.

A sweep is ``axes`` (lists: models, res, weights, balance, train, seeds) and ``base`` (scalar RunConfig options,
e.g. epochs, recipe, tests). :func:`expand_sweep` merges defaults < the caller's values < a TOML file's values
and expands; :func:`load_sweep` does it for a TOML file alone.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import tomllib

from ..errors import FerBenchError
from .config import RunConfig

AXES = ("models", "res", "weights", "balance", "train", "seeds")
# the axes' values when neither the caller nor the file gives them (models has none: a sweep must name them)
AXIS_DEFAULTS = {"models": None, "res": "48", "weights": "scratch", "balance": "simple,conservative",
                 "train": "synth:lab", "seeds": "0"}
# RunConfig fields set per run by an axis; every other field may be a scalar option of a sweep
_AXIS_FIELDS = ("model", "res", "weights", "balance", "train", "seed", "extra")
BASE_KEYS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.init and f.name not in _AXIS_FIELDS)


def split_list(value: str | list | tuple | None, cast=str) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = [v for v in str(value).split(",")]
    out = []
    for v in items:
        v = v.strip()
        if not v:
            continue
        try:
            out.append(cast(v))
        except ValueError:
            raise FerBenchError(f"cannot read {v!r} as {cast.__name__} in a sweep list") from None
    return out


def load_sweep_toml(path: Path) -> dict:
    """Read a sweep file: a [sweep] table with list-valued axes and scalar RunConfig options."""
    path = Path(path)
    if not path.is_file():
        raise FerBenchError(f"sweep file {path} not found; check the path")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FerBenchError(f"sweep file {path} is not valid TOML: {exc}") from None
    return data.get("sweep", data)


def read_sweep_file(path: Path) -> tuple[dict, dict]:
    """A sweep file as (axes, base options); an unknown key is a one-line FerBenchError naming file and key."""
    data = load_sweep_toml(path)
    axes, base = {}, {}
    for k, v in data.items():
        if k in AXES:
            axes[k] = v
        elif k in BASE_KEYS:
            base[k] = tuple(split_list(v)) if k == "tests" else v
        else:
            raise FerBenchError(f"sweep file {path}: unknown key {k!r}; use the axes {', '.join(AXES)} or "
                                f"RunConfig options ({', '.join(BASE_KEYS)})")
    return axes, base


def expand_sweep(axes: dict | None = None, base: dict | None = None, *, config: Path | None = None
                 ) -> tuple[list[RunConfig], list[str]]:
    """The sweep's RunConfigs (resolved, deduplicated, stable order) and notes on dropped combinations.

    axes: {models, res, weights, balance, train, seeds}, each a list or a comma string (missing: AXIS_DEFAULTS).
    base: scalar RunConfig options (epochs, recipe, tests, ...). config: a TOML sweep file whose values win.
    Tests left out follow RunConfig's default rule per training set (synth:* -> synth:wild).
    """
    axes = {k: v for k, v in (axes or {}).items() if v is not None}
    base = {k: v for k, v in (base or {}).items() if v is not None}
    unknown = sorted(set(axes) - set(AXES)) + sorted(set(base) - set(BASE_KEYS))
    if unknown:
        raise FerBenchError(f"unknown sweep option {unknown[0]!r}; use {', '.join(AXES + BASE_KEYS)}")
    if config is not None:
        file_axes, file_base = read_sweep_file(config)
        axes.update(file_axes)
        base.update(file_base)
    opts = {**AXIS_DEFAULTS, **axes}
    if not opts["models"]:
        raise FerBenchError("no models given; pass --models a,b,c or a --config file with models = [...]")
    if "tests" in base:
        base["tests"] = tuple(split_list(base["tests"])) or None  # empty: the default rule
    try:
        base_cfg = RunConfig(**base)
    except TypeError as exc:
        raise FerBenchError(f"bad sweep option: {exc}") from None
    return expand(split_list(opts["models"]), split_list(opts["res"], int), split_list(opts["weights"]),
                  split_list(opts["balance"]), split_list(opts["train"]), split_list(opts["seeds"], int), base_cfg)


def load_sweep(path: Path, **overrides) -> list[RunConfig]:
    """The RunConfigs of a TOML sweep file (a [sweep] table of axes and options; overrides: defaults the file
    may override, e.g. results-independent options such as ``epochs=1``). Dropped combinations are left out;
    use :func:`expand_sweep` for the notes on them."""
    axes = {k: v for k, v in overrides.items() if k in AXES}
    base = {k: v for k, v in overrides.items() if k not in AXES}
    return expand_sweep(axes, base, config=Path(path))[0]


def expand(models, res, weights, balance, train, seeds, base: RunConfig) -> tuple[list[RunConfig], list[str]]:
    """All valid RunConfigs of the grid (in a stable order) and notes on the combinations dropped."""
    from ..models.registry import ModelMismatch, get_spec

    configs, notes = [], []
    for m, r, w, b, t, s in itertools.product(models, res, weights, balance, train, seeds):
        spec = get_spec(m)
        try:
            spec.check(w, int(r))  # the registry's rule; a mismatch is dropped with a note, not an error
        except ModelMismatch as exc:
            if exc.field == "weights":
                notes.append(f"skipped {spec.name} with --weights {w} (allowed: {', '.join(spec.inits)})")
            else:
                notes.append(f"skipped {spec.name} at {r}px (needs >= {spec.min_size})")
            continue
        cfg = base.replace(model=spec.name, res=int(r), weights=w, balance=b, train=t, seed=int(s))
        configs.append(cfg.resolved())
    seen, unique = set(), []
    for c in configs:
        if c.config_hash() not in seen:
            seen.add(c.config_hash())
            unique.append(c)
    return unique, sorted(set(notes))
