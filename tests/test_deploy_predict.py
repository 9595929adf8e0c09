"""`fer-bench predict`: a real face (scikit-image astronaut) gets a box and a label, a grey image a "no face"
record, a corrupt file a "skipped" record, videos are sampled frame by frame; CSV, JSON Lines, annotated copies."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")
skimage_data = pytest.importorskip("skimage.data")

from PIL import Image
from typer.testing import CliRunner

from fer_bench.cli.app import app
from fer_bench.errors import FerBenchError


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(skimage_data.astronaut()).save(d / "astronaut.png")
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(d / "grey.png")
    (d / "sub").mkdir()
    (d / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return d


@pytest.fixture(scope="module")
def tiny_model(tiny_lenet_keras):
    return tiny_lenet_keras


def _records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_predict_without_model_labels_the_astronaut_and_reports_no_face_and_skipped(photos, tmp_path):
    """The shipped model (no MODEL argument): one face with box and label, no face on grey, corrupt skipped."""
    runner = CliRunner()
    ann = tmp_path / "ann"
    out_csv = tmp_path / "out.csv"
    r = runner.invoke(app, ["predict", str(photos), "--json", "--csv", str(out_csv), "--annotate", str(ann)])
    assert r.exit_code == 0, r.output
    recs = {Path(x["file"]).name: x for x in _records(r.stdout)}
    face = recs["astronaut.png"]
    assert face["status"] == "face" and face["label"] in face["probs"]
    x, y, w, h = face["box"]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # her face, not the suit or the flag
    assert abs(sum(face["probs"].values()) - 1) < 0.01 and face["score"] == max(face["probs"].values())
    assert recs["grey.png"]["status"] == "no_face" and recs["grey.png"]["label"] is None
    assert recs["broken.jpg"]["status"] == "skipped" and "corrupt" in recs["broken.jpg"]["note"]
    rows = list(csv.DictReader(out_csv.open()))
    assert [row["status"] for row in rows] == ["face", "no_face", "skipped"]
    assert rows[0]["label"] == face["label"] and "p_happy" in rows[0]
    assert any(ann.rglob("astronaut.png")) and any(ann.rglob("grey.png"))


def test_predict_video_every_nth_frame_and_fps(tiny_model, tmp_path):
    import cv2

    video = tmp_path / "clip.avi"
    frame = cv2.cvtColor(np.ascontiguousarray(skimage_data.astronaut()[:256, 96:352]), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (256, 256))
    for i in range(6):
        writer.write(frame if i % 2 == 0 else np.full_like(frame, 90))
    writer.release()
    runner = CliRunner()
    r = runner.invoke(app, ["predict", str(tiny_model), str(video), "--every", "2", "--json", "--detector", "none",
                            "--annotate", str(tmp_path / "ann")])
    assert r.exit_code == 0, r.output
    recs = _records(r.stdout)
    assert sorted({x["frame"] for x in recs}) == [0, 2, 4]
    assert all(x["status"] == "face" for x in recs)
    assert [round(x["time"], 1) for x in recs] == [0.0, 0.2, 0.4]
    assert len(list((tmp_path / "ann").rglob("frame_*.jpg"))) == 3
    r = runner.invoke(app, ["predict", str(tiny_model), str(video), "--fps", "5", "--json", "--detector", "none"])
    assert r.exit_code == 0, r.output
    assert [x["frame"] for x in _records(r.stdout)] == [0, 2, 4]


def test_predict_detector_none_and_library_api(tiny_model, photos):
    from fer_bench.deploy.predict import PredictOptions, predict_inputs
    from fer_bench.deploy.runners import open_runner

    runner = open_runner(tiny_model)
    recs = list(predict_inputs(runner, [photos / "grey.png"], PredictOptions(detector="none")))
    assert len(recs) == 1 and recs[0]["status"] == "face" and recs[0]["box"] == [0, 0, 320, 240]
    assert recs[0]["label"] in runner.labels


def test_predict_errors_are_one_line(tiny_model, tmp_path):
    from fer_bench.deploy.predict import PredictOptions, split_model_and_inputs

    with pytest.raises(FerBenchError, match="no INPUT"):
        split_model_and_inputs([tiny_model])
    with pytest.raises(FerBenchError, match="--every and --fps"):
        PredictOptions(every=2, fps=1.0)
    with pytest.raises(FerBenchError, match="--detector"):
        PredictOptions(detector="yolo")
    runner = CliRunner()
    r = runner.invoke(app, ["predict", str(tiny_model), str(tmp_path / "missing.jpg")])
    assert r.exit_code != 0 and "no such file" in str(r.exception)
