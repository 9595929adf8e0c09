"""Evaluate a trained model on a cached split: every image, in manifest order, unshuffled, once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.cache import CachedSplit
from ..data.pipeline import make_dataset
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
