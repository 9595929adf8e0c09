"""Padded face detection in build-btfer (pre-cropped faces): coordinate mapping, clipping, retry policy, cache key.

The default tests use fake detector functions that return known boxes in the coordinates of the image they
are given; the real-MTCNN checks are marked ``slow``.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from fer_bench.btfer.crop import choose_face, crop_box, crop_face
from fer_bench.btfer.detect import DETECT_VERSION, DetectorSpec, detect_image, pad_image

FACE = {"box": [60.0, 70.0, 40.0, 30.0], "confidence": 0.99, "keypoints": {"nose": [80.0, 85.0]}}


class Fake:
    """A detector that records the shapes it is called with and answers per call from a list of face lists."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.shapes: list[tuple[int, ...]] = []
        self.images: list[np.ndarray] = []

    def __call__(self, img):
        self.shapes.append(img.shape)
        self.images.append(img)
        return self.answers[min(len(self.shapes), len(self.answers)) - 1]


def spec(**kw) -> DetectorSpec:
    # max_side large and min_face 0: the detection image is the image itself unless a test says otherwise
    return DetectorSpec(**{"name": "mtcnn", "max_side": 4096, "min_face": 0, **kw})


def test_padded_box_maps_back_to_image_coordinates():
    rgb = np.zeros((100, 200, 3), np.uint8)
    fake = Fake([FACE])
    faces, note = detect_image(rgb, spec(pad=0.25, pad_policy="always"), fake)
    # border = round(0.25 * longer side 200) = 50 px on every side
    assert note is None and fake.shapes == [(200, 300, 3)]
    assert faces == [{"box": [10.0, 20.0, 40.0, 30.0], "confidence": 0.99, "keypoints": {"nose": [30.0, 35.0]}}]


def test_padded_box_maps_back_through_the_detection_downscale():
    rgb = np.zeros((400, 800, 3), np.uint8)
    fake = Fake([FACE])
    # max_side 200: the detector sees 100x200 (scale 0.25) plus a 50-px border
    faces, _ = detect_image(rgb, spec(max_side=200, pad=0.25, pad_policy="always"), fake)
    assert fake.shapes == [(200, 300, 3)]
    assert faces[0]["box"] == [40.0, 80.0, 160.0, 120.0] and faces[0]["keypoints"] == {"nose": [120.0, 140.0]}


def test_padded_box_is_clipped_and_still_crops():
    rgb = np.full((100, 200, 3), 90, np.uint8)
    # padded coords: starts 20 px left of and 10 px above the image, ends 30 px right of and 5 px below it
    over = {"box": [30.0, 40.0, 240.0, 115.0], "confidence": 0.95, "keypoints": {"left_eye": [40.0, 45.0]}}
    faces, note = detect_image(rgb, spec(pad=0.25, pad_policy="always"), Fake([over]))
    assert note is None
    assert faces[0]["box"] == [0.0, 0.0, 200.0, 100.0]  # x -20..220 -> 0..200, y -10..105 -> 0..100
    assert faces[0]["keypoints"] == {"left_eye": [-10.0, -5.0]}  # keypoints are mapped, not clipped
    cb = crop_box(faces[0]["box"], 200, 100, 20)
    assert cb.clamped and cb.as_list() == [0, 0, 200, 100]
    assert crop_face(rgb, cb, 64).shape == (64, 64, 3)


def test_padded_detections_in_the_border_are_dropped():
    rgb = np.zeros((100, 200, 3), np.uint8)
    in_fill = {"box": [0.0, 0.0, 30.0, 30.0], "confidence": 0.999, "keypoints": {}}  # centre (15, 15): border
    straddling = {"box": [20.0, 60.0, 40.0, 40.0], "confidence": 0.9, "keypoints": {}}  # centre x 40 < 50: border
    faces, _ = detect_image(rgb, spec(pad=0.25, pad_policy="always"), Fake([in_fill, straddling, FACE]))
    assert [f["box"] for f in faces] == [[10.0, 20.0, 40.0, 30.0]]


def test_retry_runs_only_when_the_plain_image_gives_no_face():
    rgb = np.zeros((100, 200, 3), np.uint8)
    plain = {"box": [10.0, 20.0, 40.0, 30.0], "confidence": 0.5, "keypoints": {}}
    # a face on the plain image (even a doubtful one): no second call, the result is the unpadded one
    fake = Fake([plain], [FACE])
    faces, _ = detect_image(rgb, spec(pad=0.25, pad_policy="retry"), fake)
    assert fake.shapes == [(100, 200, 3)]
    assert faces == detect_image(rgb, spec(pad=0.0), Fake([plain]))[0]
    # nothing on the plain image: one more call on the padded image, boxes mapped back
    fake = Fake([], [FACE])
    faces, note = detect_image(rgb, spec(pad=0.25, pad_policy="retry"), fake)
    assert note is None and fake.shapes == [(100, 200, 3), (200, 300, 3)]
    assert faces[0]["box"] == [10.0, 20.0, 40.0, 30.0]
    # a zero-area plain box counts as nothing found
    fake = Fake([{"box": [300.0, 20.0, 10.0, 10.0], "confidence": 0.9}], [FACE])
    faces, _ = detect_image(rgb, spec(pad=0.25, pad_policy="retry"), fake)
    assert len(fake.shapes) == 2 and faces[0]["box"] == [10.0, 20.0, 40.0, 30.0]
    # nothing anywhere: two calls, no face, no note
    fake = Fake([], [])
    assert detect_image(rgb, spec(pad=0.25, pad_policy="retry"), fake) == ([], None) and len(fake.shapes) == 2
    # pad 0: never a second call, whatever the policy
    for policy in ("retry", "always"):
        fake = Fake([], [FACE])
        assert detect_image(rgb, spec(pad=0.0, pad_policy=policy), fake) == ([], None)
        assert fake.shapes == [(100, 200, 3)]


