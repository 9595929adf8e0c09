"""Every command that reads user images on a corpus of bad and unusual files, and on several hundred fuzzed ones.

Commands: ``datasets inspect`` (library and console script), the decode-once cache (``decode_split``, used by
``run`` and ``evaluate``), ``evaluate`` (console script, a tiny Keras model) and ``build-btfer`` (library with
a stand-in detector, console script with the Haar cascade). The corpus (``tests/broken_corpus.py``) says what
must become of each file; the fuzz corpus is checked for invariants: no traceback, every file decoded or
skipped with a kind and a one-line reason, counts that add up, and all commands agreeing on which files are bad.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import broken_corpus as bc

from fer_bench.btfer import BuildConfig, build_btfer, output_name
from fer_bench.btfer import detect as detect_mod
from fer_bench.data import cache as cache_mod
from fer_bench.data.adapters import open_dataset
from fer_bench.data.cache import decode_split, verify_entry
from fer_bench.data.inspect import inspect_dataset
from fer_bench.data.source import DataSource, make_manifest
from fer_bench.errors import FerBenchError
from fer_bench.imageio import BAD_KINDS, display_name, read_image
from fer_bench.labels import CANONICAL, CANONICAL_WITH_CONTEMPT

FER_BENCH = shutil.which("fer-bench")
needs_script = pytest.mark.skipif(FER_BENCH is None, reason="the fer-bench console script is not installed")


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "FER_BENCH_CACHE": str(tmp),
            "COLUMNS": "200"}


def _run(args: list[str], tmp: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    p = subprocess.run([FER_BENCH, *args], capture_output=True, text=True, errors="replace", env=_env(tmp),
                       timeout=timeout, check=False)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr[-3000:]
    return p


def _one_line(msg: str) -> None:
    assert "\n" not in msg and " at 0x" not in msg and "BytesIO" not in msg, msg
    msg.encode("utf-8")  # printable: no lone surrogates


def _fake_detector(_name):
    """Stands in for MTCNN: one confident face in the middle of every image (keeps the build fast)."""

    def detect(rgb):
        h, w = rgb.shape[:2]
        return [{"box": [w * 0.2, h * 0.2, w * 0.6, h * 0.6], "confidence": 0.99, "keypoints": {}}]

    return detect


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    c = bc.make_corpus(tmp_path_factory.mktemp("broken") / "ds")
    yield c
    bc.restore_permissions(c.root)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    return bc.make_fuzz_corpus(tmp_path_factory.mktemp("fuzz") / "ds", seed=11)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    keras = pytest.importorskip("keras")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(7, activation="softmax")])
    model.save(path)
    return path


# ------------------------------------------------------------------------------------------ the reader


def test_reader_outcome_of_every_corpus_file(corpus):
    for e in corpus.items():
        try:
            arr = read_image(corpus.root / e.item)
        except FerBenchError as exc:
            assert getattr(exc, "kind", None) == e.outcome, (e.item, e.why, str(exc))
            _one_line(str(exc))
            assert display_name(e.item.rsplit("/", 1)[-1]) in str(exc)  # names the file
            continue
        assert e.outcome == bc.DECODED, (e.item, e.why)
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
        assert arr.shape[:2] == e.shape, (e.item, e.why)  # EXIF rotation applied (exif_rot.jpg: 40 x 20)


def test_limits_are_configurable(corpus, monkeypatch):
    monkeypatch.setenv("FER_BENCH_MIN_SIDE", "1")
    assert read_image(corpus.root / "train/happy/one_px.png").shape == (1, 1, 3)
    monkeypatch.setenv("FER_BENCH_MAX_PIXELS", "1000")  # 36 x 36 = 1296 px
    with pytest.raises(FerBenchError) as info:
        read_image(corpus.root / "train/happy/g1.png")
    assert info.value.kind == "too_large" and "36x36 px" in str(info.value)
    monkeypatch.setenv("FER_BENCH_MAX_PIXELS", "0.001M")
    with pytest.raises(FerBenchError, match="36x36 px"):
        read_image(corpus.root / "train/happy/g1.png")
    monkeypatch.setenv("FER_BENCH_MAX_PIXELS", "lots")
    with pytest.raises(FerBenchError, match="FER_BENCH_MAX_PIXELS") as info:
        read_image(corpus.root / "train/happy/g1.png")
    assert not hasattr(info.value, "kind")  # a setting error stops the command, it is not a skipped image
    with pytest.raises(FerBenchError, match="FER_BENCH_MAX_PIXELS"):  # ... also in the cache builder
        decode_split(open_dataset(str(corpus.root)), "test", 8, root=corpus.root.parent / "cache_env")


# ------------------------------------------------------------------------------------------ datasets inspect


def test_listing_counts_each_file_once_and_labels_it_right(corpus):
    src = open_dataset(str(corpus.root))
    m = src.manifest
    assert len(m) == len(set(m["item"])) == len(corpus.expected)
    assert set(m["item"]) == set(corpus.expected)  # symlinks not double counted, dangling links not dropped
    for item in corpus.not_listed:
        assert item not in set(m["item"])
    for item, label, split in zip(m["item"], m["label"], m["split"], strict=True):
        assert (label, split) == (corpus.expected[item].label, corpus.expected[item].split)
    notes = " | ".join(src.notes)
    assert "counted once" in notes and "under the target's" in notes and "not scanned twice" in notes
    assert src.manifest_hash() == open_dataset(str(corpus.root)).manifest_hash()  # non-UTF-8 names hash


def test_inspect_library_reports_every_bad_file(corpus):
    rep = inspect_dataset(open_dataset(str(corpus.root)))
    got = {u["item"]: u["kind"] for u in rep["unreadable"]}
    assert got == {display_name(e.item): e.outcome for e in corpus.skipped()}
    assert rep["examined"] == len(corpus.expected) == rep["decoded"] + len(rep["unreadable"])
    assert rep["decoded"] == len(corpus.decoded())
    assert rep["skipped"] == {k: n for k, n in corpus.kind_counts().items()}
    assert set(rep["skipped"]) <= set(BAD_KINDS)
    for u in rep["unreadable"]:
        _one_line(u["error"])
    json.dumps(rep, ensure_ascii=False).encode("utf-8")  # no lone surrogates anywhere in the report


def test_inspect_permission_denied_is_a_skip(corpus, monkeypatch, tmp_path):
    """chmod 000 does not stop root: simulate EACCES on open() for noperm.png (real when not root)."""
    real_open = os.open

    def fake_open(path, flags, *args, **kw):
        if os.fspath(path).endswith("noperm.png"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", fake_open)
    src = open_dataset(str(corpus.root))
    rep = inspect_dataset(src)
    bad = {u["item"]: u for u in rep["unreadable"]}
    assert bad["train/happy/noperm.png"]["kind"] == "unreadable"
    assert "Permission denied" in bad["train/happy/noperm.png"]["error"]
    c = decode_split(src, "train", 8, root=tmp_path)
    assert {u["item"]: u["kind"] for u in c.meta["unreadable"]}["train/happy/noperm.png"] == "unreadable"


@needs_script
def test_inspect_console_script(corpus, tmp_path):
    p = _run(["datasets", "inspect", str(corpus.root), "--json"], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    rep = json.loads(p.stdout)
    assert len(rep["unreadable"]) == len(corpus.skipped()) and rep["decoded"] == len(corpus.decoded())
    p = _run(["datasets", "inspect", str(corpus.root)], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"unreadable images ({len(corpus.skipped())})" in p.stdout
    for text in ("too_large", "too_small", "12000x12000", "caf\\xe9_trunc.jpg", "m[/x]/cut.jpg"):
        assert text in p.stdout, text


def test_unknown_class_folders_are_all_named(tmp_path):
    root = bc.make_unknown_class_dataset(tmp_path / "ds")
    with pytest.raises(FerBenchError) as info:
        open_dataset(str(root))
    msg = str(info.value)
    _one_line(msg)
    for name in ("train/happpy", "train/lunch", "test/lunch", "test/\\xff\\xfeclass", "found class folders: happy",
                 "angry, disgust, fear, happy, neutral, sad, surprise, contempt", "prefix them with _"):
        assert name in msg, name
    # a folder with no known class or split folder at all: the detection error names what it found
    only = tmp_path / "only"
    for n in ("lunch", "dinner"):
        (only / n).mkdir(parents=True)
        (only / n / "a.png").write_bytes(bc.encode(bc.noise(1, 16, 16), "PNG"))
    with pytest.raises(FerBenchError, match=r"its folders dinner/, lunch/ are neither expression names"):
        open_dataset(str(only))
    with pytest.raises(FerBenchError, match=r"its folders dinner/, lunch/"):
        open_dataset(str(only), format="folder")
    if FER_BENCH:
        p = _run(["datasets", "inspect", str(root)], tmp_path)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: unknown class folders")
        assert "\\xff\\xfeclass" in lines[0]


# ------------------------------------------------------------------------------------------ the decode cache


def test_cache_builder_skips_and_counts(corpus, tmp_path):
    src = open_dataset(str(corpus.root))
    for split in ("train", "test"):
        c = decode_split(src, split, 16, root=tmp_path)
        bad = {u["item"]: u["kind"] for u in c.meta["unreadable"]}
        assert bad == {display_name(e.item): e.outcome for e in corpus.skipped(split)}
        assert len(c) == c.meta["n"] == len(corpus.decoded(split))
        assert c.meta["n"] + len(bad) == c.meta["n_manifest"] == len(corpus.items(split))
        assert c.meta["skipped"] == corpus.kind_counts(split)
        # no silent mislabel: every decoded row carries its file's class
        want = {display_name(e.item): e.label for e in corpus.decoded(split)}
        got = {it: CANONICAL_WITH_CONTEMPT[lab] for it, lab in zip(c.items, c.labels, strict=True)}
        assert got == want
        for u in c.meta["unreadable"]:
            _one_line(u["reason"])
        json.dumps(c.meta, ensure_ascii=False).encode("utf-8")
        assert verify_entry(c.path) is None


def _tiny_source(n_per_class: int = 15):
    rows = [(f"train/{c}/{i}", c, "train", "v1") for c in CANONICAL for i in range(n_per_class)]
    calls = Counter()

    def read(item):
        calls["n"] += 1
        _, c, i = item.split("/")
        rng = np.random.default_rng(CANONICAL.index(c) * 1000 + int(i))
        return rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)

    return DataSource("tiny", "test", "/tiny", make_manifest(rows), read, CANONICAL), calls


def _flip(path: Path, offset: int, keep_mtime: bool = False) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_cache_damaged_entry_is_detected_and_rebuilt(tmp_path, monkeypatch):
    src, calls = _tiny_source()
    c = decode_split(src, "train", 16, root=tmp_path)
    n, entry, pixels = calls["n"], c.path, np.array(c.images)
    assert decode_split(src, "train", 16, root=tmp_path) and calls["n"] == n  # intact: served from disk
    header = (entry / "images.npy").stat().st_size - pixels.nbytes  # the .npy header

    damage = {
        "truncated": lambda: os.truncate(entry / "images.npy", (entry / "images.npy").stat().st_size - 500),
        "bit flip": lambda: _flip(entry / "images.npy", header + 16 * 16 * 3 * 7 + 5),
        "meta": lambda: (entry / "meta.json").write_text("{not json"),
        "items": lambda: (entry / "items.json").write_text(json.dumps(["x"] * len(c))),
        "labels": lambda: (entry / "labels.npy").unlink(),
        "half entry": lambda: [f.unlink() for f in entry.iterdir() if f.name != "images.npy"],
    }
    for what, hurt in damage.items():
        hurt()
        assert verify_entry(entry) is not None, what
        c2 = decode_split(src, "train", 16, root=tmp_path)
        assert calls["n"] > n, what  # decoded again
        n = calls["n"]
        assert c2.path == entry and "rebuilt" in c2.meta and np.array_equal(np.array(c2.images), pixels), what
        assert verify_entry(entry) is None
    # corruption that keeps size and mtime in a row the quick check does not sample: found by a full check
    sample = set(np.unique(np.linspace(0, len(c) - 1, cache_mod.VERIFY_SAMPLE_ROWS).astype(int)).tolist())
    row = next(i for i in range(len(c)) if i not in sample)
    _flip(entry / "images.npy", header + row * 16 * 16 * 3 + 3, keep_mtime=True)
    assert verify_entry(entry) is None and "does not match its recorded digest" in verify_entry(entry, full=True)
    monkeypatch.setenv("FER_BENCH_CACHE_VERIFY", "full")
    c3 = decode_split(src, "train", 16, root=tmp_path)
    assert calls["n"] > n and "recorded digest" in c3.meta["rebuilt"]
    assert np.array_equal(np.array(c3.images), pixels)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp or damaged folders left


def test_cache_full_disk_leaves_no_entry(tmp_path, monkeypatch):
    src, _ = _tiny_source(3)

    def no_space(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(FerBenchError, match="No space left on device") as info:
        decode_split(src, "train", 16, root=tmp_path)
    _one_line(str(info.value))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setattr(cache_mod, "_write_npy", no_space)  # the disk fills up later, while writing labels
    with pytest.raises(FerBenchError, match="free disk space"):
        decode_split(src, "train", 16, root=tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # a crash mid-write leaves only a temp folder: ignored, and the next decode writes the entry
    (tmp_path / ".abc.tmp-999999").mkdir()
    (tmp_path / ".abc.tmp-999999" / "images.npy").write_bytes(b"\x93NUMPY partial")
    c = decode_split(src, "train", 16, root=tmp_path)
    assert len(c) == 21 and verify_entry(c.path) is None


# ------------------------------------------------------------------------------------------ evaluate


@needs_script
def test_evaluate_console_script_on_the_corpus(corpus, tiny_model, tmp_path):
    out = tmp_path / "metrics.json"  # the table on stdout and the JSON in a file, from one (TensorFlow) process
    p = _run(["evaluate", str(tiny_model), "--data", str(corpus.root), "--out", str(out)], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads(out.read_text())
    assert m["split"] == "test"
    assert m["n"] == len(corpus.decoded("test")) and m["unreadable"] == len(corpus.skipped("test"))
    if "skipped" in m:  # kinds as the cache counts them (evaluate_cmd adds labels outside the model's classes)
        assert {k: v for k, v in m["skipped"].items() if k in BAD_KINDS} == corpus.kind_counts("test")
    assert "skipped" in p.stdout and str(len(corpus.skipped("test"))) in p.stdout  # the printed table shows it


# ------------------------------------------------------------------------------------------ build-btfer


def test_build_btfer_library_on_the_corpus(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(detect_mod, "make_detector", _fake_detector)
    src = corpus.root / "train"
    skipped = [e for e in corpus.skipped("train")]
    weird = "happy/\udcff\udcfe.jpg"
    (tmp_path / "exclude.txt").write_text(display_name(weird) + "\n")  # as manifest.csv shows it
    res = build_btfer(src, tmp_path / "out", BuildConfig(per_class=50, size=32, workers=1, allow_short=True,
                                                         min_face=0, exclude=tmp_path / "exclude.txt"))
    rep = res.report
    assert rep["totals"]["found"] == len(corpus.items("train"))
    assert rep["totals"]["readable"] == len(corpus.decoded("train"))
    unreadable = {r["source"] for r in rep["rejected"] if r["reason"] == "unreadable"}
    assert unreadable == {display_name(e.item.removeprefix("train/")) for e in skipped}
    assert rep["exclusions"]["matched"] == 1 and output_name("happy", weird).startswith("happy/happy_")
    with open(tmp_path / "out" / "manifest.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["file"].endswith(".jpg") for r in rows)
    (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert any("counted once" in n for n in rep["source"]["notes"])


@needs_script
def test_build_btfer_console_script_on_the_corpus(corpus, tmp_path):
    out = tmp_path / "out"
    p = _run(["build-btfer", str(corpus.root / "test"), "--out", str(out), "--detector", "haar", "--per-class", "1",
              "--allow-short", "--workers", "1", "--min-face", "0"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"{len(corpus.skipped('test'))} unreadable photo(s) skipped" in p.stdout
    rep = json.loads((out / "report.json").read_text())
    assert rep["totals"]["found"] == len(corpus.items("test"))
    assert rep["totals"]["readable"] == len(corpus.decoded("test"))


# ------------------------------------------------------------------------------------------ fuzzing

FUZZ_BAD: dict[str, str] = {}  # item -> kind, as inspect reports it (shared by the fuzz tests below)


def _fuzz_inspect(fuzz) -> dict[str, str]:
    if not FUZZ_BAD:
        src = open_dataset(str(fuzz.root))
        assert set(src.manifest["item"]) == set(fuzz.files) | set(fuzz.good)
        rep = inspect_dataset(src)
        assert rep["examined"] == len(fuzz.files) + len(fuzz.good) == rep["decoded"] + len(rep["unreadable"])
        for u in rep["unreadable"]:
            assert u["kind"] in BAD_KINDS
            _one_line(u["error"])
            assert u["item"].rsplit("/", 1)[-1] in u["error"]  # the message names the file
        FUZZ_BAD.update({u["item"]: u["kind"] for u in rep["unreadable"]})
        assert not set(FUZZ_BAD) & set(fuzz.good)
    return FUZZ_BAD


def test_fuzz_inspect_and_cache_agree(fuzz, tmp_path):
    assert len(fuzz.files) >= 300
    bad = _fuzz_inspect(fuzz)
    src = open_dataset(str(fuzz.root))
    for split in ("train", "test"):
        c = decode_split(src, split, 16, root=tmp_path, workers=2)
        cache_bad = {u["item"]: u["kind"] for u in c.meta["unreadable"]}
        assert cache_bad == {i: k for i, k in bad.items() if i.startswith(split + "/")}
        assert c.meta["n"] + len(cache_bad) == c.meta["n_manifest"] == len(fuzz.items(split)) + 4
        assert set(c.items) == {i for i in src.subset(split)["item"]} - set(cache_bad)
    # what the fuzzing found, by mutation (printed with pytest -s; the README's figures come from here)
    table = Counter((fuzz.files[i][2], bad.get(i, "decoded")) for i in fuzz.files)
    print("\nfuzz outcomes (mutation, outcome): n")
    for (mutation, outcome), n in sorted(table.items()):
        print(f"  {mutation:10s} {outcome:12s} {n}")


@needs_script
def test_fuzz_inspect_console_script(fuzz, tmp_path):
    bad = _fuzz_inspect(fuzz)
    p = _run(["datasets", "inspect", str(fuzz.root), "--json", "--no-hash"], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert {u["item"]: u["kind"] for u in json.loads(p.stdout)["unreadable"]} == bad


@needs_script
def test_fuzz_evaluate_console_script(fuzz, tiny_model, tmp_path):
    bad = _fuzz_inspect(fuzz)
    n_test = len(fuzz.items("test"))
    assert n_test >= 100
    p = _run(["evaluate", str(tiny_model), "--data", str(fuzz.root), "--json"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads(p.stdout[p.stdout.index("{"):])
    n_bad = sum(1 for i in bad if i.startswith("test/"))
    assert m["unreadable"] == n_bad and m["n"] + m["unreadable"] == n_test + 4


def test_fuzz_build_btfer(fuzz, tmp_path, monkeypatch):
    bad = _fuzz_inspect(fuzz)
    monkeypatch.setattr(detect_mod, "make_detector", _fake_detector)
    res = build_btfer(fuzz.root / "test", tmp_path / "out",
                      BuildConfig(per_class=500, size=32, workers=1, allow_short=True, min_face=0))
    rep = res.report
    assert rep["totals"]["found"] == len(fuzz.items("test")) + 4 >= 100
    unreadable = {r["source"] for r in rep["rejected"] if r["reason"] == "unreadable"}
    assert unreadable == {i.removeprefix("test/") for i in bad if i.startswith("test/")}
    for r in rep["rejected"]:
        _one_line(r["detail"])
