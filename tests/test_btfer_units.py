"""Unit tests of the build-btfer pieces: crop arithmetic, face choice, dedup, sampling, exclusions, sources,
output-folder checks, detection scaling and the cache. Fast; no MTCNN (a fake detector where needed)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_bench.btfer import BuildConfig, check_out_dir, scan_source
from fer_bench.btfer.cache import BuildCache
from fer_bench.btfer.crop import CropBox, choose_face, crop_box, crop_face
from fer_bench.btfer.dedup import dedup, duplicate_pairs, hamming, phash_hex
from fer_bench.btfer.detect import DetectorSpec, detect_image
from fer_bench.btfer.report import STAGES, short_classes_message
from fer_bench.btfer.sample import (
    match_exclusions,
    output_name,
    priority,
    read_exclude_file,
    sample_class,
)
from fer_bench.errors import FerBenchError

# ------------------------------------------------------------------------------------------ crop box


def test_crop_box_square_plus_margin():
    # box 50x80 centred at (125, 140): square side 80, + 2*20 margin = 120
    cb = crop_box((100, 100, 50, 80), 500, 500, 20)
    assert cb == CropBox(65, 80, 185, 200, False)
    assert cb.w == cb.h == 120


def test_crop_box_no_margin_and_not_square():
    assert crop_box((10, 20, 30, 40), 100, 100, 0) == CropBox(5, 20, 45, 60, False)
    assert crop_box((10, 20, 30, 40), 100, 100, 5, square=False) == CropBox(5, 15, 45, 65, False)


def test_crop_box_fractional_boxes_stay_exactly_square():
    for box in [(110.3, 120.7, 33.4, 47.9), (100.5, 100.5, 10.5, 12.5), (99.99, 50.01, 60.02, 71.5)]:
        cb = crop_box(box, 1000, 1000, 20)
        assert cb.w == cb.h == math.floor(max(box[2], box[3]) + 40 + 0.5)  # rounded half-up
        assert not cb.clamped


@pytest.mark.parametrize(
    "box, expect",
    [
        ((0, 0, 30, 30), CropBox(0, 0, 50, 50, True)),  # top-left: -20..50 -> 0..50
        ((180, 180, 20, 20), CropBox(160, 160, 200, 200, True)),  # bottom-right: 160..220 -> ..200
        ((90, 0, 20, 20), CropBox(70, 0, 130, 40, True)),  # top only
        ((30, 30, 140, 140), CropBox(10, 10, 190, 190, False)),  # fits exactly
        ((20, 20, 160, 160), CropBox(0, 0, 200, 200, False)),  # touches all borders, not clipped
        ((10, 10, 180, 180), CropBox(0, 0, 200, 200, True)),  # larger than the image
    ],
)
def test_crop_box_clamps_at_the_border(box, expect):
    assert crop_box(box, 200, 200, 20) == expect


def test_crop_face_sizes():
    rgb = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    assert crop_face(rgb, CropBox(10, 10, 210, 210, False), 64).shape == (64, 64, 3)  # shrink
    out = crop_face(rgb, CropBox(0, 0, 30, 50, True), 128)  # enlarge a non-square (clamped) crop
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8


# ------------------------------------------------------------------------------------------ face choice


def _f(x, y, w, h, c):
    return {"box": [x, y, w, h], "confidence": c, "keypoints": {}}


def test_choose_face_reasons_and_policies():
    kw = {"min_confidence": 0.9, "min_face": 40}
    assert choose_face([], **kw) == (None, "no_face")
    assert choose_face([_f(0, 0, 100, 100, 0.5)], **kw) == (None, "low_confidence")
    assert choose_face([_f(0, 0, 30, 100, 0.99)], **kw) == (None, "too_small")  # shorter side counts
    faces = [_f(0, 0, 50, 60, 0.99), _f(100, 0, 80, 90, 0.95), _f(0, 100, 200, 200, 0.5)]
    assert choose_face(faces, **kw) == (1, None)  # largest qualifying; the big doubtful one is ignored
    assert choose_face(faces, multi_face="reject", **kw) == (None, "multiple_faces")
    # a tiny or doubtful background face does not make the photo multi-face
    faces = [_f(0, 0, 100, 100, 0.99), _f(200, 0, 20, 20, 0.99), _f(300, 0, 90, 90, 0.3)]
    assert choose_face(faces, multi_face="reject", **kw) == (0, None)
    # ties: higher confidence, then top-left
    faces = [_f(50, 0, 60, 60, 0.95), _f(0, 0, 60, 60, 0.99), _f(0, 10, 60, 60, 0.99)]
    assert choose_face(faces, **kw) == (1, None)


# ------------------------------------------------------------------------------------------ dedup


def test_dedup_groups_and_rules():
    a = "0" * 16
    a1 = "0" * 15 + "7"  # 3 bits from a
    b = "f" * 16  # far from a
    c = "0" * 14 + "ff"  # 8 bits from a, 5 from a1: chained to a through a1
    res = dedup(
        [("happy/z.jpg", "happy", a), ("happy/b.jpg", "happy", a1), ("sad/x.jpg", "sad", b),
         ("happy/a.jpg", "happy", c), ("angry/q.jpg", "angry", "0f" * 8), ("sad/q2.jpg", "sad", "0f" * 7 + "0e")],
        6,
    )  # fmt: skip
    # transitive single-label group keeps the lexicographically first source
    assert res.dropped["happy/b.jpg"] == ("duplicate", "duplicate of happy/a.jpg")
    assert res.dropped["happy/z.jpg"][0] == "duplicate"
    assert "happy/a.jpg" in res.kept and "sad/x.jpg" in res.kept
    # cross-label group: both dropped and reported
    assert res.dropped["angry/q.jpg"][0] == res.dropped["sad/q2.jpg"][0] == "cross_label_duplicate"
    assert res.cross_label_groups == [[("angry/q.jpg", "angry"), ("sad/q2.jpg", "sad")]]
    assert sorted(res.kept) == ["happy/a.jpg", "sad/x.jpg"]


def test_dedup_threshold_and_second_hash():
    e = [("a", "happy", "0" * 16, "f" * 16), ("b", "happy", "ff" * 8, "f" * 15 + "e")]
    assert dedup(e, 6).dropped == {"b": ("duplicate", "duplicate of a")}  # second hash 1 bit apart
    assert dedup(e, -1).dropped == {}  # -1 disables
    assert dedup([(s, lab, h1) for s, lab, h1, _ in e], 6).dropped == {}  # first hashes 64 bits apart
    assert duplicate_pairs(["0" * 16, "0" * 15 + "1", "f" * 16], 0) == []
    assert duplicate_pairs(["0" * 16, "0" * 15 + "1", "f" * 16], 1) == [(0, 1)]
    assert hamming("0" * 16, "f" * 16) == 64


def test_phash_recoded_is_duplicate_and_mirror_is_not():
    from skimage import data

    face = data.astronaut()[40:200, 160:290]  # the face with some margin
    buf = io.BytesIO()
    Image.fromarray(face).resize((100, 123)).save(buf, format="JPEG", quality=60)
    recoded = np.asarray(Image.open(buf).convert("RGB").resize(face.shape[1::-1]))
    h, hr, hm = phash_hex(face), phash_hex(recoded), phash_hex(np.ascontiguousarray(face[:, ::-1]))
    assert hamming(h, hr) <= 6
    assert hamming(h, hm) > 12


# ------------------------------------------------------------------------------------------ sampling


def test_sample_is_seeded_and_exclusion_stable():
    cands = [f"happy/{i:03d}.jpg" for i in range(50)]
    s0 = sample_class(cands, 10, seed=0)
    assert s0 == sorted(s0) and len(s0) == 10 and s0 == sample_class(list(reversed(cands)), 10, seed=0)
    assert s0 != sample_class(cands, 10, seed=1)
    # removing one chosen item keeps the other 9 and adds exactly one
    s1 = sample_class([c for c in cands if c != s0[3]], 10, seed=0)
    assert len(set(s0) & set(s1)) == 9 and s0[3] not in s1
    # removing an unchosen item changes nothing
    unchosen = next(c for c in cands if c not in s0)
    assert sample_class([c for c in cands if c != unchosen], 10, seed=0) == s0
    assert sample_class(cands[:3], 10, seed=0) == cands[:3]
    assert priority(0, "x") != priority(1, "x")


def test_output_names_are_stable_hashes():
    n = output_name("angry", "anger/IMG_0001.jpg")
    assert n == output_name("angry", "anger/IMG_0001.jpg")
    assert (
        n.startswith("angry/angry_") and n.endswith(".jpg") and len(n.split("_")[1]) == len("0123456789.jpg")
    )
    assert n != output_name("angry", "anger/IMG_0002.jpg")


def test_read_exclude_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("# header\n\nangry/angry_0123456789.jpg  # blurry\n  sad\\s1.jpg \n# another\nphoto#1.jpg\n")
    assert read_exclude_file(p) == ["angry/angry_0123456789.jpg", "sad/s1.jpg", "photo#1.jpg"]
    with pytest.raises(FerBenchError, match="does not exist"):
        read_exclude_file(tmp_path / "missing.txt")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02abc")
    with pytest.raises(FerBenchError, match="not a text file"):
        read_exclude_file(tmp_path / "bin.txt")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9.jpg\n")
    with pytest.raises(FerBenchError, match="cannot read --exclude file"):
        read_exclude_file(tmp_path / "latin.txt")
    with pytest.raises(FerBenchError):
        read_exclude_file(tmp_path)  # a folder


def test_match_exclusions(tmp_path):
    items = [
        ("anger/a.jpg", "angry", tmp_path / "src" / "anger" / "a.jpg"),
        ("sad/b.png", "sad", tmp_path / "b.png"),
    ]
    out_a = output_name("angry", "anger/a.jpg")
    out_b_bare = output_name("sad", "sad/b.png").split("/")[1]
    ex, un = match_exclusions(
        [out_a, out_b_bare, "./anger/a.jpg", str(tmp_path / "b.png"), "nope.jpg"], items
    )
    assert ex == {"anger/a.jpg", "sad/b.png"} and un == ["nope.jpg"]
    ex, un = match_exclusions(["sad/b.png"], items)
    assert ex == {"sad/b.png"} and un == []


# ------------------------------------------------------------------------------------------ sources


def _img(path: Path, size=(40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (100, 120, 140)).save(path)


def test_scan_folder_synonyms_merge_and_ignores(tmp_path):
    src = tmp_path / "src"
    _img(src / "Anger" / "1.jpg")
    _img(src / "angry" / "sub" / "2.png")
    _img(src / "Happiness" / "3.webp")
    _img(src / "_rejects" / "4.jpg")  # underscore: ignored
    _img(src / ".cache" / "5.jpg")  # hidden: ignored
    _img(src / "Happiness" / ".hidden.jpg")
    (src / "Happiness" / "readme.txt").write_text("x")
    (src / "top.jpg").write_bytes(b"")  # top-level files ignored
    scan = scan_source(src)
    assert [(i.source, i.label) for i in scan.items] == [
        ("Anger/1.jpg", "angry"), ("Happiness/3.webp", "happy"), ("angry/sub/2.png", "angry"),
    ]  # fmt: skip
    assert scan.labels == ["angry", "happy"] and scan.skipped_non_images == 1
    assert any("merged" in n for n in scan.notes)


def test_scan_errors(tmp_path):
    with pytest.raises(FerBenchError, match="does not exist"):
        scan_source(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    _img(tmp_path / "flat" / "a.jpg")
    with pytest.raises(FerBenchError, match="has no class folders"):
        scan_source(tmp_path / "flat")
    _img(tmp_path / "s" / "happy" / "a.jpg")
    _img(tmp_path / "s" / "selfies" / "a.jpg")
    (tmp_path / "s" / "misc").mkdir()
    with pytest.raises(FerBenchError) as ei:
        scan_source(tmp_path / "s")
    msg = str(ei.value)
    assert "'misc', 'selfies'" in msg and "found: happy, misc, selfies" in msg and "\n" not in msg
    _img(tmp_path / "e" / "happy" / "a.jpg")
    (tmp_path / "e" / "sad").mkdir()
    (tmp_path / "e" / "sad" / "notes.txt").write_text("x")
    with pytest.raises(FerBenchError, match=r"class folder .*sad has no image files"):
        scan_source(tmp_path / "e")
    (tmp_path / "x.zip").write_bytes(b"PK")
    with pytest.raises(FerBenchError, match="neither a folder nor a .csv"):
        scan_source(tmp_path / "x.zip")


def test_scan_csv(tmp_path):
    _img(tmp_path / "imgs" / "a.jpg")
    _img(tmp_path / "other" / "b.jpg")
    (tmp_path / "lists").mkdir()
    lst = tmp_path / "lists" / "l.csv"
    lst.write_text(
        f"filename,emotion\n../imgs/a.jpg,Happiness\n{tmp_path / 'other' / 'b.jpg'},sad\n"
        "../imgs/missing.jpg,sad\n../imgs/notes.txt,sad\n"
    )
    scan = scan_source(lst)
    srcs = {(i.source, i.label) for i in scan.items}
    assert (str(tmp_path / "other" / "b.jpg"), "sad") in srcs
    assert ("imgs/missing.jpg", "sad") not in srcs  # relative to the CSV folder: lists/../imgs -> outside
    assert len(scan.items) == 3 and scan.skipped_non_images == 1
    # headerless two-column CSV, paths inside the CSV's folder
    _img(tmp_path / "d" / "x" / "1.jpg")
    (tmp_path / "d" / "l.csv").write_text("x/1.jpg,surprised\n")
    scan = scan_source(tmp_path / "d" / "l.csv")
    assert [(i.source, i.label) for i in scan.items] == [("x/1.jpg", "surprise")]
    (tmp_path / "d" / "bad.csv").write_text("path,label\nx/1.jpg,bored\n")
    with pytest.raises(FerBenchError, match="labels that are not expressions: 'bored'"):
        scan_source(tmp_path / "d" / "bad.csv")
    (tmp_path / "d" / "twice.csv").write_text("path,label\nx/1.jpg,happy\nx/1.jpg,sad\n")
    with pytest.raises(FerBenchError, match="twice"):
        scan_source(tmp_path / "d" / "twice.csv")
    (tmp_path / "d" / "cols.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(FerBenchError, match="needs a header"):
        scan_source(tmp_path / "d" / "cols.csv")


def test_check_out_dir(tmp_path):
    _img(tmp_path / "src" / "happy" / "a.jpg")
    scan = scan_source(tmp_path / "src")
    with pytest.raises(FerBenchError, match="inside the source folder"):
        check_out_dir(tmp_path / "src" / "happy" / "out", scan)
    with pytest.raises(FerBenchError, match="contains SRC"):
        check_out_dir(tmp_path, scan)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FerBenchError, match="is a file"):
        check_out_dir(tmp_path / "afile", scan)
    (tmp_path / "prev").mkdir()
    (tmp_path / "prev" / "manifest.csv").write_text("file\n")
    (tmp_path / "prev" / "other.txt").write_text("x")
    assert check_out_dir(tmp_path / "prev", scan) == (tmp_path / "prev").resolve()
    (tmp_path / "empty").mkdir()
    assert check_out_dir(tmp_path / "empty", scan).name == "empty"
    assert check_out_dir(tmp_path / "new" / "deeper", scan).name == "deeper"


# ------------------------------------------------------------------------------------------ detection


def test_detector_scale():
    spec = DetectorSpec("mtcnn", max_side=640, min_face=40)
    assert spec.scale_for(350, 350) == pytest.approx(20 / 32)  # min face 40 px -> 25 px at detection
    assert spec.scale_for(3000, 4000) == pytest.approx(640 / 4000)
    assert DetectorSpec("mtcnn", 640, 16).scale_for(300, 300) == 1.0  # never upscales
    assert spec.key() != DetectorSpec("haar", 640, 40).key() and spec.key() == DetectorSpec().key()


def test_detect_image_maps_boxes_to_full_resolution():
    seen = {}

    def fake(img):
        seen["shape"] = img.shape
        return [{"box": [10, 20, 30, 40], "confidence": 0.987654321, "keypoints": {"nose": [25, 40]}}]

    rgb = np.zeros((1000, 2000, 3), np.uint8)
    faces, note = detect_image(rgb, DetectorSpec("mtcnn", 500, 0), fake)
    assert note is None and seen["shape"] == (250, 500, 3)
    assert faces == [
        {"box": [40.0, 80.0, 120.0, 160.0], "confidence": 0.987654, "keypoints": {"nose": [100.0, 160.0]}}
    ]

    def boom(img):
        raise RuntimeError("kaput\nmore")

    faces, note = detect_image(rgb, DetectorSpec("mtcnn", 500, 0), boom)
    assert faces == [] and note == "detector failed: RuntimeError: kaput"
    faces, note = detect_image(np.zeros((10, 10, 3), np.uint8), DetectorSpec(), fake)
    assert faces == [] and "too small" in note


# ------------------------------------------------------------------------------------------ config, report, cache


def test_config_validation():
    BuildConfig().validate()
    for bad in [{"per_class": 0}, {"size": 8}, {"margin": -1}, {"detector": "yolo"}, {"min_confidence": 1.5},
                {"multi_face": "all"}, {"dedup_threshold": 65}, {"workers": 0}]:  # fmt: skip
        with pytest.raises(FerBenchError, match="re-run"):
            BuildConfig(**bad).validate()


def test_short_classes_message_is_one_line():
    counts = {s: 10 for s in STAGES}
    rep = {"short_classes": {"fear": 7, "disgust": 2}, "counts": {"fear": counts, "disgust": counts}}
    msg = short_classes_message(rep, 300)
    assert (
        "\n" not in msg
        and "fear has 7 (found 10" in msg
        and "disgust has 2" in msg
        and "--allow-short" in msg
    )


def test_cache_survives_a_torn_line(tmp_path):
    c = BuildCache(tmp_path)
    c.put_det("s1:k", {"status": "ok", "faces": []})
    c.put_ph("s1:0,0,1,1:8:v1", "00ff00ff00ff00ff")
    c.close()
    with open(tmp_path / "cache.jsonl", "a") as fh:
        fh.write('{"t": "det", "k": "s2:k", "fa')  # interrupted mid-line
    c = BuildCache(tmp_path)
    assert c.bad_lines == 1 and c.get_det("s1:k")["status"] == "ok" and c.get_ph("s1:0,0,1,1:8:v1")
    c.put_det("s3:k", {"status": "unreadable"})
    c.close()
    c = BuildCache(tmp_path)
    assert c.get_det("s3:k")["status"] == "unreadable" and c.bad_lines == 1
    lines = (tmp_path / "cache.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["k"] == "s3:k"


def test_split_layout_is_named_with_the_folder_to_pass(tmp_path):
    """A train/test layout (what `datasets inspect` accepts) gets a one-line pointer to one split folder."""
    from fer_bench.btfer.sources import scan_folder
    from fer_bench.errors import FerBenchError

    (tmp_path / "train" / "happy").mkdir(parents=True)
    (tmp_path / "test" / "sad").mkdir(parents=True)
    with pytest.raises(FerBenchError, match=r"holds split folders \(test, train\); pass one of them"):
        scan_folder(tmp_path)
