"""Dataset adapters: each test writes a tiny dataset in the REAL layout of that dataset, with pixel values that
encode the native label, and checks the label mapping end to end (manifest label <-> pixels from ``read``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_bench.data.adapters import detect_format, load_registry, open_dataset
from fer_bench.errors import FerBenchError
from fer_bench.labels import CANONICAL, CANONICAL_WITH_CONTEMPT


def img(path: Path, value: int, size: tuple[int, int] = (8, 8), mode: str = "L") -> Path:
    """Write a constant image (value encodes a label) in the format implied by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, value, value)
    Image.new(mode, size, color).save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") \
        else Image.new(mode, size, color).save(path)
    return path


def value_of(arr: np.ndarray) -> int:
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    return round(float(arr.mean()))


def close(a: int, b: int, tol: int = 3) -> bool:
    return abs(a - b) <= tol


# --------------------------------------------------------------------------------------------------- FER2013 csv
def write_fer2013_csv(path: Path) -> None:
    """emotion k -> all 2304 pixels = 30*k + 10; a row with a bad pixel string; Usage covers all three."""
    usages = ["Training", "PublicTest", "PrivateTest"]
    lines = ["emotion,pixels,Usage"]
    for k in range(7):
        for j, usage in enumerate(usages):
            lines.append(f"{k},{' '.join([str(30 * k + 10 + j)] * 2304)},{usage}")
    lines.append(f"3,{' '.join(['12'] * 100)} x,Training")  # malformed
    lines.append(f"9,{' '.join(['12'] * 2304)},Training")  # emotion out of range
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_fer2013_csv_label_order_usage_and_bad_rows(tmp_path):
    csv = tmp_path / "fer2013" / "fer2013.csv"
    write_fer2013_csv(csv)
    for spec in (csv, csv.parent):
        assert detect_format(spec) == "fer2013_csv"
        src = open_dataset(str(spec))
        assert src.format == "fer2013_csv"
        assert src.label_names == CANONICAL
        assert len(src.manifest) == 21
        assert src.splits() == ["train", "val", "test"]
        assert any("1 row(s) with a malformed pixels" in n for n in src.notes)
        assert any("emotion outside 0..6" in n for n in src.notes)
        for row in src.manifest.itertuples():
            arr = src.read(row.item)
            assert arr.shape == (48, 48, 3)
            v = value_of(arr)
            native, usage_idx = (v - 10) // 30, (v - 10) % 30
            expected = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")[native]
            assert row.label == expected
            assert row.split == ("train", "val", "test")[usage_idx]
    m = src.manifest
    # explicit: emotion 4 -> sad, emotion 6 -> neutral (not the alphabetical index)
    assert value_of(src.read(m[(m.label == "sad") & (m.split == "train")].item.iloc[0])) == 30 * 4 + 10
    assert value_of(src.read(m[(m.label == "neutral") & (m.split == "train")].item.iloc[0])) == 30 * 6 + 10
    assert m.item.str.startswith("row:").all()


def test_fer2013_csv_kaggle_icml_variant(tmp_path):
    lines = ["emotion, Usage, pixels", f"6, Training, {' '.join(['7'] * 2304)}"]
    (tmp_path / "icml_face_data.csv").write_text("\n".join(lines) + "\n")
    src = open_dataset(str(tmp_path))
    assert list(src.manifest.label) == ["neutral"] and list(src.manifest.split) == ["train"]
    assert value_of(src.read("row:0")) == 7


# ----------------------------------------------------------------------------------------------------- RAF-DB
RAF_ROWS = [("train_00001.jpg", 1), ("train_00002.jpg", 4), ("train_00003.jpg", 6), ("test_0001.jpg", 7),
            ("test_0002.jpg", 2), ("test_0003.jpg", 3), ("test_0004.jpg", 5)]


def write_rafdb(root: Path, *, aligned: bool = True, missing: str | None = "train_00009.jpg") -> None:
    lines = [f"{name} {lab}" for name, lab in RAF_ROWS]
    if missing:
        lines.append(f"{missing} 4")
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    for name, lab in RAF_ROWS:
        stem = name[:-4]
        target = root / "Image" / ("aligned" if aligned else "original") / (
            f"{stem}_aligned.jpg" if aligned else name)
        img(target, 30 * lab, mode="RGB")


