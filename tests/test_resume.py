"""Killed runs resume from their last finished epoch and end exactly as an uninterrupted run.

Pinned here: the trainer's checkpoint (model, optimizer, kept best weights, early-stopping/plateau/cosine
counters, phase), the epoch-keyed data order and augmentation, a real SIGKILL of a `fer-bench run` process,
the per-run lock, and the one-line errors for an unwritable results folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from fer_bench.data.cache import CachedSplit
from fer_bench.data.pipeline import EpochCounter, make_dataset, paper_augmentation
from fer_bench.errors import FerBenchError
from fer_bench.protocol.checkpoint import RunCheckpoint
from fer_bench.protocol.config import RunConfig
from fer_bench.protocol.recipes import RECIPES
from fer_bench.protocol.run import execute_run
from fer_bench.protocol.train import fit
from fer_bench.results.store import RunLockedError, run_lock


class _Stop(Exception):
    pass


def _cache(n=96, size=16, seed=0) -> CachedSplit:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    images = rng.integers(0, 255, (n, size, size, 1), dtype=np.uint8)
    images[:, : size // 2] //= (labels[:, None, None, None] + 1).astype(np.uint8)  # some learnable signal
    return CachedSplit(images=images, labels=labels.astype(np.int16), items=[str(i) for i in range(n)],
                       meta={"content_hash": "c", "unreadable": []}, path=Path("."))


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inner = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.GlobalAveragePooling2D()],
                             name="backbone")
    inp = keras.Input((16, 16, 3))
    x = inner(inp)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inp, keras.layers.Dense(7, activation="softmax")(x))


def _train(tmp, recipe="paper", stop_at=None, frozen=2, epochs=4):
    """Train the tiny two-phase model; raise _Stop at (phase, epoch) like a kill before that epoch's checkpoint."""
    cache = _cache()
    model = _model()
    clock = EpochCounter()
    train_ds = make_dataset(cache, np.arange(80), batch_size=16, shuffle=True, seed=3, clock=clock,
                            augment=paper_augmentation(seed=3), class_weights={0: 2.0})
    val_ds = make_dataset(cache, np.arange(80, 96), batch_size=16)
    ck = RunCheckpoint(tmp, "abc", data_fingerprint="d")

    def on_epoch(phase, epoch, n, row):
        if stop_at == (phase, epoch):
            raise _Stop

    out = fit(model, train_ds, val_ds, epochs=epochs, frozen_epochs=frozen, lr=1e-2, recipe=RECIPES[recipe],
              steps_per_epoch=5, es_patience=2, lr_patience=1, on_epoch=on_epoch, clock=clock, checkpoint=ck)
    return model, out


