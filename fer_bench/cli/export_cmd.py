"""`fer-bench export`: an inference copy of a trained model as .keras (RepVGG fused, optional flip TTA inside),
a SavedModel, TensorFlow Lite (float32, float16, int8) or ONNX file, with its metadata JSON and a check against
the source model on real images."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import FerBenchError

console = Console()


def check_line(check: dict) -> str:
    """The printed export check: agreement and probability difference against the source model."""
    data = check.get("data")
    where = (f"{data['dataset']} {data['split']}, {check['n']} images" if isinstance(data, dict)
             else str(data))
    line = (f"check against the source model ({where}): top-1 agreement {check['top1_agreement']:.4f}, "
            f"max abs probability difference {check['max_abs_diff']:.2e} (mean {check['mean_abs_diff']:.1e})")
    if check.get("accuracy_source") is not None:
        line += (f"; accuracy {check['accuracy_source']:.4f} -> {check['accuracy_exported']:.4f} "
                 f"({check['accuracy_change']:+.4f})")
    return line


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        model: Path = typer.Argument(..., help="a run's model.keras (or the run folder, or any fer-bench .keras)"),
        out_arg: Path = typer.Argument(None, metavar="OUT", help="output path (or --out)"),
        out_opt: Path = typer.Option(None, "--out", help="output path: .keras, a SavedModel folder, .tflite, .onnx"),
        fmt: str = typer.Option(None, "--format", help="keras | savedmodel | tflite | onnx (default: from OUT's "
                                "suffix, else keras)"),
        quantize: str = typer.Option("none", "--quantize", help="none | float16 | int8 (tflite)"),
        calibration: str = typer.Option(None, "--calibration", help="DATASET for int8 calibration (default: the "
                                        "training data recorded for the model)"),
        tta: bool = typer.Option(False, "--tta", help="bake horizontal-flip test-time augmentation into the model"),
        check_data: str = typer.Option(None, "--check-data", help="DATASET the export is checked on (default: "
                                       "the model's recorded training data, its test/val split)"),
        check_n: int = typer.Option(512, "--check-n", help="check images (0 = the whole split)"),
        preset: str = typer.Option(None, "--preset", help="foreign Keras model: fer"),
        card_data: str = typer.Option(None, "--card-data", help="when MODEL is in a run folder: DATASET to score "
                                      "the exported .keras file on for its model card (written beside OUT)"),
    ):
        """Export a trained model for inference: RepVGG blocks re-parameterised (checked numerically), with --tta
        the flip average built in; --format savedmodel/tflite/onnx for use without fer-bench (a metadata JSON
        with label order, input size, colour mode and preprocessing is written beside the file). The export is
        compared with the source model on real images and the check is printed."""
        import os

        # float16 models (the shipped one): without this TensorFlow prints "E0000 ... oneDNN supports DT_HALF only
        # on platforms with AVX-512" and then uses Eigen anyway
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        if not Path(model).exists():  # before the seconds-long TensorFlow import
            raise FerBenchError(f"{model}: no such model file; pass the model.keras of a run folder")
        if out_arg is not None and out_opt is not None and out_arg != out_opt:
            raise FerBenchError("OUT given twice (argument and --out); pass one")
        from ..deploy.export import default_out
        from ..deploy.export import export as run_export

        out = out_opt or out_arg
        if fmt is None:
            suffixes = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx", "": "savedmodel"}
            fmt = suffixes.get(out.suffix.lower(), "keras") if out is not None else "keras"
        out = out or default_out(model, fmt, quantize)
        err = Console(stderr=True)
        summary = run_export(model, out, fmt, quantize, flip_tta=tta, preset=preset, calibration=calibration,
                             check_data=check_data, check_n=check_n,
                             on_stage=lambda s: err.print(escape(s), highlight=False))
        console.print_json(json.dumps(summary))
        console.print(escape(check_line(summary["check"])), highlight=False, soft_wrap=True)
        from ..results.card import run_folder_of, write_card

        model_file = Path(model) / "model.keras" if Path(model).is_dir() else Path(model)
        run_dir = run_folder_of(model_file)
        if run_dir is not None:
            evaluation = None
            if card_data and fmt == "keras":
                from .. import api

                evaluation = api.evaluate(out, card_data)
            console.print(f"model card: {escape(str(write_card(run_dir, Path(out), summary, evaluation)))}")
        console.print(f"written: {escape(str(out))} and {escape(summary['metadata'])}", highlight=False)
