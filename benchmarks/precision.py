"""Training and inference rate of one model under each --precision this machine can run (float32, bf16, mixed).

Each policy is timed in a fresh subprocess (Keras' global dtype policy is per process) on random 0..255
images: ``train_on_batch`` and ``predict_on_batch`` at the given batch size, after warm-up steps, alternating
the policies twice so a change of machine load during the measurement shows as a spread, not as a speed-up.

    python benchmarks/precision.py --model fer_vgg --res 48 --threads 1

Writes ``results/benchmarks/precision.{json,md}`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

if __package__:
    from . import harness
else:  # run as a file: python benchmarks/precision.py
    import harness

CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np, keras
    from fer_bench.models.registry import build_model
    policy, model_name, res, batch, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    keras.mixed_precision.set_global_policy(policy)
    m = build_model(model_name, res, 7, "scratch")
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, res, res, 3)).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, batch)]
    for _ in range(3):
        m.train_on_batch(x, y)
        m.predict_on_batch(x)
    t = time.perf_counter()
    for _ in range(steps):
        m.train_on_batch(x, y)
    train = batch * steps / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(steps):
        m.predict_on_batch(x)
    infer = batch * steps / (time.perf_counter() - t)
    print(json.dumps({"train_img_s": train, "predict_img_s": infer}))
""")

POLICIES = {"float32": "float32", "bf16": "mixed_bfloat16", "mixed": "mixed_float16"}


def available_precisions() -> list[str]:
    """float32 always; bf16 where the CPU computes bfloat16 natively; mixed only with a GPU (not checked here:
    the benchmark is for CPUs, a GPU node runs the training itself)."""
    from fer_bench.protocol.devices import cpu_has_bf16

    return ["float32"] + (["bf16"] if cpu_has_bf16() else [])


def measure_precision(precision: str, model: str, res: int, batch: int, steps: int, threads: int | None) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CHILD, POLICIES[precision], model, str(res), str(batch), str(steps)],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode:
        raise SystemExit(f"{precision}: the timing process failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fer_vgg")
    ap.add_argument("--res", type=int, default=48)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads (default: all)")
    ap.add_argument("--out", type=Path, default=harness.RESULTS)
    a = ap.parse_args(argv)
    precisions = available_precisions()
    samples: dict[str, list[dict]] = {p: [] for p in precisions}
    for _round in range(2):
        for p in precisions:
            harness.say(f"{a.model} @{a.res}: timing {p}")
            samples[p].append(measure_precision(p, a.model, a.res, a.batch, a.steps, a.threads))
    rows = []
    for p in precisions:
        tr = [s["train_img_s"] for s in samples[p]]
        pr = [s["predict_img_s"] for s in samples[p]]
        rows.append({"precision": p, "train_img_s": tr, "predict_img_s": pr,
                     "train_mean": sum(tr) / len(tr), "predict_mean": sum(pr) / len(pr)})
    base = rows[0]
    md = [f"# Precision: {a.model} at {a.res} px, batch {a.batch}, {a.threads or 'all'} thread(s)", "",
          f"Load average at the end: {harness.load_now()}. Two alternating rounds per policy (both shown).", "",
          "| precision | train img/s | x float32 | predict img/s | x float32 |", "|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['precision']} | {r['train_mean']:.0f} ({', '.join(f'{v:.0f}' for v in r['train_img_s'])}) "
                  f"| {r['train_mean'] / base['train_mean']:.2f} | {r['predict_mean']:.0f} "
                  f"({', '.join(f'{v:.0f}' for v in r['predict_img_s'])}) | "
                  f"{r['predict_mean'] / base['predict_mean']:.2f} |")
    data = {"model": a.model, "res": a.res, "batch": a.batch, "threads": a.threads, "rows": rows,
            "machine": harness.machine_info()}
    harness.write_results(a.out, "precision", data, "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
