"""`fer-bench run`, `sweep`, `leaderboard` and `quickstart`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..errors import FerBenchError
from ..protocol.config import BALANCES, PRECISIONS, RunConfig, scale_for_devices

console = Console()

# The quickstart uses the `strong` recipe (Adam 1e-3 with warm-up + cosine, label smoothing, milder augmentation):
# with the paper recipe's Adam 1e-4, 840 training images and 12 epochs, every model stayed at chance (measured:
# in-domain accuracy 0.15-0.21); the strong recipe reaches ~0.8 in-domain in 15 epochs. sequential_4conv (six
# plain convolutions before its only BatchNorm) stayed at chance in 1 of 2 such runs, so the third model is the
# BatchNorm VGG-style fer_vgg, which trains reliably on small data. The training split has FER2013's class
# imbalance (skew=1: 795 images, happy 200 ... disgust 12), so simple and conservative weights differ; with 120 as
# the largest class (477 images) fer_vgg stayed at chance in 15 epochs (measured 0.16 / 0.14), with 200 it reached
# 0.50.
QUICKSTART = dict(models=["sequential_simple", "fer_vgg", "lenet5"], balance=["simple", "conservative"],
                  res=48, epochs=15, batch_size=32, recipe="strong", train="synth:lab?n=200&test=40&skew=1",
                  tests=("synth:wild?n=10&test=40",))


_DEVICES_HELP = ("train each run with tf.distribute.MirroredStrategy on N GPUs (all: every visible one; CPU-only "
                 "machines: the logical CPUs); --batch-size stays the global batch, split across them")
_PRECISION_HELP = (f"{' | '.join(PRECISIONS)} (mixed: mixed_float16, GPUs only; bf16: mixed_bfloat16, CPUs with "
                   "AVX512_BF16/AMX or GPUs; part of the config hash)")
_SCALE_HELP = "linear scaling rule for --devices N: batch size x N and learning rate x N (a new config hash)"


def run_configs_ray(configs: list[RunConfig], results: Path, *, force: bool = False, address: str | None = None,
                    cpus_per_run: float = 1, gpus_per_run: float = 0, retries: int = 2) -> list:
    """Run configs as Ray tasks with a live display (done / running / failed / queued, ETA); returns the failures
    (each already printed as one line)."""
    from .. import api

    failures: list = []
    with _progress() as progress:
        overall = progress.add_task("runs", total=len(configs))

        def on_progress(c):
            progress.update(overall, completed=c["done"] + c["failed"],
                            description=f"runs: {c['done']} done, {c['running']} running, {c['failed']} failed, "
                                        f"{c['queued']} queued" + (f", {c['retries']} retried" if c["retries"]
                                                                   else ""))

        def on_stage(text):
            console.print(f"  {text}", markup=False, highlight=False, soft_wrap=True)

        def on_run(cfg, out, locked, seconds):
            if locked is not None:
                line = f"{cfg.short_name()} skipped: {locked}"
            else:
                status = "skipped (finished before; --force to redo)" if out.skipped else \
                    f"done in {seconds:.0f}s" + (f", resumed after {out.resumed_from}" if out.resumed_from else "")
                acc = out.metrics.get("in_domain", {}).get("accuracy")
                line = f"{cfg.short_name()} {status}" + (f", in-domain acc {acc:.3f}" if acc is not None else "")
            console.print(line, highlight=False, markup=False, soft_wrap=True)

        def on_failed(f):
            failures.append(f)
            console.print(f"[red]{escape(f.config.short_name())} failed after {f.attempts} attempt"
                          f"{'s' if f.attempts != 1 else ''}[/]: {escape(f.error)}", soft_wrap=True)

        api.run_sweep(configs, results, force=force, backend="ray",
                      backend_options=dict(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                                           retries=retries),
                      on_stage=on_stage, on_run=on_run, on_failed=on_failed, on_progress=on_progress)
    return failures


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("•"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                    transient=False)


def run_configs(configs: list[RunConfig], results: Path, *, force: bool = False) -> list:
    """Run configs in order (:func:`fer_bench.api.run_sweep`) with a rich display (runs overall, epochs of the
    current run, ETA).

    In a sweep (several configs), a config another process is training right now is skipped with a note;
    a single run reports it as an error.
    """
    from .. import api
    from ..results.store import RunLockedError

    with _progress() as progress:
        overall = progress.add_task("runs", total=len(configs))
        now: dict = {}

        def on_start(cfg):
            two = cfg.weights != "scratch" and cfg.frozen_epochs > 0
            now.update(cfg=cfg, frozen_total=cfg.frozen_epochs if two else 0,
                       total=cfg.epochs + (cfg.frozen_epochs if two else 0))
            now["task"] = progress.add_task(f"  {cfg.short_name()}", total=now["total"])

        def on_epoch(phase, epoch, n, row):
            cfg = now["cfg"]
            base = 0 if phase == "frozen" else now["frozen_total"]
            progress.update(now["task"], completed=base + epoch,  # \\[: "[frozen]" is text, not a rich style tag
                            description=f"  {cfg.short_name()} \\[{phase}] "
                                        f"val_acc {row.get('val_accuracy', 0):.3f}")
            if not console.is_terminal:  # logs and background jobs get one line per epoch
                console.print(f"{cfg.short_name()} {phase} epoch {epoch}/{n}: "
                              + " ".join(f"{k} {row[k]:.4g}" for k in
                                         ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
                                         if k in row), highlight=False)

        def on_stage(text):
            progress.update(now["task"], description=f"  {now['cfg'].short_name()}: {escape(str(text))}")
            if not console.is_terminal:  # a log shows what a long silent stage (decoding, a teacher) is doing
                console.print(f"{now['cfg'].short_name()}: {text}", highlight=False, markup=False, soft_wrap=True)

        def on_run(cfg, out, locked, seconds):
            if locked is not None:
                if len(configs) == 1:
                    raise RunLockedError(locked)
                progress.update(now["task"], description=f"  {cfg.short_name()} skipped: {escape(locked)}")
                if not console.is_terminal:
                    console.print(f"{cfg.short_name()} skipped: {locked}", highlight=False, markup=False,
                                  soft_wrap=True)
                progress.advance(overall)
                return
            progress.update(now["task"], completed=now["total"])
            status = "skipped (finished before; --force to redo)" if out.skipped else \
                f"done in {seconds:.0f}s" + (f", resumed after {out.resumed_from}" if out.resumed_from else "")
            acc = out.metrics.get("in_domain", {}).get("accuracy")
            line = f"{cfg.short_name()} {status}" + (f", in-domain acc {acc:.3f}" if acc is not None else "")
            progress.update(now["task"], description=f"  {line}")
            if not console.is_terminal:  # a bar's description is cut at the width; logs get the whole line
                console.print(line, highlight=False, markup=False, soft_wrap=True)
            progress.advance(overall)

        return api.run_sweep(configs, results, force=force, on_start=on_start, on_epoch=on_epoch,
                             on_stage=on_stage, on_run=on_run)


def _plan(cfg: RunConfig) -> str:
    """One line saying what a run is about to do (dataset, model, size, init, epochs, tests)."""
    two = cfg.weights != "scratch" and cfg.frozen_epochs > 0
    n = f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"
    epochs = f"up to {cfg.frozen_epochs} frozen + {n}" if two else f"up to {n}"
    tests = ", ".join(cfg.tests) if cfg.tests else "none"
    extra = f", distilled from {cfg.teacher} (weight {cfg.teacher_weight:g})" if cfg.teacher else ""
    return (f"training {cfg.model} at {cfg.res} px ({cfg.weights}, balance {cfg.balance}, recipe {cfg.recipe}, "
            f"seed {cfg.seed}) on {cfg.train}, {epochs}{extra}; cross-domain tests: {tests}")


def _print_outcome(out) -> None:
    table = Table(title=f"{out.config.short_name()}  ->  {out.folder}")
    table.add_column("test set", overflow="fold", min_width=12)  # the dataset spec names the row: fold, never cut
    for col in ("split", "n", "Acc", "UAR", "P", "R", "F1", "top-2"):
        table.add_column(col, no_wrap=True)
    for name, m in out.metrics.items():
        table.add_row(f"{name} ({m.get('dataset', '')})", str(m.get("split", "")), str(m["n"]),
                      f"{m['accuracy']:.3f}", f"{m['uar']:.3f}", f"{m['precision']:.3f}", f"{m['recall']:.3f}",
                      f"{m['f1']:.3f}", f"{m['top2_accuracy']:.3f}")
    console.print(table)


def _ranking_table(ranked) -> Table:
    """The terminal view of the leaderboard: the ranking (one row per model group and balancing, best in-domain
    accuracy first). The paper-layout tables are ~25 columns, unreadable in a terminal; the files keep them."""
    from rich.markup import escape  # row labels hold "[strong recipe]", which rich would read as a style tag

    t = Table(title="fer-bench leaderboard (best in-domain accuracy first)")
    for c in ranked.columns:
        t.add_column(str(c), overflow="fold", justify="left" if c in ("model", "train", "kind", "balance")
                     else "right")
    for _, row in ranked.iterrows():
        t.add_row(*[escape("n/a" if c == "balance" and v == "-" else str(v)) for c, v in row.items()])
    return t


_PAPER_SHORT = {"paper ID Acc": "P-ID", "paper BTFER Acc": "P-BTFER"}


def _compact_ranking(ranked, width: int) -> list[str]:
    """The ranking as plain lines for logs, pipes and narrow terminals: the numbers in fixed columns first, the
    row label last (it is the long part), wrapped under itself, or on its own lines when the numbers leave it
    too little room. Cross-domain sets get short names (XD1, XD2, ...) explained in the legend."""
    import textwrap

    label_cols = ("model", "train", "kind", "balance")
    cols = [c for c in ranked.columns if c not in label_cols]
    targets: list[str] = []
    heads = []
    for c in cols:
        if c.startswith("XD ") and c.rsplit(" ", 1)[-1] in ("Acc", "F1"):
            t = c[3:].rsplit(" ", 1)[0]
            if t not in targets:
                targets.append(t)
            heads.append(f"XD{targets.index(t) + 1} {c.rsplit(' ', 1)[-1]}")
        else:
            heads.append(_PAPER_SHORT.get(c, c))
    cells = [[str(v) for v in row] for row in ranked[cols].itertuples(index=False)]
    widths = [max([len(h), *(len(r[j]) for r in cells)]) for j, h in enumerate(heads)]

    gap = "  " if sum(widths) + 2 * (len(widths) - 1) <= width else " "

    def numbers(values) -> str:
        return gap.join(v.rjust(w) for v, w in zip(values, widths, strict=True))

    def label(row) -> str:
        extra = [str(row["train"])]
        if str(row["balance"]) not in ("", "-"):
            extra.append(f"balance {row['balance']}")
        if row["kind"] != "ours":
            extra.append(str(row["kind"]))
        return f"{row['model']} ({', '.join(extra)})"

    prefix = len(numbers(heads)) + 2
    room = width - prefix
    head = "model (training set, balancing)"
    lines = [numbers(heads) + "  " + head] if room >= 24 else [numbers(heads), "    " + head]
    for values, (_, row) in zip(cells, ranked.iterrows(), strict=True):
        text = label(row)
        if room >= 24:
            wrapped = textwrap.wrap(text, room, break_on_hyphens=False) or [""]
            lines.append(numbers(values) + "  " + wrapped[0])
            lines += [" " * prefix + w for w in wrapped[1:]]
        else:
            lines.append(numbers(values))
            lines += ["    " + w for w in textwrap.wrap(text, max(20, width - 4), break_on_hyphens=False)]
    legend = ["ID = in-domain test split"] + [f"XD{i} = {t} (cross-domain)" for i, t in enumerate(targets, 1)]
    if any(c in _PAPER_SHORT for c in cols):
        legend.append("P-ID, P-BTFER = the BTFER paper's in-domain and BTFER accuracy for the same cell")
    lines += textwrap.wrap("(" + "; ".join(legend) + "; the files hold macro P/R, a paper-reproduction view and one "
                           "table per test set and balancing too)", max(20, width), break_on_hyphens=False)
    return lines


def _print_leaderboard(results: Path, fmt: str = "table", merge=()) -> dict:
    from .. import api

    paths = api.write_leaderboard(results, merge)
    if fmt in ("md", "csv", "json"):  # machine-readable: the file's bytes, unwrapped; the note goes to stderr
        sys.stdout.write(paths[fmt].read_text())
        sys.stdout.flush()
        Console(stderr=True).print(f"written: {paths['md']}  {paths['csv']}  {paths['json']}", markup=False,
                                   highlight=False, soft_wrap=True)
        return paths
    else:
        ranked = api.leaderboard(results, merge)
        if ranked.empty:
            console.print(f"no finished runs under {results}/runs")
        else:
            from rich.measure import Measurement

            table = _ranking_table(ranked)
            # piped output (logs, `| less`) or a terminal narrower than the table: the 80-column plain form
            if console.is_terminal and Measurement.get(console, console.options, table).maximum <= console.width:
                console.print(table)
                console.print("(ID = in-domain test split, XD = cross-domain set; the files hold macro P/R, a "
                              "paper-reproduction view and one table per test set and balancing too)")
            else:
                console.print(str(table.title)[: console.width], markup=False, highlight=False)
                for line in _compact_ranking(ranked, console.width):
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"written: {paths['md']}  {paths['csv']}  {paths['json']}", markup=False, highlight=False)
    return paths


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        model: str = typer.Option("sequential_4conv", "--model", "-m", help="registry name or alias"),
        res: int = typer.Option(48, "--res", help="input resolution (48 or 224)"),
        weights: str = typer.Option("scratch", "--weights", "-w", help="imagenet | vggface | scratch"),
        balance: str = typer.Option("conservative", "--balance", "-b", help=" | ".join(BALANCES)),
        train: str = typer.Option(None, "--train", metavar="DATASET",
                                  help="training DATASET, required: a path, a name from datasets.toml, or synth:lab "
                                       "for a synthetic try-out"),
        test: list[str] = typer.Option(None, "--test", metavar="DATASET",
                                       help="cross-domain test DATASET (repeatable)"),
        epochs: int = typer.Option(100, "--epochs", help="epoch cap (full-network phase)"),
        frozen_epochs: int = typer.Option(20, "--frozen-epochs", help="epoch cap of the frozen phase"),
        seed: int = typer.Option(0, "--seed"),
        batch_size: int = typer.Option(64, "--batch-size"),
        val_fraction: float = typer.Option(0.1, "--val-fraction", help="validation carved from training"),
        protocol: str = typer.Option("fer-bench", "--protocol",
                                     help="fer-bench (honest) | paper (authors' quirks, for comparison)"),
        recipe: str = typer.Option("paper", "--recipe", help="paper | strong"),
        lr: float = typer.Option(None, "--lr", help="learning rate (default: the model's paper LR)"),
        color: str = typer.Option("auto", "--color", help="auto | rgb | gray (decode-once cache mode)"),
        max_train_images: int = typer.Option(None, "--max-train-images", help="stratified subset (quick runs)"),
        no_augment: bool = typer.Option(False, "--no-augment", help="disable the paper augmentation"),
        deterministic: bool = typer.Option(True, "--deterministic/--no-deterministic",
                                           help="TensorFlow op determinism (see the README for its cost)"),
        init_from: Path = typer.Option(None, "--init-from",
                                       help="continue training from this .keras file (same architecture)"),
        teacher: Path = typer.Option(None, "--teacher", help="distil from this model or ensemble .keras: its "
                                     "outputs on the fit images become soft targets"),
        teacher_weight: float = typer.Option(None, "--teacher-weight",
                                             help="share of the teacher in each target (0 < w <= 1; default 0.5)"),
        devices: str = typer.Option(None, "--devices", metavar="N|all", help=_DEVICES_HELP),
        precision: str = typer.Option("float32", "--precision", help=_PRECISION_HELP),
        scale_batch: bool = typer.Option(False, "--scale-batch", help=_SCALE_HELP),
        results: Path = typer.Option(Path("results"), "--results", help="results folder"),
        force: bool = typer.Option(False, "--force", help="re-run even if this config has finished"),
    ):
        """Train one model and test it in-domain and on every --test set."""
        train = (train or "").strip()
        cfg = RunConfig(model=model, res=res, weights=weights, balance=balance, train=train,
                        tests=tuple(test) if test else None,  # None: the default rule (RunConfig.tests)
                        seed=seed, epochs=epochs, frozen_epochs=frozen_epochs, batch_size=batch_size,
                        val_fraction=val_fraction, protocol=protocol, recipe=recipe, learning_rate=lr,
                        color=color, max_train_images=max_train_images, augment=not no_augment,
                        deterministic=deterministic,
                        # resolved: the same file gives the same run hash from any working directory
                        init_from=str(init_from.expanduser().resolve()) if init_from else None,
                        precision=precision, devices=devices,
                        teacher=str(teacher.expanduser().resolve()) if teacher else None,
                        teacher_weight=0.5 if teacher_weight is None else teacher_weight)
        if teacher_weight is not None and not teacher:
            raise FerBenchError("--teacher-weight needs --teacher FILE.keras (the model to distil from)")
        if not train:  # no silent 100-epoch default run: say what to pass
            raise FerBenchError("no training data; pass --train DATASET (a dataset folder, a name from "
                                "datasets.toml, or synth:lab for a synthetic try-out), or run `fer-bench quickstart`")
        cfg = cfg.resolved()
        if scale_batch:
            cfg = scale_for_devices(cfg, cfg.devices)
        console.print(f"fer-bench run: {_plan(cfg)} -> {results / 'runs'}", markup=False, highlight=False,
                      soft_wrap=True)
        (out,) = run_configs([cfg], results, force=force)
        _print_outcome(out)

    @app.command()
    def sweep(
        models: str = typer.Option(None, "--models", help="comma list of models"),
        res: str = typer.Option("48", "--res", help="comma list, e.g. 48,224"),
        weights: str = typer.Option("scratch", "--weights", help="comma list"),
        balance: str = typer.Option("simple,conservative", "--balance", help="comma list"),
        train: str = typer.Option("synth:lab", "--train", help="comma list of training DATASETs"),
        test: list[str] = typer.Option(None, "--test", metavar="DATASET",
                                       help="cross-domain test DATASET (repeatable)"),
        seeds: str = typer.Option("0", "--seeds", help="comma list"),
        epochs: int = typer.Option(100, "--epochs"),
        frozen_epochs: int = typer.Option(20, "--frozen-epochs"),
        protocol: str = typer.Option("fer-bench", "--protocol"),
        recipe: str = typer.Option("paper", "--recipe"),
        max_train_images: int = typer.Option(None, "--max-train-images"),
        config: Path = typer.Option(None, "--config", help="TOML sweep file (\\[sweep] table)"),
        results: Path = typer.Option(Path("results"), "--results"),
        force: bool = typer.Option(False, "--force"),
        dry_run: bool = typer.Option(False, "--dry-run", help="list the runs and which are finished"),
        deterministic: bool = typer.Option(True, "--deterministic/--no-deterministic",
                                           help="TensorFlow op determinism (see the README for its cost)"),
        backend: str = typer.Option("local", "--backend",
                                    help="local (one run after another here) | ray (each run a Ray task; "
                                         'pip install -e ".\\[ray]"); --results must be on a filesystem every '
                                         "Ray worker sees"),
        ray_address: str = typer.Option(None, "--ray-address", metavar="ADDR",
                                        help="Ray cluster address (ray://HEAD:10001, HEAD:6379 or auto); "
                                             "default: start a local Ray instance"),
        cpus_per_run: float = typer.Option(1.0, "--cpus-per-run", help="Ray: CPUs each run requests"),
        gpus_per_run: float = typer.Option(0.0, "--gpus-per-run", help="Ray: GPUs each run requests"),
        retries: int = typer.Option(2, "--retries", help="Ray: attempts after a failed one, per run"),
        devices: str = typer.Option(None, "--devices", metavar="N|all", help=_DEVICES_HELP),
        precision: str = typer.Option("float32", "--precision", help=_PRECISION_HELP),
        scale_batch: bool = typer.Option(False, "--scale-batch", help=_SCALE_HELP),
    ):
        """Run every combination that has not finished yet (comma lists or a TOML file), here or on Ray."""
        from .. import api
        from ..protocol.backends import BACKENDS, import_ray
        from ..results.store import is_finished

        if backend not in BACKENDS:
            raise FerBenchError(f"unknown --backend {backend!r}; use one of {', '.join(BACKENDS)}")
        if backend == "ray":
            import_ray()  # the missing-extra line before any work
        axes = dict(models=models, res=res, weights=weights, balance=balance, train=train, seeds=seeds)
        base = dict(epochs=epochs, frozen_epochs=frozen_epochs, protocol=protocol, recipe=recipe,
                    max_train_images=max_train_images, tests=tuple(test) if test else None,
                    deterministic=deterministic, precision=precision, devices=devices)
        configs, notes = api.expand_sweep(axes, base, config=config)
        if scale_batch:
            configs = [scale_for_devices(c, c.devices) for c in configs]
        for n in notes:
            console.print(f"[yellow]{n}[/]")
        todo = [c for c in configs if force or not is_finished(results, c.config_hash())]
        console.print(f"{len(configs)} runs in the sweep, {len(configs) - len(todo)} finished, "
                      f"{len(todo)} to run -> {results}/runs")
        if dry_run:
            for c in configs:
                console.print(f"  {c.config_hash()}  {c.short_name()}  "
                              f"{'finished' if is_finished(results, c.config_hash()) else 'to run'}")
            return
        if backend == "ray":
            failures = run_configs_ray(configs, results, force=force, address=ray_address,
                                       cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run, retries=retries)
        else:
            run_configs(configs, results, force=force)
            failures = []
        if (results / "runs").is_dir() and any((results / "runs").iterdir()):
            _print_leaderboard(results)
        if failures:
            console.print(f"[red]{len(failures)} run{'s' if len(failures) != 1 else ''} failed after "
                          f"{retries} retr{'ies' if retries != 1 else 'y'}[/]: "
                          + "; ".join(f"{f.config.short_name()}: {escape(f.error)}" for f in failures),
                          soft_wrap=True)
            raise typer.Exit(1)

    @app.command()
    def leaderboard(
        results: Path = typer.Option(Path("results"), "--results"),
        fmt: str = typer.Option("table", "--format", help="table | md | csv | json"),
        view: str = typer.Option("ranking", "--view",
                                 help="ranking | reproduction (only cells the paper reports: ours, paper, delta)"),
        merge: list[Path] = typer.Option(None, "--merge", metavar="CSV",
                                         help="an earlier leaderboard.csv whose rows are kept where the run folders "
                                              "have no such group (repeatable)"),
    ):
        """Rank finished runs (paper numbers beside ours); writes leaderboard.md/.csv/.json."""
        if fmt not in ("table", "md", "csv", "json"):
            raise FerBenchError(f"unknown --format {fmt!r}; use table, md, csv or json")  # before any work
        if view not in ("ranking", "reproduction"):
            raise FerBenchError(f"unknown --view {view!r}; use ranking or reproduction")
        if not (results / "runs").is_dir():
            raise FerBenchError(f"no runs found under {results}/runs; run `fer-bench quickstart` or "
                                "`fer-bench run` first, or pass --results DIR")
        if view == "reproduction":
            from ..results.leaderboard import reproduction, reproduction_markdown

            sys.stdout.write("\n".join(reproduction_markdown(reproduction(results, merge or ()))) + "\n")
            return
        _print_leaderboard(results, fmt, merge or ())

    @app.command()
    def quickstart(
        results: Path = typer.Option(Path("results"), "--results"),
        epochs: int = typer.Option(QUICKSTART["epochs"], "--epochs"),
        force: bool = typer.Option(False, "--force"),
    ):
        """Generate synthetic faces, run a small sweep (3 models x simple/conservative), print the leaderboard and
        write the report (results/report.html)."""
        from .. import api
        from ..data.synth import write_folder

        t0 = time.perf_counter()
        sample_dir = results / "quickstart_data"
        console.print(f"[bold]fer-bench quickstart[/]: synthetic lab faces -> train, test in-domain and on "
                      f"synthetic wild faces; results in {results}")
        summary = write_folder("wild", sample_dir / "synth_wild_sample", n_per_class=6, size=64, seed=0,
                               splits={"test": 6})
        console.print(f"sample of the wild domain written to {sample_dir / 'synth_wild_sample'} "
                      f"(grid: {summary.get('grid')})")
        for spec in (QUICKSTART["train"], *QUICKSTART["tests"]):
            src = api.open_dataset(spec)
            console.print(f"dataset {spec}: " + ", ".join(f"{s} {len(src.subset(s))}" for s in src.splits()))
        configs, _ = api.expand_sweep(
            dict(models=QUICKSTART["models"], res=[QUICKSTART["res"]], weights=["scratch"],
                 balance=QUICKSTART["balance"], train=[QUICKSTART["train"]], seeds=[0]),
            dict(epochs=epochs, tests=QUICKSTART["tests"], batch_size=QUICKSTART["batch_size"],
                 recipe=QUICKSTART["recipe"]))
        run_configs(configs, results, force=force)
        paths = _print_leaderboard(results)
        from ..results.report import write_report

        report = write_report(results)
        console.print(f"[bold green]quickstart finished in {time.perf_counter() - t0:.0f}s[/]. Run folders: "
                      f"{results / 'runs'}; leaderboard: {paths['md']}; report: {report['html']}")
