"""Copy the small records of finished runs (no models, no predictions) into a folder meant to be committed.

Why: a results folder holds every run's model.keras (megabytes each) and per-image predictions; what a reader
needs to check a published table is each run's record: ``config.json`` (the frozen config), ``metrics.json``,
``run.json`` (command, package versions, data manifest and content hashes, seed, timings) and
``history.csv``. ``fer-bench publish SRC... --to DEST`` copies exactly those into ``DEST/runs/<hash>/``, so
``fer-bench leaderboard --results DEST`` rebuilds the table from them and every row links to its record.
A record already in DEST is left alone when identical and refused when it differs (a run folder is never
silently replaced).
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from ..errors import FerBenchError
from .store import RUNS

RECORD_FILES = ("config.json", "metrics.json", "run.json", "history.csv")


def publish_records(sources: list[Path], dest: Path) -> dict:
    """Copy every finished run's record from each ``SRC/runs/`` into ``DEST/runs/``; returns counts."""
    copied, same, runs_seen = [], [], 0
    for src in sources:
        base = Path(src) / RUNS
        if not base.is_dir():
            raise FerBenchError(f"{src}: no runs/ folder; pass a results folder that run, sweep or evaluate wrote")
        for folder in sorted(base.iterdir()):
            if not folder.is_dir() or folder.name.startswith(".") or not (folder / "metrics.json").is_file():
                continue  # a run in progress (hidden) or an incomplete folder is not a result
            runs_seen += 1
            target = Path(dest) / RUNS / folder.name
            files = [f for f in RECORD_FILES if (folder / f).is_file()]
            if target.is_dir():
                differ = [f for f in files if not (target / f).is_file()
                          or not filecmp.cmp(folder / f, target / f, shallow=False)]
                if differ:
                    raise FerBenchError(f"{target}: already holds a different record of run {folder.name} "
                                        f"({', '.join(differ)}); remove it first if the new one should replace it")
                same.append(folder.name)
                continue
            tmp = target.with_name(f".{folder.name}.publishing")
            try:
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                for f in files:
                    shutil.copy2(folder / f, tmp / f)
                tmp.rename(target)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise FerBenchError(f"{dest}: cannot write records there ({exc.strerror or exc}); pass --to a "
                                    "writable folder") from None
            copied.append(folder.name)
    return {"finished_runs": runs_seen, "copied": copied, "already_there": same}
