"""Knowledge distillation: a teacher model's softmax outputs on the fit images become soft training targets.

Why: an ensemble with multi-view test-time augmentation is more accurate than one network but several times
slower; training one network towards the ensemble's outputs (Hinton et al., 2015, "Distilling the knowledge in
a neural network") moves much of that accuracy into a model that runs at single-network speed. The teacher
sees each fit image once, un-augmented (its outputs are cached in ``<results>/teachers/``, keyed by the
teacher file's sha256 and the fit rows, so a resumed run or another student of the same teacher and split does
not recompute them: 0.8 MB for FER2013); the student sees the augmented image with that target (offline distillation).
Only fit images get soft targets: the validation carve and the test split are scored against their labels
alone, so the teacher never enters model selection or the final score.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import FerBenchError

BATCH = 256


def _fingerprint(sha: str, fit_idx: np.ndarray, shape: tuple, content: str = "") -> str:
    """Teacher file x fit rows x the decoded pixels (the cache's content hash: another decode, colour mode or
    edited dataset with the same row count gets its own outputs)."""
    h = hashlib.sha256(f"{sha}|{content}".encode())
    h.update(np.ascontiguousarray(fit_idx, dtype=np.int64).tobytes())
    h.update(repr(shape).encode())
    return h.hexdigest()[:16]


def teacher_targets(teacher: Path, cache, fit_idx: np.ndarray, num_classes: int, cache_dir: Path,
                    on_stage: Callable[[str], None] | None = None) -> tuple[np.ndarray, dict]:
    """(soft targets, record): a (rows of *cache*, classes) float32 array holding the teacher's softmax output
    for every fit row (zeros elsewhere), and what run.json records (file, sha256, the teacher's accuracy on the
    fit images, which is a training-data figure, not a score)."""
    from ..hashing import file_sha256
    from .external import is_fer_bench_model, load_any_model

    stage = on_stage or (lambda _s: None)
    teacher = Path(teacher)
    if not teacher.is_file():
        raise FerBenchError(f"{teacher}: --teacher file not found; pass a fer-bench model or ensemble .keras file")
    sha = file_sha256(teacher)
    fit_idx = np.asarray(fit_idx, dtype=np.int64)
    shape = (len(cache.labels), num_classes)
    fp = _fingerprint(sha, fit_idx, shape, str((getattr(cache, "meta", None) or {}).get("content_hash", "")))
    cache_file = Path(cache_dir) / f"{sha[:12]}-{fp}.npz"
    if cache_file.is_file():
        try:
            with np.load(cache_file) as z:
                if str(z["fingerprint"]) == fp:
                    soft = z["soft"]
                    meta = {**json.loads(str(z["meta"])), "file": str(teacher)}
                    stage(f"teacher outputs loaded from {cache_file.name}")
                    return soft, meta
        except Exception:
            pass
    model = load_any_model(teacher)
    if not is_fer_bench_model(model):
        raise FerBenchError(f"{teacher}: not a fer-bench model (no Preprocess layer); a teacher must take the "
                            "same raw RGB faces as the student (a run's model.keras, an export or an ensemble)")
    size, classes = model.input_shape[1], int(model.output_shape[-1])
    if size != cache.images.shape[1] or classes != num_classes:
        raise FerBenchError(f"{teacher}: takes {size} px and predicts {classes} classes; the student trains at "
                            f"{cache.images.shape[1]} px on {num_classes} classes; pass a teacher of the same "
                            "size and label set")
    soft = np.zeros(shape, dtype=np.float32)
    stage(f"teacher {teacher.name}: outputs for {len(fit_idx)} fit images (once; cached for resumes)")
    for start in range(0, len(fit_idx), BATCH):
        rows = np.sort(fit_idx[start:start + BATCH])  # sorted: sequential reads of the memory-mapped cache
        x = cache.images[rows].astype(np.float32)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        soft[rows] = model.predict_on_batch(x)
    fit_acc = float(np.mean(soft[fit_idx].argmax(1) == cache.labels[fit_idx]))
    meta = {"file": str(teacher), "sha256": sha, "fit_images": int(len(fit_idx)),
            "teacher_accuracy_on_fit_images": round(fit_acc, 4)}
    tmp = cache_file.with_name(f"{cache_file.stem}.{os.getpid()}.tmp.npz")  # one per process: parallel students
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, soft=soft, fingerprint=np.array(fp), meta=np.array(json.dumps(meta)))
        tmp.replace(cache_file)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FerBenchError(f"{cache_file.parent}: cannot write the teacher's outputs ({exc.strerror or exc}); "
                            "free disk space or fix permissions, then run the same command again") from None
    del model
    return soft, meta


def teacher_training_sets(teacher: Path) -> list[str] | None:
    """The training sets behind a teacher file, from the records fer-bench keeps beside it: a run folder's
    config.json (for its model.keras) or an ensemble's / export's card (``<file>.card.json``, each member's
    run record). None when no record says."""
    teacher = Path(teacher)
    card = teacher.with_name(teacher.stem + ".card.json")
    sets: list[str] = []
    try:
        if card.is_file():
            data = json.loads(card.read_text())
            members = data.get("members") or [data]
            for m in members:
                train = ((m.get("record") or {}).get("config") or {}).get("train")
                if not train:
                    return None
                sets.append(str(train))
            return sets
        cfg_file = teacher.parent / "config.json"
        if cfg_file.is_file():
            train = json.loads(cfg_file.read_text()).get("train")
            return [str(train)] if train else None
    except (OSError, ValueError, AttributeError):
        return None
    return None


def _same_dataset(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    try:
        return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()
    except OSError:
        return False


def check_teacher_against_tests(teacher: Path, tests) -> list[str] | None:
    """Refuse a teacher trained on one of the student's test sets (its knowledge of that set would flow into a
    "cross-domain" score); returns the teacher's training sets as recorded (None: no record beside it)."""
    sets = teacher_training_sets(teacher)
    for t in tests or ():
        if sets and any(_same_dataset(str(t), s) for s in sets):
            raise FerBenchError(f"{teacher}: trained on {t}, which this run tests on; distil from a teacher that "
                                "never saw a test set, or drop that --test")
    return sets