def _timeless(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.parametrize("recipe", ["paper", "strong"])
@pytest.mark.parametrize("stop_at", [("frozen", 2), ("full", 1), ("full", 3)])
def test_interrupted_fit_resumes_to_identical_weights(tmp_path, recipe, stop_at):
    ref_model, ref = _train(tmp_path / "ref", recipe)
    with pytest.raises(_Stop):
        _train(tmp_path / "cut", recipe, stop_at=stop_at)
    prog = json.loads((tmp_path / "cut/runs/.abc.partial/progress.json").read_text())
    # the epoch that raised was not checkpointed: the last finished one was
    expected = {("frozen", 2): ("frozen", 1), ("full", 1): ("full", 0), ("full", 3): ("full", 2)}[stop_at]
    assert (prog["phase"], prog["epoch_done"]) == expected
    model, out = _train(tmp_path / "cut", recipe)
    assert _timeless(out["history"]) == _timeless(ref["history"])
    assert out["best"] == ref["best"]
    for a, b in zip(model.get_weights(), ref_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_from_other_data_is_discarded(tmp_path):
    with pytest.raises(_Stop):
        _train(tmp_path, stop_at=("full", 2))
    ck = RunCheckpoint(tmp_path, "abc", data_fingerprint="other")
    assert ck.load() is None
    assert not ck.folder.exists()


def test_epoch_order_and_augmentation_depend_only_on_seed_and_epoch():
    cache = _cache(n=40)

    def batches(epoch, seed=1):
        clock = EpochCounter()
        clock.epoch = epoch
        ds = make_dataset(cache, np.arange(40), batch_size=8, shuffle=True, seed=seed, clock=clock,
                          augment=paper_augmentation(seed=seed))
        return [x.numpy() for x, _ in ds]

    a, b = batches(3), batches(3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(np.concatenate(a), np.concatenate(batches(4)))
    assert not np.array_equal(np.concatenate(a), np.concatenate(batches(3, seed=2)))


def test_counter_without_clock_gives_a_new_order_each_pass():
    cache = _cache(n=40)
    ds = make_dataset(cache, np.arange(40), batch_size=40, shuffle=True, seed=0)
    first, second = (next(iter(ds))[1].numpy() for _ in range(2))
    assert not np.array_equal(first, second)
    assert sorted(first.argmax(1)) == sorted(second.argmax(1))


def _cfg(**kw):
    base = dict(model="sequential_simple", res=48, train="synth:lab?n=12&test=6", tests=(), epochs=4,
                batch_size=16, deterministic=True, es_patience=3, lr_patience=1)
    base.update(kw)
    return RunConfig(**base)


def test_run_killed_in_process_resumes_with_equal_metrics(tmp_path):
    ref = execute_run(_cfg(), tmp_path / "ref")

    def stop(phase, epoch, n, row):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_run(_cfg(), tmp_path / "cut", on_epoch=stop)
    out = execute_run(_cfg(), tmp_path / "cut")
    assert out.status == "resumed" and out.resumed_from == "full epoch 2"
    assert out.metrics == ref.metrics
    runs = [p.name for p in (tmp_path / "cut/runs").iterdir()]
    assert runs == [ref.folder.name]  # one complete result, the checkpoint gone
    info = json.loads((out.folder / "run.json").read_text())
    assert info["resumed_from"] == "full epoch 2" and info["command"]


@pytest.mark.skipif(shutil.which("fer-bench") is None, reason="the fer-bench console script is not installed")
def test_sigkill_mid_training_then_same_command_resumes(tmp_path):
    """A real `fer-bench run` process is SIGKILLed after its 2nd epoch checkpoint; the same command finishes it."""
    cmd = ["fer-bench", "run", "--model", "sequential_simple", "--train", "synth:lab?n=12&test=6", "--epochs", "5",
           "--batch-size", "16", "--deterministic", "--results", str(tmp_path / "cut")]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    progress = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "cut/runs").glob(".*.partial/progress.json"))
        if found:
            try:
                progress = json.loads(found[0].read_text())
            except (OSError, json.JSONDecodeError):
                progress = None
            if progress and progress["epoch_done"] >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert progress and progress["epoch_done"] >= 2, "the run never wrote a checkpoint"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # a successful training run (op determinism on) prints no TensorFlow native log line
    assert not [n for n in ("E0000", "W0000", "I0000", "absl::InitializeLog") if n in done.stderr], done.stderr
    ref = subprocess.run(cmd[:-1] + [str(tmp_path / "ref")], capture_output=True, text=True, env=env, timeout=300)
    assert ref.returncode == 0, ref.stderr[-2000:]
    [cut_run] = [p for p in (tmp_path / "cut/runs").iterdir() if not p.name.startswith(".")]
    [ref_run] = [p for p in (tmp_path / "ref/runs").iterdir() if not p.name.startswith(".")]
    assert not list((tmp_path / "cut/runs").glob(".*.partial"))
    assert json.loads((cut_run / "metrics.json").read_text()) == json.loads((ref_run / "metrics.json").read_text())
    info = json.loads((cut_run / "run.json").read_text())
    assert info["resumed_from"].startswith("full epoch ")
    assert int(info["resumed_from"].split()[-1]) >= 2


def test_lock_refuses_a_second_holder_and_frees_on_exit(tmp_path):
    with run_lock(tmp_path, "h1"):
        code = ("import sys; from fer_bench.results.store import run_lock, RunLockedError\n"
                f"try:\n  with run_lock({str(tmp_path)!r}, 'h1'): print('got')\n"
                "except RunLockedError as e: print('locked:', e)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        assert out.startswith("locked:") and f"pid {os.getpid()}" in out
    with run_lock(tmp_path, "h1"):  # released: can be taken again
        pass


def test_locked_config_is_reported_not_run(tmp_path):
    """flock is per open file: execute_run's own open() conflicts with the lock held here, as another sweep's."""
    cfg = _cfg()
    with run_lock(tmp_path, cfg.config_hash()), pytest.raises(RunLockedError, match="being trained right now"):
        execute_run(cfg, tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_results_folder_is_one_line_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(FerBenchError, match="cannot write results there"):
            execute_run(_cfg(), ro)
    finally:
        ro.chmod(0o755)


def test_results_path_that_is_a_file_is_one_line(tmp_path):
    f = tmp_path / "results"
    f.write_text("not a folder")
    with pytest.raises(FerBenchError, match="cannot write results there"):
        execute_run(_cfg(), f)


def test_full_disk_is_refused_before_training(tmp_path, monkeypatch):
    import fer_bench.results.store as store

    class Usage:
        free = 1 << 20

    monkeypatch.setattr(store.shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(FerBenchError, match="MiB free, this run needs about"):
        execute_run(_cfg(), tmp_path)
    assert not list((tmp_path / "runs").glob("[!.]*"))


def test_checkpoint_write_failure_is_one_line(tmp_path, monkeypatch):
    import fer_bench.protocol.checkpoint as ckmod

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckmod, "_save_arrays", boom)
    with pytest.raises(FerBenchError, match="No space left on device.*resume"):
        execute_run(_cfg(), tmp_path)
