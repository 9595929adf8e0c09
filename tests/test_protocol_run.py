"""The steps of one run (fer_bench.protocol.run): what prepare() decides, and what record() writes.

Resume, locks and the one-line errors of execute_run are pinned in test_resume.py; here each step is driven
directly on tiny synthetic data (7 classes x 10 training images, a 1-epoch sequential_simple).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from fer_bench.errors import FerBenchError
from fer_bench.protocol.config import RunConfig
from fer_bench.protocol.run import (
    TEST_CARVE_FRACTION,
    TEST_CARVE_SEED,
    execute_run,
    prepare,
    record,
    split_indices,
    train,
)
from fer_bench.results.store import RunWriter, check_writable, is_finished

LABELS = np.repeat(np.arange(7), 20)  # 7 classes x 20 rows


def _cfg(**kw) -> RunConfig:
    base = dict(model="sequential_simple", res=48, train="synth:lab?n=10&test=5&size=32", tests=(), epochs=1,
                batch_size=16, deterministic=True)
    base.update(kw)
    return RunConfig(**base)


def _per_class(labels, idx):
    return np.bincount(labels[idx], minlength=7)


# ---- split_indices: the rows each protocol fits, validates and tests on ---------------------------------

def test_fer_bench_protocol_carves_validation_from_training():
    cfg = _cfg(val_fraction=0.1, seed=3)
    fit, val, carved = split_indices(LABELS, cfg, carve_test=False)
    assert carved is None
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == len(LABELS)
    assert list(_per_class(LABELS, val)) == [2] * 7  # stratified: 10% of each class
    again = split_indices(LABELS, cfg, carve_test=False)
    np.testing.assert_array_equal(again[1], val)  # seeded
    assert not np.array_equal(split_indices(LABELS, _cfg(seed=4), carve_test=False)[1], val)


def test_paper_protocol_validates_on_the_test_split():
    fit, val, carved = split_indices(LABELS, _cfg(protocol="paper"), carve_test=False)
    np.testing.assert_array_equal(fit, np.arange(len(LABELS)))  # every training row is fitted
    assert val is None and carved is None  # None: validation is the whole test split


def test_in_domain_test_is_carved_with_a_fixed_seed_when_the_source_has_none():
    fit, val, carved = split_indices(LABELS, _cfg(seed=0), carve_test=True)
    assert list(_per_class(LABELS, carved)) == [round(TEST_CARVE_FRACTION * 20)] * 7
    assert len(np.intersect1d(carved, fit)) == 0 and len(np.intersect1d(carved, val)) == 0
    assert len(fit) + len(val) + len(carved) == len(LABELS)
    # the carve is the same for every run (its seed is not the run's)
    np.testing.assert_array_equal(split_indices(LABELS, _cfg(seed=9), carve_test=True)[2], carved)
    from fer_bench.data.pipeline import stratified_split

    np.testing.assert_array_equal(carved, stratified_split(LABELS, TEST_CARVE_FRACTION, TEST_CARVE_SEED)[1])
    # under the paper protocol the carved rows are also the validation rows
    pfit, pval, pcarved = split_indices(LABELS, _cfg(protocol="paper"), carve_test=True)
    np.testing.assert_array_equal(pval, pcarved)
    np.testing.assert_array_equal(pcarved, carved)
    assert len(np.intersect1d(pfit, pcarved)) == 0


def test_max_train_images_takes_a_stratified_subset():
    fit, val, _ = split_indices(LABELS, _cfg(max_train_images=70), carve_test=False)
    assert len(fit) + len(val) == 70
    assert list(_per_class(LABELS, np.concatenate([fit, val]))) == [10] * 7
    fit_p, val_p, _ = split_indices(LABELS, _cfg(max_train_images=70, protocol="paper"), carve_test=False)
    assert val_p is None and list(_per_class(LABELS, fit_p)) == [10] * 7
    # a cap above the data size changes nothing
    np.testing.assert_array_equal(split_indices(LABELS, _cfg(max_train_images=1000), carve_test=False)[0],
                                  split_indices(LABELS, _cfg(), carve_test=False)[0])


# ---- prepare ------------------------------------------------------------------------------------------------

def test_prepare_fer_bench_protocol(tmp_path):
    check_writable(tmp_path)  # execute_run does this (through its lock) before prepare
    cfg = _cfg()
    stages: list[str] = []
    p = prepare(cfg, tmp_path, cfg.config_hash(), stages.append)
    assert (p.train_split, p.test_split) == ("train", "test") and p.carved_test_idx is None
    assert p.val_cache is p.train_cache and len(p.test_cache) == 35
    assert len(p.fit_idx) + len(p.val_idx) == 70 and p.n_val == len(p.val_idx) == 7
    assert p.num_classes == 7 and len(p.label_names) == 7
    assert p.counts.sum() == len(p.fit_idx) and p.steps == int(np.ceil(len(p.fit_idx) / 16))
    assert p.resize == "area" and p.resumed_from is None
    assert p.lr == p.spec.learning_rate  # the paper recipe has no LR of its own
    assert not p.checkpoint.folder.exists()  # nothing written before training
    assert stages[0] == "opening datasets" and any(s.startswith("building sequential_simple") for s in stages)


def test_prepare_paper_protocol_and_carved_test(tmp_path):
    check_writable(tmp_path)
    cfg = _cfg(protocol="paper")
    p = prepare(cfg, tmp_path, cfg.config_hash())
    assert p.val_cache is p.test_cache and p.val_idx is None and p.n_val == 35
    assert len(p.fit_idx) == 70 and p.resize == "nearest"

    cfg = _cfg(train="synth:lab?n=10&test=0&size=32")  # no test split: 20% of training is held out
    p = prepare(cfg, tmp_path, cfg.config_hash())
    assert p.test_split is None and p.test_cache is p.train_cache
    assert len(p.carved_test_idx) == 14 and len(np.intersect1d(p.carved_test_idx, p.fit_idx)) == 0


def test_prepare_fails_fast_on_an_unknown_model(tmp_path):
    with pytest.raises(FerBenchError):
        prepare(_cfg(model="no_such_model"), tmp_path, "k", lambda s: pytest.fail(f"reached stage {s!r}"))


# ---- record -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 1-epoch training shared by the record tests (each record() replaces the previous run folder)."""
    results = tmp_path_factory.mktemp("record")
    check_writable(results)
    cfg = _cfg(tests=("synth:wild?n=1&test=2&size=32",))
    p = prepare(cfg, results, cfg.config_hash())
    fit = train(p, cfg)
    return p, fit, results


