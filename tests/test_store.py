"""Run folders (fer_bench.results.store): atomic commit, reading, listing, the lock, and the pre-run checks.

The lock across processes and the unwritable-results errors of execute_run are pinned in test_resume.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.results import store
from fer_bench.results.store import (
    RunLockedError,
    RunWriter,
    check_free_space,
    check_writable,
    is_finished,
    iter_runs,
    read_run,
    run_dir,
    run_lock,
)


def _write_run(results: Path, key: str, acc: float = 0.5) -> Path:
    w = RunWriter(results, key)
    w.write_json("config.json", {"model": "m", "config_hash": key})
    w.write_json("metrics.json", {"in_domain": {"accuracy": acc}})
    w.write_json("run.json", {"config_hash": key})
    w.path("predictions/in_domain.csv").write_text("a,b\n")
    return w.commit()


def _hidden(results: Path) -> list[str]:
    return sorted(p.name for p in (results / "runs").iterdir() if p.name.startswith("."))


# ---- RunWriter ------------------------------------------------------------------------------------------------

def test_writer_assembles_in_a_hidden_folder_and_commits_in_one_rename(tmp_path):
    w = RunWriter(tmp_path, "k1")
    assert w.tmp.parent == tmp_path / "runs" and w.tmp.name.startswith(".k1.tmp-")
    w.write_json("config.json", {"x": 1})
    w.write_json("metrics.json", {"in_domain": {"accuracy": 0.25}})
    assert not run_dir(tmp_path, "k1").exists() and not is_finished(tmp_path, "k1")
    assert list(iter_runs(tmp_path)) == []  # work in progress is invisible
    folder = w.commit()
    assert folder == run_dir(tmp_path, "k1") and is_finished(tmp_path, "k1")
    assert not w.tmp.exists() and _hidden(tmp_path) == []
    assert json.loads((folder / "metrics.json").read_text()) == {"in_domain": {"accuracy": 0.25}}


def test_writer_abort_leaves_nothing(tmp_path):
    w = RunWriter(tmp_path, "k1")
    w.write_json("metrics.json", {})
    w.path("predictions/x.csv").write_text("")
    w.abort()
    assert not (tmp_path / "runs" / "k1").exists() and _hidden(tmp_path) == []


def test_commit_over_a_finished_run_replaces_it_whole(tmp_path):
    first = _write_run(tmp_path, "k1", acc=0.1)
    (first / "stale.txt").write_text("from the old run")
    second = _write_run(tmp_path, "k1", acc=0.9)
    assert second == first
    assert not (second / "stale.txt").exists()  # replaced, not merged
    assert read_run(second)["metrics"]["in_domain"]["accuracy"] == 0.9
    assert _hidden(tmp_path) == []  # the old folder is gone too


def test_writer_clears_its_own_stale_temp_folder(tmp_path):
    stale = tmp_path / "runs" / f".k1.tmp-{os.getpid()}"
    stale.mkdir(parents=True)
    (stale / "leftover.json").write_text("{}")
    w = RunWriter(tmp_path, "k1")
    assert w.tmp == stale and list(stale.iterdir()) == []
    w.abort()


# ---- reading and listing --------------------------------------------------------------------------------------

def test_read_run_of_incomplete_or_broken_folders_is_none(tmp_path):
    folder = tmp_path / "runs" / "k1"
    folder.mkdir(parents=True)
    assert read_run(folder) is None  # empty
    (folder / "config.json").write_text('{"model": "m"}')
    assert read_run(folder) is None  # no metrics
    (folder / "metrics.json").write_text('{"in_domain": ')
    assert read_run(folder) is None  # truncated JSON
    (folder / "metrics.json").write_text('{"in_domain": {}}')
    run = read_run(folder)
    assert run == {"hash": "k1", "config": {"model": "m"}, "metrics": {"in_domain": {}}, "info": {}}
    assert read_run(tmp_path / "missing") is None


def test_iter_runs_lists_finished_folders_only(tmp_path):
    assert list(iter_runs(tmp_path)) == []  # no runs/ folder at all
    _write_run(tmp_path, "b2")
    _write_run(tmp_path, "a1")
    runs = tmp_path / "runs"
    for hidden in (".c3.tmp-1", ".d4.partial", ".a1.old-7"):  # complete-looking, but hidden
        (runs / hidden).mkdir()
        (runs / hidden / "config.json").write_text("{}")
        (runs / hidden / "metrics.json").write_text("{}")
    (runs / "e5").mkdir()  # incomplete
    (runs / "f6").write_text("a file, not a run")
    assert [r["hash"] for r in iter_runs(tmp_path)] == ["a1", "b2"]


def test_is_finished_means_metrics_json_is_there(tmp_path):
    assert not is_finished(tmp_path, "k1")
    folder = run_dir(tmp_path, "k1")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert not is_finished(tmp_path, "k1")
    (folder / "metrics.json").write_text("{}")
    assert is_finished(tmp_path, "k1")


# ---- run_lock -------------------------------------------------------------------------------------------------

def test_run_lock_file_names_its_holder_and_sits_beside_runs(tmp_path):
    with run_lock(tmp_path, "k1") as path:
        assert path == tmp_path / ".locks" / "k1.lock"
        assert path.read_text() == f"pid {os.getpid()}"
        assert (tmp_path / "runs").is_dir()  # checked writable on the way in
        with run_lock(tmp_path, "k2"):  # other configs are independent
            pass
        with pytest.raises(RunLockedError, match=f"run k1 is being trained right now by pid {os.getpid()}"):
            with run_lock(tmp_path, "k1"):  # flock is per open file: a second open conflicts
                pass
    assert list(iter_runs(tmp_path)) == []  # the lock folder is not a run


def test_run_lock_is_released_when_the_body_raises_and_a_stale_file_does_not_block(tmp_path):
    with pytest.raises(KeyError), run_lock(tmp_path, "k1"):
        raise KeyError("boom")
    with run_lock(tmp_path, "k1"):  # released
        pass
    (tmp_path / ".locks" / "k9.lock").write_text("pid 999999")  # left by a process that died
    with run_lock(tmp_path, "k9") as path:
        assert path.read_text() == f"pid {os.getpid()}"


def test_a_locked_error_is_a_fer_bench_error():
    assert issubclass(RunLockedError, FerBenchError)


# ---- pre-run checks -------------------------------------------------------------------------------------------

def test_check_writable_creates_runs_and_leaves_no_probe(tmp_path):
    assert check_writable(tmp_path / "new") == tmp_path / "new" / "runs"
    assert list((tmp_path / "new" / "runs").iterdir()) == []


def test_check_writable_on_a_file_is_one_line(tmp_path):
    f = tmp_path / "results"
    f.write_text("not a folder")
    with pytest.raises(FerBenchError, match="cannot write results there") as err:
        check_writable(f)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(f)) and "--results" in msg


def test_check_free_space(tmp_path, monkeypatch):
    check_writable(tmp_path)

    class Usage:
        free = 10 << 20

    monkeypatch.setattr(store.shutil, "disk_usage", lambda p: Usage)
    check_free_space(tmp_path, 9 << 20)  # enough
    with pytest.raises(FerBenchError, match="only 10 MiB free, this run needs about 20 MiB") as err:
        check_free_space(tmp_path, 20 << 20)
    assert "\n" not in str(err.value)
