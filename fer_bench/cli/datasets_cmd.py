"""`fer-bench datasets ...`: inspect a dataset, list registered ones, write the synthetic one to disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DATASET_HELP = (
    "A path (class folders, fer2013.csv, RAF-DB basic, AffectNet), a name registered in "
    "~/.config/fer-bench/datasets.toml, or synth:lab / synth:wild[?n=200&test=60&seed=0&size=64]."
)
FORMAT_HELP = "Force the layout: folder | fer2013_csv | rafdb | affectnet_csv | affectnet_folders (default: detect)."

datasets_app = typer.Typer(
    help="Inspect datasets (counts, sizes, duplicates, leakage, unreadable files) and write synthetic data.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `datasets` command group to the fer-bench app."""
    app.add_typer(datasets_app, name="datasets")


def _counts_table(report: dict[str, Any]) -> Table:
    splits = report["splits"]
    t = Table()
    t.add_column("class")
    for s in splits:
        t.add_column(s, justify="right")
    t.add_column("total", justify="right", style="bold")
    for lab in report["label_names"]:
        t.add_row(lab, *(f"{report['counts'][s][lab]:,}" for s in splits), f"{report['class_totals'][lab]:,}")
    t.add_row(
        "[bold]total[/]",
        *(f"[bold]{sum(report['counts'][s].values()):,}[/]" for s in splits),
        f"{report['n_images']:,}",
    )
    return t


def _print_report(report: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]{escape(report['name'])}[/]  ({report['format']}, {report['n_images']:,} images)",
                  highlight=False, soft_wrap=True)
    console.print(_counts_table(report))
    console.print(f"root: {escape(report['root'])}   manifest hash: [bold]{report['manifest_hash']}[/]",
                  highlight=False, soft_wrap=True)
    examined = report["examined"]
    if examined < report["n_images"]:
        console.print(f"[yellow]examined {examined:,} of {report['n_images']:,} images (--max-images)[/]")

    sizes = Table(title=f"image sizes ({report['sizes']['distinct']} distinct)", title_justify="left")
    sizes.add_column("width x height")
    sizes.add_column("images", justify="right")
    for row in report["sizes"]["top"]:
        sizes.add_row(f"{row['width']} x {row['height']}", f"{row['count']:,}")
    modes = Table(title="modes", title_justify="left")
    modes.add_column("mode")
    modes.add_column("images", justify="right")
    for mode, n in report["modes"].items():
        modes.add_row(mode, f"{n:,}")
    console.print(sizes)
    console.print(modes)

    d = report["duplicates"]
    if not d["checked"]:
        console.print("duplicates: not checked (--no-hash)")
    elif not d["n_groups"]:
        console.print("[green]duplicates: none[/]")
    else:
        leak = ", ".join(f"{k}: {v}" for k, v in d["leakage"].items()) or "none"
        console.print(
            f"[bold]duplicates:[/] {d['n_groups']:,} groups of identical images ({d['n_items']:,} images, "
            f"{d['n_redundant']:,} redundant); [red]{d['n_label_conflict']:,} with conflicting labels[/]; "
            f"[red]{d['n_cross_split']:,} crossing splits[/] (leakage {leak})",
            highlight=False,
        )
        flagged = [g for g in d["groups"] if g["cross_split"] or g["label_conflict"]]
        if flagged:
            t = Table(title=f"flagged duplicate groups (first {min(15, len(flagged))} of {len(flagged)})",
                      title_justify="left")
            t.add_column("flags")
            t.add_column("items (label, split)")
            for g in flagged[:15]:
                flags = ", ".join(f for f, on in (("leakage", g["cross_split"]), ("labels", g["label_conflict"])) if on)
                members = [f"{escape(i)} ({lab}, {s})"
                           for i, lab, s in zip(g["items"], g["labels"], g["splits"], strict=True)]
                more = f" ... +{len(members) - 4} more" if len(members) > 4 else ""
                t.add_row(flags, "\n".join(members[:4]) + more)
            console.print(t)

    bad = report["unreadable"]
    if bad:
        kinds = ", ".join(f"{k} {n:,}" for k, n in report.get("skipped", {}).items())
        t = Table(title=f"unreadable images ({len(bad)}): {kinds}; skipped by run and evaluate",
                  title_justify="left")
        t.add_column("item")
        t.add_column("kind")
        t.add_column("reason")
        for b in bad[:20]:  # names and messages are data, not rich markup ("[red].jpg" is a valid file name)
            t.add_row(escape(b["item"]), b.get("kind", ""), escape(b.get("detail", b["error"])))
        if len(bad) > 20:
            t.add_row(f"... {len(bad) - 20} more (use --json for all)", "", "")
        console.print(t)
    else:
        console.print("[green]unreadable images: none[/]")
    for note in report["notes"]:
        console.print(f"note: {note}", highlight=False, soft_wrap=True, markup=False)
    console.print(f"[dim]inspected in {report['seconds']:.1f} s[/]")


