"""The shipped FER2013 model: loads, has the canonical label order, and scores as its card says (slow, real data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[1] / "model_zoo" / "pretrained" / "fer2013_fer_vgg_48.keras"


@pytest.mark.slow
@pytest.mark.realdata
def test_shipped_model_scores_as_its_card_on_fer2013_val(fer2013_dir):
    from fer_bench.cli.evaluate_cmd import evaluate_model

    card = json.loads((SHIPPED.parent / "fer2013_fer_vgg_48.card.json").read_text())
    assert card["label_order"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    metrics, _ = evaluate_model(SHIPPED, str(fer2013_dir), split="val")
    assert metrics["n"] == 3589
    assert abs(metrics["accuracy"] - card["evaluation_of_exported_file"]["accuracy"]) < 1e-3
