"""Why does a model score at the majority-class rate? Compare BatchNorm's two modes on held-out images.

A network trained for a few epochs from scratch can predict one class for every image when scored normally
(BatchNorm in inference mode, using its moving averages) while its batch statistics still carry signal: Keras'
MobileNetV2 keeps moving averages with momentum 0.999, an average over the last ~1,000 steps of a network that
early in training is still changing fast, so they need not match its current activations. This script scores a saved model on a dataset split both ways (``training=False``, as
``evaluate`` does, and ``training=True``, batch statistics, nothing updated) and prints accuracy, UAR and how many
distinct classes each mode predicts, plus the feature-map size the backbone ends with at the model's input size.

    python benchmarks/batchnorm_modes.py RUN/model.keras --data ../shared/data/fer2013 --split val

Writes ``results/benchmarks/batchnorm_modes.{json,md}`` (``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

if __package__:
    from . import harness
else:  # run as a file: python benchmarks/batchnorm_modes.py
    import harness


def measure_modes(model_path: Path, data: Path, split: str, max_images: int, batch: int) -> dict:
    """Accuracy / UAR / predicted-class count with BatchNorm in inference mode and with batch statistics."""
    from fer_bench.data.adapters import open_dataset
    from fer_bench.data.cache import decode_split
    from fer_bench.models.loading import load_keras
    from fer_bench.protocol.metrics import compute_metrics

    model = load_keras(model_path)
    size = int(model.input_shape[1])
    cache = decode_split(open_dataset(str(data)), split, size)
    idx = np.random.default_rng(0).permutation(len(cache))[:max_images]
    idx.sort()
    x = np.asarray(cache.images[idx], dtype=np.float32)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    y = cache.labels[idx].astype(np.int64)
    out = {"model": str(model_path), "data": str(data), "split": split, "n": len(idx), "input": size}
    for mode, training in (("inference", False), ("batch_statistics", True)):
        probs = np.concatenate([np.asarray(model(x[i:i + batch], training=training)) for i in range(0, len(x), batch)])
        m = compute_metrics(y, probs, cache.label_names[: probs.shape[1]])
        out[mode] = {"accuracy": m["accuracy"], "uar": m["uar"],
                     "classes_predicted": int(len(np.unique(probs.argmax(1))))}
    try:
        bb = model.get_layer("backbone")
        out["backbone_output"] = list(bb.output.shape[1:])
    except ValueError:
        out["backbone_output"] = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    ap.add_argument("--split", default="val")
    ap.add_argument("--max-images", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path, default=harness.RESULTS)
    a = ap.parse_args()
    r = measure_modes(a.model, a.data, a.split, a.max_images, a.batch)
    md = [f"# BatchNorm modes: {a.model} on {a.data} [{a.split}], {r['n']} images at {r['input']} px", "",
          f"Backbone output (H, W, C): {r['backbone_output']}", "",
          "| BatchNorm | accuracy | UAR | classes predicted |", "|---|---|---|---|"]
    for mode in ("inference", "batch_statistics"):
        s = r[mode]
        md.append(f"| {mode} | {s['accuracy']:.3f} | {s['uar']:.3f} | {s['classes_predicted']} |")
    harness.write_results(a.out, "batchnorm_modes", r, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