def test_retry_reports_a_failing_padded_pass():
    calls = []

    def flaky(img):
        calls.append(img.shape)
        if len(calls) == 2:
            raise RuntimeError("padded boom")
        return []

    faces, note = detect_image(np.zeros((100, 200, 3), np.uint8), spec(pad=0.25), flaky)
    assert faces == [] and note == "detector failed: RuntimeError: padded boom"


def test_pad_fill():
    small = np.zeros((4, 8, 3), np.uint8)
    small[:, :, 0] = np.arange(8, dtype=np.uint8) + 10
    out, b = pad_image(small, spec(pad=0.25, pad_fill="replicate"))
    assert b == 2 and out.shape == (8, 12, 3)
    assert out[0, 0, 0] == 10 and out[-1, -1, 0] == 17 and (out[b:-b, b:-b] == small).all()
    out, b = pad_image(small, spec(pad=0.25, pad_fill="black"))
    assert out[0, 0].tolist() == [0, 0, 0] and out[b, -1].tolist() == [0, 0, 0] and (out[b:-b, b:-b] == small).all()
    # a tiny pad still adds a 1-pixel border
    assert pad_image(small, spec(pad=0.01))[1] == 1


def test_cache_key_follows_the_padding_settings():
    base = DetectorSpec()
    assert (base.pad, base.pad_policy, base.pad_fill) == (0.25, "retry", "replicate")  # the default
    keys = {
        DetectorSpec(pad=0.0).key(),
        base.key(),
        DetectorSpec(pad=0.5).key(),
        DetectorSpec(pad_policy="always").key(),
        DetectorSpec(pad_fill="black").key(),
    }
    assert len(keys) == 5
    assert DetectorSpec(pad=0.25).key() == DetectorSpec(pad=0.250000001).key() == base.key()
    # no padding = the behaviour before padding existed: its key (and cached detections) are unchanged
    old = json.dumps({"max_side": 640, "min_face": 40, "name": "mtcnn", "v": DETECT_VERSION}, sort_keys=True)
    assert DetectorSpec(pad=0).key() == hashlib.sha256(old.encode()).hexdigest()[:12]
    assert DetectorSpec(pad=0, pad_policy="always", pad_fill="black").key() == DetectorSpec(pad=0).key()


@pytest.mark.parametrize(
    "kw", [{"pad": -0.1}, {"pad": 3.0}, {"pad": float("nan")}, {"pad_policy": "x"}, {"pad_fill": "x"}]
)
def test_bad_padding_settings_are_refused(kw):
    with pytest.raises(ValueError):
        DetectorSpec(**kw)


# ------------------------------------------------------------------------------------------ real MTCNN (slow)


def _tight_face(size: int = 350) -> np.ndarray:
    """The astronaut's face (public domain, skimage) cropped to MTCNN's own box: a face filling the frame."""
    import cv2
    from skimage import data

    x, y, w, h = 182, 64, 83, 107
    return np.ascontiguousarray(cv2.resize(data.astronaut()[y : y + h, x : x + w], (size, size), cv2.INTER_CUBIC))


@pytest.mark.slow
def test_real_mtcnn_padded_face_lands_on_the_face():
    from fer_bench.btfer.detect import make_detector

    det = make_detector("mtcnn")
    rgb = _tight_face()
    faces, note = detect_image(rgb, DetectorSpec(pad_policy="always"), det)
    assert note is None and faces
    idx, why = choose_face(faces, min_confidence=0.9, min_face=40)
    assert why is None
    x, y, w, h = faces[idx]["box"]
    assert x <= 175 <= x + w and y <= 175 <= y + h and w > 200  # covers the centre, most of the frame
    assert 0 <= x and 0 <= y and x + w <= 350 and y + h <= 350


@pytest.mark.slow
def test_real_mtcnn_padding_finds_more_fer_faces(fer2013_dir):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from btfer_padding import load, sample

    from fer_bench.btfer.detect import make_detector

    det = make_detector("mtcnn")
    items = sample(fer2013_dir / "val", 5, 0)
    found = {0.0: 0, 0.25: 0}
    for _, path in items:
        rgb = load(path, 350)
        for pad in found:
            found[pad] += bool(detect_image(rgb, DetectorSpec(pad=pad), det)[0])
    assert found[0.25] > found[0.0] and found[0.25] >= 0.8 * len(items)
