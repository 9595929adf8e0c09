"""`fer-bench bench-latency`: rows per model and format with size, batch-1 latency, batch-32 throughput and (for a
trained model with data) accuracy change and agreement; written as latency.md / latency.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("keras")

from fer_bench.deploy.latency import markdown, parse_format, time_runner
from fer_bench.errors import FerBenchError


def test_parse_format_and_errors():
    assert parse_format("tflite:int8") == ("tflite", "int8")
    assert parse_format("onnx") == ("onnx", "none")
    with pytest.raises(FerBenchError, match="use a comma list"):
        parse_format("onnx:int8")
    with pytest.raises(FerBenchError, match="use a comma list"):
        parse_format("coreml")


def test_time_runner_counts_real_calls():
    from fer_bench.deploy.meta import ModelMeta
    from fer_bench.deploy.runners import Runner

    calls = []

    def fn(x):
        calls.append(len(x))
        return np.full((len(x), 7), 1 / 7, np.float32)

    runner = Runner("keras", "m.keras", ModelMeta(labels=tuple("abcdefg"), input_size=8), fn)
    t = time_runner(runner, np.zeros((4, 8, 8, 3), np.uint8), warmup=2, runs=5, batches=3)
    assert calls == [1] * 7 + [32] * 4
    assert t["mean_ms"] >= 0 and t["p95_ms"] >= 0 and t["throughput_per_s"] > 0


def test_bench_latency_cli_writes_the_table(tmp_path):
    import keras
    from typer.testing import CliRunner

    from fer_bench.cli.app import app
    from fer_bench.models.registry import build_model

    keras.utils.set_random_seed(0)  # the same untrained weights every run

    trained = tmp_path / "tiny.keras"  # stands in for a trained model: accuracy columns are filled
    build_model("lenet5", 32, 7, "scratch").save(trained)
    out = tmp_path / "bench"
    r = CliRunner().invoke(app, ["bench-latency", str(trained), "zoo:sequential_simple@32", "--formats",
                                 "keras,tflite:float16", "--data", "synth:lab?n=4&test=2", "--runs", "5",
                                 "--out-dir", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "latency.json").read_text())
    rows = data["rows"]
    assert [(x["model"], x["format"]) for x in rows] == [
        ("tiny.keras", "keras"), ("tiny.keras", "tflite:float16"),
        ("sequential_simple @32 (zoo, untrained)", "keras"), ("sequential_simple @32 (zoo, untrained)",
                                                              "tflite:float16")]
    assert all(x["bytes"] > 0 and x["mean_ms"] > 0 and x["throughput_per_s"] > 0 for x in rows)
    assert rows[0]["accuracy_change"] == 0 and rows[0]["top1_agreement"] == 1
    assert rows[1]["top1_agreement"] >= 0.9 and rows[1]["eval_images"] == 14
    assert "accuracy" not in rows[2]
    assert rows[1]["bytes"] < rows[0]["bytes"]  # float16 weights
    md = (out / "latency.md").read_text()
    assert md == markdown(data) and "| tiny.keras | tflite:float16 |" in md
    assert str(tmp_path) not in md and str(tmp_path) not in json.dumps(data)


def test_int8_without_calibration_data_names_the_bench_latency_option(tmp_path):
    """bench-latency's calibration data comes from --data; the error must name that option, not export's."""
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    r = CliRunner().invoke(app, ["bench-latency", "zoo:lenet5@32", "--formats", "tflite:int8", "--runs", "2",
                                 "--out-dir", str(tmp_path / "b")])
    assert r.exit_code != 0
    msg = str(r.exception)
    assert msg.startswith("zoo:lenet5@32: ") and "pass --data DATASET" in msg and "--calibration" not in msg
