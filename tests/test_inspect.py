"""`inspect_dataset` and `fer-bench datasets inspect`: counts, sizes/modes, duplicates and leakage, unreadable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from fer_bench.cli.datasets_cmd import register
from fer_bench.data.adapters import open_dataset
from fer_bench.data.inspect import inspect_dataset


def noise(path: Path, seed: int, size=(16, 16), mode="RGB", fmt=None) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode).save(path, format=fmt)
    return path


@pytest.fixture
def dataset(tmp_path) -> Path:
    root = tmp_path / "ds"
    for i in range(3):
        noise(root / "train" / "happy" / f"h{i}.png", 100 + i)
        noise(root / "train" / "sad" / f"s{i}.png", 200 + i, mode="L")
        noise(root / "test" / "happy" / f"h{i}.png", 300 + i, size=(24, 20))
    noise(root / "test" / "sad" / "s0.jpg", 400, fmt="JPEG")
    # leakage: a training image copied into the test split (same label)
    shutil.copy(root / "train" / "happy" / "h0.png", root / "test" / "happy" / "leak.png")
    # label conflict within train: the same bytes filed as happy and sad
    shutil.copy(root / "train" / "happy" / "h1.png", root / "train" / "sad" / "conflict.png")
    # a truncated JPEG and a PNG with garbage bytes
    good = noise(tmp_path / "full.jpg", 500, size=(64, 64), fmt="JPEG").read_bytes()
    (root / "test" / "sad" / "trunc.jpg").write_bytes(good[: len(good) // 2])
    (root / "train" / "sad" / "garbage.png").write_bytes(b"not a png at all")
    noise(root / "train" / "happy" / "rgba.png", 600, mode="RGBA")
    return root


def test_inspect_counts_sizes_modes(dataset):
    src = open_dataset(str(dataset))
    rep = inspect_dataset(src)
    assert rep["counts"]["train"]["happy"] == 4 and rep["counts"]["train"]["sad"] == 5
    assert rep["counts"]["test"]["happy"] == 4 and rep["counts"]["test"]["sad"] == 2
    assert rep["counts"]["train"]["angry"] == 0
    assert rep["n_images"] == rep["examined"] == 15
    assert rep["class_totals"]["happy"] == 8
    top = {(s["width"], s["height"]): s["count"] for s in rep["sizes"]["top"]}
    assert top[(16, 16)] == 10 and top[(24, 20)] == 3  # incl. the copies, s0.jpg and rgba.png
    assert rep["modes"] == {"RGB": 10, "L": 3, "RGBA": 1}  # the truncated JPEG has a header, garbage.png not
    assert rep["manifest_hash"] == src.manifest_hash()
    json.dumps(rep)  # serialisable


def test_inspect_duplicates_and_leakage(dataset):
    rep = inspect_dataset(open_dataset(str(dataset)))
    d = rep["duplicates"]
    assert d["n_groups"] == 2 and d["n_items"] == 4 and d["n_redundant"] == 2
    leak = next(g for g in d["groups"] if g["cross_split"])
    assert sorted(leak["items"]) == ["test/happy/leak.png", "train/happy/h0.png"]
    assert sorted(leak["splits"]) == ["test", "train"] and not leak["label_conflict"]
    conflict = next(g for g in d["groups"] if g["label_conflict"])
    assert sorted(conflict["labels"]) == ["happy", "sad"] and not conflict["cross_split"]
    assert d["n_cross_split"] == 1 and d["n_label_conflict"] == 1
    assert d["leakage"] == {"train/test": 1}
    assert d["groups"][0]["cross_split"]  # leakage listed first
    off = inspect_dataset(open_dataset(str(dataset)), hash_contents=False)["duplicates"]
    assert not off["checked"] and off["n_groups"] == 0


def test_inspect_unreadable(dataset):
    rep = inspect_dataset(open_dataset(str(dataset)))
    bad = {u["item"]: u["error"] for u in rep["unreadable"]}
    assert set(bad) == {"test/sad/trunc.jpg", "train/sad/garbage.png"}
    assert "trunc.jpg" in bad["test/sad/trunc.jpg"]


def test_inspect_max_images_spreads_over_splits(dataset):
    rep = inspect_dataset(open_dataset(str(dataset)), max_images=4)
    assert rep["examined"] == 4 and rep["n_images"] == 15
    assert rep["counts"]["train"]["sad"] == 5  # counts always cover the whole manifest


def test_inspect_csv_pixel_duplicates(tmp_path):
    a, b = " ".join(["10"] * 2304), " ".join(["200"] * 2304)
    lines = ["emotion,pixels,Usage", f"3,{a},Training", f"3,{a},PrivateTest", f"4,{b},Training",
             f"6,{b},Training"]
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    rep = inspect_dataset(open_dataset(str(tmp_path / "fer2013.csv")))
    d = rep["duplicates"]
    assert d["n_groups"] == 2 and d["n_cross_split"] == 1 and d["n_label_conflict"] == 1
    assert d["leakage"] == {"train/test": 1}
    assert rep["modes"] == {"L": 4}
    assert rep["sizes"]["top"] == [{"width": 48, "height": 48, "count": 4}]
    assert rep["unreadable"] == []


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """fer-bench (test)."""

    register(app)
    return app


def test_cli_inspect_json_and_table(dataset):
    runner = CliRunner()
    res = runner.invoke(_app(), ["datasets", "inspect", str(dataset), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["duplicates"]["n_cross_split"] == 1 and len(rep["unreadable"]) == 2
    res = runner.invoke(_app(), ["datasets", "inspect", str(dataset), "--format", "folder"])
    assert res.exit_code == 0, res.output
    for text in ("happy", "duplicates", "leakage", "unreadable images (2)", "trunc.jpg", "16 x 16"):
        assert text in res.stdout


def test_cli_inspect_missing_path_is_a_user_error(tmp_path):
    from fer_bench.errors import FerBenchError

    res = CliRunner().invoke(_app(), ["datasets", "inspect", str(tmp_path / "missing")])
    assert isinstance(res.exception, FerBenchError) and "not found" in str(res.exception)


def test_cli_synth_writes_a_folder_dataset(tmp_path):
    pytest.importorskip("fer_bench.data.synth")
    pytest.importorskip("matplotlib")
    out = tmp_path / "synth"
    res = CliRunner().invoke(_app(), ["datasets", "synth", "--domain", "lab", "--out", str(out),
                                      "--n-per-class", "2", "--size", "32", "--test-per-class", "1"])
    assert res.exit_code == 0, res.output
    assert "sample_grid.png" in res.stdout
    src = open_dataset(str(out))
    assert len(src.subset("train")) == 14 and len(src.subset("test")) == 7
