"""The shipped FER2013 model: loads, has the canonical label order, and scores as its card says (slow, real data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PRETRAINED = Path(__file__).resolve().parents[1] / "model_zoo" / "pretrained"


def test_exactly_one_shipped_fer2013_model_with_its_card_under_10_mb():
    (shipped,) = sorted(PRETRAINED.glob("fer2013_*_48.keras"))
    assert shipped.stat().st_size < 10_000_000
    card = json.loads(shipped.with_name(shipped.stem + ".card.json").read_text())
    assert card["model_file"] == shipped.name
    assert card["label_order"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


@pytest.mark.slow
@pytest.mark.realdata
def test_shipped_model_scores_as_its_card_on_fer2013_val(fer2013_dir):
    from fer_bench.cli.evaluate_cmd import evaluate_model

    (shipped,) = sorted(PRETRAINED.glob("fer2013_*_48.keras"))
    card = json.loads(shipped.with_name(shipped.stem + ".card.json").read_text())
    metrics, _ = evaluate_model(shipped, str(fer2013_dir), split="val")
    assert metrics["n"] == 3589
    assert abs(metrics["accuracy"] - card["evaluation_of_exported_file"]["accuracy"]) < 1e-3
