"""`fer-bench ensemble OUT MODEL MODEL...`: one Keras file averaging several trained models (optionally float16)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def ensemble(
        out: Path = typer.Argument(..., help="output .keras file"),
        members: list[Path] = typer.Argument(..., help="two or more fer-bench model files (a run's model.keras "
                                             "or an exported file) of the same input size and classes"),
        tta: bool = typer.Option(False, "--tta", help="horizontal-flip test-time augmentation in every member"),
        views: str = typer.Option(None, "--views", help="multi-view test-time augmentation in every member: flip "
                                  "(= --tta), flip+zoom, flip+shift, flip+shift+zoom (2, 4, 10, 12 passes)"),
        dtype: str = typer.Option("float32", "--dtype", help="float32 | float16 (half the file size; checked "
                                  "against the float32 members)"),
        card_data: str = typer.Option(None, "--card-data", help="DATASET to score the file on for its model card"),
    ):
        """Average the softmax outputs of several trained models in one file, with a model card listing each
        member's run (config hash, seed, recipe, scores). `fer-bench evaluate` scores it like any model."""
        from .. import api

        made = api.ensemble(out, list(members), flip_tta=tta, dtype=dtype, card_data=card_data, views=views)
        console.print_json(json.dumps(made["summary"]))
        evaluation = made["evaluation"]
        if evaluation:
            console.print(f"{out}: accuracy {evaluation['accuracy']:.4f}, UAR {evaluation['uar']:.4f} on "
                          f"{evaluation['dataset']}, split {evaluation['split']!r} ({evaluation['n']} images)",
                          markup=False, highlight=False, soft_wrap=True)
        console.print(f"model card: {made['card']}")
