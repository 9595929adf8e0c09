"""`fer-bench export`: an inference copy of a trained model (RepVGG fused, optional flip TTA inside)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from ..errors import FerBenchError

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        model: Path = typer.Argument(..., help="a run's model.keras"),
        out: Path = typer.Argument(..., help="output .keras file"),
        tta: bool = typer.Option(False, "--tta", help="bake horizontal-flip test-time augmentation into the model"),
        card_data: str = typer.Option(None, "--card-data", help="when MODEL is in a run folder: DATASET to score "
                                      "the exported file on for its model card (written beside OUT)"),
    ):
        """Export a trained model for inference: RepVGG blocks re-parameterised (checked numerically), and with
        --tta the flip average built in, so `fer-bench evaluate` scores it as the run did."""
        if not Path(model).is_file():  # before the seconds-long TensorFlow import
            raise FerBenchError(f"{model}: no such model file; pass the model.keras of a run folder")
        from ..protocol.export import export_model
        from ..results.card import run_folder_of, write_card

        summary = export_model(model, out, flip_tta=tta)
        console.print_json(json.dumps(summary))
        run_dir = run_folder_of(model)
        if run_dir is not None:
            evaluation = None
            if card_data:
                from .. import api

                evaluation = api.evaluate(out, card_data)
            console.print(f"model card: {write_card(run_dir, out, summary, evaluation)}")
