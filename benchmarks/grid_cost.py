"""What does the paper's whole grid (``sweeps/paper_grid.toml``) cost in device-hours?

Why: issue 16 (running the grid on a Ray cluster) asks for a cost estimate computed from measured per-epoch
times. Three steps, each writing ``results/benchmarks/grid_cost.json`` (``--out``; later steps add to it):

    python benchmarks/grid_cost.py measure --models lenet5,sequential_simple,fer_vgg,mobilenetv2,resnet50,vgg16
    python benchmarks/grid_cost.py macs          # multiply-accumulates per image of every model, 48 and 224 px
    python benchmarks/grid_cost.py estimate      # the grid's hours; also writes grid_cost.md

``measure``: for each model and size, a scratch build trained with ``train_on_batch`` on synthetic batches
(Adam, categorical cross-entropy, the protocol's batch size 64 at 48 px, 16 at 224 px to fit CPU memory): one
warm-up step, then ``--steps`` timed steps -> training seconds per image; ``predict`` likewise -> inference
seconds per image. Model-only: the fer-bench input path adds ~5 % at 48 px (``results/benchmarks/pipeline.md``).
Run it on the machine you want an estimate for (a GPU node gives GPU figures: ``--device-name``).

``macs``: the multiply-accumulates per image of each model (Conv2D, DepthwiseConv2D, SeparableConv2D and Dense
layers, counted from their output shapes; batch norm, pooling and activations left out), from architecture-only
builds (no weights read). Used to extrapolate the models that were not timed: seconds per image = (median over
the timed models at that size of seconds per MAC) x MACs.

``estimate``: every run of the grid (the TOML expanded exactly as ``fer-bench sweep`` does) costs
``frozen_epochs`` x (frozen epoch) + ``epochs`` x (full epoch) at the cap, where a full epoch is
0.9 x n_train images trained + 0.1 x n_train validated (the fer-bench protocol's carve) and a frozen epoch trains
only the head (counted as an inference pass over the training images, an assumption: the backward pass through a
frozen backbone is skipped); plus one inference pass over the test sets. Early stopping (patience 20) usually
ends runs before the cap, so the figure is an upper bound; ``--epoch-fraction`` scales it. Training-set sizes:
the datasets' published train splits (assumptions, ``TRAIN_SIZES`` and ``TEST_SIZES``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks" / "grid_cost.json"

#: train split sizes (images) of the paper's training sets: RAF-DB basic (Li et al. 2017), FER2013 Training
#: (Goodfellow et al. 2013), AffectNet manually annotated train set, 7 basic classes + contempt (Mollahosseini et
#: al. 2019; fer-bench keeps contempt as an 8th class)
TRAIN_SIZES = {"rafdb": 12_271, "fer2013": 28_709, "affectnet": 287_651}
#: in-domain test split sizes (RAF-DB test, FER2013 PublicTest, AffectNet validation); cross-domain sets such as
#: BTFER are not counted (one inference pass over a few thousand images: well under 1 % of a run)
TEST_SIZES = {"rafdb": 3_068, "fer2013": 3_589, "affectnet": 4_000}


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _save(path: Path, data: dict) -> None:
    from fer_bench.fsutil import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def measure(models: list[str], sizes: list[int], steps: int, out: Path, device_name: str | None) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from fer_bench.models.registry import build_model, get_spec

    data = _load(out)
    gpus = tf.config.list_physical_devices("GPU")
    device = device_name or (f"GPU x{len(gpus)}" if gpus else f"CPU x{os.cpu_count()} ({platform.machine()})")
    rows = data.setdefault("measured", {}).setdefault(device, {})
    for name in models:
        for size in sizes:
            if size < get_spec(name).min_size:
                continue
            keras.backend.clear_session()
            batch = 64 if size <= 96 else 16
            model = build_model(name, size, 7, "scratch")
            model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy")
            rng = np.random.default_rng(0)
            x = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
            y = keras.utils.to_categorical(rng.integers(0, 7, batch), 7)
            model.train_on_batch(x, y)  # warm-up: tracing, allocation
            t0 = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            train_s = (time.perf_counter() - t0) / (steps * batch)
            model.predict_on_batch(x)
            t0 = time.perf_counter()
            for _ in range(steps):
                model.predict_on_batch(x)
            infer_s = (time.perf_counter() - t0) / (steps * batch)
            rows[f"{name}@{size}"] = {"train_s_per_image": train_s, "infer_s_per_image": infer_s, "batch": batch,
                                      "steps": steps, "load_avg_1m": os.getloadavg()[0]}
            print(f"{device} {name} {size}px: train {1 / train_s:.1f} img/s, inference {1 / infer_s:.1f} img/s "
                  f"(batch {batch}, {steps} steps, load {os.getloadavg()[0]:.1f})", flush=True)
            _save(out, data)


def _macs(model) -> int:
    import keras

    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            total += shape[1] * shape[2] * kh * kw * shape[3]
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            total += shape[1] * shape[2] * (kh * kw * cin + cin * shape[3])
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            total += shape[1] * shape[2] * kh * kw * cin // layer.groups * shape[3]
        elif isinstance(layer, keras.layers.Dense):
            total += int(layer.input.shape[-1]) * int(shape[-1])
    return int(total)


def macs(sizes: list[int], out: Path) -> None:
    import keras

    from fer_bench.models.registry import build_model, get_spec, list_models

    data = _load(out)
    table = data.setdefault("macs", {})
    for name in list_models():
        for size in sizes:
            if size < get_spec(name).min_size or f"{name}@{size}" in table:
                continue
            keras.backend.clear_session()
            table[f"{name}@{size}"] = _macs(build_model(name, size, 7, "scratch"))
            print(f"{name} {size}px: {table[f'{name}@{size}'] / 1e9:.3f} GMAC per image", flush=True)
            _save(out, data)


def estimate(grid: Path, out: Path, epoch_fraction: float) -> None:
    from fer_bench.protocol.sweep import expand_sweep

    data = _load(out)
    configs, _ = expand_sweep(config=grid)
    mac_table = data.get("macs", {})
    report = {"grid": str(grid.relative_to(ROOT)) if grid.is_relative_to(ROOT) else str(grid),
              "runs": len(configs), "epoch_fraction": epoch_fraction, "train_sizes": TRAIN_SIZES,
              "test_sizes": TEST_SIZES, "devices": {}}
    for device, rows in data.get("measured", {}).items():
        per_mac = {}
        for size in (48, 224):
            for kind in ("train", "infer"):
                ratios = [r[f"{kind}_s_per_image"] / mac_table[k] for k, r in rows.items()
                          if k.endswith(f"@{size}") and mac_table.get(k)]
                per_mac[(size, kind)] = statistics.median(ratios) if ratios else None

        def seconds(model: str, size: int, kind: str, rows=rows, per_mac=per_mac) -> tuple[float, bool]:
            key = f"{model}@{size}"
            if key in rows:
                return rows[key][f"{kind}_s_per_image"], True
            if per_mac.get((size, kind)) is None or key not in mac_table:
                raise SystemExit(f"no measurement or MAC count for {key}; run `measure` and `macs` first")
            return per_mac[(size, kind)] * mac_table[key], False

        hours = {"48": 0.0, "224": 0.0}
        per_model: dict[str, float] = {}
        epoch_rows = {}
        timed = extrapolated = 0
        for c in configs:
            n = TRAIN_SIZES[c.train]
            tr, was_timed = seconds(c.model, c.res, "train")
            inf, _ = seconds(c.model, c.res, "infer")
            timed += was_timed
            extrapolated += not was_timed
            full = (1 - c.val_fraction) * n * tr + c.val_fraction * n * inf
            frozen = n * inf
            n_frozen = c.frozen_epochs if c.weights != "scratch" else 0
            tests = (TEST_SIZES[c.train] + sum(TEST_SIZES.get(t, 0) for t in c.tests)) * inf
            s = epoch_fraction * (n_frozen * frozen + c.epochs * full) + tests
            hours[str(c.res)] += s / 3600
            per_model[c.model] = per_model.get(c.model, 0.0) + s / 3600
            if c.train == "fer2013" and c.weights == "scratch" and c.balance == "simple":
                epoch_rows[f"{c.model}@{c.res}"] = {"full_epoch_s": full, "timed": was_timed}
        report["devices"][device] = {
            "hours_48": hours["48"], "hours_224": hours["224"], "hours_total": hours["48"] + hours["224"],
            "runs_timed_models": timed, "runs_extrapolated": extrapolated,
            "seconds_per_gmac": {f"{s}_{k}": (v * 1e9 if v else None) for (s, k), v in per_mac.items()},
            "per_model_hours": dict(sorted(per_model.items(), key=lambda kv: -kv[1])),
            "fer2013_full_epoch_s": epoch_rows}
    data["estimate"] = report
    _save(out, data)
    _write_md(out.with_suffix(".md"), data)
    for device, r in report["devices"].items():
        print(f"{device}: {report['runs']} runs, {r['hours_total']:,.0f} h at the epoch cap "
              f"(48 px {r['hours_48']:,.0f} h, 224 px {r['hours_224']:,.0f} h)")


def _write_md(path: Path, data: dict) -> None:
    est = data["estimate"]
    lines = ["# Cost of the paper's grid (`benchmarks/grid_cost.py`)", "",
             f"Grid: `{est['grid']}`, {est['runs']} runs; epoch caps as in the file, x{est['epoch_fraction']} "
             "(early stopping usually ends runs sooner: an upper bound at 1.0).", ""]
    for device, rows in data.get("measured", {}).items():
        lines += [f"## Measured on {device}", "", "| model | px | train img/s | inference img/s | GMAC/img | load |",
                  "|---|---|---|---|---|---|"]
        for key, r in sorted(rows.items()):
            m, s = key.split("@")
            g = data.get("macs", {}).get(key)
            lines.append(f"| {m} | {s} | {1 / r['train_s_per_image']:.1f} | {1 / r['infer_s_per_image']:.1f} | "
                         f"{g / 1e9:.3f} | {r['load_avg_1m']:.1f} |" if g else
                         f"| {m} | {s} | {1 / r['train_s_per_image']:.1f} | {1 / r['infer_s_per_image']:.1f} | - | "
                         f"{r['load_avg_1m']:.1f} |")
        r = est["devices"][device]
        lines += ["", f"**{r['hours_total']:,.0f} device-hours** for the grid (48 px: {r['hours_48']:,.0f} h, "
                      f"224 px: {r['hours_224']:,.0f} h); {r['runs_timed_models']} runs use a timed model, "
                      f"{r['runs_extrapolated']} are extrapolated by MACs.", "",
                  "Largest shares (hours): " + ", ".join(f"{m} {h:,.0f}" for m, h in
                                                         list(r["per_model_hours"].items())[:8]), "",
                  "FER2013 full-network epoch (seconds; * = extrapolated): " + ", ".join(
                      f"{k} {v['full_epoch_s']:,.0f}{'' if v['timed'] else '*'}" for k, v in
                      sorted(r["fer2013_full_epoch_s"].items()) if k.split("@")[0] in
                      {"lenet5", "sequential_simple", "fer_vgg", "mobilenetv2", "resnet50", "vgg16"}), ""]
    lines += ["Training-set sizes assumed: " + ", ".join(f"{k} {v:,}" for k, v in est["train_sizes"].items()) + "."]
    from fer_bench.fsutil import atomic_write

    atomic_write(path, "\n".join(lines) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--models", default="lenet5,sequential_simple,fer_vgg,mobilenetv2,resnet50,vgg16")
    m.add_argument("--res", default="48,224")
    m.add_argument("--steps", type=int, default=3)
    m.add_argument("--device-name", default=None)
    c = sub.add_parser("macs")
    c.add_argument("--res", default="48,224")
    e = sub.add_parser("estimate")
    e.add_argument("--grid", type=Path, default=ROOT / "sweeps" / "paper_grid.toml")
    e.add_argument("--epoch-fraction", type=float, default=1.0)
    for p in (m, c, e):
        p.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    sizes = [int(s) for s in getattr(a, "res", "48,224").split(",")]
    if a.cmd == "measure":
        measure(a.models.split(","), sizes, a.steps, a.out, a.device_name)
    elif a.cmd == "macs":
        macs(sizes, a.out)
    else:
        estimate(a.grid, a.out, a.epoch_fraction)


if __name__ == "__main__":
    main()
