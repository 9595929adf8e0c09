"""`fer-bench ensemble`: one file averaging several models, float16 storage checked against float32 members."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.errors import FerBenchError
from fer_bench.models.registry import build_model
from fer_bench.protocol.ensemble import build_ensemble
from fer_bench.protocol.export import export_model
from fer_bench.protocol.external import is_fer_bench_model, load_any_model
from fer_bench.results.card import write_ensemble_card


def _x(n=4, size=32):
    return np.random.default_rng(5).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _member(tmp_path, name, seed, arch="lenet5", size=32):
    keras.utils.set_random_seed(seed)
    model = build_model(arch, size, 7, "scratch")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return path, model


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_ensemble_is_the_mean_of_its_members_with_flip_tta(tmp_path, dtype):
    a, ma = _member(tmp_path, "a", 1)
    b, mb = _member(tmp_path, "b", 2, arch="sequential_simple")
    # a member may also be an exported flip-TTA file: it is unwrapped, not flipped twice
    export_model(b, tmp_path / "b_tta.keras", flip_tta=True)
    out = tmp_path / "ens.keras"
    summary = build_ensemble([a, tmp_path / "b_tta.keras"], out, flip_tta=True, dtype=dtype)
    x = _x()
    flip = x[:, :, ::-1]
    want = ((ma.predict(x, verbose=0) + ma.predict(flip, verbose=0)) / 2
            + (mb.predict(x, verbose=0) + mb.predict(flip, verbose=0)) / 2) / 2
    loaded = load_any_model(out)
    got = loaded.predict(x, verbose=0)
    assert got.dtype == np.float32 and is_fer_bench_model(loaded)
    np.testing.assert_allclose(got, want, atol=1e-5 if dtype == "float32" else 1e-2)
    assert summary["dtype"] == dtype and len(summary["members"]) == 2
    assert summary["max_abs_diff_vs_float32_members"] < (1e-5 if dtype == "float32" else 2e-2)
    if dtype == "float16":
        weights = [w for layer in loaded.layers for w in layer.weights]
        assert weights and all(str(w.dtype) == "float16" for w in weights)


def test_float16_halves_the_file(tmp_path):
    a, _ = _member(tmp_path, "a", 1, arch="sequential_simple")
    b, _ = _member(tmp_path, "b", 2, arch="sequential_simple")
    full = build_ensemble([a, b], tmp_path / "e32.keras")["bytes"]
    half = build_ensemble([a, b], tmp_path / "e16.keras", dtype="float16")["bytes"]
    assert half < 0.6 * full


def test_ensemble_refuses_bad_members(tmp_path):
    a, _ = _member(tmp_path, "a", 1)
    other, _ = _member(tmp_path, "big", 2, size=48)
    with pytest.raises(FerBenchError, match="at least two"):
        build_ensemble([a], tmp_path / "e.keras")
    with pytest.raises(FerBenchError, match="disagree"):
        build_ensemble([a, other], tmp_path / "e.keras")
    with pytest.raises(FerBenchError, match="also a member"):
        build_ensemble([a, other], a)
    with pytest.raises(FerBenchError, match="not found"):
        build_ensemble([a, tmp_path / "missing.keras"], tmp_path / "e.keras")
    foreign = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(7)])
    foreign.save(tmp_path / "foreign.keras")
    with pytest.raises(FerBenchError, match="not a fer-bench model"):
        build_ensemble([a, tmp_path / "foreign.keras"], tmp_path / "e.keras")
    assert not (tmp_path / "e.keras").exists()


def test_ensemble_card_lists_members_and_scores(tmp_path):
    a, _ = _member(tmp_path, "a", 1)
    b, _ = _member(tmp_path, "b", 2)
    out = tmp_path / "ens.keras"
    summary = build_ensemble([a, b], out, dtype="float16")
    evaluation = {"dataset": "synth", "split": "test", "n": 10, "accuracy": 0.5, "uar": 0.4, "f1": 0.3}
    md = write_ensemble_card(out, summary, evaluation)
    text = md.read_text()
    assert "ensemble of 2" in text and "float16" in text and "| 0.5000 | 0.4000 | 0.3000 |" in text
    card = json.loads((tmp_path / "ens.card.json").read_text())
    assert [m["sha256"] for m in card["members"]] == [m["sha256"] for m in summary["members"]]


def test_ensemble_cli_from_two_runs_writes_card_with_run_records(tmp_path):
    """Two seeds of a real run, ensembled by the CLI: card names each run's config hash and seed; evaluate works."""
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    runner = CliRunner()
    res = tmp_path / "res"
    for seed in ("0", "1"):
        r = runner.invoke(app, ["run", "--model", "lenet5", "--res", "32", "--epochs", "1", "--seed", seed,
                                "--train", "synth:lab?n=6&test=3", "--results", str(res)])
        assert r.exit_code == 0, r.output
    runs = sorted((res / "runs").iterdir())
    out = tmp_path / "ship" / "ens.keras"
    r = runner.invoke(app, ["ensemble", str(out), *(str(d / "model.keras") for d in runs), "--tta",
                            "--dtype", "float16", "--card-data", "synth:lab?n=6&test=3"])
    assert r.exit_code == 0, r.output
    card = json.loads((tmp_path / "ship" / "ens.card.json").read_text())
    hashes = {m["record"]["config_hash"] for m in card["members"]}
    assert hashes == {d.name for d in runs}
    assert {m["record"]["config"]["seed"] for m in card["members"]} == {0, 1}
    assert card["evaluation_of_exported_file"]["n"] == 21
    md = (tmp_path / "ship" / "ens.card.md").read_text()
    assert "angry, disgust, fear, happy, neutral, sad, surprise" in md and "`fer-bench evaluate`" in md
    r = runner.invoke(app, ["evaluate", str(out), "--data", "synth:lab?n=6&test=3", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output[r.output.index("{"):])["fer_bench_model"] is True
    r = runner.invoke(app, ["ensemble", str(tmp_path / "e.keras"), str(runs[0] / "model.keras"),
                            str(tmp_path / "nope.keras")])
    assert r.exit_code != 0 and isinstance(r.exception, FerBenchError) and "nope.keras" in str(r.exception)


def test_best_epoch_is_printed_as_a_number():
    from fer_bench.results.card import _best_epoch

    assert _best_epoch({"full": {"epoch": 8, "val_accuracy": 0.68}}) == "8"
    assert _best_epoch({"frozen": {"epoch": 2}, "full": {"epoch": 5}}) == "frozen 2, full 5"
    assert _best_epoch(None) == "-"


def test_float16_members_in_a_float32_ensemble_get_a_hint(tmp_path):
    """Members taken out of a float16 ensemble compute in float16; a float32 ensemble of them cannot match them
    to 1e-5, and the error says which file and what to pass."""
    from fer_bench.protocol.ensemble import _copy

    a, ma = _member(tmp_path, "a", 1)
    half = tmp_path / "half.keras"
    _copy(ma, "half", "float16").save(half)
    with pytest.raises(FerBenchError, match="half.keras computes in float16: pass --dtype float16"):
        build_ensemble([a, half], tmp_path / "e.keras")
    assert build_ensemble([a, half], tmp_path / "e16.keras", dtype="float16")["dtype"] == "float16"
