"""OpenFace CSV reader and video labels: synthetic edge cases plus every real RAVDESS OpenFace file."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_bench.errors import FerBenchError
from fer_bench.video import labels as vl
from fer_bench.video.openface import (
    AU_COLUMNS,
    AU_INTENSITY,
    AU_PRESENCE,
    MissingAUColumnError,
    NotOpenFaceCSVError,
    NoValidFrameError,
    OpenFaceReadError,
    read_folder,
    read_openface_csv,
)

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openface-ravdess"


def write_csv(path, success, *, face_id=True, success_col=True, spaces=True, confidence=None, drop=(), faces=None):
    """A synthetic OpenFace CSV; frame k's AU vector is k * 0.01 + column index * 0.001 (distinct per frame)."""
    rows = []
    faces = faces or {0: success}
    for fid, succ in faces.items():
        for k, s in enumerate(succ, start=1):
            row = {"frame": k, "face_id": fid, "timestamp": round((k - 1) / 30, 3),
                   "confidence": 0.98 if confidence is None else confidence[k - 1], "success": s}
            for j, c in enumerate(AU_COLUMNS):
                row[c] = 0.0 if not s else round(k * 0.01 + j * 0.001 + fid, 4)
            rows.append(row)
    df = pd.DataFrame(rows)
    if not face_id:
        df = df.drop(columns="face_id")
    if not success_col:
        df = df.drop(columns="success")
    df = df.drop(columns=list(drop))
    sep = ", " if spaces else ","
    lines = [sep.join(df.columns)] + [sep.join(str(v) for v in r) for r in df.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")
    return path


def frame_vec(k, fid=0):
    return np.round(k * 0.01 + np.arange(35) * 0.001 + fid, 4).astype(np.float32)


def test_au_order_pinned():
    assert AU_INTENSITY == ("AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r", "AU12_r",
                            "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r", "AU45_r")
    assert AU_PRESENCE == tuple(c.replace("_r", "_c") for c in AU_INTENSITY[:-1]) + ("AU28_c", "AU45_c")
    assert len(AU_COLUMNS) == 35 and AU_COLUMNS == AU_INTENSITY + AU_PRESENCE


@pytest.mark.parametrize("spaces", [True, False])
@pytest.mark.parametrize("face_id", [True, False])
def test_header_variants_parse_identically(tmp_path, spaces, face_id):
    seq = read_openface_csv(write_csv(tmp_path / "a.csv", [1, 1, 1], spaces=spaces, face_id=face_id))
    assert seq.features.shape == (3, 35) and seq.features.dtype == np.float32
    np.testing.assert_allclose(seq.features[1], frame_vec(2), atol=1e-6)
    np.testing.assert_allclose(seq.timestamps, [0.0, 0.033, 0.067])
    assert seq.frames.tolist() == [1, 2, 3]
    assert seq.face_id == (0 if face_id else None)


def test_no_face_id_no_success_columns(tmp_path):
    seq = read_openface_csv(write_csv(tmp_path / "a.csv", [1, 1], face_id=False, success_col=False, spaces=False))
    assert seq.n_frames == 2 and seq.face_id is None


def test_failed_frames_trimmed_and_forward_filled(tmp_path):
    seq = read_openface_csv(write_csv(tmp_path / "a.csv", [0, 0, 1, 0, 0, 1, 1, 0]))
    assert seq.frames.tolist() == [3, 4, 5, 6, 7]
    assert seq.n_trimmed == 3 and seq.n_filled == 2 and seq.n_rows == 8
    expected = np.stack([frame_vec(3), frame_vec(3), frame_vec(3), frame_vec(6), frame_vec(7)])
    np.testing.assert_allclose(seq.features, expected, atol=1e-6)
    np.testing.assert_allclose(seq.timestamps, [round(k / 30, 3) for k in range(2, 7)])


def test_confidence_threshold_marks_frames_invalid(tmp_path):
    path = write_csv(tmp_path / "a.csv", [1, 1, 1, 1], confidence=[0.5, 0.9, 0.3, 0.95])
    assert read_openface_csv(path).n_frames == 4
    seq = read_openface_csv(path, min_confidence=0.8)
    assert seq.frames.tolist() == [2, 3, 4] and seq.n_filled == 1
    np.testing.assert_allclose(seq.features[1], frame_vec(2), atol=1e-6)


def test_no_valid_frame(tmp_path):
    path = write_csv(tmp_path / "none.csv", [0, 0, 0])
    with pytest.raises(NoValidFrameError, match="none.csv: no valid frame"):
        read_openface_csv(path)
    with pytest.raises(NoValidFrameError, match="confidence >= 0.99"):
        read_openface_csv(write_csv(tmp_path / "low.csv", [1, 1]), min_confidence=0.99)
    header_only = tmp_path / "empty.csv"
    header_only.write_text(", ".join(("frame", "success", *AU_COLUMNS)) + "\n")
    with pytest.raises(NoValidFrameError, match="header only"):
        read_openface_csv(header_only)


def test_not_a_csv(tmp_path):
    binary = tmp_path / "video.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(NotOpenFaceCSVError, match="video.csv: not a readable CSV"):
        read_openface_csv(binary)
    empty = tmp_path / "zero.csv"
    empty.write_bytes(b"")
    with pytest.raises(NotOpenFaceCSVError, match="zero.csv: not a readable CSV"):
        read_openface_csv(empty)
    with pytest.raises(NotOpenFaceCSVError, match="no such file"):
        read_openface_csv(tmp_path / "absent.csv")
    for exc in (NotOpenFaceCSVError, MissingAUColumnError, NoValidFrameError):
        assert issubclass(exc, OpenFaceReadError) and issubclass(exc, FerBenchError)


def test_missing_au_column(tmp_path):
    path = write_csv(tmp_path / "a.csv", [1, 1], drop=("AU28_c",))
    with pytest.raises(MissingAUColumnError, match=r"a.csv: missing AU column\(s\) AU28_c;") as info:
        read_openface_csv(path)
    assert "\n" not in str(info.value)
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    with pytest.raises(MissingAUColumnError, match="no AU columns"):
        read_openface_csv(other)


def test_multi_face_keeps_face_with_most_valid_frames(tmp_path):
    path = write_csv(tmp_path / "multi.csv", None, faces={0: [1, 0, 0, 0], 1: [0, 1, 1, 1], 2: [1, 1, 0, 0]})
    seq = read_openface_csv(path)
    assert seq.face_id == 1 and seq.frames.tolist() == [2, 3, 4]
    np.testing.assert_allclose(seq.features[0], frame_vec(2, fid=1), atol=1e-6)


def test_multi_face_absent_rows_count_as_failed(tmp_path):
    path = write_csv(tmp_path / "gap.csv", None, faces={0: [1, 1, 1], 1: [1, 1, 1, 1, 1]})
    df = pd.read_csv(path, skipinitialspace=True)
    df = df[~((df["face_id"] == 1) & (df["frame"] == 3))]  # face 1 has no row in frame 3: 4 valid frames vs 3
    df.to_csv(path, index=False)
    seq = read_openface_csv(path)
    assert seq.face_id == 1 and seq.frames.tolist() == [1, 2, 3, 4, 5] and seq.n_filled == 1
    np.testing.assert_allclose(seq.features[2], frame_vec(2, fid=1), atol=1e-6)
    np.testing.assert_allclose(seq.timestamps[2], 0.067)


def test_read_folder_skips_and_counts(tmp_path):
    write_csv(tmp_path / "v1.csv", [1, 1, 1])
    write_csv(tmp_path / "v2.csv", [0, 0])
    write_csv(tmp_path / "v3.csv", [1, 1])
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "labels.csv").write_text("video,participant,label\nv1,p1,joy\nv2,p1,anger\n")
    res = read_folder(tmp_path, tmp_path / "labels.csv")
    assert list(res.sequences) == ["v1"] and res.n_frames == 3
    assert res.n_skipped == 2, res.skipped
    reasons = dict((p.name, r) for p, r in res.skipped)
    assert "no valid frame" in reasons["v2.csv"] and "no row for video 'v3'" in reasons["v3.csv"]
    assert res.labels["label"].tolist() == ["joy"] and res.timestamps["v1"].shape == (3,)
    no_labels = read_folder(tmp_path)
    assert sorted(no_labels.sequences) == ["v1", "v3"] and no_labels.labels is None
    assert [p.name for p, _ in no_labels.skipped] == ["labels.csv", "v2.csv"]


