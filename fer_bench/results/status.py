"""Runs in progress: what ``fer-bench status`` shows of every unfinished run in a results folder.

Why: FER runs on a CPU take hours to days (about 100 epochs of minutes each) and are stopped and resumed many
times; a user needs to see, without starting anything, which runs are part-way, whether a process is training
them right now or they wait for the same command to resume them, how far each got (epochs, best validation
accuracy, the early-stopping counter against its patience) and how much training time they have cost so far.

Everything is read from the checkpoint each run keeps (``runs/.<hash>.partial/progress.json``, see
:mod:`fer_bench.protocol.checkpoint`) and from its lock (``.locks/<hash>.lock``): a lock another process holds
means the run is training now. The probe takes the lock for an instant and releases it.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path


def _lock_holder(results: Path, config_hash: str) -> str | None:
    """"pid N" (or "another process") when a process holds the run's lock now, else None."""
    import fcntl

    path = Path(results) / ".locks" / f"{config_hash}.lock"
    if not path.is_file():
        return None
    try:
        fh = open(path)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return fh.read().strip() or "another process"
            return None
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None
    finally:
        fh.close()


def partial_runs(results: Path) -> list[dict]:
    """One dict per unfinished run under *results*, newest checkpoint first."""
    runs_dir = Path(results) / "runs"
    out = []
    for folder in sorted(runs_dir.glob(".*.partial")) if runs_dir.is_dir() else []:
        key = folder.name[1:-len(".partial")]
        try:
            prog = json.loads((folder / "progress.json").read_text())
        except (OSError, json.JSONDecodeError):
            out.append({"hash": key, "name": "?", "state": "no readable progress yet", "epochs_done": 0,
                        "updated": None})
            continue
        run = prog.get("run") or {}
        cfg = run.get("config") or {}
        history = prog.get("history") or []
        phase_rows = [r for r in history if r.get("phase") == prog.get("phase")]
        best = max(history, key=lambda r: (r.get("val_accuracy", -1), -r.get("val_loss", 0)), default=None)
        es = (prog.get("callbacks") or {}).get("early_stopping") or {}
        cap = cfg.get("frozen_epochs") if prog.get("phase") == "frozen" else cfg.get("epochs")
        holder = _lock_holder(results, key)
        out.append({
            "hash": key, "name": run.get("name", "?"), "protocol": cfg.get("protocol"), "recipe": cfg.get("recipe"),
            "phase": prog.get("phase"), "epochs_done": int(prog.get("epoch_done", len(phase_rows))),
            "epoch_cap": cap, "stopped_early": bool(prog.get("stopped")),
            "best_val_accuracy": None if best is None else best.get("val_accuracy"),
            "best_epoch": None if best is None else best.get("epoch"),
            "last_val_accuracy": phase_rows[-1].get("val_accuracy") if phase_rows else None,
            "early_stopping_wait": es.get("wait"), "patience": cfg.get("es_patience", 20) if es else None,
            "lr": phase_rows[-1].get("lr") if phase_rows else None,
            "train_seconds": round(sum(float(r.get("seconds", 0) or 0) for r in history), 1),
            "state": f"training ({holder})" if holder else "idle (rerun to resume)",
            "command": run.get("command"),
            "updated": os.path.getmtime(folder / "progress.json"),
        })
    return sorted(out, key=lambda r: -(r["updated"] or 0))


def status_markdown(runs: list[dict]) -> str:
    """The runs as a Markdown table (for a README or an issue note; ``fer-bench status --format md``)."""
    lines = ["| run | config hash | state | epochs done / cap | best val acc (epoch) | last val acc | "
             "early-stopping counter | training hours |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        cap = r.get("epoch_cap")
        best = "-" if r.get("best_val_accuracy") is None else f"{r['best_val_accuracy']:.3f} ({r.get('best_epoch')})"
        last = "-" if r.get("last_val_accuracy") is None else f"{r['last_val_accuracy']:.3f}"
        wait = "-" if r.get("early_stopping_wait") is None else f"{r['early_stopping_wait']}/{r['patience']}"
        lines.append(f"| {r['name']} | `{r['hash']}` | {r['state']} | {r['epochs_done']} / {cap or '?'} | {best} | "
                     f"{last} | {wait} | {(r.get('train_seconds') or 0) / 3600:.1f} |")
    return "\n".join(lines) + "\n"
