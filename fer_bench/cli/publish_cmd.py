"""`fer-bench publish SRC... --to DEST`: the small records of finished runs, ready to commit."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def publish(
        sources: list[Path] = typer.Argument(..., help="results folders (where run, sweep or evaluate wrote)"),
        to: Path = typer.Option(..., "--to", help="folder to copy the records into (DEST/runs/<hash>/)"),
    ):
        """Copy each finished run's record (config, metrics, run info with command, versions and data hashes,
        training history; no model, no predictions) into DEST, so `fer-bench leaderboard --results DEST`
        rebuilds a committed table whose rows link to their records."""
        from ..results.publish import publish_records

        out = publish_records(list(sources), to)
        console.print(f"{out['finished_runs']} finished runs: {len(out['copied'])} records copied to {to / 'runs'}, "
                      f"{len(out['already_there'])} already there", markup=False, highlight=False, soft_wrap=True)
