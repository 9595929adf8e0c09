"""Participant-independent video splits: GroupKFold and the ranked round-robin split of Keinert et al. (2025)."""

import json

import numpy as np
import pytest

from fer_bench.errors import FerBenchError
from fer_bench.video.split import PAPER_PATTERN, Split, group_kfold_splits, ranked_round_robin_split


def samples(n_participants=13, per=4):
    """Per-sample participant ids p00.. with ``per`` videos each, interleaved so indices are not contiguous."""
    return [f"p{i % n_participants:02d}" for i in range(n_participants * per)]


def assert_disjoint(split, ids):
    ids = np.asarray(ids)
    parts = [set(ids[idx]) for idx in split.indices.values()]
    for i, a in enumerate(parts):
        for b in parts[i + 1:]:
            assert not a & b, f"participant in two parts: {a & b}"
    all_idx = np.concatenate(list(split.indices.values()))
    assert sorted(all_idx.tolist()) == list(range(len(ids)))
    for part, idx in split.indices.items():
        assert all(split.assignment[p] == part for p in ids[idx])


def test_round_robin_order_on_hand_made_scores():
    scores = {"a": 0.10, "b": 0.40, "c": 0.30, "d": 0.05, "e": 0.20, "f": 0.35, "g": 0.25}
    split = ranked_round_robin_split(list("abcdefg") * 2, scores)
    assert split.order == ["b", "f", "c", "g", "e", "a", "d"]
    assert split.assignment == {"b": "train", "f": "train", "c": "train", "g": "val", "e": "test",
                                "a": "train", "d": "train"}
    assert split.participants("val") == ["g"] and split.participants("test") == ["e"]
    assert split.indices["val"].tolist() == [6, 13]
    assert PAPER_PATTERN == ("train", "train", "train", "val", "test")


def test_round_robin_63_participants_gives_39_12_12():
    ids = samples(63, 2)
    scores = {f"p{i:02d}": (i * 37 % 63) / 63 for i in range(63)}
    split = ranked_round_robin_split(ids, scores)
    counts = {part: len(split.participants(part)) for part in ("train", "val", "test")}
    assert counts == {"train": 39, "val": 12, "test": 12}
    assert_disjoint(split, ids)


def test_round_robin_ties_deterministic():
    ids = samples(10, 3)
    scores = {f"p{i:02d}": 0.5 for i in range(10)}
    by_id = ranked_round_robin_split(ids, scores)
    assert by_id.order == sorted(scores)
    a = ranked_round_robin_split(ids, scores, seed=7)
    b = ranked_round_robin_split(ids, scores, seed=7)
    assert a.order == b.order and a.to_dict() == b.to_dict()
    assert_disjoint(a, ids)


def test_round_robin_errors():
    with pytest.raises(FerBenchError, match="no score for participant.*p01"):
        ranked_round_robin_split(["p00", "p01"], {"p00": 0.3})
    with pytest.raises(FerBenchError, match="NaN score"):
        ranked_round_robin_split(["p00"], {"p00": float("nan")})
    with pytest.raises(FerBenchError, match="pattern"):
        ranked_round_robin_split(["p00"], {"p00": 1.0}, pattern=("train", "dev"))


def test_split_json_round_trip(tmp_path):
    ids = [1, 2, 3, 4, 5, 1, 2]  # integer ids are compared as strings
    split = ranked_round_robin_split(ids, {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6, 5: 0.5}, seed=0)
    path = tmp_path / "split.json"
    split.to_json(path)
    back = Split.from_json(path)
    assert back.to_dict() == split.to_dict()
    assert json.loads(path.read_text())["assignment"] == {"1": "train", "2": "train", "3": "train", "4": "val",
                                                         "5": "test"}
    assert back.indices["train"].tolist() == [0, 1, 2, 5, 6]


def test_group_kfold_disjoint_and_deterministic():
    ids = samples(13, 4)
    folds = group_kfold_splits(ids, n_splits=5, seed=3)
    assert len(folds) == 5
    tested = []
    for f in folds:
        assert_disjoint(f, ids)
        tested += f.participants("test")
    assert sorted(tested) == sorted(set(ids))  # every participant tested exactly once
    again = group_kfold_splits(ids, n_splits=5, seed=3)
    assert [f.to_dict() for f in folds] == [f.to_dict() for f in again]
    plain = group_kfold_splits(ids, n_splits=5, seed=None)
    assert [f.to_dict() for f in plain] == [f.to_dict() for f in group_kfold_splits(ids, n_splits=5, seed=None)]
    with pytest.raises(FerBenchError, match="n_splits=20"):
        group_kfold_splits(ids, n_splits=20)
