"""`fer-bench video ...`: the video track (Keinert et al. 2025): run, quickstart, synth, compare, leaderboard."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import FerBenchError

console = Console()
video_app = typer.Typer(
    help="Video track: per-frame AU / CNN features, GRU heads + SVM, participant-independent UAR.",
    no_args_is_help=True,
)

HEADS_HELP = "comma list of GRU heads: average,attention,conv"


def _csv_list(text: str, what: str) -> list[str]:
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    if not items:
        raise FerBenchError(f"no {what} given; pass a comma list")
    return items


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in _csv_list(text, "seeds"))
    except ValueError:
        raise FerBenchError(f"--seeds '{text}': pass integers, e.g. --seeds 0,1,2") from None


def _run_with_progress(cfg, train_ds, results: Path, test_ds=None, force: bool = False):
    """Run one config with a live line: unit, epoch, validation UAR."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..video.experiment import run_video

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        feat = progress.add_task("features", total=None)
        units = progress.add_task("units", total=None, visible=False)

        def on_features(done: int, total: int, video: str) -> None:
            progress.update(feat, completed=done, total=total, description=f"features {escape(str(video))}")

        def on_unit(name: str, done: int, total: int) -> None:
            progress.update(feat, visible=False)
            progress.update(units, completed=done, total=total, visible=True, description=f"training {name}")

        def on_epoch(name: str, epoch: int, row: dict) -> None:
            progress.update(units, description=f"training {name}: epoch {epoch} val UAR {row['val_uar']:.3f}")

        return run_video(cfg, train_ds, results, test_ds=test_ds, force=force,
                         log=lambda m: console.print(escape(m), highlight=False), on_unit=on_unit,
                         on_epoch=on_epoch, feature_progress=on_features)


