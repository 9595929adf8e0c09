"""atomic_write / atomic_path: the target is either the old file or the new one, never a partial write."""

from __future__ import annotations

import pytest

from fer_bench.fsutil import atomic_path, atomic_write


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "a.json"
    dest.write_text("old")
    atomic_write(dest, "new")
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert dest.read_text() == "new" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]


def test_failed_write_keeps_the_old_file(tmp_path):
    dest = tmp_path / "model.keras"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest, ".keras") as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
