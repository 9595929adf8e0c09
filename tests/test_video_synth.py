"""Tests for fer_bench.video.synth, the synthetic STREs-WoZ-like video dataset (OpenFace CSVs, labels, mp4s)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_bench.errors import FerBenchError
from fer_bench.video.labels import STRES_WOZ_EMOTIONS, read_labels
from fer_bench.video.openface import AU_COLUMNS, AU_INTENSITY, AU_PRESENCE, read_folder, read_openface_csv
from fer_bench.video.synth import (
    PRESENCE_THRESHOLD,
    PROTOTYPES,
    QUICKSTART_DEFAULTS,
    generate_video_dataset,
    participant_style,
    personal_display,
    prototype,
)

SMALL = {"label_set": "basic7", "n_participants": 3, "videos_per_class_per_participant": 2, "frames": (30, 60)}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("vsynth")
    return out, generate_video_dataset(out, **SMALL)


@pytest.fixture(scope="module")
def small_read(small):
    """The small dataset read once through the real reader (reading is the slow part of these tests)."""
    out, _ = small
    return read_folder(out / "openface", out / "labels.csv", label_set="basic7")


def _meta(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "meta.csv").set_index("video")


def test_layout_and_every_csv_parses(small, small_read):
    out, summary = small
    files = sorted((out / "openface").glob("*.csv"))
    assert summary["n_videos"] == len(files) == 3 * 7 * 2
    read = small_read
    assert read.n_skipped == 0 and len(read.sequences) == len(files)
    meta = _meta(out)
    for name, seq in read.sequences.items():
        assert seq.features.shape[1] == 35 and np.isfinite(seq.features).all()
        assert seq.n_rows == meta.loc[name, "n_frames"]
        assert 30 <= seq.n_rows <= 60
    assert summary["n_frames"] == int(meta["n_frames"].sum())
    assert summary["rendered"] is False and summary["video_codec"] is None


def test_header_has_openface_leading_spaces(small):
    out, _ = small
    path = next((out / "openface").glob("*.csv"))
    header = path.read_text().splitlines()[0]
    assert header.startswith("frame, face_id, timestamp, confidence, success, ")
    names = header.split(",")
    assert names[0] == "frame" and all(n.startswith(" ") and not n.startswith("  ") for n in names[1:])
    stripped = [n.strip() for n in names]
    # the 35 AU columns in OpenFace order, intensities then presences, at the end of the row
    assert tuple(stripped[-35:]) == AU_COLUMNS
    first = path.read_text().splitlines()[1].split(", ")
    assert first[0] == "1" and first[2] == "0.000" and len(first) == len(names)
    seq = read_openface_csv(path)
    assert seq.face_id == 0 and seq.features.dtype == np.float32
    np.testing.assert_allclose(np.diff(seq.timestamps), 1 / 30, atol=1e-3)


def test_same_seed_same_bytes_other_seed_differs(small, tmp_path):
    out, _ = small
    again = generate_video_dataset(tmp_path / "a", **SMALL)
    for p in sorted((out / "openface").glob("*.csv")) + [out / "labels.csv", out / "meta.csv"]:
        q = Path(again["paths"]["openface"]).parent / p.relative_to(out)
        assert p.read_bytes() == q.read_bytes(), p.name
    other = generate_video_dataset(tmp_path / "b", **{**SMALL, "n_participants": 1}, seed=1)
    a = (out / "openface" / "P01_happy_01.csv").read_bytes()
    assert a != (Path(other["paths"]["openface"]) / "P01_happy_01.csv").read_bytes()
    # more participants never change the existing ones (each video is a function of its own key)
    fewer = generate_video_dataset(tmp_path / "c", **{**SMALL, "n_participants": 1})
    assert a == (Path(fewer["paths"]["openface"]) / "P01_happy_01.csv").read_bytes()


def test_participant_styles_differ(small_read):
    s0, s1 = participant_style(0, 0), participant_style(0, 1)
    assert s0.pid == "P01" and s1.pid == "P02"
    assert s0.gain != s1.gain and not np.allclose(s0.au_gain, s1.au_gain) and not np.allclose(s0.rest, s1.rest)
    assert not np.allclose(personal_display(s0, "happy", 0), personal_display(s1, "happy", 0))
    # in the written data: the same class looks different per participant (mean AU intensity profile)
    prof = {}
    for v, seq in small_read.sequences.items():
        pid, label, _ = v.split("_")
        if label == "happy":
            prof.setdefault(pid, []).append(seq.features[:, :17].mean(axis=0))
    means = [np.mean(prof[p], axis=0) for p in sorted(prof)]
    assert len(means) == 3 and np.abs(means[0] - means[1]).max() > 0.2 and np.abs(means[1] - means[2]).max() > 0.2


def test_failed_frames_present_and_trimmed(small, small_read):
    out, _ = small
    meta = _meta(out)
    lead = trail = mid = 0
    for video, row in meta.iterrows():
        df = pd.read_csv(out / "openface" / f"{video}.csv", skipinitialspace=True)
        ok = df["success"].to_numpy() == 1
        bad = df[~ok]
        # failed frames as OpenFace writes them: low confidence and every AU 0
        assert (bad["confidence"] < 0.5).all() and (df.loc[ok, "confidence"] >= 0.85).all()
        assert (bad[list(AU_COLUMNS)].to_numpy() == 0).all()
        seq = small_read.sequences[video]
        assert seq.n_trimmed == row["failed_leading"] + row["failed_trailing"]
        assert seq.n_filled == row["n_failed"] - seq.n_trimmed
        assert seq.n_frames == row["n_frames"] - seq.n_trimmed
        lead += row["failed_leading"] > 0
        trail += row["failed_trailing"] > 0
        mid += seq.n_filled > 0
    assert lead > 0 and trail > 0 and mid > 0
    assert lead < len(meta) and trail < len(meta)  # some videos only


def test_presence_consistent_with_intensity(small):
    out, _ = small
    df = pd.concat(
        [pd.read_csv(p, skipinitialspace=True) for p in sorted((out / "openface").glob("*.csv"))], ignore_index=True
    )
    r = df[list(AU_INTENSITY)].to_numpy()
    c = df[list(AU_PRESENCE)].to_numpy()
    assert set(np.unique(c)) <= {0.0, 1.0}
    assert r.min() >= 0 and r.max() <= 5
    for j, col in enumerate(AU_INTENSITY):
        k = AU_PRESENCE.index(col.replace("_r", "_c"))
        np.testing.assert_array_equal(c[:, k], (r[:, j] >= PRESENCE_THRESHOLD).astype(float), err_msg=col)
    assert c.sum() > 0 and (c == 0).sum() > 0


def test_labels_csv_valid_and_balanced(small):
    out, summary = small
    table = read_labels(out / "labels.csv", "basic7")
    assert list(table.columns[:3]) == ["video", "participant", "label"]
    assert len(table) == summary["n_videos"]
    assert table.groupby(["participant", "label"]).size().eq(2).all()
    assert sorted(table["participant"].unique()) == ["P01", "P02", "P03"]
    with open(out / "labels.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["video", "participant", "label"]


def test_classes_differ_in_the_expected_direction(small_read):
    """Smiles raise AU12, surprise raises AU01/AU02 (a sanity check of the prototypes, averaged over videos)."""
    by = {}
    for v, seq in small_read.sequences.items():
        by.setdefault(v.split("_")[1], []).append(seq.features[:, :17].max(axis=0))
    mean = {k: np.mean(v, axis=0) for k, v in by.items()}
    au12, au02 = AU_INTENSITY.index("AU12_r"), AU_INTENSITY.index("AU02_r")
    assert mean["happy"][au12] > mean["angry"][au12] + 1.0
    assert mean["surprise"][au02] > mean["sad"][au02] + 1.0


def test_stres_woz_prototypes_complete_and_overlapping():
    for name in STRES_WOZ_EMOTIONS:
        prototype(name)
    smile = [n for n, p in PROTOTYPES.items() if p.aus.get(12, 0) >= 1.0]
    assert {"happiness", "joy", "love", "gratitude", "contentment", "pride"} <= set(smile)
    with pytest.raises(FerBenchError, match="no synthetic display"):
        prototype("boredom")
    assert QUICKSTART_DEFAULTS["label_set"] == "stres-woz"


def test_stale_files_refused_unless_overwrite(tmp_path):
    kw = {"label_set": ["happy"], "n_participants": 1, "videos_per_class_per_participant": 2, "frames": (20, 25)}
    generate_video_dataset(tmp_path, **kw)
    with pytest.raises(FerBenchError, match="not part of this dataset"):
        generate_video_dataset(tmp_path, **{**kw, "videos_per_class_per_participant": 1})
    generate_video_dataset(tmp_path, **{**kw, "videos_per_class_per_participant": 1}, overwrite=True)
    assert [p.name for p in (tmp_path / "openface").glob("*.csv")] == ["P01_happy_01.csv"]
    with pytest.raises(FerBenchError, match="even"):
        generate_video_dataset(tmp_path / "x", **kw, size=33)


def test_render_writes_decodable_mp4_with_audio(tmp_path):
    av = pytest.importorskip("av")
    summary = generate_video_dataset(
        tmp_path, label_set=["happy"], n_participants=1, videos_per_class_per_participant=1, frames=(24, 30),
        render=True, size=64,
    )
    assert summary["video_codec"] in ("libx264", "mpeg4") and summary["audio_codec"] == "aac"
    meta = _meta(tmp_path)
    [(video, row)] = list(meta.iterrows())
    path = tmp_path / "videos" / f"{video}.mp4"
    with av.open(str(path)) as box:
        assert len(box.streams.video) == 1 and len(box.streams.audio) == 1
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    assert len(frames) == row["n_frames"] and frames[0].shape == (64, 64, 3)
    with av.open(str(path)) as box:
        rate = box.streams.audio[0].rate
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in box.decode(audio=0)])
    assert rate == 16000
    # voiced segment is loud, the rest near silent (AAC adds a priming delay of ~1024 samples: stay clear of edges)
    v0, v1 = int(row["voiced_start_s"] * rate), int(row["voiced_end_s"] * rate)
    inside = audio[v0 + 2048:v1 - 512]
    outside = np.concatenate([audio[: max(0, v0 - 512)], audio[v1 + 3072:]])
    assert inside.size > 0
    rms_in = float(np.sqrt(np.mean(inside**2)))
    rms_out = float(np.sqrt(np.mean(outside**2))) if outside.size else 0.0
    assert rms_in > 0.05 and rms_out < rms_in / 10
    # the face moves: the expression changes the picture between the first and the middle frame
    assert np.abs(frames[len(frames) // 2].astype(int) - frames[0].astype(int)).mean() > 0.5