def test_rafdb_label_order_split_and_aligned_names(tmp_path):
    root = tmp_path / "RAF-DB" / "basic"
    write_rafdb(root)
    assert detect_format(root) == "rafdb"
    src = open_dataset(str(tmp_path / "RAF-DB"))  # the folder holding basic/ works too
    assert src.format == "rafdb" and Path(src.root) == root
    assert len(src.manifest) == 7
    assert any("1 image(s) listed" in n and "missing" in n for n in src.notes)
    by_item = {r.item: r for r in src.manifest.itertuples()}
    assert by_item["Image/aligned/train_00001_aligned.jpg"].label == "surprise"
    assert by_item["Image/aligned/train_00002_aligned.jpg"].label == "happy"
    assert by_item["Image/aligned/train_00003_aligned.jpg"].label == "angry"
    assert by_item["Image/aligned/test_0001_aligned.jpg"].label == "neutral"
    assert by_item["Image/aligned/test_0001_aligned.jpg"].split == "test"
    assert by_item["Image/aligned/train_00001_aligned.jpg"].split == "train"
    rafdb_order = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
    for r in src.manifest.itertuples():
        native = round(value_of(src.read(r.item)) / 30)
        assert r.label == rafdb_order[native - 1]
    assert src.label_names == CANONICAL


def test_rafdb_original_images_fallback(tmp_path):
    write_rafdb(tmp_path, aligned=False, missing=None)
    src = open_dataset(str(tmp_path))
    assert src.manifest.item.str.startswith("Image/original/").all()
    assert not src.manifest.item.str.contains("_aligned").any()
    assert src.notes == ["images from Image/original/"]


# -------------------------------------------------------------------------------------------------- AffectNet
AFFECT_HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,"
                 "valence,arousal")


def affect_image(path: Path, box: tuple[int, int, int, int], value: int, size=(40, 30)) -> None:
    """A size[0] x size[1] PNG: 255 outside the face box, *value* inside it."""
    a = np.full((size[1], size[0], 3), 255, np.uint8)
    x, y, w, h = box
    a[max(0, y):y + h, max(0, x):x + w] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def test_affectnet_csv_order_contempt_skips_and_crop(tmp_path):
    root = tmp_path / "AffectNet"
    imgs = root / "Manually_Annotated_Images"
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    train = [AFFECT_HEADER]
    box = (5, 4, 20, 16)
    for k in range(11):  # 0..7 classes, 8 none, 9 uncertain, 10 non-face
        sub = f"{k % 3}/img{k:02d}.png"
        affect_image(imgs / sub, box, 20 * k + 10)
        train.append(f"{sub},{box[0]},{box[1]},{box[2]},{box[3]},\"1;2;3\",{k},0.1,0.2")
    (lists / "training.csv").write_text("\n".join(train) + "\n")
    # the official validation.csv has no header row; one box runs off the image (clamped)
    affect_image(imgs / "7/val0.png", (30, 20, 20, 20), 130)
    affect_image(imgs / "7/val1.png", box, 70)
    val = ["7/val0.png,30,20,20,20,,6,0,0", f"7/val1.png,{box[0]},{box[1]},{box[2]},{box[3]},,0,0,0"]
    (lists / "validation.csv").write_text("\n".join(val) + "\n")

    assert detect_format(root) == "affectnet_csv"
    src = open_dataset(str(root))
    assert src.format == "affectnet_csv"
    assert src.label_names == CANONICAL_WITH_CONTEMPT  # contempt kept
    assert len(src.subset("train")) == 8 and len(src.subset("test")) == 2
    assert "val" not in src.splits()
    assert any("3 row(s) with expression 8-10" in n for n in src.notes)
    assert any("validation.csv is used as the test split" in n for n in src.notes)
    affectnet_order = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")
    for r in src.subset("train").itertuples():
        arr = src.read(r.item)
        assert arr.shape == (16, 20, 3)  # the face box, not the 30x40 image
        native = (value_of(arr) - 10) // 20
        assert r.label == affectnet_order[native]
    labels = dict(zip(src.manifest.item, src.manifest.label, strict=True))
    assert labels["Manually_Annotated_Images/0/img00.png"] == "neutral"
    assert labels["Manually_Annotated_Images/0/img06.png"] == "angry"
    assert labels["Manually_Annotated_Images/1/img07.png"] == "contempt"
    clamped = src.read("Manually_Annotated_Images/7/val0.png")
    assert clamped.shape == (10, 10, 3) and value_of(clamped) == 130
    assert labels["Manually_Annotated_Images/7/val0.png"] == "angry"
    # one CSV file on its own
    one = open_dataset(str(lists / "validation.csv"))
    assert len(one.manifest) == 2 and set(one.manifest.split) == {"test"}


