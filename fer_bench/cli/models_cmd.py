"""`fer-bench models ...` (the model zoo and its cards) and `fer-bench weights ...` (the offline weights cache)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import FerBenchError

models_app = typer.Typer(help="List the model zoo, show a model's card and layers.", no_args_is_help=True)
weights_app = typer.Typer(
    help="Pretrained weights, offline first: what is cached, fetch on request, import a file you have.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `models` and `weights` command groups to the fer-bench app."""
    app.add_typer(models_app, name="models")
    app.add_typer(weights_app, name="weights")


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n:,}"


def _rows(res: int | None) -> list[dict[str, Any]]:
    from .. import api
    from ..models.cards import load_cards

    cards = load_cards()
    rows = []
    for spec in api.list_models(res):  # the models that accept that input size
        name = spec.name
        card = cards.get(name, {})
        params = card.get("params", {})
        default_init = "scratch" if "scratch" in params else next(iter(params), None)
        counts = params.get(default_init, {}) if default_init else {}
        rows.append({
            "name": name,
            "aliases": list(spec.aliases),
            "family": spec.family,
            "params_48": counts.get("48"),
            "params_224": counts.get("224"),
            "params_init": default_init,
            "params_by_init": params,
            "inits": list(spec.inits),
            "preprocessing": {i: spec.preprocess_mode(i) for i in spec.inits},
            "min_size": spec.min_size,
            "two_phase": spec.two_phase,
            "paper_param": card.get("paper_param", {}),
            "description": spec.description,
            "has_card": bool(card),
        })
    return rows


@models_app.command("list")
def models_list(
    res: Annotated[int | None, typer.Option("--res", help="Only models that accept this input size "
                                            "(48 or 224), and only that size's parameter count.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    family: Annotated[str | None, typer.Option(help="Only this family (keras.applications, vggface, "
                                               "classic, custom, repvgg).")] = None,
) -> None:
    """Every registered model: name, aliases, family, parameters at 48/224 px, allowed inits."""
    if res is not None and res <= 0:
        raise FerBenchError(f"--res must be a positive input size (48 or 224), got {res}")
    rows = _rows(res)
    if family:
        rows = [r for r in rows if r["family"] == family]
        if not rows:
            raise FerBenchError(f"no models in family {family!r}")
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    t = Table(title=f"{len(rows)} models" + (f" accepting {res}x{res}" if res else ""), title_justify="left")
    t.add_column("name", style="bold", no_wrap=True, min_width=max((len(r["name"]) for r in rows), default=4))
    t.add_column("family", no_wrap=True, min_width=9)
    sizes = [res] if res else [48, 224]
    for s in sizes:
        t.add_column(f"@{s}", justify="right", no_wrap=True, min_width=7)
    t.add_column("paper", justify="right")
    t.add_column("inits", overflow="fold")
    console = Console()
    wide = console.width >= 120  # aliases only when there is room (always in --json and `models show`)
    if wide:
        t.add_column("aliases", overflow="fold")
    for r in rows:
        counts = [r.get(f"params_{s}") if s in (48, 224) else None for s in sizes]
        pp = r["paper_param"]
        paper = " / ".join(pp.get(str(s), "-") for s in sizes) if pp else "-"
        t.add_row(r["name"], r["family"].replace("keras.applications", "keras.app"),
                  *(_fmt_params(c) for c in counts), paper, ", ".join(r["inits"]),
                  *([", ".join(r["aliases"])] if wide else []))
    console.print(t)
    console.print("[dim]@48/@224: parameters measured for the scratch init (benchmarks/count_params.py); "
                    "paper: the BTFER paper's PARAM column. `fer-bench models show NAME` for every init.[/]")


def _paper_table(name: str) -> Table | None:
    from ..models.cards import paper_rows

    rows = paper_rows(name)
    if not rows:
        return None
    t = Table(title="paper (Ipinze Tutuianu et al. 2024, Tables 2-3): P / R / F1 / Acc", title_justify="left")
    for col in ("res", "init", "dataset", "balance", "in-domain", "BTFER"):
        t.add_column(col)
    keyed: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        keyed.setdefault((r["res"], r["init"], r["dataset"], r["balance"]), {})[r["split"]] = r

    def cell(m: dict) -> str:
        return " / ".join(f"{m[k]:.2f}" for k in ("precision", "recall", "f1", "accuracy"))

    for (res, init, ds, bal), splits in keyed.items():
        t.add_row(str(res), init, ds, bal, cell(splits["in_domain"]), cell(splits["cross_domain"]))
    return t


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="Model name or alias (see `fer-bench models list`).")],
    res: Annotated[int, typer.Option("--res", help="Input size for the layer summary.")] = 48,
    init: Annotated[str, typer.Option(help="Init whose architecture to summarise (no weights are loaded).")]
    = "scratch",
    layers: Annotated[bool, typer.Option("--layers/--no-layers", help="Build the model and print its layers.")]
    = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the card as JSON (no layer summary).")] = False,
) -> None:
    """A model's card (family, inits, preprocessing, parameter counts, the paper's numbers) and layer summary."""
    from ..models.cards import load_cards
    from ..models.registry import get_spec

    spec = get_spec(name)
    card = load_cards().get(spec.name, {"name": spec.name})
    if as_json:
        sys.stdout.write(json.dumps(card, indent=2) + "\n")
        return
    console = Console()
    console.print(f"[bold]{spec.name}[/]  {spec.description}", highlight=False, soft_wrap=True)
    info = Table(show_header=False, box=None, pad_edge=False)
    info.add_column(style="dim")
    info.add_column(overflow="fold")
    info.add_row("family", spec.family)
    info.add_row("aliases", ", ".join(spec.aliases) or "-")
    info.add_row("builder", card.get("builder", f"{spec.builder.__module__}:{spec.builder.__qualname__}"))
    info.add_row("inits", ", ".join(spec.inits))
    info.add_row("preprocessing", ", ".join(f"{i}: {spec.preprocess_mode(i)}" for i in spec.inits))
    info.add_row("min input", f"{spec.min_size} px")
    info.add_row("two-phase", "yes (nested 'backbone' frozen in phase 1)" if spec.two_phase else "no")
    for i, counts in card.get("params", {}).items():
        info.add_row(f"params ({i})", "   ".join(f"{r} px: {n:,}" for r, n in counts.items()))
    if card.get("reference_params"):
        info.add_row("authors' code", "   ".join(f"{r} px: {n:,}" for r, n in card["reference_params"].items()))
    if card.get("paper_param"):
        info.add_row("paper PARAM", "   ".join(f"{r} px: {v}" for r, v in card["paper_param"].items()))
    if card.get("paper_names"):
        info.add_row("paper labels", ", ".join(card["paper_names"]))
    if card.get("notes"):
        info.add_row("notes", card["notes"])
    console.print(info)
    pt = _paper_table(spec.name) if card.get("paper") else None
    if pt is not None:
        console.print(pt)
    if layers:
        from ..models import weights as W
        from ..models.registry import build_model

        with W.architecture_only():
            model = build_model(spec.name, res, init=init)
        lt = Table(title=f"layers at {res}x{res} ({init}, {model.count_params():,} params)", title_justify="left")
        lt.add_column("layer")
        lt.add_column("type")
        lt.add_column("output shape")
        lt.add_column("params", justify="right")
        for layer in model.layers:
            try:
                shape = str(tuple(layer.output.shape))
            except Exception:
                shape = "?"
            lt.add_row(layer.name, layer.__class__.__name__, shape, f"{layer.count_params():,}")
        console.print(lt)


