"""``fer-bench build-btfer``: build a balanced in-the-wild face test set from raw photos (the BTFER recipe)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


@contextlib.contextmanager
def rich_progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback for :func:`fer_bench.btfer.build_btfer` drawing rich bars
    with images/s, one per stage (none for a stage with nothing to do)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task):
            elapsed = task.finished_time if task.finished else task.elapsed
            rate = task.completed / elapsed if elapsed else 0.0
            return Text(f"{rate:5.1f} img/s", style="cyan")

    bars = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, object] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if not total:
            return
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield progress


class Detector(str, Enum):
    mtcnn = "mtcnn"
    haar = "haar"


class MultiFace(str, Enum):
    largest = "largest"
    reject = "reject"


def build_btfer_cmd(
    src: Annotated[
        Path,
        typer.Argument(
            help="Raw photos: a folder with one sub-folder per class (angry/, happy/, ...) or a CSV of path,label."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder (new, empty, or a previous build-btfer output)."),
    ],
    per_class: Annotated[
        int, typer.Option("--per-class", help="Faces per class in the balanced sample.")
    ] = 300,
    size: Annotated[int, typer.Option("--size", help="Output images are SIZE x SIZE pixels.")] = 256,
    margin: Annotated[
        int,
        typer.Option(
            "--margin", help="Pixels (of the source photo) added around the squared face box before resizing."
        ),
    ] = 20,
    detector: Annotated[
        Detector, typer.Option("--detector", help="mtcnn (as in the paper) or haar (light, no scores).")
    ] = Detector.mtcnn,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Keep faces with detector confidence >= this.")
    ] = 0.9,
    min_face: Annotated[
        int, typer.Option("--min-face", help="Keep faces whose shorter box side is >= this many pixels.")
    ] = 40,
    detect_pad: Annotated[
        float,
        typer.Option("--detect-pad", help="When a photo gives no face, detect again with a border of this "
                     "fraction of its longer side (finds faces that fill the frame); 0 turns it off."),
    ] = 0.25,
    multi_face: Annotated[
        MultiFace,
        typer.Option(
            "--multi-face", help="Photos with several faces: keep the largest, or reject the photo."
        ),
    ] = MultiFace.largest,
    dedup_threshold: Annotated[
        int,
        typer.Option(
            "--dedup-threshold",
            help="Near-duplicate if a phash Hamming distance is <= this (of 64 bits; -1: off).",
        ),
    ] = 6,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
    exclude: Annotated[
        Path | None,
        typer.Option(
            "--exclude", help="Text file of rejected output names or source paths (one per line, # comments)."
        ),
    ] = None,
    allow_short: Annotated[
        bool, typer.Option("--allow-short", help="Keep classes with fewer than --per-class faces.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Detection processes (default: CPU cores).")
    ] = None,
) -> None:
    """Detect, crop, dedup and sample faces into OUT/<class>/*.jpg, with manifest, reports, contact sheets.

    The same SRC, options and --exclude file recreate OUT byte for byte.

    Detections are cached in OUT/.btfer: re-runs (e.g. with rejects from OUT/_sheets in --exclude) are fast.
    """
    from ..btfer import BuildConfig, build_btfer

    cfg = BuildConfig(
        per_class=per_class,
        size=size,
        margin=margin,
        detector=detector.value,
        min_confidence=min_confidence,
        min_face=min_face,
        detect_pad=detect_pad,
        multi_face=multi_face.value,
        dedup_threshold=dedup_threshold,
        seed=seed,
        exclude=exclude,
        allow_short=allow_short,
        workers=workers,
    )
    err = Console(stderr=True)
    con = Console()
    try:
        with rich_progress(err) as progress:
            result = build_btfer(
                src, out, cfg, progress=progress, log=lambda m: err.print(m, highlight=False, markup=False)
            )
    except KeyboardInterrupt:
        # typer turns KeyboardInterrupt into a return value that main() drops (exit status 0); exit 130 here
        err.print("[yellow]interrupted[/]; run the same command again to resume (detections done so far are "
                  "cached and not repeated)")
        sys.exit(130)
    rep = result.report
    short = {"found": "found", "readable": "readable", "face_detected": "face", "passed": "passed",
             "after_dedup": "dedup", "after_exclusions": "excl.", "selected": "selected"}  # fmt: skip
    table = Table(
        title=f"build-btfer -> {result.out}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption="face: a face detected; passed: confidence/size/multi-face; dedup: after near-duplicate removal; "
        "excl.: after --exclude",
        caption_justify="left",
    )
    table.add_column("class", no_wrap=True)
    for s in rep["stages"]:
        table.add_column(short.get(s, s), justify="right", no_wrap=True)
    for cls in rep["classes"]:
        table.add_row(cls, *(str(rep["counts"][cls][s]) for s in rep["stages"]))
    table.add_row("total", *(str(rep["totals"][s]) for s in rep["stages"]), style="bold")
    con.print(table)
    n_bad = rep["totals"]["found"] - rep["totals"]["readable"]
    if n_bad:
        con.print(
            f"[yellow]{n_bad} unreadable photo(s) skipped[/] (empty, corrupt, not an image, too small or too "
            f"large; reasons in {escape(str(result.out / 'report.md'))})"
        )
    st = result.stats
    rate = st.get("analyse_images_per_s")
    con.print(
        f"detector calls {st.get('detector_calls', 0)}, cached detections {st.get('det_cache_hits', 0)}"
        + (f", {rate} images/s" if rate else "")
        + f"; wrote {st.get('written', 0)} images ({st.get('unchanged_outputs', 0)} unchanged, "
        f"{st.get('removed_stale', 0)} stale removed) in {st.get('seconds_total', 0):.1f}s",
        highlight=False,
    )
    if rep["short_classes"]:
        con.print(f"[yellow]short classes (--allow-short): {rep['short_classes']}[/]")
    if rep["exclusions"]["unmatched"]:
        con.print(
            f"[yellow]--exclude entries that match nothing: {escape(', '.join(rep['exclusions']['unmatched']))}[/]"
        )
    con.print(
        f"manifest {result.manifest}\nreport   {result.out / 'report.md'}\n"
        f"sheets   {result.out / '_sheets'} ({len(result.sheets)} PNG) - list rejects in a file, re-run with --exclude",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``build-btfer`` to the fer-bench app."""
    app.command("build-btfer")(build_btfer_cmd)