def test_affectnet_numeric_folders_need_the_format(tmp_path):
    for k in range(8):
        img(tmp_path / "train" / str(k) / f"a{k}.png", 20 * k + 10)
    with pytest.raises(FerBenchError, match="affectnet_folders"):
        open_dataset(str(tmp_path))
    src = open_dataset(str(tmp_path), format="affectnet_folders")
    assert src.label_names == CANONICAL_WITH_CONTEMPT
    labels = dict(zip(src.manifest.item, src.manifest.label, strict=True))
    assert labels["train/0/a0.png"] == "neutral"
    assert labels["train/6/a6.png"] == "angry"
    assert labels["train/7/a7.png"] == "contempt"
    for r in src.manifest.itertuples():
        native = (value_of(src.read(r.item)) - 10) // 20
        assert r.label == ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")[native]


def test_affectnet_folders_guard_against_rafdb_numbering(tmp_path):
    for k in range(1, 8):  # a Kaggle RAF-DB copy: folders 1..7 in RAF order
        img(tmp_path / "train" / str(k) / "a.png", k)
    with pytest.raises(FerBenchError, match="RAF-DB"):
        open_dataset(str(tmp_path), format="affectnet_folders")


def test_kaggle_affectnet_named_folders_keep_contempt(tmp_path):
    for name in ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise"):
        img(tmp_path / "Train" / name / "a.png", 1)
    src = open_dataset(str(tmp_path))
    assert src.label_names == CANONICAL_WITH_CONTEMPT
    assert sorted(src.manifest.label) == sorted(CANONICAL_WITH_CONTEMPT)


# ------------------------------------------------------------------------------------------- folder-per-class
def write_folder_dataset(root: Path) -> None:
    names = {"Anger": 10, "Happiness": 40, "sadness": 70, "SURPRISED": 100}
    for split in ("train", "PublicTest", "PrivateTest"):
        for name, v in names.items():
            for i in range(2):
                img(root / split / name / f"{split}_{i}.png", v)
    img(root / "_sheets" / "sheet.png", 0, size=(64, 64))
    (root / ".detections").mkdir()
    (root / ".detections" / "x.json").write_text("{}")
    (root / "manifest.csv").write_text("item,label\n")
    (root / "report.md").write_text("# report\n")
    (root / "train" / "Anger" / "notes.txt").write_text("not an image")


def test_folder_synonyms_splits_and_ignored_entries(tmp_path):
    write_folder_dataset(tmp_path)
    assert detect_format(tmp_path) == "folder"
    src = open_dataset(str(tmp_path))
    assert src.format == "folder"
    assert src.splits() == ["train", "val", "test"]  # PublicTest -> val, PrivateTest -> test
    assert set(src.manifest.label) == {"angry", "happy", "sad", "surprise"}
    assert src.label_names == CANONICAL
    assert len(src.manifest) == 24
    assert not src.manifest.item.str.contains("_sheets|detections|\\\\").any()
    assert "PublicTest/Happiness/PublicTest_0.png" in set(src.subset("val").item)
    assert any("1 non-image file(s)" in n for n in src.notes)
    value = {"angry": 10, "happy": 40, "sad": 70, "surprise": 100}
    for r in src.manifest.itertuples():
        assert value_of(src.read(r.item)) == value[r.label]
    fp = src.manifest.fingerprint.iloc[0].split(":")
    assert len(fp) == 2 and all(p.isdigit() for p in fp)