def test_record_write_failure_is_one_line_then_record_writes_the_run_folder(trained, monkeypatch):
    p, fit, results = trained
    assert p.checkpoint.folder.is_dir()  # the epoch's checkpoint

    def full(self):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(RunWriter, "commit", full)
        with pytest.raises(FerBenchError, match="No space left on device.*resumes from its checkpoint") as err:
            record(p, fit)
    assert "\n" not in str(err.value)
    assert p.checkpoint.folder.is_dir()  # running the same command again resumes
    assert not is_finished(results, p.key)
    assert not list((results / "runs").glob(".*.tmp-*"))  # the writer's temp folder is gone

    out = record(p, fit)
    assert out.status == "trained" and not out.skipped and out.resumed_from is None
    assert out.folder == results / "runs" / p.key and is_finished(results, p.key)
    names = {q.relative_to(out.folder).as_posix() for q in out.folder.rglob("*") if q.is_file()}
    assert {"config.json", "metrics.json", "run.json", "history.csv", "model.keras", "predictions/in_domain.csv",
            "confusion_in_domain.png"} <= names
    assert any(n.startswith("predictions/synth_wild") for n in names)
    assert not p.checkpoint.folder.exists()
    assert [q.name for q in (results / "runs").iterdir()] == [p.key]  # no temp folder left
    metrics = json.loads((out.folder / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(out.metrics, default=str))
    assert [m["role"] for m in metrics.values()] == ["in_domain", "cross_domain"]
    info = json.loads((out.folder / "run.json").read_text())
    assert info["n_fit"] == len(p.fit_idx) and info["n_val"] == 7 and info["epochs_run"] == 1
    assert list(info["data"]) == ["train", "in_domain", "synth:wild?n=1&test=2&size=32"]
    assert json.loads((out.folder / "config.json").read_text())["config_hash"] == p.key
    # the next execute_run of this config finds it finished
    again = execute_run(p.cfg, results)
    assert again.skipped and again.status == "finished-before" and again.metrics == metrics


def test_record_of_a_resumed_run_says_so(trained):
    p, fit, results = trained
    out = record(dataclasses.replace(p, resumed_from="full epoch 1"), fit)
    assert (out.status, out.resumed_from) == ("resumed", "full epoch 1")
    assert json.loads((out.folder / "run.json").read_text())["resumed_from"] == "full epoch 1"
    assert [q.name for q in (results / "runs").iterdir()] == [p.key]  # replaced in place, nothing left over


def test_missing_dataset_path_fails_before_anything_is_created(tmp_path):
    """A mistyped --train or --test path is one line, and the results folder stays untouched (no lock file)."""
    from fer_bench.errors import FerBenchError
    from fer_bench.protocol.config import RunConfig
    from fer_bench.protocol.run import execute_run

    for cfg in (RunConfig(model="lenet5", train=str(tmp_path / "nope")),
                RunConfig(model="lenet5", train="synth:lab?n=6&test=3", tests=(str(tmp_path / "nope2"),))):
        with pytest.raises(FerBenchError, match="not found; check the path"):
            execute_run(cfg, tmp_path / "results")
    assert not (tmp_path / "results").exists()
