"""Tests for fer_bench.video.train (training loop, early stopping, standardisation and the AU experiment after
Keinert et al., 2025)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_bench.video.openface import AU_COLUMNS, AU_INTENSITY
from fer_bench.video.train import (
    Standardizer,
    fit_sequence_model,
    predict_sequences,
)


def test_standardizer_train_only_and_mask_aware():
    rng = np.random.default_rng(0)
    train = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 9, 7)]
    test = [rng.normal(100.0, 50.0, size=(6, 4))]
    s = Standardizer.fit(train)
    frames = np.concatenate(train)
    np.testing.assert_allclose(s.mean, frames.mean(axis=0))
    np.testing.assert_allclose(s.std, frames.std(axis=0))
    # test data never moves the statistics: refitting with it would differ
    assert not np.allclose(Standardizer.fit(train + test).mean, s.mean)
    # padded fit ignores padding values whatever they are
    t = 9
    x = np.full((3, t, 4), 1e6)
    mask = np.zeros((3, t), dtype=bool)
    for i, a in enumerate(train):
        x[i, : len(a)] = a
        mask[i, : len(a)] = True
    sp = Standardizer.fit_padded(x, mask)
    np.testing.assert_allclose(sp.mean, s.mean)
    np.testing.assert_allclose(sp.std, s.std)
    z = sp.transform_padded(x, mask)
    assert np.all(z[~mask] == 0)
    np.testing.assert_allclose(np.concatenate(s.transform(train)).mean(axis=0), 0, atol=1e-5)
    # constant feature: std floored to 1 (centred only), no inf/nan
    c = Standardizer.fit([np.ones((4, 2))])
    assert np.all(c.std == 1.0) and np.all(np.isfinite(c.transform([np.ones((2, 2)) * 5])[0]))
    assert Standardizer.from_dict(s.to_dict()).to_dict() == s.to_dict()


def _toy(n_per_class=6, t=8, f=3, seed=0, fixed=False):
    rng = np.random.default_rng(seed)
    seqs, y = [], []
    for c in range(2):
        for _ in range(n_per_class):
            n = t if fixed else int(rng.integers(4, t + 1))
            seqs.append((rng.normal(0, 1, size=(n, f)) + 2.0 * c).astype(np.float32))
            y.append(c)
    return seqs, np.asarray(y)


def test_early_stopping_restores_best_weights_and_stops_after_patience():
    seqs, y = _toy()
    # validation labels inverted: val UAR can only get worse as the model learns, so the best epoch is early
    rows = []
    out = fit_sequence_model(
        seqs, y, seqs, 1 - y, n_classes=2, head="average", seed=1, max_epochs=40, patience=3,
        on_epoch=lambda e, r: rows.append((e, r)),
    )
    hist = out["history"]
    uars = [r["val_uar"] for r in hist]
    best = out["best_epoch"]
    assert uars[best - 1] == max(uars) == out["best_val_uar"]
    assert best == 1 + int(np.argmax(uars))  # first epoch reaching the best
    assert all(u <= out["best_val_uar"] for u in uars[best:])
    if out["stopped_early"]:
        assert out["epochs_run"] == best + 3
    assert len(rows) == len(hist) and rows[0][0] == 1
    # the restored weights reproduce the best epoch's val UAR
    from fer_bench.video.svm import uar

    pred = predict_sequences(out["model"], seqs).argmax(axis=1)
    assert uar(1 - y, pred) == pytest.approx(out["best_val_uar"])


def test_early_stopping_stops_exactly_after_patience():
    seqs, y = _toy()
    # the same video labelled 0 and 1: the predictions are equal, so val UAR is 0.5 in every epoch; epoch 1 stays
    # best (no strict improvement) and training stops after exactly 1 + patience epochs
    val = [seqs[0], seqs[0]]
    out = fit_sequence_model(seqs, y, val, [0, 1], n_classes=2, head="conv", seed=0, max_epochs=30, patience=4)
    assert [r["val_uar"] for r in out["history"]] == [0.5] * 5
    assert out["best_epoch"] == 1 and out["epochs_run"] == 5 and out["stopped_early"]


def test_same_seed_same_history():
    seqs, y = _toy(seed=3, fixed=True)  # equal lengths and equal batches: one traced shape, a fast test
    kw = dict(n_classes=2, head="attention", max_epochs=2, patience=10, batch_size=6)
    a = fit_sequence_model(seqs, y, seqs, y, seed=7, **kw)
    b = fit_sequence_model(seqs, y, seqs, y, seed=7, **kw)
    assert a["history"] == b["history"]
    np.testing.assert_array_equal(predict_sequences(a["model"], seqs), predict_sequences(b["model"], seqs))


def _write_openface(path: Path, frames: np.ndarray) -> None:
    header = ["frame", "face_id", "timestamp", "confidence", "success", *AU_COLUMNS]
    lines = [", ".join(header)]
    for i, row in enumerate(frames):
        lines.append(", ".join([str(i + 1), "0", f"{i / 30:.3f}", "0.98", "1", *(f"{v:.2f}" for v in row)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_synthetic_folder(root: Path, *, participants=4, classes=("a", "b", "c"), videos_per_class=2, seed=0):
    """OpenFace-format CSVs whose AU intensities have class-dependent means plus noise (20-40 frames each)."""
    rng = np.random.default_rng(seed)
    n_r = len(AU_INTENSITY)
    centres = rng.uniform(0, 4, size=(len(classes), n_r))
    rows = ["video,participant,label"]
    for p in range(participants):
        offset = rng.normal(0, 0.2, size=n_r)
        for c, name in enumerate(classes):
            for v in range(videos_per_class):
                t = int(rng.integers(20, 41))
                r = np.clip(centres[c] + offset + rng.normal(0, 0.5, size=(t, n_r)), 0, 5)
                presence = (rng.random((t, len(AU_COLUMNS) - n_r)) < 0.2 + 0.2 * c).astype(float)
                vid = f"p{p}_{name}_{v}"
                _write_openface(root / f"{vid}.csv", np.concatenate([r, presence], axis=1))
                rows.append(f"{vid},p{p},{name}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "labels.csv"
