"""Warm start (--init-from): weights copied by layer name, from a run's model or an exported TTA file."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.errors import FerBenchError
from fer_bench.models.registry import build_model
from fer_bench.models.warmstart import warm_start
from fer_bench.protocol.config import RunConfig
from fer_bench.protocol.export import export_model


def _x(n=3, size=32):
    return np.random.default_rng(2).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_warm_start_from_run_model_and_from_exported_tta_file(tmp_path):
    keras.utils.set_random_seed(1)
    trained = build_model("lenet5", 32, 7, "scratch")
    src = tmp_path / "model.keras"
    trained.save(src)
    export_model(src, tmp_path / "exported.keras", flip_tta=True)
    for path in (src, tmp_path / "exported.keras"):
        keras.utils.set_random_seed(99)  # a different initialisation, then overwritten
        fresh = build_model("lenet5", 32, 7, "scratch")
        record = warm_start(fresh, path)
        assert record["layers"] > 0 and len(record["sha256"]) == 64
        np.testing.assert_allclose(fresh.predict(_x(), verbose=0), trained.predict(_x(), verbose=0), atol=1e-6)


def test_warm_start_refuses_another_architecture(tmp_path):
    build_model("lenet5", 32, 7, "scratch").save(tmp_path / "lenet.keras")
    with pytest.raises(FerBenchError, match="same architecture"):
        warm_start(build_model("sequential_simple", 32, 7, "scratch"), tmp_path / "lenet.keras")
    with pytest.raises(FerBenchError, match="not found"):
        warm_start(build_model("lenet5", 32, 7, "scratch"), tmp_path / "missing.keras")


def test_init_from_is_hash_neutral_when_unset():
    """Configs written before --init-from existed keep their hash (and so their result folders)."""
    cfg = RunConfig()
    assert "init_from" not in cfg.to_dict()
    warm = RunConfig(init_from="a.keras")
    assert warm.to_dict()["init_from"] == "a.keras" and warm.config_hash() != cfg.config_hash()
    assert RunConfig.from_dict(warm.to_dict()) == warm
