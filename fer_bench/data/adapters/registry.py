"""Named datasets: a small TOML file mapping names to paths.

Looked up in this order: the ``registry_file`` argument (``--registry``), ``$FER_BENCH_DATASETS``,
``~/.config/fer-bench/datasets.toml``. Format::

    [datasets.fer2013]
    path = "/data/fer2013"        # relative paths are relative to the TOML file
    format = "folder"             # optional: folder | fer2013_csv | rafdb | affectnet_csv | affectnet_folders

    [datasets]
    rafdb = "/data/RAF-DB/basic"  # short form: name = "path"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import tomllib

from ...errors import FerBenchError
from ._common import show

ENV_VAR = "FER_BENCH_DATASETS"
DEFAULT_REGISTRY = Path("~/.config/fer-bench/datasets.toml")


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    path: str  # absolute path, or a synth: spec
    format: str | None
    file: str  # the TOML file it came from


def registry_path(registry_file: str | Path | None = None) -> tuple[Path, bool]:
    """(registry file to use, whether the user chose it explicitly)."""
    if registry_file is not None:
        return Path(registry_file).expanduser(), True
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser(), True
    return DEFAULT_REGISTRY.expanduser(), False


def load_registry(registry_file: str | Path | None = None) -> dict[str, RegistryEntry]:
    """All registered datasets; {} when the default file does not exist. Errors name the file and the fix."""
    path, explicit = registry_path(registry_file)
    if not path.is_file():
        if explicit:
            via = f" (from ${ENV_VAR})" if registry_file is None else ""
            raise FerBenchError(f"dataset registry {show(path)}{via} not found; create it or fix the path")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise FerBenchError(f"cannot read dataset registry {show(path)}: {exc}; check the file") from None
    except tomllib.TOMLDecodeError as exc:
        raise FerBenchError(f"dataset registry {show(path)} is not valid TOML ({exc}); fix the file") from None
    table = data.get("datasets", {})
    if not isinstance(table, dict):
        raise FerBenchError(f"dataset registry {show(path)}: 'datasets' must be a table ([datasets.NAME])")
    out: dict[str, RegistryEntry] = {}
    for name, entry in table.items():
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"].strip():
            raise FerBenchError(
                f"dataset registry {show(path)}: [datasets.{name}] needs path = \"/path/to/data\"; add it"
            )
        raw = entry["path"].strip()
        fmt = entry.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise FerBenchError(f"dataset registry {show(path)}: [datasets.{name}] format must be a string")
        if raw.lower().startswith("synth:"):
            resolved = raw
        else:
            p = Path(raw).expanduser()
            resolved = str(p if p.is_absolute() else (path.parent / p).absolute())
        out[name] = RegistryEntry(name=name, path=resolved, format=fmt, file=str(path))
    return out
