"""Decode-once cache and tf.data pipeline on a tiny in-memory source with a corrupt image."""

import numpy as np
import pytest

from fer_bench.data.cache import decode_split
from fer_bench.data.pipeline import make_dataset, paper_augmentation, stratified_split
from fer_bench.data.source import DataSource, make_manifest
from fer_bench.errors import ImageReadError
from fer_bench.labels import CANONICAL


def _source(gray=False, bad=("train/fear/3",)):
    rows = [(f"train/{c}/{i}", c, "train", "v1") for c in CANONICAL for i in range(6)]
    calls = {"n": 0}

    def read(item):
        calls["n"] += 1
        if item in bad:
            raise ImageReadError(f"cannot decode image {item}: truncated")
        _, c, i = item.split("/")
        k = CANONICAL.index(c)
        img = np.zeros((20, 30, 3), np.uint8)
        img[..., 0] = k * 10 + int(i)
        img[..., 1] = img[..., 0] if gray else 200
        img[..., 2] = img[..., 0] if gray else 100
        return img

    return DataSource("tiny", "test", "/tiny", make_manifest(rows), read, CANONICAL), calls


def test_cache_skips_and_records_corrupt_images(tmp_path):
    src, calls = _source()
    c = decode_split(src, "train", 16, root=tmp_path)
    assert len(c) == 41 and c.images.shape == (41, 16, 16, 3) and c.images.dtype == np.uint8
    assert c.meta["unreadable"][0]["item"] == "train/fear/3"
    assert "train/fear/3" not in c.items
    # labels follow items exactly
    for item, lab in zip(c.items, c.labels, strict=True):
        assert CANONICAL[lab] == item.split("/")[1]
    # second call is served from disk without reading a single image
    n = calls["n"]
    c2 = decode_split(src, "train", 16, root=tmp_path)
    assert calls["n"] == n and c2.path == c.path
    assert np.array_equal(np.asarray(c2.images), np.asarray(c.images))


def test_auto_colour_stores_grey_as_one_channel(tmp_path):
    src, _ = _source(gray=True, bad=())
    c = decode_split(src, "train", 12, root=tmp_path)
    assert c.images.shape[-1] == 1 and c.meta["color"] == "gray"
    x, y = next(iter(make_dataset(c, batch_size=5)))
    assert x.shape == (5, 12, 12, 3) and x.dtype.name == "float32"
    assert np.allclose(x[..., 0], x[..., 2])


def test_eval_dataset_keeps_order_and_weights(tmp_path):
    src, _ = _source(bad=())
    c = decode_split(src, "train", 8, root=tmp_path)
    idx = np.array([40, 3, 17, 5])
    x, y, w = next(iter(make_dataset(c, idx, batch_size=4, class_weights={6: 2.5})))
    assert np.argmax(y, axis=1).tolist() == c.labels[idx].tolist()
    assert np.allclose(x[:, 0, 0, 0], np.asarray(c.images)[idx, 0, 0, 0])
    assert w.numpy().tolist() == [2.5 if c.labels[i] == 6 else 1.0 for i in idx]


def test_training_dataset_shuffles_and_augments(tmp_path):
    src, _ = _source(bad=())
    c = decode_split(src, "train", 24, root=tmp_path)
    ds = make_dataset(c, batch_size=42, shuffle=True, augment=paper_augmentation(seed=1), seed=0)
    x1, y1 = next(iter(ds))
    assert x1.shape == (42, 24, 24, 3)
    assert sorted(np.argmax(y1, 1).tolist()) == sorted(c.labels.tolist())   # one epoch = every image once
    assert np.argmax(y1, 1).tolist() != c.labels.tolist()                   # but shuffled


@pytest.mark.parametrize("fraction", [0.1, 0.25])
def test_stratified_split_is_seeded_and_stratified(fraction):
    labels = np.repeat(np.arange(7), [50, 5, 40, 80, 60, 55, 30])
    tr, va = stratified_split(labels, fraction, seed=3)
    tr2, va2 = stratified_split(labels, fraction, seed=3)
    assert np.array_equal(va, va2) and not set(tr) & set(va) and len(tr) + len(va) == len(labels)
    for c, n in enumerate([50, 5, 40, 80, 60, 55, 30]):
        assert (labels[va] == c).sum() == max(1, round(fraction * n))
    assert not np.array_equal(stratified_split(labels, fraction, seed=4)[1], va)


def test_leakage_counts_identical_test_images(tmp_path):
    from fer_bench.protocol.run import leakage

    src, _ = _source(bad=())
    c = decode_split(src, "train", 8, root=tmp_path)
    # items "train/<c>/<i>" differ per (class, i) -> all digests distinct; reuse rows as a fake test split
    assert len(set(c.digests.tolist())) == len(c)
    assert leakage(c, np.arange(0, 20), c, np.arange(10, 30)) == 10
    assert leakage(c, np.arange(0, 10), c, np.arange(10, 30)) == 0


def test_page_shedder_releases_a_memmap_without_changing_its_data(tmp_path):
    """madvise(MADV_DONTNEED) on the read-only cache map keeps RSS bounded; reads after it see the same bytes."""
    from fer_bench.data.pipeline import _PageShedder

    arr = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8, shape=(64, 8, 8, 1))
    arr[:] = np.arange(64 * 64, dtype=np.uint32).reshape(64, 8, 8, 1) % 251
    arr.flush()
    ro = np.load(tmp_path / "x.npy", mmap_mode="r")
    before = np.array(ro)
    shed = _PageShedder(ro, every=2, min_bytes=0)
    assert shed.mm is not None
    for _ in range(6):
        shed.tick()
        np.testing.assert_array_equal(np.array(ro), before)
    assert _PageShedder(ro, every=2).mm is None  # small caches are left alone (default threshold 256 MB)
