"""`fer-bench status`: the unfinished runs of a results folder (training now, or waiting to be resumed)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import FerBenchError

console = Console()


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        results: Path = typer.Option(Path("results"), "--results", help="results folder"),
        fmt: str = typer.Option("table", "--format", help="table | md | json"),
    ):
        """Runs in progress: epochs done, best validation accuracy, early-stopping counter, training time so far,
        and whether a process trains them now or the same command will resume them."""
        from ..results.status import partial_runs, status_markdown

        if fmt not in ("table", "md", "json"):
            raise FerBenchError(f"--format {fmt}: use table, md or json")
        if not results.is_dir():
            raise FerBenchError(f"{results}: no such results folder; pass --results DIR (where run/sweep wrote)")
        runs = partial_runs(results)
        if fmt == "json":
            console.print_json(json.dumps(runs))
            return
        if fmt == "md":
            print(status_markdown(runs), end="")
            return
        if not runs:
            console.print(f"no runs in progress in {results} (finished runs: fer-bench leaderboard --results "
                          f"{results})", markup=False, highlight=False, soft_wrap=True)
            return
        t = Table(title=escape(f"runs in progress in {results}"))
        t.add_column("run / state", overflow="fold", min_width=22)
        for col in ("epochs", "best val (ep)", "last val", "ES", "hours"):
            t.add_column(col, justify="right", no_wrap=True)
        for r in runs:
            cap = r.get("epoch_cap")
            epochs = f"{r['epochs_done']}/{cap}" if cap else str(r["epochs_done"])
            if r.get("stopped_early"):
                epochs += " stopped"
            best = "-" if r.get("best_val_accuracy") is None else \
                f"{r['best_val_accuracy']:.3f} ({r.get('best_epoch')})"
            wait = "-" if r.get("early_stopping_wait") is None else f"{r['early_stopping_wait']}/{r['patience']}"
            label = r["hash"] if r["name"] == "?" else f"{r['name']} {r['hash']}"
            t.add_row(escape(f"{label}\n{r['state']}"), epochs, best, _num(r.get("last_val_accuracy"), ".3f"), wait,
                      f"{(r.get('train_seconds') or 0) / 3600:.1f}")
        console.print(t)
        console.print("epochs: finished epochs of the current phase / cap; ES: epochs since the best "
                      "validation loss / early-stopping patience; hours: training time so far (wall clock); "
                      "--format json adds the learning rate and the command.",
                      markup=False, highlight=False, soft_wrap=True)
