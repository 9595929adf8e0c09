"""Sanity experiment for the synthetic domains: a tiny CNN, trained on lab and on wild, tested on both.

Run ``python -m fer_bench.data.synth.shiftcheck`` (about a minute on 2 CPU cores). It prints lab->lab,
lab->wild, wild->wild and wild->lab accuracy. What the generator is tuned for: lab->lab well above chance
(>= 0.8), lab->wild clearly lower (the cross-domain drop of real FER studies), wild->wild in between.
Measured with the defaults (150 train / 100 test images per class, 48 px, 10 epochs), seeds 0 and 1:
lab->lab 0.93 / 0.92, lab->wild 0.44 / 0.44, wild->wild 0.55 / 0.53, wild->lab 0.74 / 0.66.
Not imported by the package (it needs TensorFlow).
"""

from __future__ import annotations

import argparse
import os
import time


def _model(size: int, n_classes: int, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((size, size, 3)),
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(64, activation="relu"),
        layers.Dense(n_classes, activation="softmax"),
    ])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=150, help="training images per class")
    ap.add_argument("--n-test", type=int, default=100, help="test images per class")
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from ...labels import CANONICAL
    from .generator import generate

    t0 = time.perf_counter()
    data = {}
    for dom in ("lab", "wild"):
        xtr, ytr = generate(dom, args.n_train, size=args.size, seed=args.seed, split="train")
        xte, yte = generate(dom, args.n_test, size=args.size, seed=args.seed, split="test")
        idx = {c: i for i, c in enumerate(CANONICAL)}
        data[dom] = (xtr, np.array([idx[y] for y in ytr]), xte, np.array([idx[y] for y in yte]))
    print(f"generated {sum(len(v[0]) + len(v[2]) for v in data.values())} images in "
          f"{time.perf_counter() - t0:.1f}s")

    results = {}
    for src in ("lab", "wild"):
        xtr, ytr, _, _ = data[src]
        model = _model(args.size, len(CANONICAL), args.seed)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        t = time.perf_counter()
        hist = model.fit(xtr, ytr, epochs=args.epochs, batch_size=32, shuffle=True, verbose=0)
        results[f"{src}:train"] = float(hist.history["accuracy"][-1])
        for dst in ("lab", "wild"):
            _, _, xte, yte = data[dst]
            pred = model.predict(xte, verbose=0).argmax(1)
            results[f"{src}->{dst}"] = float((pred == yte).mean())
        print(f"trained on {src} in {time.perf_counter() - t:.1f}s: "
              + ", ".join(f"{k}={v:.3f}" for k, v in results.items() if k.startswith(src)))
    return results


if __name__ == "__main__":
    main()