@datasets_app.command("inspect")
def inspect_cmd(
    dataset: Annotated[str, typer.Argument(help=DATASET_HELP, show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    format: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    no_hash: Annotated[bool, typer.Option("--no-hash", help="Skip the duplicate search.")] = False,
    max_images: Annotated[
        int | None, typer.Option("--max-images", help="Examine at most N images (spread evenly).")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option("--registry", help="datasets.toml to use for named datasets.")
    ] = None,
) -> None:
    """Counts per class and split, image sizes and modes, exact duplicates (train/test leakage), unreadable files."""
    from ..data.adapters import open_dataset
    from ..data.inspect import inspect_dataset

    source = open_dataset(dataset, registry_file=registry, format=format)
    err = Console(stderr=True)
    if err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress("inspecting", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("inspect", total=len(source.manifest))
            report = inspect_dataset(source, hash_contents=not no_hash, max_images=max_images,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        report = inspect_dataset(source, hash_contents=not no_hash, max_images=max_images)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    _print_report(report, Console())


@datasets_app.command("list")
def list_cmd(
    registry: Annotated[
        Path | None, typer.Option("--registry", help="datasets.toml to read.")
    ] = None,
) -> None:
    """Datasets registered in the datasets TOML ($FER_BENCH_DATASETS or ~/.config/fer-bench/datasets.toml)."""
    from ..data.adapters import load_registry, registry_path

    path, _ = registry_path(registry)
    entries = load_registry(registry)
    console = Console()
    if not entries:
        console.print(
            f"no datasets registered in {path}; add e.g.\n  [datasets.fer2013]\n  path = \"/data/fer2013\"",
            highlight=False, markup=False, soft_wrap=True,
        )
        return
    t = Table(title=f"registered datasets ({path})", title_justify="left")
    t.add_column("name")
    t.add_column("path")
    t.add_column("format")
    t.add_column("exists")
    for e in entries.values():
        exists = e.path.lower().startswith("synth:") or Path(e.path).exists()
        t.add_row(e.name, e.path, e.format or "detect", "yes" if exists else "[red]no[/]")
    console.print(t)


@datasets_app.command("synth")
def synth_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder (class folders inside split folders).")],
    domain: Annotated[str, typer.Option("--domain", help="lab (clean, frontal) or wild (pose, light, clutter).")]
    = "wild",
    n_per_class: Annotated[int, typer.Option("--n-per-class", min=1, help="Training images per class.")] = 200,
    size: Annotated[int, typer.Option("--size", min=8, help="Image side in pixels.")] = 64,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Generator seed.")] = 0,
    test_per_class: Annotated[
        int | None,
        typer.Option("--test-per-class", min=0, help="Test images per class (default: n-per-class / 4)."),
    ] = None,
) -> None:
    """Write the synthetic dataset as class folders (readable by every tool) plus a preview grid."""
    from ..errors import FerBenchError

    try:
        from ..data.synth import write_folder
    except ImportError as exc:
        raise FerBenchError(f"the synthetic generator is not available ({exc}); reinstall fer-bench") from None
    splits = None if test_per_class is None else {"train": n_per_class, "test": test_per_class}
    result = write_folder(domain, out, n_per_class=n_per_class, size=size, seed=seed, splits=splits)
    console = Console()
    counts = result.get("counts", {}) if isinstance(result, dict) else {}
    if counts and all(isinstance(v, dict) for v in counts.values()):
        splits = list(counts)
        labels = list(dict.fromkeys(lab for v in counts.values() for lab in v))
        console.print(f"synth:{domain} -> {out}", highlight=False, soft_wrap=True)
        t = Table()
        t.add_column("class")
        for s in splits:
            t.add_column(s, justify="right")
        for lab in labels:
            t.add_row(lab, *(str(counts[s].get(lab, 0)) for s in splits))
        console.print(t)
    else:
        console.print(f"synth:{domain} -> {out}: {counts}", highlight=False, soft_wrap=True)
    grid = result.get("grid") if isinstance(result, dict) else None
    if grid:
        console.print(f"preview grid: {grid}", highlight=False, soft_wrap=True)
