"""Sweeps on Ray: the same run folders, hashes and metrics as the local backend; a worker killed mid-run is
retried into exactly one complete result; a failing run is reported while the sweep goes on.

Ray is part of the dev extra (CI installs it), so these run in the default suite; they start one local Ray
instance (2 CPUs, no dashboard) for the module.
"""

import json
import os
import sys

import pandas as pd
import pytest

from fer_bench import api
from fer_bench.errors import FerBenchError
from fer_bench.protocol import backends
from fer_bench.protocol.backends import MARKER, RayBackend, make_backend

ray = pytest.importorskip("ray")  # in the dev extra: present in CI; a bare install skips instead of failing

TRAIN, TEST = "synth:lab?n=10&test=5", "synth:wild?n=5&test=5"


@pytest.fixture(scope="module")
def ray_local():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")  # as RayBackend does for its local instance
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", object_store_memory=100 << 20, configure_logging=True,
             logging_level="ERROR")
    yield ray
    ray.shutdown()


def _configs(epochs=1, models="sequential_simple,lenet5"):
    cfgs, _ = api.expand_sweep(dict(models=models, balance="conservative", train=TRAIN),
                               dict(epochs=epochs, batch_size=16, tests=(TEST,), deterministic=True))
    return cfgs


def _files(folder):
    hist = pd.read_csv(folder / "history.csv").drop(columns=["seconds"])
    preds = {p.name: p.read_text() for p in sorted((folder / "predictions").iterdir())}
    return (json.loads((folder / "config.json").read_text()), json.loads((folder / "metrics.json").read_text()),
            hist.to_dict("list"), preds)


def test_ray_sweep_equals_local(tmp_path, ray_local):
    cfgs = _configs()
    assert len(cfgs) == 2
    local = api.run_sweep(cfgs, tmp_path / "local")
    report = RayBackend(cpus_per_run=1, retries=0).run(cfgs, tmp_path / "ray")
    assert not report.failures and len(report.outcomes) == 2
    names = sorted(p.name for p in (tmp_path / "ray" / "runs").iterdir())
    assert names == sorted(c.config_hash() for c in cfgs) == sorted(o.folder.name for o in local)
    for name in names:
        a, b = tmp_path / "local" / "runs" / name, tmp_path / "ray" / "runs" / name
        assert _files(a) == _files(b)  # same config, metrics (deterministic), history and predictions
        run = json.loads((b / "run.json").read_text())
        assert run["execution"]["backend"]["name"] == "ray" and run["execution"]["backend"]["pid"] != os.getpid()
    # the driver decoded the data before the tasks; no worker decoded anything
    assert len(report.tasks) == 2 and all(t["decoded"] == [] for t in report.tasks)
    # finished runs are skipped without a task
    again = RayBackend().run(cfgs, tmp_path / "ray")
    assert all(o.skipped for o in again.outcomes) and again.tasks == []


def test_killed_worker_is_retried_into_one_result(tmp_path, ray_local, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(backends.CRASH_ENV, str(marker))
    good = _configs(epochs=2, models="lenet5")[0]
    bad = good.replace(init_from=str(tmp_path / "missing.keras"))  # fails in the worker, every attempt
    failed = []
    report = RayBackend(retries=1).run([good, bad], tmp_path / "r", on_failed=failed.append)
    assert marker.is_file() and good.config_hash() in marker.read_text()  # the worker died once, mid-run
    runs = tmp_path / "r" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [good.config_hash()]  # one complete result, no leftovers
    run = json.loads((runs / good.config_hash() / "run.json").read_text())
    assert run["execution"]["backend"]["attempt"] == 2 and run["resumed_from"] == "full epoch 1"
    assert len(pd.read_csv(runs / good.config_hash() / "history.csv")) == 2  # both epochs, once each
    assert [o.config for o in report.outcomes] == [good]
    assert len(failed) == 1 and failed[0].attempts == 2 and "missing.keras" in failed[0].error


def test_worker_refuses_unshared_results_folder(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(FerBenchError, match="filesystem every Ray worker sees"):
        backends._ray_task(_configs(models="lenet5")[0], str(tmp_path / "r"), False, 1, ["x"], None)
    assert MARKER.startswith(".")


def test_missing_ray_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(FerBenchError, match=r'pip install -e "\.\[ray\]"') as exc:
        make_backend("ray")
    assert "\n" not in str(exc.value)
    with pytest.raises(FerBenchError, match="unknown --backend"):
        make_backend("slurm")
