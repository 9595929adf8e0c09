"""A tiny end-to-end CLI run (1 epoch, 32 px, a few synthetic faces): files written, skip on re-run,
leaderboard row, and one-line errors without tracebacks."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("fer_bench.data.synth")

from fer_bench.cli.app import app

TRAIN = "synth:lab?n=10&test=4&size=32"
TEST = "synth:wild?n=1&test=4&size=32"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    os.environ["FER_BENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    runner = CliRunner()
    args = ["run", "--model", "sequential_simple", "--res", "32", "--epochs", "1", "--batch-size", "16",
            "--train", TRAIN, "--test", TEST, "--balance", "simple", "--results", str(results)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return results, runner, args, res


def test_run_writes_every_file(finished_run):
    results, *_ = finished_run
    (folder,) = list((results / "runs").iterdir())
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "metrics.json", "run.json", "history.csv", "model.keras", "predictions",
            "confusion_in_domain.png"} <= names
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"in_domain", TEST}
    assert metrics["in_domain"]["n"] == 7 * 4 and metrics[TEST]["n"] == 7 * 4
    assert metrics[TEST]["role"] == "cross_domain"
    preds = pd.read_csv(folder / "predictions" / "in_domain.csv")
    assert len(preds) == 28 and {"file", "true", "predicted", "p_angry", "p_surprise"} <= set(preds.columns)
    assert preds[[c for c in preds.columns if c.startswith("p_")]].sum(axis=1).between(0.99, 1.01).all()
    run = json.loads((folder / "run.json").read_text())
    assert run["versions"]["tensorflow"] and run["data"]["train"]["manifest_hash"]
    assert run["n_fit"] + run["n_val"] == 70 and run["n_val"] == 7      # 10 % carved from training
    assert "stratified from training" in run["validation"]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["config_hash"] == folder.name
    hist = pd.read_csv(folder / "history.csv")
    assert len(hist) == 1 and {"val_accuracy", "lr", "seconds"} <= set(hist.columns)


def test_rerun_is_skipped(finished_run):
    results, runner, args, _ = finished_run
    before = {p: p.stat().st_mtime_ns for p in (results / "runs").rglob("*")}
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "skipped" in res.output
    assert {p: p.stat().st_mtime_ns for p in (results / "runs").rglob("*")} == before


def test_api_and_sweep_file_find_the_cli_run_by_alias(finished_run, tmp_path):
    """An alias names the same run as the registry name: the library resolves it before hashing, like the CLI,
    and a TOML sweep file with the alias lists the CLI's run as finished."""
    import fer_bench

    results, runner, *_ = finished_run
    cfg = fer_bench.RunConfig(model="sequential_1", res=32, epochs=1, batch_size=16, train=TRAIN, tests=(TEST,),
                              balance="simple")
    out = fer_bench.run(cfg, results)
    assert out.skipped and out.config.model == "sequential_simple"
    assert [p.name for p in (results / "runs").iterdir() if not p.name.startswith(".")] == [out.folder.name]
    toml = tmp_path / "sweep.toml"
    toml.write_text(f'[sweep]\nmodels = ["sequential_1"]\nres = [32]\nbalance = ["simple"]\ntrain = ["{TRAIN}"]\n'
                    f'tests = ["{TEST}"]\nepochs = 1\nbatch_size = 16\n')
    res = runner.invoke(app, ["sweep", "--config", str(toml), "--dry-run", "--results", str(results)])
    assert res.exit_code == 0, res.output
    assert "1 runs in the sweep, 1 finished, 0 to run" in res.output and out.folder.name in res.output
    toml.write_text('[sweep]\nmodels = ["lenet5"]\nepoch = 1\n')
    res = runner.invoke(app, ["sweep", "--config", str(toml), "--dry-run", "--results", str(results)])
    assert res.exit_code != 0 and "unknown key 'epoch'" in str(res.exception or res.output)


def test_leaderboard_has_the_row(finished_run):
    results, runner, *_ = finished_run
    res = runner.invoke(app, ["leaderboard", "--results", str(results), "--format", "csv"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(results / "leaderboard.csv")
    assert set(df["target"]) == {"in_domain", TEST}
    row = df[df["target"] == "in_domain"].iloc[0]
    assert row["model"] == "sequential_simple" and row["balance"] == "simple" and row["seeds"] == 1
    md = (results / "leaderboard.md").read_text()
    assert "sequential_simple 32 scratch" in md and "### in-domain test · balancing simple" in md


@pytest.mark.parametrize("args,needle", [
    (["run", "--model", "resnet9000", "--train", TRAIN], "unknown model"),
    (["run", "--train", "/nonexistent/dataset"], "/nonexistent/dataset"),
    (["run", "--balance", "heavy"], "--balance"),
    (["leaderboard", "--results", "/nonexistent/results"], "no runs found"),
])
def test_errors_are_one_line_without_traceback(args, needle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fer_bench.cli.app", *args, "--results", str(tmp_path)]
                          if args[0] == "run" else [sys.executable, "-m", "fer_bench.cli.app", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2
    err = "\n".join(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert needle in err and "Traceback" not in proc.stderr
    assert len(err.splitlines()) == 1
