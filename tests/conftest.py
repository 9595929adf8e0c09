"""Shared test setup: quiet TensorFlow, CPU only, small thread pools, and helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from pathlib import Path

import pytest

SHARED_FER2013 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013"


@pytest.fixture
def fer2013_dir():
    """The real FER2013 folder beside the repo; tests using it skip cleanly when it is absent."""
    if not (SHARED_FER2013 / "train").is_dir():
        pytest.skip("real FER2013 data not found at ../shared/data/fer2013")
    return SHARED_FER2013
