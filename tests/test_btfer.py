"""End-to-end tests of build-btfer on real face photos composed from public-domain images.

Fixture faces: ``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) and matplotlib's bundled
``grace_hopper.jpg`` (US Navy, public domain). Each photo is a face region, mirrored or not, rotated by a
distinct angle, rescaled, pasted with a soft elliptical mask on a random background with clutter. For one
identity and mirror state, photos whose angles differ by >= 8 degrees have crop phashes >= ~16 bits apart, so
the designed duplicates below are the only ones (checked in ``test_fixture_is_what_we_think``).

Layout (folder names use synonyms on purpose):

* ``anger/`` -> angry: a1.jpg, a2.png (RGBA), a3.jpg (grayscale), a4.bmp, a5_conflict.jpg, noise.png,
  notes.txt (ignored)
* ``happiness/`` -> happy: h1.jpg, h1_copy.jpg (resized + re-encoded h1: same-label duplicate), h1_mirror.jpg
  (mirror of h1: NOT a duplicate), h2.webp, h3_16bit.png (16-bit grayscale), h4.jpg, truncated.jpg (broken)
* ``sad/``: s1.jpg, s2_exif.jpg (stored sideways + EXIF orientation 6), s3_cmyk.jpg, s4.jpg, s5.jpg,
  conflict.png (pixel copy of anger/a5_conflict.jpg: cross-label duplicate), flat.jpg (no face),
  text.jpg (a text file)

MTCNN runs ~19 times per fresh build (~0.1-0.2 s each); the base build is shared by the module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_bench.btfer import BuildConfig, build_btfer, output_name
from fer_bench.btfer import detect as detect_mod
from fer_bench.errors import FerBenchError

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------------------------- fixtures


def _faces() -> dict[str, tuple[np.ndarray, tuple[int, int, int, int]]]:
    import matplotlib
    from skimage import data

    gh_path = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    gh = np.asarray(Image.open(gh_path).convert("RGB"))
    # face boxes (x, y, w, h) as MTCNN finds them in the originals
    return {"ast": (data.astronaut(), (182, 64, 83, 107)), "gh": (gh, (179, 115, 166, 216))}


_FACES: dict | None = None


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        bg = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:
        bg = np.zeros((h, w, 3), np.uint8) + rng.integers(0, 256, 3, dtype=np.uint8)
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        a = rng.uniform(0, 2 * np.pi)
        t = ((xx * np.cos(a) + yy * np.sin(a)) / max(h, w) + 1) / 2
        bg = (c1 * t[..., None] + c2 * (1 - t[..., None])).astype(np.uint8)
    for _ in range(int(rng.integers(2, 7))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.rectangle(bg, (x, y), (x + int(rng.integers(10, 90)), y + int(rng.integers(10, 90))), col, -1)
        else:
            cv2.circle(bg, (x, y), int(rng.integers(5, 40)), col, -1)
    return np.ascontiguousarray(bg)


def face_photo(identity: str, angle: float, flip: bool, seed: int, canvas: int = 288) -> np.ndarray:
    """A real face (astronaut or Grace Hopper) rotated/mirrored/rescaled on a cluttered random background."""
    global _FACES
    if _FACES is None:
        _FACES = _faces()
    src, (x, y, w, h) = _FACES[identity]
    rng = np.random.default_rng(seed)
    cx, cy = x + w / 2, y + h / 2
    half = max(w, h) * (0.5 + rng.uniform(0.2, 0.5))
    x0, x1 = int(max(0, cx - half)), int(min(src.shape[1], cx + half))
    y0, y1 = int(max(0, cy - half)), int(min(src.shape[0], cy + half))
    patch = src[y0:y1, x0:x1]
    if flip:
        patch = patch[:, ::-1]
    s = rng.uniform(95, 135) / h
    asp = rng.uniform(0.9, 1.1)
    patch = cv2.resize(
        np.ascontiguousarray(patch), None, fx=s * asp, fy=s / asp, interpolation=cv2.INTER_AREA
    )
    ph, pw = patch.shape[:2]
    m = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0)
    rot = cv2.warpAffine(patch, m, (pw, ph), borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpAffine(np.full((ph, pw), 255, np.uint8), m, (pw, ph))
    ell = np.zeros((ph, pw), np.uint8)
    cv2.ellipse(ell, (pw // 2, ph // 2), (int(pw * 0.46), int(ph * 0.48)), 0, 0, 360, 255, -1)
    mask = np.minimum(mask, ell)
    bg = _background(rng, canvas, canvas)
    ox, oy = int(rng.integers(0, max(1, canvas - pw))), int(rng.integers(0, max(1, canvas - ph)))
    region = bg[oy : oy + ph, ox : ox + pw]
    a = (mask[: region.shape[0], : region.shape[1]] / 255.0)[..., None]
    bg[oy : oy + ph, ox : ox + pw] = (
        rot[: region.shape[0], : region.shape[1]] * a + region * (1 - a)
    ).astype(np.uint8)
    return bg


def _jpeg_bytes(rgb: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def make_source(root: Path) -> Path:
    """Write the fixture SRC folder (see the module docstring) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    d_a, d_h, d_s = root / "anger", root / "happiness", root / "sad"
    for d in (d_a, d_h, d_s):
        d.mkdir()
    rng = np.random.default_rng(123)
    # angry
    Image.fromarray(face_photo("ast", -14, False, 1)).save(d_a / "a1.jpg", quality=92)
    rgba = np.dstack([face_photo("gh", -4, False, 2), np.full((288, 288), 255, np.uint8)])
    rgba[:40, :, 3] = 0  # a transparent band (composited onto white by read_image)
    Image.fromarray(rgba, "RGBA").save(d_a / "a2.png")
    Image.fromarray(face_photo("ast", 14, True, 3)).convert("L").save(d_a / "a3.jpg", quality=92)
    Image.fromarray(face_photo("gh", 6, True, 4)).save(d_a / "a4.bmp")
    conflict = face_photo("gh", 16, False, 5)
    Image.fromarray(conflict).save(d_a / "a5_conflict.jpg", quality=92)
    Image.fromarray(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)).save(d_a / "noise.png")
    (d_a / "notes.txt").write_text("not an image\n")
    # happy
    h1 = face_photo("ast", 6, False, 6)
    Image.fromarray(h1).save(d_h / "h1.jpg", quality=92)
    small = cv2.resize(h1, (245, 245), interpolation=cv2.INTER_AREA)
    Image.fromarray(small).save(d_h / "h1_copy.jpg", quality=70)
    Image.fromarray(np.ascontiguousarray(h1[:, ::-1])).save(d_h / "h1_mirror.jpg", quality=92)
    Image.fromarray(face_photo("gh", -14, True, 7)).save(d_h / "h2.webp", quality=90)
    g16 = cv2.cvtColor(face_photo("ast", -16, True, 8), cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    Image.fromarray(g16).save(d_h / "h3_16bit.png")
    Image.fromarray(face_photo("gh", -14, False, 9)).save(d_h / "h4.jpg", quality=92)
    good = _jpeg_bytes(face_photo("ast", 0, False, 10))
    (d_h / "truncated.jpg").write_bytes(good[: len(good) // 3])
    # sad
    Image.fromarray(face_photo("ast", -4, False, 11)).save(d_s / "s1.jpg", quality=92)
    upright = Image.fromarray(face_photo("gh", 16, True, 12))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": store the pixels rotated 90 CCW
    upright.transpose(Image.Transpose.ROTATE_90).save(d_s / "s2_exif.jpg", quality=92, exif=exif.tobytes())
    Image.fromarray(face_photo("ast", 4, True, 13)).convert("CMYK").save(d_s / "s3_cmyk.jpg", quality=92)
    Image.fromarray(face_photo("gh", 6, False, 14)).save(d_s / "s4.jpg", quality=92)
    Image.fromarray(face_photo("ast", 16, False, 15)).save(d_s / "s5.jpg", quality=92)
    Image.fromarray(np.asarray(Image.open(d_a / "a5_conflict.jpg").convert("RGB"))).save(d_s / "conflict.png")
    Image.fromarray(np.full((220, 260, 3), 128, np.uint8)).save(d_s / "flat.jpg", quality=92)
    (d_s / "text.jpg").write_text("this is not a jpeg\n")
    return root


EXPECTED = {  # class -> counts per stage (per_class=3)
    "angry": {"found": 6, "readable": 6, "face_detected": 5, "passed": 5, "after_dedup": 4, "after_exclusions": 4,
              "selected": 3},
    "happy": {"found": 7, "readable": 6, "face_detected": 6, "passed": 6, "after_dedup": 5, "after_exclusions": 5,
              "selected": 3},
    "sad": {"found": 8, "readable": 7, "face_detected": 6, "passed": 6, "after_dedup": 5, "after_exclusions": 5,
            "selected": 3},
}  # fmt: skip
CFG = BuildConfig(per_class=3, size=128, workers=1)


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file below root (relative posix path -> hex)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def output_hashes(out: Path) -> dict[str, str]:
    """Hashes of the deterministic outputs: class images, manifest, reports (not sheets or .btfer)."""
    return {k: v for k, v in tree_hashes(out).items() if not k.startswith((".btfer/", "_sheets/"))}


class CountingDetector:
    """Wraps make_detector to count detector calls (inline builds only)."""

    def __init__(self, real=detect_mod.make_detector, fail_after: int | None = None):
        self.calls = 0
        self.real = real
        self.fail_after = fail_after

    def __call__(self, name):
        inner = self.real(name)

        def detect(img):
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise KeyboardInterrupt("simulated interruption")
            self.calls += 1
            return inner(img)

        return detect


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    return make_source(tmp_path_factory.mktemp("btfer") / "src")


@pytest.fixture(scope="module")
def src_snapshot(src) -> dict[str, str]:
    return tree_hashes(src)


@pytest.fixture(scope="module")
def base(src, src_snapshot, tmp_path_factory):
    """One inline build shared by the module: (out dir, result)."""
    out = tmp_path_factory.mktemp("btfer") / "out"
    res = build_btfer(src, out, CFG)
    return out, res


# ----------------------------------------------------------------------------------------------- tests


def test_fixture_is_what_we_think(src):
    """The odd formats decode as intended (RGBA -> white background, 16-bit -> uint8, EXIF, CMYK)."""
    from fer_bench.imageio import read_image

    a2 = read_image(src / "anger" / "a2.png")
    assert a2.shape == (288, 288, 3) and (a2[:40] == 255).all()  # transparent band -> white
    h3 = read_image(src / "happiness" / "h3_16bit.png")
    assert h3.dtype == np.uint8 and h3.shape == (288, 288, 3)
    s2 = read_image(src / "sad" / "s2_exif.jpg")
    assert s2.shape == (288, 288, 3)
    with Image.open(src / "sad" / "s3_cmyk.jpg") as im:
        assert im.mode == "CMYK"


def test_counts_per_stage_and_rejections(base):
    out, res = base
    rep = res.report
    assert rep["classes"] == ["angry", "happy", "sad"]
    assert rep["counts"] == EXPECTED, json.dumps(rep["rejected"], indent=1)
    reasons = {(r["source"], r["reason"]) for r in rep["rejected"]}
    assert ("anger/noise.png", "no_face") in reasons
    assert ("happiness/truncated.jpg", "unreadable") in reasons
    assert ("sad/text.jpg", "unreadable") in reasons
    assert ("sad/flat.jpg", "no_face") in reasons
    assert ("happiness/h1_copy.jpg", "duplicate") in reasons
    assert ("anger/a5_conflict.jpg", "cross_label_duplicate") in reasons
    assert ("sad/conflict.png", "cross_label_duplicate") in reasons
    assert rep["rejections"]["happy"] == {"duplicate": 1, "unreadable": 1}
    # the cross-label group is reported with both labels
    assert rep["cross_label_duplicates"] == [
        [
            {"source": "anger/a5_conflict.jpg", "class": "angry"},
            {"source": "sad/conflict.png", "class": "sad"},
        ]
    ]
    # the mirrored copy is not a duplicate under phash, and the same-label duplicate kept the first path
    rej_sources = {r["source"] for r in rep["rejected"]}
    assert "happiness/h1_mirror.jpg" not in rej_sources and "happiness/h1.jpg" not in rej_sources
    md = (out / "report.md").read_text()
    assert "| angry | 6 | 6 | 5 | 5 | 4 | 4 | 3 |" in md and "cross_label_duplicate" in md
    assert json.loads((out / "report.json").read_text())["counts"] == EXPECTED


def test_outputs_layout_sizes_and_manifest(base):
    out, res = base
    for cls in ("angry", "happy", "sad"):
        files = sorted((out / cls).glob("*.jpg"))
        assert len(files) == 3
        for f in files:
            with Image.open(f) as im:
                assert im.size == (128, 128) and im.mode == "RGB" and im.format == "JPEG"
    top = sorted(p.name for p in out.iterdir())
    assert top == [".btfer", "_sheets", "angry", "happy", "manifest.csv", "report.json", "report.md", "sad"]
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 9
    assert list(rows[0]) == [
        "file", "class", "source", "source_sha256", "box_x", "box_y", "box_w", "box_h", "confidence",
        "keypoints", "phash", "source_phash", "clamped", "crop_x", "crop_y", "crop_w", "crop_h",
    ]  # fmt: skip
    for r in rows:
        assert (out / r["file"]).is_file() and r["file"] == output_name(r["class"], r["source"])
        src_file = Path(res.report["source"]["path"]) / r["source"]
        assert hashlib.sha256(src_file.read_bytes()).hexdigest() == r["source_sha256"]
        assert float(r["confidence"]) >= 0.9 and int(r["box_w"]) >= 40
        kp = json.loads(r["keypoints"])
        assert set(kp) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
        assert len(r["phash"]) == 16 and len(r["source_phash"]) == 16 and r["clamped"] in ("0", "1")
        # square crop of max(w, h) + 2 * margin unless clamped at the border
        side = max(int(r["box_w"]), int(r["box_h"])) + 40
        if r["clamped"] == "0":
            assert abs(int(r["crop_w"]) - side) <= 2 and int(r["crop_w"]) == int(r["crop_h"])
    # the EXIF-rotated photo was found upright (sideways faces are not detected by MTCNN)
    sad_passed = {r["source"] for r in res.report["rejected"]} | {r["source"] for r in rows}
    assert "sad/s2_exif.jpg" in sad_passed
    assert not any(
        r["source"] == "sad/s2_exif.jpg" and r["reason"] == "no_face" for r in res.report["rejected"]
    )
    # contact sheets: one per class, a PNG grid
    sheets = sorted(p.name for p in (out / "_sheets").iterdir())
    assert sheets == ["angry_01.png", "happy_01.png", "sad_01.png"]
    with Image.open(out / "_sheets" / "angry_01.png") as im:
        assert im.format == "PNG" and im.width > 3 * 128


def test_folder_is_a_dataset(base):
    """DIR/<class>/*.jpg is a folder-per-class dataset: non-class entries are hidden/underscored/files."""
    from fer_bench.labels import is_label

    out, _ = base
    dirs = [p.name for p in out.iterdir() if p.is_dir()]
    assert sorted(d for d in dirs if is_label(d)) == ["angry", "happy", "sad"]
    assert all(d.startswith((".", "_")) for d in dirs if not is_label(d))
    try:  # the project's folder adapter reads it as-is (when that adapter is present)
        from fer_bench.data.adapters import open_dataset
    except ImportError:  # pragma: no cover
        return
    ds = open_dataset(str(out))
    assert ds.manifest.groupby("label").size().to_dict() == {"angry": 3, "happy": 3, "sad": 3}
    assert ds.read(ds.manifest["item"][0]).shape == (128, 128, 3)


def test_determinism_fresh_build_and_cache_rerun(base, src, tmp_path, monkeypatch):
    out, _ = base
    out2 = tmp_path / "out2"
    build_btfer(src, out2, CFG)
    assert output_hashes(out2) == output_hashes(out)
    # a re-run into the same folder detects nothing and rewrites nothing, output unchanged
    counter = CountingDetector()
    monkeypatch.setattr(detect_mod, "make_detector", counter)
    res = build_btfer(src, out2, CFG)
    assert counter.calls == 0 and res.stats.get("detector_calls", 0) == 0
    assert res.stats["det_cache_hits"] == 21  # every photo, the 2 unreadable ones included, from the cache
    assert res.stats.get("written", 0) == 0 and res.stats["unchanged_outputs"] == 9
    assert output_hashes(out2) == output_hashes(out)


def test_exclusion_rerun_replaces_only_the_excluded(base, tmp_path, src, monkeypatch):
    out0, res0 = base
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    before = output_hashes(out)
    happy = res0.selected["happy"]
    victim = happy[0]
    excl = tmp_path / "rejects.txt"
    excl.write_text(f"# reviewer notes\n{victim}   # blurry\n\nnot/a/file.jpg\n")
    counter = CountingDetector()
    monkeypatch.setattr(detect_mod, "make_detector", counter)
    cfg = BuildConfig(per_class=3, size=128, workers=1, exclude=excl)
    res = build_btfer(src, out, cfg)
    assert counter.calls == 0
    assert victim not in res.selected["happy"] and not (out / victim).exists()
    assert len(res.selected["happy"]) == 3 and set(happy) - {victim} <= set(res.selected["happy"])
    after = output_hashes(out)
    for name in set(happy) - {victim}:
        assert after[name] == before[name]
    for cls in ("angry", "sad"):
        for name in res0.selected[cls]:
            assert after[name] == before[name]
    assert res.stats["written"] == 1
    assert res.report["counts"]["happy"]["after_exclusions"] == 4
    assert res.report["exclusions"] == {"entries": 2, "matched": 1, "unmatched": ["not/a/file.jpg"]}
    # excluding by source path works too and gives the same images and manifest from a fresh folder
    with open(out0 / "manifest.csv", newline="") as fh:
        src_of_victim = next(r["source"] for r in csv.DictReader(fh) if r["file"] == victim)
    excl2 = tmp_path / "rejects2.txt"
    excl2.write_text(src_of_victim + "\n")
    out3 = tmp_path / "out3"
    shutil.copytree(out0 / ".btfer", out3 / ".btfer")  # reuse detections
    build_btfer(src, out3, BuildConfig(per_class=3, size=128, workers=1, exclude=excl2))
    assert counter.calls == 0

    def images_and_manifest(d):
        return {k: v for k, v in output_hashes(d).items() if not k.startswith("report.")}

    assert images_and_manifest(out3) == images_and_manifest(out)


def test_too_few_faces_error_lists_counts(base, tmp_path, src):
    out0, _ = base
    out = tmp_path / "out"
    shutil.copytree(out0 / ".btfer", out / ".btfer")
    with pytest.raises(FerBenchError) as ei:
        build_btfer(src, out, BuildConfig(per_class=5, size=128, workers=1))
    msg = str(ei.value)
    assert "\n" not in msg
    assert "too few usable faces for --per-class 5" in msg
    assert (
        "angry has 4 (found 6, readable 6, face_detected 5, passed 5, after_dedup 4, after_exclusions 4)"
        in msg
    )
    assert "--allow-short" in msg and "happy" not in msg.split("--allow-short")[0].split(";")[0]
    assert not (out / "manifest.csv").exists()
    # --allow-short keeps the short class
    res = build_btfer(src, out, BuildConfig(per_class=5, size=128, workers=1, allow_short=True))
    assert res.report["short_classes"] == {"angry": 4}
    assert [len(res.selected[c]) for c in ("angry", "happy", "sad")] == [4, 5, 5]


def test_interrupted_build_resumes_without_redetecting(src, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(detect_mod, "make_detector", CountingDetector(fail_after=5))
    with pytest.raises(KeyboardInterrupt):
        build_btfer(src, out, CFG)
    assert (out / ".btfer" / "cache.jsonl").is_file() and not (out / "manifest.csv").exists()
    counter = CountingDetector()
    monkeypatch.setattr(detect_mod, "make_detector", counter)
    res = build_btfer(src, out, CFG)  # a folder with only .btfer/ is accepted as a previous output
    # 19 readable photos reach the detector; 5 were done before the stop. Count photos, not detector calls: a
    # photo where the plain image shows no face is detected again padded (DetectorSpec.pad_policy "retry")
    assert res.stats["detector_calls"] == 19 - 5 and counter.calls >= 19 - 5
    assert res.report["counts"] == EXPECTED


def test_out_dir_refusals(src, tmp_path):
    with pytest.raises(FerBenchError, match="inside the source folder"):
        build_btfer(src, src / "out", CFG)
    with pytest.raises(FerBenchError, match="inside the source folder"):
        build_btfer(src, src / "anger", CFG)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.docx").write_text("x")
    with pytest.raises(FerBenchError, match="not a build-btfer output"):
        build_btfer(src, busy, CFG)
    with pytest.raises(FerBenchError, match="contains SRC"):
        build_btfer(src, src.parent, CFG)
    bad = tmp_path / "missing.txt"
    with pytest.raises(FerBenchError, match="--exclude file .* does not exist"):
        build_btfer(src, tmp_path / "o", BuildConfig(per_class=3, workers=1, exclude=bad))
    assert not (tmp_path / "o").exists()  # errors in the inputs are found before anything is written


def test_haar_detector_runs(src, tmp_path):
    res = build_btfer(
        src, tmp_path / "o", BuildConfig(per_class=1, size=64, workers=1, detector="haar", allow_short=True)
    )
    assert res.report["params"]["detector"] == "haar"
    assert sum(len(v) for v in res.selected.values()) >= 2
    with open(tmp_path / "o" / "manifest.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            assert r["confidence"] == "1.0000" and r["keypoints"] == "{}"


def test_csv_source(src, base, tmp_path):
    """A CSV of path,label (relative to the CSV's folder) builds the same faces as the folder."""
    out0, _res0 = base
    lst = src.parent / "list.csv"
    rows = ["path,label"] + [
        f"{p.relative_to(src.parent).as_posix()},{p.parent.name}"
        for p in sorted(src.rglob("*"))
        if p.is_file()
    ]
    lst.write_text("\n".join(rows) + "\n")
    try:
        out = tmp_path / "o"
        shutil.copytree(out0 / ".btfer", out / ".btfer")
        res = build_btfer(lst, out, CFG)
        assert res.report["counts"] == EXPECTED
        assert {c: len(v) for c, v in res.selected.items()} == {"angry": 3, "happy": 3, "sad": 3}
        assert res.stats.get("detector_calls", 0) == 0  # cache is keyed by content sha256, not by path
    finally:
        lst.unlink()


def test_cli_end_to_end_with_worker_pool(base, src, tmp_path):
    """`python -m fer_bench.cli.app build-btfer` with 2 worker processes == the inline build, byte for byte."""
    out0, _ = base
    out = tmp_path / "cli_out"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "fer_bench.cli.app", "build-btfer", str(src), "--out", str(out),
           "--per-class", "3", "--size", "128", "--workers", "2"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    assert "img/s" in p.stderr or "img/s" in p.stdout
    assert output_hashes(out) == output_hashes(out0)
    last = json.loads((out / ".btfer" / "last_run.json").read_text())
    assert last["pool_started"] is True and last["workers"] == 2


def test_cli_one_line_errors(src, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    cases = [
        ([str(tmp_path / "nope"), "--out", str(tmp_path / "o")], "does not exist"),
        ([str(src), "--out", str(src / "x")], "inside the source folder"),
    ]
    for args, needle in cases:
        p = subprocess.run(
            [sys.executable, "-m", "fer_bench.cli.app", "build-btfer", *args],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
        )  # fmt: skip
        assert p.returncode == 2
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], p.stderr
        assert "Traceback" not in p.stderr


def test_cli_runner_surfaces_fer_bench_error(tmp_path):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    root = tmp_path / "src"
    (root / "happy").mkdir(parents=True)
    (root / "lunch").mkdir()
    r = CliRunner().invoke(app, ["build-btfer", str(root), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and isinstance(r.exception, FerBenchError)
    msg = str(r.exception)
    assert "'lunch'" in msg and "found: happy, lunch" in msg and "\n" not in msg


def test_src_unchanged_after_all_builds(base, src, src_snapshot):
    """Runs last in this module: every build above only read SRC (hash of every file, before and after)."""
    assert tree_hashes(src) == src_snapshot
