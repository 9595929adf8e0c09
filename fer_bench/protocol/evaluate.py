"""Evaluate a trained model on a cached split: every image, in manifest order, unshuffled, once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.cache import CachedSplit
from ..data.pipeline import make_dataset
from ..errors import FerBenchError
from .metrics import compute_metrics


def predict_probs(model, cached: CachedSplit, indices=None, *, batch_size: int = 256, flip_tta: bool = False,
                  input_transform=None) -> np.ndarray:
    """Softmax outputs for the given rows, in order. flip_tta averages with the horizontally flipped image.

    input_transform: optional tf function applied to the float32 RGB 0..255 batch before the model (used to
    adapt foreign models: resize, grey conversion, their own scaling).
    """
    import tensorflow as tf

    ds = make_dataset(cached, indices, batch_size=batch_size, num_classes=1, shuffle=False)
    ds = ds.map(lambda x, y: x)
    if input_transform is not None:
        ds = ds.map(input_transform)
    if flip_tta:
        ds = ds.map(lambda x: tf.concat([x, tf.reverse(x, axis=[2])], axis=0))
    out = []
    for batch in ds:
        p = model(batch, training=False)
        p = np.asarray(p, dtype=np.float32)  # float16 models: metrics and rounding need float32
        if flip_tta:
            half = p.shape[0] // 2
            p = (p[:half] + p[half:]) / 2.0
        out.append(p)
    return np.concatenate(out, axis=0) if out else np.zeros((0, 1))


def evaluate_split(model, cached: CachedSplit, label_names, *, indices=None, flip_tta: bool = False,
                   input_transform=None, output_order=None) -> tuple[dict, pd.DataFrame]:
    """Metrics + a predictions table (item, true, predicted, one probability column per class).

    Rows whose label is outside the model's classes (e.g. contempt for a 7-class model) are dropped and
    counted in metrics["dropped_out_of_label_space"].
    output_order: for foreign models, output index -> canonical index (probabilities are re-ordered).
    """
    k = len(label_names)
    idx = np.arange(len(cached)) if indices is None else np.asarray(indices)
    keep = idx[cached.labels[idx] < k]
    probs = predict_probs(model, cached, keep, flip_tta=flip_tta, input_transform=input_transform)
    if output_order is not None:
        reordered = np.zeros((probs.shape[0], k), dtype=probs.dtype)
        for out_i, can_i in enumerate(output_order):
            if can_i < k:
                reordered[:, can_i] = probs[:, out_i]
        probs = reordered
    y_true = cached.labels[keep].astype(int)
    metrics = compute_metrics(y_true, probs, label_names)
    metrics["dropped_out_of_label_space"] = int(len(idx) - len(keep))
    pred = probs.argmax(axis=1)
    table = pd.DataFrame({
        "file": [cached.items[i] for i in keep],
        "true": [label_names[i] for i in y_true],
        "predicted": [label_names[i] for i in pred],
    })
    for j, name in enumerate(label_names):
        table[f"p_{name}"] = np.round(probs[:, j], 6)
    return metrics, table


def evaluate_model(model_path: Path, data: str, *, split: str | None = None, preset: str | None = None,
                   input_size: int | None = None, color: str | None = None, scaling: str | None = None,
                   labels: str | None = None, flip_tta: bool = False, resize: str = "area"
                   ) -> tuple[dict, pd.DataFrame]:
    """Evaluate a model file on a dataset split (what `fer-bench evaluate` computes).

    Returns (metrics with provenance, predictions table). split: default test, else val, else all. Foreign
    models are adapted by preset / input_size / color / scaling / labels (see protocol.external).
    """
    from ..data.adapters import open_dataset
    from ..data.cache import decode_split
    from ..hashing import file_sha256
    from ..labels import CANONICAL_WITH_CONTEMPT, order_to_canonical
    from .external import (
        ForeignSpec,
        input_transform,
        is_fer_bench_model,
        load_any_model,
        resolve_spec,
    )
    from .run import pick_eval_split, versions

    model = load_any_model(model_path)
    ours = is_fer_bench_model(model)
    if ours and not any((preset, color, scaling, labels)):
        k = model.outputs[0].shape[-1]
        spec = ForeignSpec(input_size or model.inputs[0].shape[1], "rgb", "none", CANONICAL_WITH_CONTEMPT[:k])
    else:
        spec = resolve_spec(model, preset, input_size, color, scaling, labels)
    src = open_dataset(data)
    split = split or pick_eval_split(src)
    if split not in src.splits():
        raise FerBenchError(f"dataset {src.name} has no split {split!r}; it has {', '.join(src.splits())}")
    cache = decode_split(src, split, spec.input_size, resize=resize)
    order = order_to_canonical(spec.labels)
    k = max(order) + 1 if max(order) >= 7 else 7
    t0 = time.perf_counter()
    metrics, table = evaluate_split(model, cache, CANONICAL_WITH_CONTEMPT[:k], flip_tta=flip_tta,
                                    input_transform=None if spec.scaling == "none" and spec.color == "rgb"
                                    else input_transform(spec), output_order=order)
    metrics = {
        "accuracy": metrics["accuracy"], **{k2: v for k2, v in metrics.items() if k2 != "accuracy"},
        "model_file": str(model_path), "model_sha256": file_sha256(Path(model_path)),
        "fer_bench_model": ours, "dataset": src.name, "split": split,
        "manifest_hash": src.manifest_hash(split), "content_hash": cache.meta["content_hash"],
        "unreadable": len(cache.meta["unreadable"]),
        # every image of the split, and why the ones not scored were skipped (unreadable, too large, ... as the
        # cache counts them; labels outside the model's classes, e.g. contempt for a 7-class model)
        "n_split": int(cache.meta.get("n_manifest", len(cache) + len(cache.meta["unreadable"]))),
        "skipped": skipped_images(cache.meta, metrics),
        "input": {"size": spec.input_size, "color": spec.color, "scaling": spec.scaling,
                  "label_order": list(spec.labels), "preset": preset, "flip_tta": flip_tta, "resize": resize},
        "seconds": round(time.perf_counter() - t0, 2), "versions": versions(),
    }
    return metrics, table


def skipped_images(meta: dict, metrics: dict) -> dict[str, int]:
    """{reason: images} of the split's images that were not scored."""
    kinds = meta.get("skipped")
    if not isinstance(kinds, dict):
        kinds = {"unreadable": len(meta.get("unreadable", []))}
    out = {str(k): int(v) for k, v in kinds.items() if v}
    dropped = int(metrics.get("dropped_out_of_label_space", 0))
    if dropped:
        out["label outside the model's classes"] = dropped
    return out


