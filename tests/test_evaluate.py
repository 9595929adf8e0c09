"""`fer-bench evaluate` on foreign models: input adaptation, label re-ordering, leaderboard rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.errors import FerBenchError
from fer_bench.protocol.external import PRESETS, input_transform, resolve_spec

DATA = "synth:lab?n=4&test=3"
FER_ORDER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _constant_model(path, size, channels, out_index, k=7):
    """A foreign model that always predicts output unit *out_index* (in its own label order)."""
    model = keras.Sequential([keras.Input((size, size, channels)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(k, activation="softmax")])
    bias = np.zeros(k, "float32")
    bias[out_index] = 30.0
    model.layers[-1].set_weights([np.zeros((channels, k), "float32"), bias])
    model.save(path)
    return path


def test_fer_preset_transform_gives_grey_in_minus_one_to_one():
    spec = PRESETS["fer"]
    assert (spec.input_size, spec.color, spec.scaling, spec.labels) == (64, "gray", "tf", FER_ORDER)
    x = np.stack([np.full((64, 64, 3), 255.0), np.zeros((64, 64, 3))]).astype("float32")
    y = np.asarray(input_transform(spec)(x))
    assert y.shape == (2, 64, 64, 1)
    np.testing.assert_allclose(y[0], 1.0, atol=1e-3)  # tf grey weights sum to 0.9999
    np.testing.assert_allclose(y[1], -1.0, atol=1e-3)


def test_foreign_label_order_is_mapped_to_canonical(tmp_path):
    """Output unit 4 of a fer-package model is 'sad'; the evaluator must report 'sad', not 'neutral'."""
    from fer_bench.protocol.evaluate import evaluate_model

    path = _constant_model(tmp_path / "fer_like.h5", 64, 1, out_index=4)
    metrics, table = evaluate_model(path, DATA, preset="fer")
    assert set(table["predicted"]) == {"sad"}
    assert np.allclose(table["p_sad"], 1.0, atol=1e-6) and np.allclose(table["p_neutral"], 0.0, atol=1e-6)
    assert metrics["input"]["label_order"] == list(FER_ORDER) and not metrics["fer_bench_model"]
    assert metrics["per_class"]["sad"]["recall"] == 1.0 and metrics["per_class"]["neutral"]["recall"] == 0.0
    # the same file with an explicit order instead of the preset gives the same answer
    metrics2, table2 = evaluate_model(path, DATA, input_size=64, color="gray", scaling="tf",
                                      labels=",".join(FER_ORDER))
    assert metrics2["accuracy"] == metrics["accuracy"] and set(table2["predicted"]) == {"sad"}


def test_resolve_spec_errors_name_the_fix(tmp_path):
    model = keras.models.load_model(_constant_model(tmp_path / "m.keras", 64, 1, 0), compile=False)
    with pytest.raises(FerBenchError, match="unknown preset"):
        resolve_spec(model, "nope", None, None, None, None)
    with pytest.raises(FerBenchError, match="--scaling"):
        resolve_spec(model, None, None, None, "weird", None)
    with pytest.raises(FerBenchError, match="--labels"):
        resolve_spec(model, None, None, None, None, "angry,happy")
    spec = resolve_spec(model, None, None, None, None, None)
    assert (spec.input_size, spec.color) == (64, "gray")


def test_results_rows_external_for_foreign_ours_for_fer_bench_files(tmp_path):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app
    from fer_bench.models.registry import build_model

    runner = CliRunner()
    res = tmp_path / "res"
    foreign = _constant_model(tmp_path / "fer_like.h5", 64, 1, out_index=3)
    r = runner.invoke(app, ["evaluate", str(foreign), "--data", DATA, "--preset", "fer", "--results", str(res),
                            "--name", "fer_like", "--trained-on", "fer2013"])
    assert r.exit_code == 0, r.output
    ours = tmp_path / "ours.keras"
    build_model("lenet5", 32, 7, "scratch").save(ours)
    r = runner.invoke(app, ["evaluate", str(ours), "--data", DATA, "--results", str(res), "--name", "ours_file",
                            "--trained-on", "fer2013"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["leaderboard", "--results", str(res), "--format", "json"])
    assert r.exit_code == 0, r.output
    text = r.output
    assert "fer_like" in text and "ours_file" in text
    configs = {json.loads(p.read_text())["model"]: json.loads(p.read_text())
               for p in (res / "runs").glob("*/config.json")}
    assert configs["fer_like"]["external"] is True and configs["ours_file"]["external"] is False
    # each scored file's record says how it was made: command, versions, the scored data's manifest
    for run_json in (res / "runs").glob("*/run.json"):
        info = json.loads(run_json.read_text())
        assert isinstance(info["command"], str) and info["command"]  # sys.argv as a shell line (pytest's here)
        assert info["versions"]["tensorflow"] and len(info["model_sha256"]) == 64
        assert info["data"]["in_domain"]["manifest_hash"]
    assert len(list((res / "runs").glob("*/run.json"))) == 2
