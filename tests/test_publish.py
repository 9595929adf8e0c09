"""`fer-bench publish`: finished runs' records (no models) copied for committing; never silently replaced."""

from __future__ import annotations

import json

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.results.publish import publish_records


def _run(results, key, acc=0.5, partial=False):
    d = results / "runs" / (f".{key}.partial" if partial else key)
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"model": "lenet5", "config_hash": key}))
    if not partial:
        (d / "metrics.json").write_text(json.dumps({"in_domain": {"accuracy": acc}}))
        (d / "run.json").write_text(json.dumps({"command": "fer-bench run ..."}))
        (d / "history.csv").write_text("epoch,val_accuracy\n1,0.5\n")
        (d / "model.keras").write_bytes(b"big")
        (d / "predictions").mkdir()
    return d


def test_publish_copies_records_only_and_is_idempotent(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    _run(src, "a")
    _run(src, "b", partial=True)  # in progress: not a result
    out = publish_records([src], dest)
    assert out == {"finished_runs": 1, "copied": ["a"], "already_there": []}
    assert sorted(p.name for p in (dest / "runs" / "a").iterdir()) == ["config.json", "history.csv",
                                                                       "metrics.json", "run.json"]
    assert publish_records([src], dest)["already_there"] == ["a"]


def test_publish_refuses_to_replace_a_different_record(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    _run(src, "a")
    publish_records([src], dest)
    (src / "runs" / "a" / "metrics.json").write_text(json.dumps({"in_domain": {"accuracy": 0.9}}))
    with pytest.raises(FerBenchError, match="already holds a different record of run a"):
        publish_records([src], dest)
    with pytest.raises(FerBenchError, match="no runs/ folder"):
        publish_records([tmp_path / "nothing"], dest)


def test_publish_cli_then_leaderboard_links_the_records(tmp_path):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    src, dest = tmp_path / "src", tmp_path / "dest"
    d = _run(src, "abc")
    (d / "config.json").write_text(json.dumps({"model": "fer_vgg", "res": 48, "weights": "scratch", "train": "fer2013",
                                               "balance": "none", "seed": 0, "epochs": 3, "config_hash": "abc"}))
    (d / "metrics.json").write_text(json.dumps({"in_domain": {"accuracy": 0.6, "uar": 0.5, "precision": 0.5,
                                                              "recall": 0.5, "f1": 0.5, "role": "in_domain"}}))
    r = CliRunner().invoke(app, ["publish", str(src), "--to", str(dest)])
    assert r.exit_code == 0 and "1 records copied" in r.output
    r = CliRunner().invoke(app, ["leaderboard", "--results", str(dest), "--format", "md"])
    assert r.exit_code == 0, r.output
    assert "[abc](runs/abc/)" in (dest / "leaderboard.md").read_text()