def _print_run(result) -> None:
    m = result.metrics
    t = Table(title=escape(f"run {result.hash} ({result.status})"), title_justify="left")
    t.caption = ("test UAR: mean ± sd over seeds; 95 % CI (bootstrap, 1000 resamples) and p (one-sided binomial vs "
                 "1/K) from the first seed's test predictions")
    t.caption_justify = "left"
    for col in ("method", "val UAR", "test UAR", "95 % CI", "test acc", "p vs chance"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for method, r in m["methods"].items():
        sd = f" ± {r['test_uar']['sd']:.3f}" if r["n_seeds"] > 1 else ""
        p = r["binomial_vs_chance"]["uniform"]["p_value"]
        t.add_row(method, f"{r['val_uar']['mean']:.3f}", f"{r['test_uar']['mean']:.3f}{sd}",
                  f"{r['test_uar_ci95'][0]:.3f}-{r['test_uar_ci95'][1]:.3f}", f"{r['test_accuracy']['mean']:.3f}",
                  f"{p:.2g}")
    console.print(t)
    console.print(f"chance UAR {m['chance_uar']:.3f}; run folder {escape(str(result.folder))}", highlight=False)


@video_app.callback()
def _video_env() -> None:
    """The GRU's boolean mask makes TensorFlow's oneDNN layer print ``E0000 ... oneDNN supports DT_BOOL only on
    platforms with AVX-512`` on every run (it then falls back to Eigen anyway). Video commands run TensorFlow with
    oneDNN's graph rewrites off, which removes the line; set TF_ENABLE_ONEDNN_OPTS=1 to keep them."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def register(app: typer.Typer) -> None:
    app.add_typer(video_app, name="video")

    @video_app.command("run")
    def run(
        data: Path = typer.Argument(None, help="dataset folder: labels.csv + OpenFace CSVs (or openface/) and/or "
                                               "videos/ or frames/<video>/"),
        train: Path = typer.Option(None, "--train", help="the same as DATA (for --train A --test B)"),
        test: Path = typer.Option(None, "--test", help="a second dataset (other people) to score on; then all of "
                                                       "DATA is training + validation"),
        features: str = typer.Option("au", "--features", help="au | deep | both"),
        task: str = typer.Option("multiclass", "--task", help="multiclass | binary (valence)"),
        label_set: str = typer.Option("auto", "--label-set",
                                      help="auto | stres-woz | basic7 | ckplus | ravdess | a comma list"),
        split: str = typer.Option("paper", "--split", help="paper (ranked round robin 3/1/1) | group_kfold"),
        folds: int = typer.Option(5, "--folds", help="folds for --split group_kfold"),
        val_fraction: float = typer.Option(0.2, "--val-fraction",
                                           help="group_kfold / --test: share of the training participants used "
                                                "for validation (at least one)"),
        heads: str = typer.Option("average,attention,conv", "--heads", help=HEADS_HELP),
        seeds: str = typer.Option("0", "--seeds", help="network seeds, comma list (mean ± sd over them)"),
        epochs: int = typer.Option(300, "--epochs", help="maximum epochs (early stopping on validation UAR)"),
        patience: int = typer.Option(30, "--patience", help="epochs without a better validation UAR"),
        batch_size: int = typer.Option(64, "--batch-size"),
        model: str = typer.Option(None, "--model", help="deep features: a .keras model or zoo name "
                                                         "(default: the shipped FER2013 model)"),
        fps: float = typer.Option(None, "--fps", help="deep features: frames per second to sample (default all)"),
        detector: str = typer.Option("mtcnn", "--detector", help="deep features: mtcnn | none (pre-cropped faces)"),
        vad: str = typer.Option(None, "--vad", help="keep only the emotional phase: energy | webrtcvad"),
        min_confidence: float = typer.Option(None, "--min-confidence", help="OpenFace frames below it are failed"),
        labels: Path = typer.Option(None, "--labels", help="labels CSV (default DATA/labels.csv)"),
        au_dir: Path = typer.Option(None, "--au-dir", help="folder of OpenFace CSVs (default: found in DATA)"),
        video_dir: Path = typer.Option(None, "--video-dir", help="folder of videos/sequences (default: found)"),
        results: Path = typer.Option(Path("results"), "--results"),
        force: bool = typer.Option(False, "--force", help="run again even if finished"),
    ):
        """Train the SVM baseline and the GRU heads on one dataset's videos; write a run folder and the video
        leaderboard."""
        from ..video.dataset import resolve_dataset
        from ..video.experiment import VideoRunConfig, resolve_label_set
        from ..video.leaderboard import write_leaderboard

        if (data is None) == (train is None):
            raise FerBenchError("pass the dataset folder once: as DATA or as --train "
                                "(see 'fer-bench video run --help')")
        data = data if data is not None else train
        cfg = VideoRunConfig(
            features=features, task=task, label_set=label_set, split=split, n_splits=folds, val_fraction=val_fraction,
            heads=tuple(_csv_list(heads, "heads")), seeds=_seeds(seeds), max_epochs=epochs, patience=patience,
            batch_size=batch_size, model=model, fps=fps, detector=detector, vad=vad, min_confidence=min_confidence,
        ).check()
        train_ds = resolve_dataset(data, labels=labels, au_dir=au_dir, video_dir=video_dir)
        test_ds = resolve_dataset(test) if test is not None else None
        resolve_label_set(cfg, train_ds)  # a task the labels cannot serve fails before anything is printed
        console.print(f"video run: {features} features of {escape(train_ds.name)}"
                      + (f" -> test on {escape(test_ds.name)}" if test_ds else f", split {split}")
                      + f"; task {task}; heads {','.join(cfg.heads)} + SVM; seeds {list(cfg.seeds)}", highlight=False)
        result = _run_with_progress(cfg, train_ds, results, test_ds, force)
        _print_run(result)
        paths = write_leaderboard(results)
        console.print(f"leaderboard: {escape(str(paths['md']))}", highlight=False)

    @video_app.command("synth")
    def synth(
        out: Path = typer.Argument(..., metavar="OUT",
                                   help="folder to write (openface/, labels.csv, videos/ with --render)"),
        label_set: str = typer.Option("stres-woz", "--label-set", help="stres-woz (16 emotions) | basic7"),
        participants: int = typer.Option(None, "--participants", help="number of synthetic people"),
        per_class: int = typer.Option(None, "--per-class", help="videos per class per person"),
        render: bool = typer.Option(False, "--render", help="also render video files (for the deep path)"),
        seed: int = typer.Option(0, "--seed"),
    ):
        """Write a synthetic video dataset: onset-apex-offset AU courses as OpenFace CSVs (+ rendered videos)."""
        from ..video import synth as vs

        kwargs = {}
        if participants is not None:
            kwargs["n_participants"] = participants
        if per_class is not None:
            kwargs["videos_per_class_per_participant"] = per_class
        summary = vs.generate_video_dataset(out, label_set=label_set, seed=seed, render=render, **kwargs)
        console.print(f"wrote {summary.get('n_videos')} videos of {summary.get('n_participants')} participants "
                      f"to {escape(str(out))}", highlight=False)

    @video_app.command("quickstart")
    def quickstart(
        results: Path = typer.Option(Path("results"), "--results"),
        force: bool = typer.Option(False, "--force"),
    ):
        """Generate synthetic videos (16 emotions), split by participant, train the SVM and the three GRU heads on
        AU features, write results/video/leaderboard.md."""
        from ..video import synth as vs
        from ..video.dataset import resolve_dataset
        from ..video.experiment import VideoRunConfig
        from ..video.leaderboard import print_leaderboard, write_leaderboard

        t0 = time.perf_counter()
        qs = dict(vs.QUICKSTART_DEFAULTS)
        data_dir = results / "video" / "quickstart_data"
        gen_keys = ("n_participants", "videos_per_class_per_participant")
        summary = vs.generate_video_dataset(data_dir, label_set="stres-woz", seed=0, overwrite=True,
                                            **{k: qs[k] for k in gen_keys if k in qs})
        console.print(f"[bold]fer-bench video quickstart[/]: {summary.get('n_videos')} synthetic videos of "
                      f"{summary.get('n_participants')} people, 16 emotions -> {escape(str(data_dir))}",
                      highlight=False)
        cfg = VideoRunConfig(
            features="au", task="multiclass", label_set="stres-woz", split=qs.get("split", "group_kfold"),
            n_splits=qs.get("n_splits", 5), val_fraction=0.2, max_epochs=qs.get("max_epochs", 300),
            patience=qs.get("patience", 30),
            batch_size=qs.get("batch_size", 64),
        ).check()
        result = _run_with_progress(cfg, resolve_dataset(data_dir), results, force=force)
        _print_run(result)
        paths = write_leaderboard(results)
        print_leaderboard(results, console)
        console.print(f"[bold green]video quickstart finished in {time.perf_counter() - t0:.0f}s[/]; leaderboard: "
                      f"{escape(str(paths['md']))}", highlight=False)

    @video_app.command("leaderboard")
    def leaderboard(results: Path = typer.Option(Path("results"), "--results")):
        """Show and (re)write results/video/leaderboard.md|csv|json from the video run folders."""
        from ..video.leaderboard import print_leaderboard, write_leaderboard

        print_leaderboard(results, console)
        paths = write_leaderboard(results)
        console.print(f"written: {escape(str(paths['md']))}", highlight=False)

    @video_app.command("compare")
    def compare(
        run_folder: Path = typer.Argument(..., metavar="RUN", help="a video run folder (results/video/runs/HASH)"),
        ratings: Path = typer.Option(..., "--ratings", help="CSV of human ratings: video,rater,label (long) or "
                                                              "video,<rater1>,<rater2>,... (wide)"),
        method: str = typer.Option(None, "--method", help="model to compare (default: best validation UAR)"),
        seed: int = typer.Option(None, "--seed", help="network seed (default: the run's first)"),
        out: Path = typer.Option(None, "--out", help="also write the comparison as JSON"),
    ):
        """Model vs human raters on the run's test videos (Keinert et al. 2025, Tables 5-6): accuracy, UAR with
        bootstrap CIs, binomial tests vs chance, Cohen's kappa model-vs-rater, Fleiss' kappa among raters."""
        from ..video.compare import compare_run_with_ratings, print_comparison

        report = compare_run_with_ratings(run_folder, ratings, method=method, seed=seed)
        print_comparison(report, console)
        if out is not None:
            import json

            from ..fsutil import atomic_write

            atomic_write(out, json.dumps(report["json"], indent=2).encode())
            console.print(f"written: {escape(str(out))}", highlight=False)