def test_labels_reader(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("video_id, subject, emotion\na, p1, Anger\nb, p2, contentedness\nc,p2,tranquility\n")
    df = vl.read_labels(f)
    assert df["label"].tolist() == ["anger", "contentment", "tranquility"]
    assert df["y"].tolist() == [0, 3, 15]
    assert vl.to_valence(df["label"]).tolist() == [0, 1, 1]
    f.write_text("video,participant,label\na,p1,fear\nb,p1,joy\n")
    with pytest.raises(vl.UnknownLabelError, match="row 2 'fear'"):
        vl.read_labels(f)
    f.write_text("video,label\na,joy\n")
    with pytest.raises(vl.LabelsFileError, match="missing column.*participant"):
        vl.read_labels(f)
    f.write_text("video,participant,label\na,p1,joy\na,p1,love\n")
    with pytest.raises(vl.LabelsFileError, match="listed twice"):
        vl.read_labels(f)
    f.write_text("video,participant,label\na,p1,happy\n")
    assert vl.read_labels(f, ["sad", "happy"])["y"].tolist() == [1]
    with pytest.raises(FerBenchError, match="no valence mapping"):
        vl.to_valence(["happy"], "ravdess")


def test_label_sets():
    assert len(vl.STRES_WOZ_EMOTIONS) == 16 and len(set(vl.STRES_WOZ_EMOTIONS)) == 16
    assert sorted(e for e, v in vl.STRES_WOZ_VALENCE.items() if v == "negative") == [
        "anger", "anxiety", "disgust", "sadness"]
    assert len(vl.BASIC_EMOTIONS) == 7
    assert vl.get_label_set("ravdess").classes[0] == "neutral"


def test_every_real_ravdess_file():
    if not (REAL / "labels.csv").is_file():
        pytest.skip(f"real OpenFace RAVDESS data not found at {REAL}")
    csvs = sorted(p for p in REAL.glob("*.csv") if p.name != "labels.csv")
    res = read_folder(REAL, REAL / "labels.csv", label_set="ravdess")
    lengths = {k: s.n_frames for k, s in res.sequences.items()}
    msg = f"{len(csvs)} CSVs, {len(res.sequences)} parsed, {res.n_frames} frames, skipped {res.skipped}, {lengths}"
    assert res.n_skipped == 0 and len(res.sequences) == len(csvs) == 16, msg
    assert res.n_frames == 1862, msg  # README: 16 files, 1862 frames, success == 1 everywhere
    for s in res.sequences.values():
        assert s.features.shape[1] == 35 and np.isfinite(s.features).all(), msg
        assert s.n_trimmed == 0 and s.n_filled == 0 and s.face_id == 0, msg
        assert (s.features[:, :17] >= 0).all() and (s.features[:, :17] <= 5).all(), msg
        assert set(np.unique(s.features[:, 17:])) <= {0.0, 1.0}, msg
        np.testing.assert_allclose(s.timestamps, (s.frames - 1) / 29.97, atol=2e-3)
    first = pd.read_csv(csvs[0], skipinitialspace=True)
    np.testing.assert_allclose(res.sequences[csvs[0].stem].features, first[list(AU_COLUMNS)].to_numpy(), atol=1e-6)
    assert sorted(res.labels["label"].unique()) == sorted(vl.RAVDESS_EMOTIONS), msg
    assert res.labels.groupby("participant").size().to_dict() == {"actor01": 8, "actor02": 8}, msg