def write_external_run(results: Path, model: Path, name: str, trained_on: str, role: str, data: str,
                       metrics: dict, table) -> Path:
    """A model file's score (from :func:`evaluate_model`) as a run folder so the leaderboard shows it (flagged
    external unless it is a fer-bench model, e.g. an ensemble built by `fer-bench ensemble`); returns the folder.

    role: in_domain or cross_domain (the leaderboard column).
    """
    if role not in ("in_domain", "cross_domain"):
        raise FerBenchError(f"unknown --role {role!r}; use in_domain or cross_domain")
    import hashlib

    from ..results.store import RunWriter

    key = "ext-" + hashlib.sha256(f"{metrics['model_sha256']}|{data}|{metrics['split']}|"
                                  f"{json.dumps(metrics['input'], sort_keys=True)}".encode()).hexdigest()[:12]
    w = RunWriter(results, key)
    # a fer-bench model file scored this way (an ensemble, an exported model) is ours, not an external row
    w.write_json("config.json", {"model": name, "external": not metrics["fer_bench_model"],
                                 "res": metrics["input"]["size"],
                                 "weights": "-", "balance": "-", "train": trained_on, "protocol": "fer-bench",
                                 "recipe": "-", "seed": 0, "model_file": str(model), "data": data,
                                 "config_hash": key})
    metrics = {**metrics, "role": role}
    w.write_json("metrics.json", {"in_domain" if role == "in_domain" else data: metrics})
    from .run import command_line

    # what a run.json holds for a trained run: the command, versions and the scored data's manifest
    w.write_json("run.json", {"config_hash": key, "command": command_line(), "versions": metrics.get("versions"),
                              "model_sha256": metrics["model_sha256"],
                              "data": {"in_domain" if role == "in_domain" else data: {
                                  "dataset": data, "split": metrics.get("split"),
                                  "manifest_hash": metrics.get("manifest_hash"),
                                  "content_hash": metrics.get("content_hash")}}})
    table.to_csv(w.path("predictions/evaluation.csv"), index=False)
    w.commit()
    return Path(results) / "runs" / key
