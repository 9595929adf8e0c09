"""load_features: deep / au / both sequences from tiny synthetic videos, frame folders and OpenFace CSVs; skips
with reasons, the per-video cache (hit, damaged file rebuilt), both-alignment, the emotional phase."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from PIL import Image
from test_video_deep import tiny_classifier
from test_video_frames import face_frames, stripe_frame, write_video
from test_video_vad import RATE, signal

from fer_bench.errors import FerBenchError
from fer_bench.video.features import FeatureSequence, align_both, load_features
from fer_bench.video.openface import AU_COLUMNS

LABELS = ("angry", "happy", "sad")


def write_openface(path: Path, n: int, fps: float = 10.0, first_frame: int = 1, t0: float = 0.0) -> np.ndarray:
    """An OpenFace-style CSV of ``n`` successful frames; returns its (n, 35) AU values."""
    rng = np.random.default_rng(n)
    au = rng.uniform(0, 5, (n, 35)).round(2)
    df = pd.DataFrame(au, columns=list(AU_COLUMNS))
    df.insert(0, "success", 1)
    df.insert(0, "confidence", 0.98)
    df.insert(0, "timestamp", (t0 + np.arange(n) / fps).round(3))
    df.insert(0, "face_id", 0)
    df.insert(0, "frame", np.arange(first_frame, first_frame + n))
    df.to_csv(path, index=False, sep=",")
    return au.astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_classifier().save(path)
    return path


@pytest.fixture
def dataset(tmp_path) -> dict:
    """videos/: a.mp4 (6 frames), b.mp4 (4 frames), c/ (3 PNG frames), bad.mp4 (random bytes),
    extra.mp4 (no labels row); au/: CSVs for a and b; labels.csv for a, b, c, bad, and one without a file."""
    vids = tmp_path / "videos"
    vids.mkdir()
    write_video(vids / "a.mp4", face_frames(6, 32, seed=1), fps=10)
    write_video(vids / "b.mp4", face_frames(4, 32, seed=2), fps=10)
    (vids / "c").mkdir()
    for i, img in enumerate(face_frames(3, 32, seed=3)):
        Image.fromarray(img).save(vids / "c" / f"frame{i + 1}.png")
    (vids / "bad.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    write_video(vids / "extra.mp4", face_frames(2, 32), fps=10)
    (vids / "README.txt").write_text("not a video")
    au = tmp_path / "au"
    au.mkdir()
    au_a = write_openface(au / "a.csv", 6)
    au_b = write_openface(au / "b.csv", 4)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"video": ["c", "a", "b", "bad", "nofile"], "participant": ["p1", "p1", "p2", "p2", "p3"],
                  "label": ["sad", "angry", "happy", "sad", "angry"]}).to_csv(labels, index=False)
    return {"videos": vids, "au": au, "labels": labels, "au_a": au_a, "au_b": au_b, "cache": tmp_path / "cache"}


def deep(ds, model_path, **kw):
    return load_features("deep", ds["labels"], label_set=list(LABELS), video_dir=ds["videos"], model=model_path,
                         detector="none", cache_dir=ds["cache"], **kw)


def test_deep_features_skips_and_cache(dataset, model_path):
    calls = []
    fs = deep(dataset, model_path, progress=lambda d, t, v: calls.append((d, t, v)))
    assert fs.kind == "deep" and fs.dim == 8
    assert list(fs.sequences) == ["c", "a", "b"]  # labels-file order
    assert list(fs.labels["video"]) == ["c", "a", "b"] and list(fs.labels["label"]) == ["sad", "angry", "happy"]
    assert {c: s.n_frames for c, s in fs.sequences.items()} == {"c": 3, "a": 6, "b": 4}
    a = fs.sequences["a"]
    assert a.features.dtype == np.float32 and a.features.shape == (6, 8)
    assert list(a.frames) == list(range(6)) and a.timestamps == pytest.approx(np.arange(6) / 10)
    assert fs.sequences["c"].timestamps == pytest.approx(np.arange(3) / 30)
    skipped = dict(fs.skipped)
    assert len(fs.skipped) == 2 and all("\n" not in r for r in skipped.values())
    assert any(k.endswith("bad.mp4") for k in skipped) and any(k.endswith("extra.mp4") for k in skipped)
    assert calls[-1][:2] == (4, 4) and [c[2] for c in calls] == ["c", "a", "b", "bad"]
    assert fs.info["cache"]["misses"] == 3 and fs.info["cache"]["hits"] == 0
    assert fs.info["deep"]["model_sha256"] and fs.info["deep"]["crop"] == {"detector": "none"}
    import json

    json.dumps(fs.info)  # JSON-able for the run record

    again = deep(dataset, model_path)
    assert again.info["cache"]["hits"] == 3 and again.info["cache"]["misses"] == 0
    for k in fs.sequences:
        np.testing.assert_array_equal(again.sequences[k].features, fs.sequences[k].features)
    assert again.info["deep"]["layers"] == fs.info["deep"]["layers"]

    # a damaged cache file is detected and rebuilt; another fps is another key
    files = sorted(dataset["cache"].glob("*.npz"))
    assert len(files) == 3
    files[0].write_bytes(files[0].read_bytes()[:100])
    third = deep(dataset, model_path)
    assert third.info["cache"]["rebuilt"] == 1 and third.info["cache"]["misses"] == 1
    sampled = deep(dataset, model_path, fps=5)
    assert sampled.info["cache"]["misses"] == 3
    assert list(sampled.sequences["a"].frames) == [0, 2, 4]


def test_both_aligns_by_frame_index_and_by_timestamp(dataset, model_path):
    fs = load_features("both", dataset["labels"], label_set=list(LABELS), au_dir=dataset["au"],
                       video_dir=dataset["videos"], model=model_path, detector="none", cache_dir=dataset["cache"])
    assert list(fs.sequences) == ["a", "b"] and fs.dim == 35 + 8
    a = fs.sequences["a"]
    np.testing.assert_allclose(a.features[:, :35], dataset["au_a"], atol=1e-6)
    assert list(a.frames) == list(range(6)) and fs.info["alignment"] == {"index": 2}
    d = load_features("deep", dataset["labels"], label_set=list(LABELS), video_dir=dataset["videos"],
                      model=model_path, detector="none", cache_dir=dataset["cache"])
    np.testing.assert_array_equal(a.features[:, 35:], d.sequences["a"].features)
    # OpenFace numbered from another offset: paired by nearest timestamp instead
    au_seq = FeatureSequence(dataset["au_a"], np.arange(6) / 10 + 0.01, np.arange(101, 107))
    res, mode = align_both(au_seq, d.sequences["a"])
    assert mode == "timestamp" and res.n_frames == 6
    np.testing.assert_allclose(res.features[:, :35], dataset["au_a"])
    # AU frames only for part of the video: only the common frames are kept
    part = FeatureSequence(dataset["au_a"][2:5], np.arange(2, 5) / 10, np.arange(3, 6))
    res, mode = align_both(part, d.sequences["a"])
    assert mode == "index" and list(res.frames) == [2, 3, 4]


def test_au_only_and_user_errors(dataset, tmp_path):
    fs = load_features("au", dataset["labels"], label_set=list(LABELS), au_dir=dataset["au"])
    assert list(fs.sequences) == ["a", "b"] and fs.dim == 35
    np.testing.assert_allclose(fs.sequences["b"].features, dataset["au_b"])
    assert list(fs.sequences["a"].frames) == [1, 2, 3, 4, 5, 6]  # OpenFace numbering kept for AU-only
    sub = load_features("au", dataset["labels"], label_set=list(LABELS), au_dir=dataset["au"], fps=5)
    assert list(sub.sequences["a"].frames) == [1, 3, 5]

    with pytest.raises(FerBenchError, match="au_dir"):
        load_features("au", dataset["labels"], label_set=list(LABELS))
    with pytest.raises(FerBenchError, match="not a folder"):
        load_features("deep", dataset["labels"], label_set=list(LABELS), video_dir=tmp_path / "missing")
    with pytest.raises(FerBenchError, match="unknown feature kind"):
        load_features("audio", dataset["labels"])
    empty = tmp_path / "empty"
    empty.mkdir()
    write_video(empty / "zzz.mp4", [stripe_frame()] * 2)
    with pytest.raises(FerBenchError, match="no video file or frame folder matches"):
        load_features("deep", dataset["labels"], label_set=list(LABELS), video_dir=empty, detector="none")
    with pytest.raises(FerBenchError, match="labels file not found"):
        load_features("au", tmp_path / "nolabels.csv", au_dir=dataset["au"])


def test_emotional_phase_drops_frames_outside_it(tmp_path, model_path):
    vids = tmp_path / "v"
    vids.mkdir()
    # 4 s at 5 fps; voice from 1.0 to 2.0 s -> phase [1.0, 3.0] -> frames 5..15
    x = signal(duration=4.0, bursts=((1.0, 2.0),))
    write_video(vids / "talk.mp4", face_frames(20, 32), fps=5, audio=x)
    write_video(vids / "mute.mp4", face_frames(5, 32), fps=5)
    au = tmp_path / "au"
    au.mkdir()
    write_openface(au / "talk.csv", 20, fps=5)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"video": ["talk", "mute"], "participant": ["p", "q"], "label": ["happy", "sad"]}).to_csv(
        labels, index=False)
    fs = load_features("deep", labels, label_set=list(LABELS), video_dir=vids, model=model_path, detector="none",
                       vad="energy", cache_dir=tmp_path / "cache")
    t = fs.sequences["talk"].timestamps
    assert t[0] == pytest.approx(1.0, abs=0.21) and t[-1] == pytest.approx(3.0, abs=0.21)
    assert fs.sequences["mute"].n_frames == 5  # no audio: all frames kept, and said why
    assert fs.info["vad"]["kept_all"] == {"mute": "no audio stream"}
    assert fs.info["vad"]["phases"]["talk"][0] == pytest.approx(1.0, abs=0.1)
    assert fs.info["cache"]["misses"] == 2
    full = load_features("deep", labels, label_set=list(LABELS), video_dir=vids, model=model_path,
                         detector="none", cache_dir=tmp_path / "cache")
    assert full.info["cache"]["hits"] == 2 and full.sequences["talk"].n_frames == 20  # the cache is VAD-free
    au_fs = load_features("au", labels, label_set=list(LABELS), au_dir=au, video_dir=vids, vad="energy")
    ta = au_fs.sequences["talk"].timestamps
    assert ta[0] == pytest.approx(1.0, abs=0.21) and ta[-1] == pytest.approx(3.0, abs=0.21)
    assert RATE == 16000


def test_failed_frames_and_faceless_video(tmp_path, model_path, monkeypatch):
    """A stub detector (a face in bright frames only) exercises the detector path without MTCNN's cost."""
    import fer_bench.btfer.detect as detect_mod

    def fake_make_detector(name):
        def detect(rgb):
            h, w = rgb.shape[:2]
            face = {"box": [4.0, 4.0, w - 8.0, h - 8.0], "confidence": 0.99, "keypoints": {}}
            return [face] if rgb.mean() > 100 else []
        return detect

    monkeypatch.setattr(detect_mod, "make_detector", fake_make_detector)
    vids = tmp_path / "v"
    vids.mkdir()
    dark, bright = np.full((64, 64, 3), 40, np.uint8), np.full((64, 64, 3), 200, np.uint8)
    write_video(vids / "blank.mp4", [dark] * 3)
    write_video(vids / "gaps.mp4", [dark, bright, dark, bright, dark], fps=5)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"video": ["blank", "gaps"], "participant": ["p", "q"], "label": ["happy", "sad"]}).to_csv(
        labels, index=False)
    fs = load_features("deep", labels, label_set=list(LABELS), video_dir=vids, model=model_path, detector="haar",
                       cache_dir=tmp_path / "c")
    g = fs.sequences["gaps"]
    assert list(g.frames) == [1, 2, 3]  # leading/trailing failed frames dropped
    np.testing.assert_array_equal(g.features[1], g.features[0])  # interior one forward-filled
    assert fs.info["deep"]["failed_frames"] == {"no_face": 6} and fs.info["deep"]["filled_frames"] == 1
    reasons = dict(fs.skipped)
    assert "no usable face in any of 3 frame(s) (no_face: 3)" in reasons[str(vids / "blank.mp4")]
    assert fs.info["deep"]["crop"]["detector"] == "haar" and fs.info["deep"]["crop"]["margin"] == 20
