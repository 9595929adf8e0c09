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


def _warm_run(tmp_path, init, force=False):
    from fer_bench.protocol.run import execute_run

    cfg = RunConfig(model="lenet5", res=32, train="synth:lab?n=6&test=3", epochs=1, init_from=str(init))
    return execute_run(cfg, tmp_path / "res", force=force)


def test_missing_init_file_fails_before_any_decoding(tmp_path, monkeypatch):
    import fer_bench.protocol.run as run_mod

    def no_decoding(*a, **k):
        raise AssertionError("decoded data before checking --init-from")

    monkeypatch.setattr(run_mod, "decode_split", no_decoding)
    with pytest.raises(FerBenchError, match="--init-from file not found"):
        _warm_run(tmp_path, tmp_path / "missing.keras")


def test_changed_init_file_is_not_reported_as_finished(tmp_path):
    """Same path, new content: the finished run is not silently reused; --force re-runs it."""
    init = tmp_path / "init.keras"
    keras.utils.set_random_seed(3)
    build_model("lenet5", 32, 7, "scratch").save(init)
    first = _warm_run(tmp_path, init)
    assert not first.skipped and _warm_run(tmp_path, init).skipped
    keras.utils.set_random_seed(4)
    build_model("lenet5", 32, 7, "scratch").save(init)  # replaced in place
    with pytest.raises(FerBenchError, match="changed since run"):
        _warm_run(tmp_path, init)
    again = _warm_run(tmp_path, init, force=True)
    assert not again.skipped and again.folder == first.folder


def test_cli_resolves_init_from_so_the_hash_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    """`--init-from m.keras` typed in one folder and `/abs/m.keras` name the same run (like --teacher)."""
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["run", "--model", "lenet5", "--res", "32", "--train", "synth:lab?n=6&test=3",
                                 "--init-from", "rel.keras", "--results", str(tmp_path / "res")])
    assert r.exit_code != 0
    assert f"{tmp_path.resolve() / 'rel.keras'}: --init-from file not found" in str(r.exception or r.output)
