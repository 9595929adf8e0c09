"""Participant-independent splits for the video track.

Two builders, both keeping every participant in exactly one part:

* :func:`group_kfold_splits`: scikit-learn ``GroupKFold`` with participants as groups (train/test per fold).
* :func:`ranked_round_robin_split`: the split of Keinert et al. (2025, JMIR; Methods, "Development of the
  Automatic FER Model", "Data Splitting"), after Mallol-Ragolta et al.: participants are sorted by their
  leave-one-subject-out SVM UAR, descending, and dealt round-robin 3 train, 1 validation, 1 test. The
  per-participant scores are an input here (the SVM that computes them lives elsewhere), so the split itself is
  a pure, deterministic function.

Participant ids are compared as strings (``str(id)``), so the result round-trips through JSON unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from ..errors import FerBenchError

PARTS: tuple[str, ...] = ("train", "val", "test")
#: The paper's round-robin pattern over the ranked participants.
PAPER_PATTERN: tuple[str, ...] = ("train", "train", "train", "val", "test")


@dataclass(frozen=True)
class Split:
    """A participant -> part assignment plus, per part, the sorted sample indices it covers."""

    method: str
    assignment: dict[str, str]
    indices: dict[str, np.ndarray]
    seed: int | None = None
    order: list[str] = field(default_factory=list)  # ranked participant order (round robin) if any
    scores: dict[str, float] = field(default_factory=dict)

    def participants(self, part: str) -> list[str]:
        return sorted(p for p, q in self.assignment.items() if q == part)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "seed": self.seed,
            "assignment": dict(sorted(self.assignment.items())),
            "order": list(self.order),
            "scores": dict(self.scores),
            "indices": {k: [int(i) for i in v] for k, v in self.indices.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> Split:
        return cls(
            method=d["method"],
            assignment=dict(d["assignment"]),
            indices={k: np.asarray(v, dtype=np.int64) for k, v in d["indices"].items()},
            seed=d.get("seed"),
            order=list(d.get("order", [])),
            scores={k: float(v) for k, v in d.get("scores", {}).items()},
        )

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> Split:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _as_ids(participants: Sequence) -> np.ndarray:
    ids = np.asarray([str(p) for p in participants], dtype=object)
    if ids.size == 0:
        raise FerBenchError("no samples to split; pass one participant id per sample")
    return ids


def _indices(ids: np.ndarray, assignment: Mapping[str, str], parts: Sequence[str]) -> dict[str, np.ndarray]:
    where = np.asarray([assignment[p] for p in ids], dtype=object)
    return {part: np.flatnonzero(where == part).astype(np.int64) for part in parts}


def group_kfold_splits(participants: Sequence, n_splits: int = 5, *, seed: int | None = 0) -> list[Split]:
    """``n_splits`` train/test splits with participants as ``GroupKFold`` groups (one per sample).

    With ``seed`` set, groups are shuffled (``GroupKFold(shuffle=True, random_state=seed)``); with ``None``
    scikit-learn's deterministic size-balancing assignment is used.
    """
    ids = _as_ids(participants)
    n_groups = len(set(ids))
    if not 2 <= n_splits <= n_groups:
        raise FerBenchError(f"n_splits={n_splits} needs 2..{n_groups} (the number of participants); lower it")
    gkf = GroupKFold(n_splits=n_splits, shuffle=seed is not None, random_state=seed)
    out = []
    for _, test_idx in gkf.split(np.zeros(len(ids)), groups=ids):
        test_ids = set(ids[test_idx])
        assignment = {p: "test" if p in test_ids else "train" for p in sorted(set(ids))}
        out.append(Split("group_kfold", assignment, _indices(ids, assignment, ("train", "test")), seed=seed))
    return out


def ranked_round_robin_split(
    participants: Sequence,
    scores: Mapping,
    *,
    pattern: Sequence[str] = PAPER_PATTERN,
    seed: int | None = None,
) -> Split:
    """The paper's split: rank participants by ``scores`` (descending), deal them round-robin by ``pattern``.

    ``participants`` has one id per sample; ``scores`` maps each participant to its leave-one-subject-out UAR
    (extra entries are ignored). Ties are broken by participant id when ``seed`` is None, otherwise by a
    permutation drawn from ``numpy.random.default_rng(seed)``; either way the result is deterministic.
    """
    ids = _as_ids(participants)
    unique = sorted(set(ids))
    score = {str(k): float(v) for k, v in scores.items()}
    missing = [p for p in unique if p not in score]
    if missing:
        raise FerBenchError(f"no score for participant(s) {', '.join(missing[:5])}; score every participant first")
    bad = [p for p in unique if math.isnan(score[p])]
    if bad:
        raise FerBenchError(f"NaN score for participant(s) {', '.join(bad[:5])}; give every participant a number")
    if not pattern or any(p not in PARTS for p in pattern):
        raise FerBenchError(f"pattern {tuple(pattern)} must be a non-empty sequence of {PARTS}")
    if seed is None:
        tie = {p: i for i, p in enumerate(unique)}
    else:
        tie = dict(zip(unique, np.random.default_rng(seed).permutation(len(unique)).tolist(), strict=True))
    order = sorted(unique, key=lambda p: (-score[p], tie[p]))
    assignment = {p: pattern[i % len(pattern)] for i, p in enumerate(order)}
    return Split(
        method="ranked_round_robin",
        assignment=assignment,
        indices=_indices(ids, assignment, PARTS),
        seed=seed,
        order=order,
        scores={p: score[p] for p in order},
    )
