"""`fer-bench predict` (label the faces in photos and videos) and `fer-bench bench-latency` (size, latency and
accuracy of exported models). The work is done by :mod:`fer_bench.deploy`; this module parses and prints."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import FerBenchError


def _progress(err: Console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _line(rec: dict) -> str:
    where = rec["file"] + (f" frame {rec['frame']} ({rec['time']:.2f} s)" if rec["frame"] is not None else "")
    if rec["status"] == "face":
        x, y, w, h = rec["box"]
        return f"{where}: face {rec['face']} at x={x} y={y} w={w} h={h}: {rec['label']} {rec['score']:.2f}"
    if rec["status"] == "no_face":
        return f"{where}: no face" + (f" ({rec['note']})" if rec.get("note") else "")
    return f"{where}: skipped ({rec['note']})"


def register(app: typer.Typer) -> None:
    @app.command()
    def predict(
        paths: list[Path] = typer.Argument(..., metavar="[MODEL] INPUT...",
                                           help="optional MODEL (.keras, run folder, SavedModel folder, .tflite, "
                                                ".onnx; default: the shipped FER2013 model), then images, "
                                                "folders (recursive) or videos"),
        as_json: bool = typer.Option(False, "--json", help="one JSON record per line on stdout (JSON Lines)"),
        csv_file: Path = typer.Option(None, "--csv", help="also write the records to this CSV file"),
        annotate_dir: Path = typer.Option(None, "--annotate", help="write copies with boxes and labels drawn here"),
        every: int = typer.Option(None, "--every", help="videos: use every N-th frame (default: every frame)"),
        fps: float = typer.Option(None, "--fps", help="videos: use F frames per second instead of --every"),
        detector: str = typer.Option("mtcnn", "--detector",
                                     help="mtcnn | haar | none (inputs are already face crops)"),
        margin: int = typer.Option(20, "--margin", help="pixels added around the squared face box (as build-btfer)"),
        min_confidence: float = typer.Option(0.9, "--min-confidence", help="smallest MTCNN face confidence"),
        min_face: int = typer.Option(20, "--min-face", help="smallest face side in pixels"),
        model_opt: Path = typer.Option(None, "--model", "-m", help="the model, when it does not come first"),
        preset: str = typer.Option(None, "--preset", help="foreign Keras model without metadata: fer"),
    ):
        """Label the expression of every face in photos and videos: box, label, score and all probabilities.

        A photo without a face gives a "no face" record; an unreadable file a "skipped" record."""
        import os

        # the shipped model computes in float16: with oneDNN's rewrites TensorFlow prints "E0000 ... oneDNN
        # supports DT_HALF only on platforms with AVX-512" for each new batch shape, then uses Eigen anyway
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        from ..deploy.predict import CSV_COLUMNS, PredictOptions, csv_row, predict_inputs, split_model_and_inputs

        model, inputs = split_model_and_inputs(paths, model_opt)
        for p in inputs:
            if not p.exists():
                raise FerBenchError(f"{p}: no such file or folder")
        opts = PredictOptions(detector=detector, every=every, fps=fps, margin=margin, min_face=min_face,
                              min_confidence=min_confidence, annotate=annotate_dir)
        from ..deploy.runners import open_runner

        runner = open_runner(model, preset=preset)
        out, err = Console(), Console(stderr=True)
        counts = {"face": 0, "no_face": 0, "skipped": 0}
        csv_handle = tmp = None
        if csv_file is not None:
            from ..fsutil import temp_path

            csv_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_path(csv_file)
            csv_handle = open(tmp, "w", newline="")
            writer = csv.writer(csv_handle)
            writer.writerow([*CSV_COLUMNS, *(f"p_{n}" for n in runner.labels)])
        try:
            with _progress(err) as bar:
                from ..deploy.predict import iter_inputs

                task = bar.add_task("predicting", total=sum(1 for _ in iter_inputs(inputs)))
                state = {"name": None, "files": 0}

                def on_progress(name: str, done: int, total: int | None) -> None:
                    if name != state["name"]:
                        state["name"], state["files"] = name, state["files"] + 1
                    frames = f" frame {done}/{total or '?'}" if (total or 0) != 1 else ""
                    bar.update(task, description=escape(Path(name).name + frames), completed=state["files"])

                for rec in predict_inputs(runner, inputs, opts, on_progress=on_progress):
                    counts[rec["status"]] += 1
                    if csv_handle is not None:
                        writer.writerow(csv_row(rec, runner.labels))
                    if as_json:
                        sys.stdout.write(json.dumps(rec) + "\n")
                        sys.stdout.flush()
                    else:
                        out.print(escape(_line(rec)), highlight=False, soft_wrap=True)
            if csv_handle is not None:
                import os

                csv_handle.close()
                os.replace(tmp, csv_file)
        finally:
            if csv_handle is not None and not csv_handle.closed:
                csv_handle.close()
                Path(tmp).unlink(missing_ok=True)
        err.print(f"{counts['face']} face(s), {counts['no_face']} image(s)/frame(s) without a face, "
                  f"{counts['skipped']} skipped; model {escape(model.name)} ({runner.format})"
                  + (f"; CSV: {escape(str(csv_file))}" if csv_file else "")
                  + (f"; annotated copies: {escape(str(annotate_dir))}" if annotate_dir else ""), highlight=False,
                  soft_wrap=True)

    @app.command("bench-latency")
    def bench_latency(
        models: list[str] = typer.Argument(..., metavar="MODEL...",
                                           help="model files or run folders, or zoo:NAME@RES (untrained "
                                                "architecture); the shipped model: shipped"),
        formats: str = typer.Option(",".join(("keras", "tflite", "tflite:float16", "tflite:int8", "onnx")),
                                    "--formats", help="comma list: keras, savedmodel, tflite, tflite:float16, "
                                                      "tflite:int8, onnx"),
        data: str = typer.Option(None, "--data", help="DATASET for accuracy (its test/val split) and int8 "
                                                      "calibration (its train split)"),
        n: int = typer.Option(0, "--n", help="evaluation images (0 = the whole split)"),
        preset: str = typer.Option(None, "--preset", help="for foreign Keras models: fer"),
        runs: int = typer.Option(200, "--runs", help="timed batch-1 calls per model and format"),
        out_dir: Path = typer.Option(Path("results/benchmarks"), "--out-dir",
                                     help="where latency.md and latency.json are written"),
        work: Path = typer.Option(None, "--work", help="keep the exported files here (default: a temporary folder)"),
    ):
        """Size, latency per face (batch 1), throughput (batch 32) and accuracy change per format and
        quantisation; writes OUT_DIR/latency.md and latency.json."""
        import tempfile

        from ..deploy.latency import bench_latency as run_bench
        from ..deploy.latency import markdown, parse_format
        from ..fsutil import atomic_write
        from ..models.zoo import shipped_model

        fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
        for f in fmts:
            parse_format(f)
        models = [str(shipped_model()) if m == "shipped" else m for m in models]
        err = Console(stderr=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="fer-bench-latency-") as tmp:
            result = run_bench(models, formats=fmts, data=data, n=n, preset=preset, work=work or Path(tmp),
                               runs=runs, on_stage=lambda s: err.print(escape(s), highlight=False))
        md = markdown(result)
        atomic_write(out_dir / "latency.json", json.dumps(result, indent=2) + "\n")
        atomic_write(out_dir / "latency.md", md)
        Console().print(md, markup=False, highlight=False, soft_wrap=True)
        err.print(f"written: {escape(str(out_dir / 'latency.md'))}, {escape(str(out_dir / 'latency.json'))}")
