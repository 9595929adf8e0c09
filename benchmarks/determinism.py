"""What does ``--deterministic`` cost on this CPU, and do runs without it repeat?

Why: issue 11 asks whether TensorFlow's op determinism should be the default on CPU. Each measurement is one
real ``fer-bench run`` in a fresh process (op determinism is a process-wide switch), alternating the two
modes so drift in machine load hits both alike. Reported per mode: training throughput (fit images per second
from ``run.json``), and whether repeated runs of the same config gave identical metrics.

    python benchmarks/determinism.py --data ../shared/data/fer2013            # sequential_4conv, 3 epochs
    python benchmarks/determinism.py --data DIR --model mobilenetv2 --res 224 --images 1000 --epochs 1

Writes ``results/benchmarks/determinism.{json,md}`` (``--out``). Exits 0 with a message when --data is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__:
    from . import harness
else:  # run as a file: python benchmarks/determinism.py
    import harness


def measure_run(data: str, model: str, res: int, images: int, epochs: int, deterministic: bool, seed: int) -> dict:
    """Train once in a fresh `fer-bench run` process; return its throughput and metrics."""
    tmp = Path(tempfile.mkdtemp(prefix="ferbench-det-"))
    try:
        cmd = [shutil.which("fer-bench") or "fer-bench", "run", "--model", model, "--res", str(res), "--train", data,
               "--epochs", str(epochs), "--max-train-images", str(images), "--seed", str(seed),
               "--balance", "conservative", "--results", str(tmp),
               "--deterministic" if deterministic else "--no-deterministic"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        if done.returncode != 0:
            raise SystemExit(f"run failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
        [folder] = [p for p in (tmp / "runs").iterdir() if not p.name.startswith(".")]
        info = json.loads((folder / "run.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())["in_domain"]
        return {"deterministic": deterministic, "fit_seconds": info["fit_seconds"], "n_fit": info["n_fit"],
                "epochs": info["epochs_run"], "img_per_s": info["n_fit"] * info["epochs_run"] / info["fit_seconds"],
                "accuracy": metrics["accuracy"], "uar": metrics["uar"], "wall_seconds": time.perf_counter() - t0,
                "confusion": metrics["confusion_matrix"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(harness.DEFAULT_DATA))
    ap.add_argument("--model", default="sequential_4conv")
    ap.add_argument("--res", type=int, default=48)
    ap.add_argument("--images", type=int, default=4000, help="stratified training subset")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="runs per mode (>= 2 to check repeatability)")
    ap.add_argument("--out", default=str(harness.RESULTS))
    a = ap.parse_args()
    if not harness.check_data(Path(a.data)):
        return
    rows = []
    for i in range(a.repeats):
        for det in (True, False):
            r = measure_run(a.data, a.model, a.res, a.images, a.epochs, det, seed=0)
            rows.append(r)
            print(f"repeat {i + 1} deterministic={det}: {r['img_per_s']:.1f} img/s, accuracy {r['accuracy']:.4f}",
                  flush=True)
    summary = {}
    for det in (True, False):
        rs = [r for r in rows if r["deterministic"] == det]
        rates = sorted(r["img_per_s"] for r in rs)
        summary["on" if det else "off"] = {
            "median_img_per_s": rates[len(rates) // 2], "runs": len(rs),
            "identical_metrics": all(r["confusion"] == rs[0]["confusion"] for r in rs)}
    cost = 1 - summary["on"]["median_img_per_s"] / summary["off"]["median_img_per_s"]
    result = {"model": a.model, "res": a.res, "images": a.images, "epochs": a.epochs, "data": a.data,
              "machine": harness.machine_info(tensorflow=False), "summary": summary,
              "slowdown_fraction": cost, "runs": rows, "command": " ".join(sys.argv)}
    md = [f"# --deterministic on this CPU ({a.model}, {a.res} px, {a.images} images, {a.epochs} epochs, "
          f"{os.cpu_count()} cores)", "", f"`{result['command']}`", "",
          "| mode | median fit img/s | runs | identical metrics across runs |", "|---|---|---|---|"]
    for k in ("on", "off"):
        s = summary[k]
        md.append(f"| {k} | {s['median_img_per_s']:.1f} | {s['runs']} | {s['identical_metrics']} |")
    md += ["", f"Slowdown with determinism on: {cost:+.1%} of the off-mode throughput."]
    harness.write_results(Path(a.out), "determinism", result, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
