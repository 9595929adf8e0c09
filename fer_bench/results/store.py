"""Run folders: ``<results>/runs/<config-hash>/``, written atomically.

A run is assembled in a hidden temporary folder next to its final place and renamed into place only when
every file is written, so a folder under runs/ is always complete: its presence means "finished".
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
from pathlib import Path

from ..errors import FerBenchError

RUNS = "runs"


class RunLockedError(FerBenchError):
    """Another process is running this config right now (it holds the run's lock)."""


def check_writable(results: Path) -> Path:
    """Create ``<results>/runs`` and prove a file can be written there, before any expensive work.

    A read-only or missing-permission results folder is reported in one line that names it; a run that
    cannot write its result should fail before it trains, not after.
    """
    base = Path(results) / RUNS
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise FerBenchError(f"{results}: cannot write results there ({exc.strerror or exc}); pass --results "
                            "with a writable folder or fix its permissions") from None
    return base


def check_free_space(results: Path, need_bytes: int) -> None:
    """Refuse to start a run when the results disk has less room than its checkpoints and files will take."""
    free = shutil.disk_usage(Path(results) / RUNS).free
    if free < need_bytes:
        raise FerBenchError(f"{results}: only {free / 2**20:.0f} MiB free, this run needs about "
                            f"{need_bytes / 2**20:.0f} MiB (checkpoints and model); free space or pass --results "
                            "on another disk")


#: attempts (50 ms apart) to take a run's lock before reporting it as held
LOCK_TRIES = 5


@contextlib.contextmanager
def run_lock(results: Path, config_hash: str):
    """Hold ``<results>/.locks/<hash>.lock`` (an exclusive flock) while a config runs.

    Two sweeps on the same results folder therefore never run one config twice at the same time: the second
    gets :class:`RunLockedError` and moves on. The kernel drops the lock when its process dies (SIGKILL
    included), so a stale lock file never blocks a later run.
    """
    import fcntl

    check_writable(results)
    locks = Path(results) / ".locks"  # beside runs/, which holds only run folders (and hidden work in progress)
    locks.mkdir(exist_ok=True)
    path = locks / f"{config_hash}.lock"
    fh = open(path, "a+")  # held for the duration of the context
    try:
        for attempt in range(LOCK_TRIES):  # a `fer-bench status` probe holds the lock for an instant: retry
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if attempt < LOCK_TRIES - 1:
                    time.sleep(0.05)
        else:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RunLockedError(f"run {config_hash} is being trained right now by {holder}; wait for it to "
                                 "finish (a later run of this command skips it once finished)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield path
    finally:
        fh.close()


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