# ------------------------------------------------------------------------------------------------ weights
@weights_app.command("status")
def weights_status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Which known weights are cached, and where (nothing is downloaded)."""
    from ..models import weights as W

    rows = W.status()
    if as_json:
        sys.stdout.write(json.dumps({"weights_dir": str(W.weights_dir()),
                                     "keras_dir": str(W.keras_models_dir()), "weights": rows}, indent=2) + "\n")
        return
    console = Console()
    console.print(f"fer-bench cache: [bold]{W.weights_dir()}[/]  (set ${W.ENV_VAR} to move it)", highlight=False,
                  soft_wrap=True)
    console.print(f"Keras cache:     [bold]{W.keras_models_dir()}[/]  (ImageNet weights of keras.applications)",
                  highlight=False, soft_wrap=True)
    t = Table()
    t.add_column("name", style="bold")
    t.add_column("model / init")
    t.add_column("cached")
    t.add_column("path (or where it goes)", overflow="fold")
    for r in rows:
        cached = "[green]yes[/]" if r["cached"] else "[red]no[/]"
        t.add_row(r["name"], f"{r['model']} / {r['init']}", cached, r["path"] or r["target"])
    console.print(t)
    missing = [r["name"] for r in rows if not r["cached"]]
    if missing:
        console.print("[dim]get one with `fer-bench weights fetch NAME` (downloads) or "
                      "`fer-bench weights import NAME FILE` (a file you already have)[/]")


@weights_app.command("fetch")
def weights_fetch(
    name: Annotated[str, typer.Argument(help="A name from `fer-bench weights status`.")],
    force: Annotated[bool, typer.Option(help="Download again even when cached.")] = False,
) -> None:
    """Download one known weights file into its cache (checks md5/sha256 where known)."""
    from ..models import weights as W

    entry = W.get_entry(name)
    console = Console(stderr=True)
    if not force and W.find(entry.name) is not None:
        console.print(f"{entry.name}: already cached at {W.find(entry.name)}", highlight=False, soft_wrap=True)
        return
    console.print(f"downloading {entry.url or entry.name} ...", highlight=False, soft_wrap=True)
    last = [-1]

    def progress(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else -1
        if pct >= 0 and pct // 10 != last[0]:
            last[0] = pct // 10
            console.print(f"  {pct}% ({done / 1e6:.0f} MB)", highlight=False)

    path = W.fetch(entry.name, force=force, progress=progress)
    from ..hashing import file_sha256

    sha = file_sha256(Path(path)) if Path(path).is_file() else None
    console.print(f"[green]ok[/] {entry.name} -> {path}" + (f"  sha256 {sha}" if sha else ""), highlight=False,
                  soft_wrap=True)


@weights_app.command("import")
def weights_import(
    name: Annotated[str, typer.Argument(help="A name from `fer-bench weights status`.")],
    file: Annotated[Path, typer.Argument(help="The weights file (h5) or, for keras-hub, the preset folder.")],
) -> None:
    """Check a weights file's layer layout against the architecture, then copy it into the cache."""
    from ..models import weights as W

    entry = W.get_entry(name)
    dst = W.import_file(entry.name, file)
    Console(stderr=True).print(f"[green]ok[/] {entry.name}: layout verified, copied to {dst}", highlight=False,
                               soft_wrap=True)
