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


@pytest.fixture(scope="session")
def tiny_lenet_keras(tmp_path_factory):
    """A small untrained lenet5 at 32 px saved as .keras (the same weights every run), for export/predict tests."""
    import keras

    from fer_bench.models.registry import build_model

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("tiny_lenet") / "tiny.keras"
    build_model("lenet5", 32, 7, "scratch").save(path)
    return path
