"""The video run end to end on small synthetic OpenFace folders: run folder, splits, resume, --test, leaderboard,
compare with raters, dataset layouts and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_bench.errors import FerBenchError
from fer_bench.video.compare import compare_run_with_ratings, read_ratings
from fer_bench.video.dataset import resolve_dataset
from fer_bench.video.experiment import VideoRunConfig, _Data, make_folds, read_video_run, run_video
from fer_bench.video.leaderboard import collect, write_leaderboard
from tests.test_video_train import make_synthetic_folder

RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "openface-ravdess"
CKPLUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus-seq"
FAST = dict(max_epochs=2, patience=1, batch_size=16, label_set="a,b,c")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("au")
    make_synthetic_folder(root, participants=5, videos_per_class=2)
    return root


@pytest.fixture(scope="module")
def finished(folder, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    cfg = VideoRunConfig(split="group_kfold", n_splits=2, heads=("average", "attention", "conv"), **FAST)
    return run_video(cfg, resolve_dataset(folder), results), results


def test_run_folder_complete_and_participant_independent(finished):
    result, results = finished
    assert result.status == "trained" and result.folder == results / "video" / "runs" / result.hash
    for name in ("config.json", "metrics.json", "run.json", "split.json", "history.json", "predictions.csv"):
        assert (result.folder / name).is_file(), name
    run = read_video_run(result.folder)
    assert run["config"]["label_set"] == "a,b,c"
    assert set(run["metrics"]["methods"]) == {"svm", "average", "attention", "conv"}
    tested = []
    for fold in run["split"]["folds"]:
        train, val, test = set(fold["train"]), set(fold["val"]), set(fold["test"])
        assert not (train & val or train & test or val & test)
        tested += fold["test"]
    assert sorted(tested) == [f"p{i}" for i in range(5)]  # every participant tested exactly once
    preds = pd.read_csv(result.folder / "predictions.csv")
    assert len(preds[preds["method"] == "svm"]) == 30  # 5 people x 3 classes x 2 videos
    assert {"p_a", "p_b", "p_c"} <= set(preds.columns)
    info = run["run"]
    assert info["data_hashes"]["train"] and info["versions"]["tensorflow"] and info["command"]
    svm = run["metrics"]["methods"]["svm"]
    assert svm["test_uar"]["mean"] > run["metrics"]["chance_uar"] + 0.2
    low, high = svm["test_uar_ci95"]
    assert low <= svm["test_uar"]["mean"] <= high
    assert set(svm["per_class_recall"]) == {"a", "b", "c"}


def test_finished_run_is_skipped_and_leaderboard_written(finished, folder):
    result, results = finished
    cfg = VideoRunConfig(split="group_kfold", n_splits=2, **FAST)
    again = run_video(cfg, resolve_dataset(folder), results)
    assert again.status == "skipped" and again.hash == result.hash
    paths = write_leaderboard(results)
    md = paths["md"].read_text()
    assert "GRU attention" in md and "SVM" in md and result.hash in md and "Keinert" in md
    df = collect(results)
    assert set(df["method"]) == {"svm", "average", "attention", "conv"}
    assert json.loads(paths["json"].read_text())["runs"]


def test_interrupted_run_resumes_from_finished_units(folder, tmp_path):
    cfg = VideoRunConfig(split="group_kfold", n_splits=2, heads=("average",), **FAST)
    calls = []

    def stop_after_two(name, done, total):
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_video(cfg, resolve_dataset(folder), tmp_path, on_unit=stop_after_two)
    assert not list((tmp_path / "video" / "runs").glob("[!.]*"))  # nothing half-written in place
    log = []
    done = run_video(cfg, resolve_dataset(folder), tmp_path, log=log.append)
    assert done.status == "trained"
    assert any("resumed: 2 of 4 units" in m for m in log)
    assert json.loads((done.folder / "run.json").read_text())["resumed_units"] == 2


def test_paper_split_ranks_and_deals_round_robin():
    rng = np.random.default_rng(0)
    people = np.asarray([f"p{i}" for i in range(10) for _ in range(6)], dtype=object)
    y = np.tile(np.repeat([0, 1, 2], 2), 10)
    seqs = [rng.normal(y_i, 1.0, size=(8, 4)).astype(np.float32) for y_i in y]
    data = _Data([f"v{i}" for i in range(len(y))], people, y, seqs)
    cfg = VideoRunConfig(split="paper")
    folds, record = make_folds(cfg, data, None)
    parts = record["parts"]
    assert len(parts["train"]) == 6 and len(parts["val"]) == 2 and len(parts["test"]) == 2
    assert not (set(parts["train"]) & set(parts["val"]) or set(parts["train"]) & set(parts["test"])
                or set(parts["val"]) & set(parts["test"]))
    order = record["order"]
    assert [record["scores"][p] for p in order] == sorted(record["scores"].values(), reverse=True)
    assert parts["train"] == [order[i] for i in (0, 1, 2, 5, 6, 7)]
    assert make_folds(cfg, data, None)[1] == record  # deterministic
    assert set(people[folds[0].test]) == set(parts["test"])


def test_train_on_one_dataset_test_on_another(folder, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    make_synthetic_folder(other, participants=2, videos_per_class=1, seed=0)
    # rename participants so the two sets share nobody
    lab = pd.read_csv(other / "labels.csv")
    lab["participant"] = "q" + lab["participant"].str[1:]
    lab.to_csv(other / "labels.csv", index=False)
    cfg = VideoRunConfig(split="paper", heads=("attention",), **FAST)
    res = run_video(cfg, resolve_dataset(folder), tmp_path / "r", test_ds=resolve_dataset(other))
    run = read_video_run(res.folder)
    assert run["split"]["test"] == ["q0", "q1"] and run["split"]["shared_participants"] == []
    assert set(run["split"]["train"]) | set(run["split"]["val"]) <= {f"p{i}" for i in range(5)}
    assert run["metrics"]["methods"]["attention"]["n_test"] == 6
    assert run["run"]["test_dataset"]["name"] == "other"


def test_compare_with_long_and_wide_ratings(finished, tmp_path):
    result, _ = finished
    preds = pd.read_csv(result.folder / "predictions.csv")
    test = preds[preds["method"] == "svm"][["video", "true"]]
    rows = []
    for i, (v, t) in enumerate(zip(test["video"], test["true"], strict=True)):
        rows.append((v, "r1", t))
        rows.append((v, "r2", t if i % 3 else "b"))
    long = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["video", "rater", "label"]).to_csv(long, index=False)
    rep = compare_run_with_ratings(result.folder, long, method="svm")
    perf = rep["performance"]
    assert rep["n_videos"] == 30 and rep["raters"] == ["r1", "r2"]
    assert perf.loc["r1", "accuracy"] == 1.0 and perf.loc["r1", "kappa_vs_truth"] == pytest.approx(1.0)
    assert "fleiss_raters" in rep["agreement"].index
    wide = read_ratings(long).reset_index()
    wide_path = tmp_path / "wide.csv"
    wide.to_csv(wide_path, index=False)
    rep2 = compare_run_with_ratings(result.folder, wide_path, method="svm")
    pd.testing.assert_frame_equal(rep["performance"], rep2["performance"])
    bad = tmp_path / "bad.csv"
    bad.write_text("video,rater,label\nx,r1,zzz\n")
    with pytest.raises(FerBenchError, match="rated by every rater"):
        compare_run_with_ratings(result.folder, bad, method="svm")


def test_dataset_layouts_and_errors(tmp_path, folder):
    ds = resolve_dataset(folder)
    assert ds.au_dir == folder and ds.video_dir is None
    with pytest.raises(FerBenchError, match="no video files"):
        ds.require("deep")
    with pytest.raises(FerBenchError, match="no such folder"):
        resolve_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FerBenchError, match="no labels.csv"):
        resolve_dataset(tmp_path / "empty")
    nested = tmp_path / "nested"
    (nested / "openface").mkdir(parents=True)
    (nested / "frames" / "v1").mkdir(parents=True)
    (nested / "frames" / "v1" / "0001.png").write_bytes(b"")
    (nested / "openface" / "v1.csv").write_text("frame\n")
    (nested / "labels.csv").write_text("video,participant,label\nv1,p1,a\n")
    ds = resolve_dataset(nested)
    assert ds.au_dir == nested / "openface" and ds.video_dir == nested / "frames"


def test_bad_config_is_one_line_error(folder, tmp_path):
    for kwargs, msg in ((dict(features="xyz"), "unknown feature kind"), (dict(heads=("lstm",)), "unknown head"),
                        (dict(task="binary"), "no valence"), (dict(split="paper", seeds=()), "no seeds")):
        with pytest.raises(FerBenchError, match=msg):
            run_video(VideoRunConfig(**{**FAST, **kwargs}), resolve_dataset(folder), tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not RAVDESS.is_dir(), reason="real OpenFace RAVDESS sample not present")
def test_real_ravdess_au_run(tmp_path):
    cfg = VideoRunConfig(split="group_kfold", n_splits=2, max_epochs=3, patience=2)
    res = run_video(cfg, resolve_dataset(RAVDESS), tmp_path)
    run = read_video_run(res.folder)
    assert run["config"]["label_set"] == "ravdess" and run["run"]["counts"]["train_videos"] == 16
    assert len(run["split"]["folds"]) == 2


@pytest.mark.slow
@pytest.mark.skipif(not CKPLUS.is_dir(), reason="real CK+ sequences not present")
def test_real_ckplus_deep_run(tmp_path):
    cfg = VideoRunConfig(features="deep", detector="none", split="paper", heads=("attention",), max_epochs=5,
                         patience=3)
    res = run_video(cfg, resolve_dataset(CKPLUS), tmp_path)
    m = res.metrics["methods"]
    assert res.metrics["classes"][1] == "contempt"
    assert m["svm"]["test_uar"]["mean"] > 0.5 and m["attention"]["n_test"] > 10


def test_val_fraction_holds_out_several_training_participants_and_keeps_old_hashes():
    rng = np.random.default_rng(0)
    people = np.asarray([f"p{i}" for i in range(10) for _ in range(3)], dtype=object)
    y = np.tile([0, 1, 2], 10)
    data = _Data([f"v{i}" for i in range(30)], people, y,
                 [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(30)])
    folds, record = make_folds(VideoRunConfig(split="group_kfold", n_splits=5, val_fraction=0.25), data, None)
    for fold in record["folds"]:
        assert len(fold["train"]) == 6 and len(fold["val"]) == 2 and len(fold["test"]) == 2  # 25 % of 8 people
        assert not (set(fold["train"]) & set(fold["val"]) or set(fold["val"]) & set(fold["test"]))
    assert make_folds(VideoRunConfig(split="group_kfold", n_splits=5, val_fraction=0.25), data, None)[1] == record
    old = VideoRunConfig(split="group_kfold")
    assert "val_fraction" not in old.to_dict()  # the one-participant rule hashes as before the option existed
    assert old.hash({"train": "x"}) != VideoRunConfig(split="group_kfold", val_fraction=0.2).hash({"train": "x"})
    with pytest.raises(FerBenchError, match="val-fraction"):
        VideoRunConfig(val_fraction=1.5).check()
