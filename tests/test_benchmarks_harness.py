"""benchmarks/ as a package: the modules import without measuring anything, expose one function per
measurement, run both as files and as modules, and the shared harness records the machine and writes results.

One real measurement runs on synthetic data: the input path (ImageDataGenerator vs make_dataset) on 140
synthetic 48 px images, a few batches each.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks.btfer_throughput as btfer_throughput
import benchmarks.count_params as count_params
import benchmarks.memory as memory
import benchmarks.pipeline as pipeline
import benchmarks.precision as precision
import benchmarks.tta_views as tta_views
from benchmarks import harness

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = {
    pipeline: ["measure_decode", "measure_input_path", "measure_profile", "measure_training"],
    memory: ["measure_peak_rss", "measure_model_only", "measure_model_only_here"],
    btfer_throughput: ["measure_build_throughput"],
    count_params: ["measure_params"],
    tta_views: ["score_views", "carve"],
    precision: ["measure_precision", "available_precisions"],
}


def test_harness_locations():
    assert harness.REPO == REPO
    assert harness.RESULTS == REPO / "results" / "benchmarks"
    assert harness.DEFAULT_DATA == REPO.parent / "shared" / "data" / "fer2013"


@pytest.mark.parametrize("module", list(SCRIPTS), ids=lambda m: m.__name__)
def test_modules_expose_measurements_and_main(module):
    for name in SCRIPTS[module]:
        assert callable(getattr(module, name)), f"{module.__name__}.{name}"
    assert callable(module.main)
    assert module.harness is harness  # one harness, imported through the package


def test_no_path_hacks_left():
    for path in (REPO / "benchmarks").glob("*.py"):
        if path.name in ("btfer_padding.py", "determinism.py"):  # not (yet) on the harness
            continue
        text = path.read_text()
        assert "spec_from_file_location" not in text, path.name
        assert "sys.path.insert" not in text, path.name


def test_machine_info_without_tensorflow():
    m = harness.machine_info(tensorflow=False)
    for key in ("date", "cpu_count", "cpus_usable", "cpu_model", "cpu_vector", "memory_gb", "load_average_start",
                "python", "tensorflow", "keras", "numpy", "platform", "gpus"):
        assert key in m, key
    assert m["cpu_count"] and m["cpu_model"]
    assert m["numpy"]
    assert m["gpus"] is None
    if Path("/proc/cpuinfo").is_file():
        assert isinstance(m["cpu_vector"], str)
    json.dumps(m)


def test_write_results_atomic(tmp_path):
    out = tmp_path / "a" / "b"
    data = {"machine": harness.machine_info(tensorflow=False), "x": [1, 2.5, None]}
    written = harness.write_results(out, "demo", data, "# demo\n\n| a |\n")
    assert written == [out / "demo.json", out / "demo.md"]
    assert json.loads(written[0].read_text()) == data
    assert written[1].read_text() == "# demo\n\n| a |\n"
    assert stat.S_IMODE(written[0].stat().st_mode) & 0o044  # readable by others, not mkstemp's 0o600
    written[0].chmod(0o640)
    harness.write_results(out, "demo", {"y": 1}, indent=2)  # JSON only; keeps the .md and the file mode
    assert json.loads((out / "demo.json").read_text()) == {"y": 1}
    assert stat.S_IMODE((out / "demo.json").stat().st_mode) == 0o640
    assert (out / "demo.md").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["demo.json", "demo.md"]  # no temporary files left


def test_timer_and_batch_rates():
    with harness.timer() as t:
        assert t.seconds >= 0
    assert t.end is not None and t.seconds == t.end - t.start
    r = harness.batch_rates([0.0, 0.5, 1.0, 1.5, 2.0], 64)
    assert r["img_s"] == 128.0 and r["img_s_median"] == 128.0 and r["batches"] == 4 and r["seconds"] == 2.0


@pytest.mark.parametrize("module", [pipeline, memory, tta_views], ids=lambda m: m.__name__)
def test_missing_data_writes_nothing(module, tmp_path, capsys):
    models = ["m.keras:0"] if module is tta_views else []
    assert module.main([*models, "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out").exists()
    assert "Nothing measured" in capsys.readouterr().out


def test_memory_sampler_runs():
    s = memory.Sampler(0.01)
    s.start()
    s.set_phase("work")
    s.stop()
    assert s.peaks["work"]["rss"] > 0


@pytest.mark.parametrize("how", ["file", "module"])
@pytest.mark.parametrize("name", ["pipeline", "memory", "btfer_throughput", "count_params", "tta_views",
                                  "precision"])
def test_runs_as_file_and_as_module(name, how):
    cmd = [sys.executable, f"benchmarks/{name}.py"] if how == "file" else [sys.executable, "-m", f"benchmarks.{name}"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([*cmd, "--help"], cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_input_path_measurement_on_synthetic_images(tmp_path):
    """measure_decode + measure_input_path (both paths) on 140 synthetic 48 px images; the pipeline report
    renders from the result and goes through the writer."""
    from fer_bench.data.adapters import open_dataset
    from fer_bench.data.synth import write_folder

    data = tmp_path / "synth"
    write_folder("lab", data, n_per_class=20, size=48, splits={"train": 20})
    assert harness.check_data(data)
    source = open_dataset(str(data))
    cached, dec = pipeline.measure_decode(source, 48, max_images=100, tmp_root=tmp_path / "caches",
                                          fresh_decode="none")
    assert dec["cache"] == "temporary (subset)" and 90 <= dec["n"] <= 110 and dec["decode_img_s"] > 0
    ip = pipeline.measure_input_path(cached, 48, train_dir=data / "train", steps=2, warmup=1)
    assert ip["reference"]["batches"] == 2 and ip["fer_bench"]["batches"] == 2
    assert ip["ratio_fer_bench_vs_reference"] > 0
    only = pipeline.measure_input_path(cached, 48, train_dir=None, steps=2, warmup=1)
    assert set(only) == {"fer_bench"}

    machine = harness.machine_info()
    assert machine["tensorflow"] and machine["keras"] and isinstance(machine["gpus"], int)
    res = {"machine": machine, "settings": {"data": str(data), "sizes": [48], "steps": 2, "warmup": 1,
                                            "train_warmup": 1, "quick": True, "max_images": 100, "batch_size": 64,
                                            "seed": 0, "train_steps": None},
           "decode": {"48": dec}, "input_path": {"48": ip}, "training": {}, "profile": {}, "targets": [],
           "load_average_end": harness.load_now(), "notes": pipeline.run_notes(machine, quick=True)}
    json_path, md_path = harness.write_results(tmp_path / "out", "pipeline", res, pipeline.render_markdown(res))
    assert json.loads(json_path.read_text())["input_path"]["48"]["fer_bench"]["batches"] == 2
    md = md_path.read_text()
    assert md.startswith("# Input pipeline benchmark") and "fer-bench: decode_split + make_dataset" in md


def test_tta_views_scores_every_view_set_on_the_runs_own_carve(tmp_path):
    """The carve is the rows a run with that seed held out (so the figures never touch a test split)."""
    keras = pytest.importorskip("keras")
    from fer_bench.models.layers import VIEW_SETS
    from fer_bench.models.registry import build_model

    keras.utils.set_random_seed(0)
    path = tmp_path / "m.keras"
    build_model("lenet5", 32, 7, "scratch").save(path)
    data = "synth:lab?n=20&test=5"
    r = tta_views.score_views(path, tta_views.run_config(path, 3, data, 0.2), data, 64)
    assert list(r["views"]) == ["one view", *VIEW_SETS] and r["n"] > 0 and r["carve_seed"] == 3
    assert r["val_fraction"] == 0.2 and r["run"] is None
    assert r["views"]["flip+shift+zoom"]["passes"] == 12
    assert all(0 <= v["accuracy"] <= 1 for v in r["views"].values())


def test_precision_times_float32_in_a_subprocess():
    r = precision.measure_precision("float32", "lenet5", 32, 8, 2, 1)
    assert r["train_img_s"] > 0 and r["predict_img_s"] > 0
    assert precision.available_precisions()[0] == "float32"


def test_tta_views_rebuilds_the_carve_from_the_run_config(tmp_path):
    """A model in its run folder is scored on that run's carve (its seed and fraction), never given by hand."""
    import json

    from fer_bench.protocol.config import RunConfig

    run = tmp_path / "run"
    run.mkdir()
    trained = RunConfig(model="fer_vgg", res=48, train="/data/elsewhere", seed=7, val_fraction=0.2, color="gray")
    (run / "config.json").write_text(json.dumps({**trained.to_dict(), "config_hash": trained.config_hash()}))
    data = tmp_path / "elsewhere"  # the same dataset (folder name) on another path: the run's carve
    cfg = tta_views.run_config(run / "model.keras", None, data, 0.1)
    assert (cfg.seed, cfg.val_fraction, cfg.color, cfg.train) == (7, 0.2, "gray", str(data))
    with pytest.raises(SystemExit, match="seed 7, not 3"):
        tta_views.run_config(run / "model.keras", 3, data, 0.1)
    with pytest.raises(SystemExit, match="trained on /data/elsewhere, not .*rafdb; pass --data"):
        tta_views.run_config(run / "model.keras", None, tmp_path / "rafdb", 0.1)
    (run / "config.json").write_text(json.dumps(trained.replace(protocol="paper").to_dict()))
    with pytest.raises(SystemExit, match="no carve"):
        tta_views.run_config(run / "model.keras", None, data, 0.1)
    with pytest.raises(SystemExit, match="write FILE:SEED"):
        tta_views.run_config(tmp_path / "loose.keras", None, data, 0.1)
    assert tta_views._run_hash(run / "model.keras") is None  # a config without its hash
    loose = tta_views.run_config(tmp_path / "loose.keras", 2, data, 0.1)
    assert (loose.seed, loose.val_fraction) == (2, 0.1)
