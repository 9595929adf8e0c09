"""`fer-bench status`: unfinished runs read from their checkpoints, training now (lock held) or idle."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("keras")

from fer_bench.protocol.config import RunConfig
from fer_bench.results.status import partial_runs
from fer_bench.results.store import run_lock


def _interrupted_run(results):
    """A real run stopped after its second epoch (like Ctrl-C): its checkpoint holds two finished epochs."""
    from fer_bench.protocol.run import execute_run

    cfg = RunConfig(model="lenet5", res=32, train="synth:lab?n=6&test=3", epochs=5, seed=1)

    def stop(phase, epoch, n, row):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_run(cfg, results, on_epoch=stop)
    return cfg


def test_status_reads_an_interrupted_run_and_sees_its_lock(tmp_path):
    cfg = _interrupted_run(tmp_path)
    (r,) = partial_runs(tmp_path)
    assert r["hash"] == cfg.config_hash() and r["name"] == cfg.short_name()
    assert r["epochs_done"] == 2 and r["epoch_cap"] == 5 and r["patience"] == 20
    assert 0 <= r["best_val_accuracy"] <= 1 and r["best_epoch"] in (1, 2)
    assert r["train_seconds"] > 0 and r["state"] == "idle (rerun to resume)"
    assert r["command"]  # the command line that started it
    with run_lock(tmp_path, cfg.config_hash()):
        (busy,) = partial_runs(tmp_path)
        assert busy["state"].startswith("training (pid ")
    # the probe released the lock: the run can still be taken
    with run_lock(tmp_path, cfg.config_hash()):
        pass


def test_status_cli_table_json_and_errors(tmp_path):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    runner = CliRunner()
    r = runner.invoke(app, ["status", "--results", str(tmp_path)])
    assert r.exit_code == 0 and "no runs in progress" in r.output
    cfg = _interrupted_run(tmp_path)
    r = runner.invoke(app, ["status", "--results", str(tmp_path), "--format", "json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.output)
    assert row["hash"] == cfg.config_hash()
    r = runner.invoke(app, ["status", "--results", str(tmp_path)])
    assert r.exit_code == 0 and cfg.config_hash() in r.output and "2/5" in r.output
    r = runner.invoke(app, ["status", "--results", str(tmp_path), "--format", "md"])
    assert r.exit_code == 0 and f"| {cfg.short_name()} | `{cfg.config_hash()}` | idle (rerun to resume) | 2 / 5 |" \
        in r.output
    r = runner.invoke(app, ["status", "--results", str(tmp_path), "--format", "html"])
    assert r.exit_code != 0 and "use table, md or json" in str(r.exception)


def test_unreadable_progress_is_listed_not_fatal(tmp_path):
    bad = tmp_path / "runs" / ".abc123.partial"
    bad.mkdir(parents=True)
    (bad / "progress.json").write_text("{not json")
    (r,) = partial_runs(tmp_path)
    assert r["hash"] == "abc123" and r["state"] == "no readable progress yet"
