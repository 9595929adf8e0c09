"""Multi-view test-time augmentation (ensemble --views) and knowledge distillation (run --teacher)."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_bench.data.pipeline import make_dataset
from fer_bench.errors import FerBenchError
from fer_bench.models.layers import VIEW_SETS, ViewAverage, apply_view
from fer_bench.models.registry import build_model
from fer_bench.protocol.config import RunConfig
from fer_bench.protocol.ensemble import build_ensemble


def _x(n=4, size=32):
    return np.random.default_rng(5).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _member(tmp_path, name, seed, size=32):
    keras.utils.set_random_seed(seed)
    model = build_model("lenet5", size, 7, "scratch")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return path, model


def test_views_are_edge_padded_shifts_and_a_central_zoom():
    x = _x(2, 48)
    s = 2  # res / 24 at 48 px
    padded = np.pad(x, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
    np.testing.assert_array_equal(np.asarray(apply_view(x, "right")), padded[:, s:s + 48, 2 * s:2 * s + 48])
    np.testing.assert_array_equal(np.asarray(apply_view(x, "up")), padded[:, 0:48, s:s + 48])
    import tensorflow as tf

    zoom = tf.image.resize(x[:, 2:46, 2:46], (48, 48), "bilinear").numpy()
    np.testing.assert_allclose(np.asarray(apply_view(x, "zoom")), zoom, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(apply_view(x, "id")), x)
    assert VIEW_SETS["flip+shift+zoom"][-1] == "zoom"


def test_view_average_is_the_mean_over_views_and_their_flips():
    keras.utils.set_random_seed(3)
    model = build_model("lenet5", 32, 7, "scratch")
    x = _x()
    inp = keras.Input((32, 32, 3))
    wrapped = keras.Model(inp, ViewAverage(model, "flip+zoom")(inp))
    views = [apply_view(x, "id"), apply_view(x, "zoom")]
    expect = np.mean([model.predict(np.asarray(v)[:, :, ::-1].copy() if f else np.asarray(v), verbose=0)
                      for v in views for f in (False, True)], axis=0)
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), expect, atol=1e-5)
    with pytest.raises(FerBenchError, match="unknown view set 'crops'"):
        ViewAverage(model, "crops")


def test_ensemble_with_views_saves_reloads_and_matches_its_members(tmp_path):
    from fer_bench.protocol.external import load_any_model
    from fer_bench.results.card import write_ensemble_card

    a, ma = _member(tmp_path, "a", 1)
    b, mb = _member(tmp_path, "b", 2)
    out = tmp_path / "ens.keras"
    summary = build_ensemble([a, b], out, views="flip+shift+zoom")
    assert summary["views"] == "flip+shift+zoom" and summary["flip_tta"]
    x = _x()
    ref = []
    for m in (ma, mb):
        inp = keras.Input((32, 32, 3))
        ref.append(keras.Model(inp, ViewAverage(m, "flip+shift+zoom")(inp)).predict(x, verbose=0))
    np.testing.assert_allclose(load_any_model(out).predict(x, verbose=0), np.mean(ref, 0), atol=1e-5)
    card = write_ensemble_card(out, summary).read_text()
    assert "12 test-time views (flip+shift+zoom" in card
    # views="flip" is the old --tta file; --tta with another view set is refused
    assert build_ensemble([a, b], tmp_path / "f.keras", views="flip")["views"] == "flip"
    with pytest.raises(FerBenchError, match="pass one of them"):
        build_ensemble([a, b], tmp_path / "g.keras", views="flip+zoom", flip_tta=True)


def test_soft_targets_follow_their_rows_through_shuffling_and_class_weights():
    """Each image's target is built from its own teacher row, whatever the epoch's order; weights stay by label."""
    from fer_bench.data.cache import CachedSplit

    n = 12
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * np.ones((1, 4, 4, 1), np.uint8)  # pixel = row
    labels = np.arange(n) % 7
    cached = CachedSplit(images=images, labels=labels, items=[str(i) for i in range(n)], meta={}, path=None)
    soft = np.random.default_rng(0).dirichlet(np.ones(7), n).astype(np.float32)  # a distinct row per image
    fit = np.array([11, 3, 7, 0, 5, 9, 2])
    ds = make_dataset(cached, fit, batch_size=3, shuffle=True, seed=4, soft_targets=soft, soft_weight=0.25,
                      class_weights={0: 2.0})
    seen = []
    for x, y, w in ds:
        rows = x.numpy()[:, 0, 0, 0].astype(int)  # the row each image came from
        expect = 0.75 * np.eye(7)[labels[rows]] + 0.25 * soft[rows]
        np.testing.assert_allclose(y.numpy(), expect, atol=1e-6)
        np.testing.assert_allclose(w.numpy(), np.where(labels[rows] == 0, 2.0, 1.0))
        seen += list(rows)
    assert sorted(seen) == sorted(fit) and seen != list(fit)  # every fit row once, in a shuffled order


def test_teacher_trained_on_a_test_set_is_refused(tmp_path):
    from fer_bench.protocol.distill import check_teacher_against_tests

    run = tmp_path / "runs" / "abc"
    run.mkdir(parents=True)
    (run / "model.keras").write_bytes(b"x")
    (run / "config.json").write_text(json.dumps({"train": "synth:wild"}))
    with pytest.raises(FerBenchError, match="trained on synth:wild, which this run tests on"):
        check_teacher_against_tests(run / "model.keras", ("synth:wild",))
    assert check_teacher_against_tests(run / "model.keras", ("other",)) == ["synth:wild"]
    assert check_teacher_against_tests(tmp_path / "loose.keras", ("synth:wild",)) is None  # no record: allowed


def test_teacher_is_hash_neutral_when_unset_and_checked():
    cfg = RunConfig()
    assert "teacher" not in cfg.to_dict() and "teacher_weight" not in cfg.to_dict()
    kd = RunConfig(teacher="t.keras", teacher_weight=0.7)
    assert kd.to_dict()["teacher_weight"] == 0.7 and kd.config_hash() != cfg.config_hash()
    assert RunConfig.from_dict(kd.to_dict()) == kd
    with pytest.raises(FerBenchError, match="--teacher-weight"):
        RunConfig(teacher="t.keras", teacher_weight=0)
    with pytest.raises(FerBenchError, match="--teacher-weight needs --teacher"):
        RunConfig(teacher_weight=0.7)


def test_distilled_run_records_its_teacher_and_shares_its_cache(tmp_path):
    from fer_bench.protocol.run import execute_run

    teacher, _ = _member(tmp_path, "teacher", 4)
    cfg = RunConfig(model="lenet5", res=32, train="synth:lab?n=6&test=3", epochs=1, teacher=str(teacher),
                    teacher_weight=0.6)
    out = execute_run(cfg, tmp_path / "res")
    info = json.loads((out.folder / "run.json").read_text())
    assert info["teacher"]["sha256"] and info["teacher"]["weight"] == 0.6
    assert info["teacher"]["fit_images"] == info["n_fit"]
    assert 0 <= info["teacher"]["teacher_accuracy_on_fit_images"] <= 1
    assert json.loads((out.folder / "config.json").read_text())["teacher"] == str(teacher)
    (cached,) = (tmp_path / "res" / "teachers").glob("*.npz")
    # another student of the same teacher and split (here: another weight) reuses the teacher's outputs
    stages = []
    from fer_bench.protocol.run import execute_run as run_again

    run_again(RunConfig(**{**cfg.to_dict(), "teacher_weight": 0.3}), tmp_path / "res", on_stage=stages.append)
    assert any("teacher outputs loaded" in s for s in stages)
    assert list((tmp_path / "res" / "teachers").glob("*.npz")) == [cached]


def test_bad_teachers_fail_in_one_line(tmp_path):
    from fer_bench.protocol.run import execute_run

    base = dict(model="lenet5", res=32, train="synth:lab?n=6&test=3", epochs=1)
    with pytest.raises(FerBenchError, match="--teacher file not found"):
        execute_run(RunConfig(**base, teacher=str(tmp_path / "missing.keras")), tmp_path / "r1")
    wrong, _ = _member(tmp_path, "wrong", 5, size=48)
    with pytest.raises(FerBenchError, match="takes 48 px"):
        execute_run(RunConfig(**base, teacher=str(wrong)), tmp_path / "r2")


def test_view_and_tta_mistakes_fail_before_any_file_is_read(tmp_path):
    from fer_bench import api

    with pytest.raises(FerBenchError, match="unknown view set 'crops'"):
        api.ensemble(tmp_path / "e.keras", [tmp_path / "missing_a.keras", tmp_path / "missing_b.keras"],
                     views="crops")
    with pytest.raises(FerBenchError, match="pass one of them"):
        api.ensemble(tmp_path / "e.keras", [tmp_path / "missing_a.keras", tmp_path / "missing_b.keras"],
                     views="flip+zoom", flip_tta=True)


def test_teacher_weight_without_a_teacher_is_refused():
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    r = CliRunner().invoke(app, ["run", "--model", "lenet5", "--train", "synth:lab?n=6&test=3",
                                 "--teacher-weight", "0.7"])
    assert r.exit_code != 0 and "--teacher-weight needs --teacher" in str(r.exception)


def test_a_changed_teacher_stops_a_resume(tmp_path):
    """A run killed part-way must not continue with another teacher's targets under the same hash."""
    from fer_bench.protocol.run import execute_run

    teacher, _ = _member(tmp_path, "teacher", 4)
    cfg = RunConfig(model="lenet5", res=32, train="synth:lab?n=6&test=3", epochs=4, teacher=str(teacher))

    def stop(phase, epoch, n, row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_run(cfg, tmp_path / "res", on_epoch=stop)
    _member(tmp_path, "teacher", 5)  # another model written over the same path
    with pytest.raises(FerBenchError, match="changed since run .* started distilling from it"):
        execute_run(cfg, tmp_path / "res")
