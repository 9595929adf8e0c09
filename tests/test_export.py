"""Export: RepVGG re-parameterised inside the exported file, flip TTA baked in and reloadable."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.errors import FerBenchError
from fer_bench.models.registry import build_model
from fer_bench.protocol.export import export_model


def _x(n=4, size=32, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_export_with_flip_tta_equals_manual_average(tmp_path):
    model = build_model("lenet5", 32, 7, "scratch")
    src = tmp_path / "model.keras"
    model.save(src)
    summary = export_model(src, tmp_path / "out" / "exported.keras", flip_tta=True)
    assert summary["max_abs_diff_reparam"] < 1e-4 and summary["flip_tta"]
    loaded = keras.models.load_model(tmp_path / "out" / "exported.keras", compile=False)
    x = _x()
    manual = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2
    got = loaded.predict(x, verbose=0)
    np.testing.assert_allclose(got, manual, atol=1e-5)
    # a flip-averaged model is flip-invariant
    np.testing.assert_allclose(loaded.predict(x[:, :, ::-1], verbose=0), got, atol=1e-5)


def test_export_fuses_repvgg_blocks(tmp_path):
    from fer_bench.models.repvgg import RepVGGBlock

    model = build_model("repvgg", 32, 7, "scratch")
    src = tmp_path / "repvgg.keras"
    model.save(src)
    summary = export_model(src, tmp_path / "repvgg_deploy.keras")
    assert summary["params_exported"] < summary["params_source"]
    loaded = keras.models.load_model(tmp_path / "repvgg_deploy.keras", compile=False)
    blocks = [la for la in loaded.layers if isinstance(la, RepVGGBlock)]
    assert blocks and all(b.deploy for b in blocks)
    x = _x()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)


def test_export_errors_are_one_line(tmp_path):
    with pytest.raises(FerBenchError, match="no such model file"):
        export_model(tmp_path / "missing.keras", tmp_path / "o.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(FerBenchError, match="cannot be loaded"):
        export_model(bad, tmp_path / "o.keras")


def test_export_cli_writes_card_and_evaluates_the_exported_file(tmp_path):
    """A finished run's model exported with --tta: the card is written and evaluate recognises the file."""
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    runner = CliRunner()
    res = tmp_path / "res"
    r = runner.invoke(app, ["run", "--model", "lenet5", "--res", "32", "--epochs", "1", "--balance", "simple",
                            "--train", "synth:lab?n=6&test=3", "--test", "synth:wild?n=2&test=2",
                            "--results", str(res)])
    assert r.exit_code == 0, r.output
    (run_dir,) = list((res / "runs").iterdir())
    out = tmp_path / "ship" / "m.keras"
    r = runner.invoke(app, ["export", str(run_dir / "model.keras"), str(out), "--tta",
                            "--card-data", "synth:lab?n=6&test=3"])
    assert r.exit_code == 0, r.output
    card = (tmp_path / "ship" / "m.card.md").read_text()
    assert "angry, disgust, fear, happy, neutral, sad, surprise" in card
    assert "`fer-bench evaluate` on this file" in card
    import json

    data = json.loads((tmp_path / "ship" / "m.card.json").read_text())
    assert data["export"]["flip_tta"] and data["evaluation_of_exported_file"]["n"] == 21
    r = runner.invoke(app, ["evaluate", str(out), "--data", "synth:lab?n=6&test=3", "--json"])
    assert r.exit_code == 0, r.output


def test_a_bf16_trained_model_exports_computing_in_float32(tmp_path):
    """--precision bf16 runs save bfloat16 layers; the exported .keras computes in float32 on any machine."""
    import keras
    import numpy as np

    from fer_bench.models.registry import build_model
    from fer_bench.protocol.export import export_model

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        build_model("lenet5", 32, 7, "scratch").save(tmp_path / "bf16.keras")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    summary = export_model(tmp_path / "bf16.keras", tmp_path / "out.keras", flip_tta=True)
    assert 0 < summary["max_abs_diff_float32"] < 5e-2
    from fer_bench.models.loading import load_keras

    out = load_keras(tmp_path / "out.keras")
    inner = out.layers[1].inner
    assert all(layer.compute_dtype == "float32" for layer in inner.layers)
    probs = out.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_card_of_a_distilled_bf16_run_names_its_teacher_and_precision(tmp_path):
    """A student's card says what it was distilled from (file, sha256, weight) and that the file is float32."""
    import json

    from fer_bench.results.card import write_card

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "fer_vgg", "res": 48, "train": "fer2013", "protocol":
                                                 "fer-bench", "recipe": "strong", "epochs": 64, "batch_size": 64,
                                                 "balance": "none", "seed": 2, "config_hash": "7800b6cb1559"}))
    (run / "run.json").write_text(json.dumps({
        "label_names": ["a", "b"], "precision": "bf16", "fit_seconds": 1.0,
        "teacher": {"file": "/abs/where/teacher.keras", "sha256": "ab" * 32, "weight": 0.5,
                    "teacher_accuracy_on_fit_images": 0.83, "teacher_trained_on": ["fer2013"]}}))
    (run / "metrics.json").write_text(json.dumps({"in_domain": {"n": 3, "accuracy": 0.5, "uar": 0.5, "f1": 0.5}}))
    md = write_card(run, tmp_path / "student.keras", {"flip_tta": True, "max_abs_diff_float32": 2e-3}).read_text()
    assert "0.5 x its label + 0.5 x the softmax output of the teacher `teacher.keras` (sha256 `abababababab`" in md
    assert "trained on fer2013" in md and "`--precision bf16`; this file computes in float32" in md
    assert "2.0e-03" in md and "/abs/where" not in md  # machine paths are cut to the file name
    plain = write_card(run, tmp_path / "x.keras", {}).read_text()
    assert "Knowledge distillation" in plain and "0.830 accuracy on the fit images" in plain  # same run
    assert "computes in float32." in plain and "check images" not in plain  # no check ran: none claimed
    (run / "run.json").write_text(json.dumps({"label_names": ["a", "b"], "precision": "float32"}))
    bare = write_card(run, tmp_path / "y.keras", {}).read_text()
    assert "distillation" not in bare and "Precision" not in bare