def test_folder_without_splits(tmp_path):
    img(tmp_path / "happy" / "a.jpg", 50)
    img(tmp_path / "Neutral" / "sub" / "b.JPG", 90)  # nested, upper-case suffix
    src = open_dataset(str(tmp_path))
    assert src.splits() == ["all"]
    assert dict(zip(src.manifest.item, src.manifest.label, strict=True)) == {
        "happy/a.jpg": "happy", "Neutral/sub/b.JPG": "neutral"}


def test_folder_unknown_class_is_an_error(tmp_path):
    write_folder_dataset(tmp_path)
    img(tmp_path / "train" / "happpy" / "x.png", 5)
    with pytest.raises(FerBenchError) as exc:
        open_dataset(str(tmp_path))
    msg = str(exc.value)
    assert "happpy" in msg and "angry" in msg and "rename" in msg and "\n" not in msg


def test_folder_empty_class_is_an_error(tmp_path):
    write_folder_dataset(tmp_path)
    (tmp_path / "PrivateTest" / "fear").mkdir()
    with pytest.raises(FerBenchError) as exc:
        open_dataset(str(tmp_path))
    msg = str(exc.value)
    assert "fear" in msg and "no images" in msg and "delete the folder" in msg


def test_folder_no_images_and_unknown_layout(tmp_path):
    (tmp_path / "a" / "train").mkdir(parents=True)
    with pytest.raises(FerBenchError, match="no images found"):
        open_dataset(str(tmp_path / "a"))
    (tmp_path / "b" / "stuff").mkdir(parents=True)
    (tmp_path / "b" / "stuff" / "x.txt").write_text("x")
    (tmp_path / "b" / "other").mkdir()
    with pytest.raises(FerBenchError, match="cannot tell the dataset format.*class folders.*fer2013.csv.*RAF-DB"):
        open_dataset(str(tmp_path / "b"))


