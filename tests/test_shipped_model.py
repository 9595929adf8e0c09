"""The pretrained FER2013 files: each loads with its card beside it, in the canonical label order, and scores as
its card says (slow, real data); the shipped default is one of them; all together stay under 30 MB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_bench.models.zoo import SHIPPED_MODEL, source_zoo_dir

PRETRAINED = source_zoo_dir()
FILES = sorted(PRETRAINED.glob("fer2013_*_48.keras"))


def _card(path: Path) -> dict:
    return json.loads(path.with_name(path.stem + ".card.json").read_text())


def test_every_pretrained_file_has_its_card_and_the_shipped_default_is_there():
    assert (PRETRAINED / SHIPPED_MODEL) in FILES
    assert sum(p.stat().st_size for p in FILES) < 30_000_000
    for path in FILES:
        card = _card(path)
        assert card["model_file"] == path.name
        assert card["label_order"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"], path.name


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_pretrained_file_scores_as_its_card_on_fer2013_val(path, fer2013_dir):
    from fer_bench.cli.evaluate_cmd import evaluate_model

    metrics, _ = evaluate_model(path, str(fer2013_dir), split="val")
    assert metrics["n"] == 3589
    assert abs(metrics["accuracy"] - _card(path)["evaluation_of_exported_file"]["accuracy"]) < 1e-3
