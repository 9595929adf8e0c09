"""`fer-bench report` (one self-contained HTML file + Markdown twin) and `fer-bench plot KIND` (one figure)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ..errors import FerBenchError

console = Console()

_KINDS_HELP = "bars | params | per-class | confusion | curves | gap | rq1 | rq2 | rq3"


def _check_results(results: Path) -> None:
    if not (results / "runs").is_dir():  # before any work
        raise FerBenchError(f"no runs found under {results}/runs; run `fer-bench quickstart` or `fer-bench run` "
                            "first, or pass --results DIR")


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        results: Path = typer.Option(Path("results"), "--results", help="results folder (holds runs/)"),
        out: Path = typer.Option(None, "--out", help="HTML file to write (default RESULTS/report.html); the "
                                 "Markdown twin goes beside it (.md)"),
        merge: list[Path] = typer.Option(None, "--merge", metavar="CSV",
                                         help="an earlier leaderboard.csv whose rows are added where the run "
                                              "folders have no such group (repeatable)"),
    ):
        """Answer the paper's research questions (resolution, pretraining, class balancing) from your runs: one
        self-contained HTML report with figures, significance tests and the paper beside ours, plus Markdown."""
        if out is not None and out.suffix.lower() not in (".html", ".htm"):
            raise FerBenchError(f"{out}: the report file must end in .html (its Markdown twin is written beside it)")
        _check_results(results)
        from ..results.report import write_report

        paths = write_report(results, out, merge=tuple(merge or ()))
        console.print(f"report: {paths['html']}  (Markdown: {paths['md']})", markup=False, highlight=False,
                      soft_wrap=True)

    @app.command()
    def plot(
        kind: str = typer.Argument(..., metavar="KIND", help=_KINDS_HELP),
        out: Path = typer.Option(..., "--out", help="figure file, .png or .svg"),
        results: Path = typer.Option(Path("results"), "--results", help="results folder (holds runs/)"),
        merge: list[Path] = typer.Option(None, "--merge", metavar="CSV",
                                         help="an earlier leaderboard.csv to add rows from (repeatable)"),
    ):
        """Write one figure of the report (for a paper): bars = in-domain vs cross-domain accuracy, params =
        accuracy vs parameter count, per-class recall, confusion matrices, training curves, gap = in-domain ->
        cross-domain gap, rq1/rq2/rq3 = the research-question comparisons."""
        from ..results.report import KINDS

        if kind not in KINDS:
            raise FerBenchError(f"unknown plot kind {kind!r}; use one of {', '.join(KINDS)}")
        if out.suffix.lower() not in (".png", ".svg"):
            raise FerBenchError(f"{out}: the figure file must end in .png or .svg")
        _check_results(results)
        from ..results.report import write_plot

        console.print(f"figure: {write_plot(results, kind, out, merge=tuple(merge or ()))}", markup=False,
                      highlight=False, soft_wrap=True)