def test_missing_path_error_names_path_and_registry(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_BENCH_DATASETS", raising=False)
    missing = tmp_path / "nope"
    with pytest.raises(FerBenchError) as exc:
        open_dataset(str(missing))
    msg = str(exc.value)
    assert msg.startswith(f"dataset path {missing} not found")
    assert "datasets.toml" in msg and "\n" not in msg


def test_bad_format_option(tmp_path):
    img(tmp_path / "happy" / "a.png", 1)
    with pytest.raises(FerBenchError, match="unknown dataset format"):
        open_dataset(str(tmp_path), format="imagenet")
    with pytest.raises(FerBenchError, match="RAF-DB"):
        open_dataset(str(tmp_path), format="raf-db")
    assert open_dataset(str(tmp_path), format="Folder").format == "folder"


# ---------------------------------------------------------------------------------------------------- registry
def test_registry_toml(tmp_path, monkeypatch):
    data = tmp_path / "data" / "fer"
    img(data / "train" / "happy" / "a.png", 1)
    img(data / "test" / "sad" / "b.png", 2)
    reg = tmp_path / "datasets.toml"
    reg.write_text(
        '[datasets.myfer]\npath = "data/fer"\n\n'
        f'[datasets.forced]\npath = "{data}"\nformat = "folder"\n\n'
        '[datasets.gone]\npath = "/definitely/not/here"\n'
    )
    src = open_dataset("myfer", registry_file=reg)  # relative to the TOML file
    assert src.name == "myfer" and Path(src.root) == data.absolute()
    assert open_dataset("forced", registry_file=reg).format == "folder"
    with pytest.raises(FerBenchError, match="registered in .* does not exist"):
        open_dataset("gone", registry_file=reg)
    monkeypatch.setenv("FER_BENCH_DATASETS", str(reg))
    assert open_dataset("myfer").manifest_hash() == src.manifest_hash()
    assert set(load_registry()) == {"myfer", "forced", "gone"}
    with pytest.raises(FerBenchError, match=r"dataset path .*unknownname not found.*datasets\.toml"):
        open_dataset("unknownname")
    monkeypatch.setenv("FER_BENCH_DATASETS", str(tmp_path / "missing.toml"))
    with pytest.raises(FerBenchError, match="FER_BENCH_DATASETS"):
        open_dataset("myfer")
    bad = tmp_path / "bad.toml"
    bad.write_text("[datasets.x\n")
    with pytest.raises(FerBenchError, match="not valid TOML"):
        open_dataset("x", registry_file=bad)


def test_default_registry_location(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_BENCH_DATASETS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    img(tmp_path / "d" / "angry" / "a.png", 1)
    (tmp_path / ".config" / "fer-bench").mkdir(parents=True)
    (tmp_path / ".config" / "fer-bench" / "datasets.toml").write_text(f'[datasets]\nmine = "{tmp_path / "d"}"\n')
    assert open_dataset("mine").manifest.label.tolist() == ["angry"]


# ------------------------------------------------------------------------------------------------ manifest hash
def test_manifest_hash_stable_and_sensitive_to_relabel(tmp_path):
    write_folder_dataset(tmp_path)
    h1 = open_dataset(str(tmp_path)).manifest_hash()
    assert open_dataset(str(tmp_path)).manifest_hash() == h1
    h_train = open_dataset(str(tmp_path)).manifest_hash("train")
    # relabel one file (move it to another class folder; content and mtime unchanged)
    src_file = tmp_path / "train" / "Anger" / "train_0.png"
    shutil.move(src_file, tmp_path / "train" / "Happiness" / "train_0.png")
    moved = open_dataset(str(tmp_path))
    assert moved.manifest_hash() != h1
    assert moved.manifest_hash("train") != h_train
    assert moved.manifest_hash("test") == open_dataset(str(tmp_path)).manifest_hash("test")
    # touching a file changes the fingerprint, hence the hash
    f = tmp_path / "PrivateTest" / "sadness" / "PrivateTest_0.png"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert open_dataset(str(tmp_path)).manifest_hash() != moved.manifest_hash()


# ------------------------------------------------------------------------------------------------------- synth
def test_synth_spec_manifest_and_options():
    src = open_dataset("synth:wild?n=3&test=2&seed=1&size=32")
    assert src.format == "synth" and src.root == "synth:wild"
    assert src.splits() == ["train", "test"]
    assert len(src.subset("train")) == 21 and len(src.subset("test")) == 14
    assert "train/happy/00002" in set(src.manifest.item)
    assert src.manifest.fingerprint.str.match(r"synth-v\d+:32:1$").all()
    assert src.label_names == CANONICAL
    default = open_dataset("synth:lab")
    assert len(default.subset("train")) == 200 * 7 and len(default.subset("test")) == 60 * 7
    assert open_dataset("synth:lab?seed=2").manifest_hash() != default.manifest_hash()
    for bad, pat in (("synth:moon", "unknown synthetic domain"), ("synth:lab?bogus=1", "unknown option"),
                     ("synth:lab?n=x", "integer"), ("synth:lab?n=0", "n must be")):
        with pytest.raises(FerBenchError, match=pat):
            open_dataset(bad)


def test_synth_skew_gives_fer2013_imbalance_in_train_only():
    plain = open_dataset("synth:lab?n=120&test=40")
    assert open_dataset("synth:lab?n=120&test=40&skew=0").manifest_hash() == plain.manifest_hash()
    skewed = open_dataset("synth:lab?n=120&test=40&skew=1")
    counts = skewed.subset("train").label.value_counts().to_dict()
    # FER2013 train counts 3995/436/4097/7215/4830/3171/4965 scaled so happy (the largest) has 120
    assert counts == {"happy": 120, "neutral": 83, "sad": 80, "fear": 68, "angry": 66, "surprise": 53, "disgust": 7}
    assert set(skewed.subset("test").label.value_counts()) == {40}
    with pytest.raises(FerBenchError, match="skew must be"):
        open_dataset("synth:lab?skew=2")


def test_synth_read():
    pytest.importorskip("fer_bench.data.synth")
    src = open_dataset("synth:lab?n=2&test=1&size=32")
    item = src.manifest.item.iloc[0]
    a, b = src.read(item), src.read(item)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)


# -------------------------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_fer2013_counts(fer2013_dir):
    src = open_dataset(str(fer2013_dir))
    assert src.format == "folder" and src.label_names == CANONICAL
    assert len(src.subset("train")) == 28709
    assert len(src.subset("val")) == 3589
    counts = src.subset("train").label.value_counts().to_dict()
    assert counts == {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
                      "surprise": 3171}
    assert src.read(src.manifest.item.iloc[0]).shape == (48, 48, 3)
