"""Sweeps: the cross product of comma lists (or a TOML file) expanded into RunConfigs.

Combinations a model cannot take (an init it does not support, a resolution below its minimum) are
dropped with a note instead of failing the whole sweep.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import tomllib

from ..errors import FerBenchError
from .config import RunConfig

AXES = ("models", "res", "weights", "balance", "train", "seeds")


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
        configs.append(replace(base, model=spec.name, res=int(r), weights=w, balance=b, train=t, seed=int(s)))
    seen, unique = set(), []
    for c in configs:
        if c.config_hash() not in seen:
            seen.add(c.config_hash())
            unique.append(c)
    return unique, sorted(set(notes))
