"""Run folders: ``<results>/runs/<config-hash>/``, written atomically.

A run is assembled in a hidden temporary folder next to its final place and renamed into place only when
every file is written, so a folder under runs/ is always complete: its presence means "finished".
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

RUNS = "runs"


def run_dir(results: Path, config_hash: str) -> Path:
    return Path(results) / RUNS / config_hash


def is_finished(results: Path, config_hash: str) -> bool:
    return (run_dir(results, config_hash) / "metrics.json").is_file()


class RunWriter:
    """Collect a run's files in a temp folder; ``commit()`` moves it into place in one rename."""

    def __init__(self, results: Path, config_hash: str):
        self.final = run_dir(results, config_hash)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.final.parent / f".{config_hash}.tmp-{os.getpid()}"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()

    def path(self, name: str) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_json(self, name: str, obj) -> None:
        self.path(name).write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")

    def commit(self) -> Path:
        if self.final.exists():  # --force: replace the old run
            old = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
            os.replace(self.final, old)
            os.replace(self.tmp, self.final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_run(folder: Path) -> dict | None:
    """config + metrics + run info of one finished run folder, or None if incomplete/unreadable."""
    folder = Path(folder)
    try:
        return {
            "hash": folder.name,
            "config": json.loads((folder / "config.json").read_text()),
            "metrics": json.loads((folder / "metrics.json").read_text()),
            "info": json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {},
        }
    except (OSError, json.JSONDecodeError):
        return None


def iter_runs(results: Path):
    base = Path(results) / RUNS
    if not base.is_dir():
        return
    for folder in sorted(base.iterdir()):
        if folder.is_dir() and not folder.name.startswith("."):
            run = read_run(folder)
            if run is not None:
                yield run
