"""Epoch-level checkpoints of a run in progress, so a killed run resumes from its last finished epoch.

A run in progress keeps ``<results>/runs/.<config-hash>.partial/``:

* ``state_[ab].npz``: every variable of the model (weights, BatchNorm statistics and the dropout layers' random
  seed states) and, inside a phase, every variable of the optimizer (step count, learning rate, Adam moments);
* ``best_[ab].npz``: the best-on-validation weights so far (what :class:`~fer_bench.protocol.train.KeepBest` keeps);
* ``progress.json``: the phase and the number of finished epochs in it, the history rows, the early-stopping
  and learning-rate-plateau counters, the fingerprint of the data the run was started on, and (``run``) the
  run's config, name and command, which ``fer-bench status`` shows.

The data order and the augmentation of an epoch are pure functions of (seed, epoch) (see
:mod:`fer_bench.data.pipeline`), so the restored state plus the epoch number is everything a resumed run needs
to continue exactly as an uninterrupted one would. Each file is written to a temporary name and renamed into
place, ``progress.json`` last: a kill at any moment leaves the previous epoch's complete checkpoint.

Keras' own ``BackupAndRestore`` is not used: it restores weights and the epoch number but not the callbacks'
counters (early stopping, plateau), the kept best weights or the seed states, so a resumed run would drift.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from ..fsutil import atomic_path, atomic_write

FORMAT = 1


def _disk_error(path: Path, exc: OSError, epoch_text: str) -> FerBenchError:
    why = exc.strerror or str(exc)
    return FerBenchError(f"{path}: cannot write the checkpoint ({why}); free disk space or fix permissions, "
                         f"then run the same command again to resume {epoch_text}")


def _save_arrays(path: Path, arrays: list[np.ndarray], names: list[str]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, names=np.array(names, dtype=object).astype(str),
                 **{f"v{i:05d}": np.asarray(a) for i, a in enumerate(arrays)})


def _load_arrays(path: Path) -> tuple[list[str], list[np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        names = [str(n) for n in z["names"]]
        arrays = [z[f"v{i:05d}"] for i in range(len(names))]
    return names, arrays


def _variables(model, with_optimizer: bool) -> list:
    vs = list(model.variables)
    if with_optimizer and getattr(model, "optimizer", None) is not None and model.optimizer.built:
        vs += list(model.optimizer.variables)
    return vs


def _names(variables) -> list[str]:
    return [f"{getattr(v, 'path', None) or v.name}:{tuple(v.shape)}" for v in variables]


def _shapes(names: list[str]) -> list[str]:
    """The shape part of each saved name: variable paths carry Keras' per-process layer numbering (dense_3), so
    a resumed process may name the same variable differently; order and shapes are what must match."""
    return [n.rsplit(":", 1)[-1] for n in names]


class RunCheckpoint:
    """The checkpoint folder of one run in progress (see the module docstring)."""

    def __init__(self, results: Path, config_hash: str, data_fingerprint: str, meta: dict | None = None):
        self.folder = Path(results) / "runs" / f".{config_hash}.partial"
        self.config_hash = config_hash
        self.data_fingerprint = data_fingerprint
        self.meta = meta  # what `fer-bench status` shows of a run in progress: its config, name and command
        self.progress: dict | None = None

    # ---- reading ----------------------------------------------------------------------------------------
    def load(self) -> dict | None:
        """The saved progress, or None (no checkpoint, or one from other data or an older format: discarded)."""
        p = self.folder / "progress.json"
        if not p.is_file():
            return None
        try:
            prog = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            prog = None
        if (not prog or prog.get("format") != FORMAT or prog.get("config_hash") != self.config_hash
                or prog.get("data") != self.data_fingerprint or not (self.folder / prog["state_file"]).is_file()):
            self.discard()
            return None
        self.progress = prog
        return prog

    def restore_variables(self, model, *, with_optimizer: bool) -> None:
        """Assign the saved variables to *model* (and its optimizer, which must be built)."""
        names, arrays = _load_arrays(self.folder / self.progress["state_file"])
        targets = _variables(model, with_optimizer)
        if _shapes(_names(targets)) != _shapes(names):
            raise FerBenchError(f"{self.folder}: the checkpoint does not match this model (was the code or the "
                                "architecture changed?); delete that folder to start the run from epoch 1")
        for v, a in zip(targets, arrays, strict=True):
            v.assign(a)

    def best_weights(self) -> list[np.ndarray] | None:
        name = (self.progress or {}).get("best_file")
        p = self.folder / name if name else None
        if p is None or not p.is_file():
            return None
        return _load_arrays(p)[1]

    # ---- writing ----------------------------------------------------------------------------------------
    def save(self, model, *, phase: str, epoch_done: int, stopped: bool, history: list, best: dict,
             callbacks: dict, best_weights: list | None, best_changed: bool, with_optimizer: bool) -> None:
        """Write the state after a finished epoch (or at a phase boundary with ``epoch_done`` 0)."""
        epoch_text = f"from {phase} epoch {epoch_done}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # alternate between two state files so the one progress.json names is never the one being written
            prev = (self.progress or {}).get("state_file")
            state_file = "state_b.npz" if prev == "state_a.npz" else "state_a.npz"
            vs = _variables(model, with_optimizer)
            _save_arrays(self.folder / state_file, [np.asarray(v.numpy()) for v in vs], _names(vs))
            best_file = (self.progress or {}).get("best_file")
            if best_weights is not None and (best_changed or best_file is None):
                best_file = "best_b.npz" if best_file == "best_a.npz" else "best_a.npz"
                _save_arrays(self.folder / best_file, best_weights, [str(i) for i in range(len(best_weights))])
            prog = {"format": FORMAT, "config_hash": self.config_hash, "data": self.data_fingerprint,
                    "phase": phase, "epoch_done": epoch_done, "stopped": stopped, "history": history,
                    "best": best, "callbacks": callbacks, "best_file": best_file if best_weights is not None else None,
                    "state_file": state_file, **({"run": self.meta} if self.meta else {})}
            atomic_write(self.folder / "progress.json", json.dumps(prog, default=float))
        except OSError as exc:
            raise _disk_error(self.folder, exc, epoch_text) from None
        self.progress = prog

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.progress = None
