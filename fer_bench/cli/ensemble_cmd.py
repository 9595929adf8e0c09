"""`fer-bench ensemble OUT MODEL MODEL...`: one Keras file averaging several trained models (optionally float16)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from ..errors import FerBenchError

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def ensemble(
        out: Path = typer.Argument(..., help="output .keras file"),
        members: list[Path] = typer.Argument(..., help="two or more fer-bench model files (a run's model.keras "
                                             "or an exported file) of the same input size and classes"),
        tta: bool = typer.Option(False, "--tta", help="horizontal-flip test-time augmentation in every member"),
        dtype: str = typer.Option("float32", "--dtype", help="float32 | float16 (half the file size; checked "
                                  "against the float32 members)"),
        card_data: str = typer.Option(None, "--card-data", help="DATASET to score the file on for its model card"),
    ):
        """Average the softmax outputs of several trained models in one file, with a model card listing each
        member's run (config hash, seed, recipe, scores). `fer-bench evaluate` scores it like any model."""
        for m in members:  # before the seconds-long TensorFlow import
            if not Path(m).is_file():
                raise FerBenchError(f"model file {m} not found; check the path")
        from ..protocol.ensemble import build_ensemble
        from ..results.card import write_ensemble_card

        summary = build_ensemble(list(members), out, flip_tta=tta, dtype=dtype)
        console.print_json(json.dumps(summary))
        evaluation = None
        if card_data:
            from .evaluate_cmd import evaluate_model

            evaluation = evaluate_model(out, card_data)[0]
            console.print(f"{out}: accuracy {evaluation['accuracy']:.4f}, UAR {evaluation['uar']:.4f} on "
                          f"{evaluation['dataset']}, split {evaluation['split']!r} ({evaluation['n']} images)",
                          markup=False, highlight=False, soft_wrap=True)
        console.print(f"model card: {write_ensemble_card(out, summary, evaluation)}")
