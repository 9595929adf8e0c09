"""Throughput of ``fer-bench build-btfer`` on ~350-px "in-the-wild" photos made from real FER2013 faces.

Builds a temporary SRC (never inside the repo): for every class, N real 48x48 grayscale faces from
``../shared/data/fer2013/train/<class>/*.jpg`` are upscaled (bicubic, ~120-160 px by default) and pasted onto
350x350 cluttered random canvases, saved as JPEG. Then runs the build (MTCNN, process pool) and reports:

* detection throughput: source images per second through decode + detect + crop + phash (pool start-up
  included), the figure the issue's ">= 8 images/s on 2 cores" target refers to;
* end-to-end images/s (hashing, writing, manifest, reports and contact sheets included);
* the cached re-run time (what a re-run with a new --exclude file costs);
* CPU seconds per image and per worker start-up (TensorFlow import + MTCNN load), and from them the rate
  the same work reaches on idle cores: wall-clock figures are only meaningful on an otherwise idle machine,
  so the JSON records the load average too;
* detection rate: how many of the upscaled 48-px FER faces MTCNN finds (they are small and blurry).

Writes ``results/benchmarks/btfer_throughput.json`` (``--out``). Exits 0 with a message when the FER2013 folder
(``--data``, default ../shared/data/fer2013) is absent. The measurement is ``measure_build_throughput`` (returns
a dict); ``main`` parses the arguments, calls it and writes.

    python benchmarks/btfer_throughput.py                      # 7 classes x 30 photos, all cores
    python benchmarks/btfer_throughput.py --per-class-src 40 --workers 2 --face-size 120:160
    python -m benchmarks.btfer_throughput --per-class-src 2 --per-class 1 --workers 1   # a quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/btfer_throughput.py): this folder is sys.path[0]
    import harness

harness.quiet_tf()

import cv2
import numpy as np

FER_TRAIN = harness.DEFAULT_DATA / "train"
RESULT = harness.RESULTS / "btfer_throughput.json"


def _canvas(rng: np.random.Generator, size: int) -> np.ndarray:
    """A cluttered background: blurred colour noise, rectangles, circles and lines."""
    bg = rng.integers(0, 256, (size // 10 + 1, size // 10 + 1, 3), dtype=np.uint8)
    bg = cv2.resize(bg, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(6, 14))):
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, size, 2))
        k = int(rng.integers(0, 3))
        if k == 0:
            cv2.rectangle(bg, (x, y), (x + int(rng.integers(10, 90)), y + int(rng.integers(10, 90))), col, -1)
        elif k == 1:
            cv2.circle(bg, (x, y), int(rng.integers(5, 45)), col, -1)
        else:
            x2, y2 = (int(v) for v in rng.integers(0, size, 2))
            cv2.line(bg, (x, y), (x2, y2), col, int(rng.integers(1, 6)))
    return bg


def make_source(dest: Path, per_class: int, canvas: int, face_lo: int, face_hi: int, seed: int,
                fer_train: Path = FER_TRAIN) -> int:
    """Compose the SRC folder from real FER2013 faces (*fer_train*/<class>/*.jpg); returns the number of photos
    written."""
    rng = np.random.default_rng(seed)
    n = 0
    for cls_dir in sorted(p for p in fer_train.iterdir() if p.is_dir()):
        files = sorted(cls_dir.glob("*.jpg"))
        if not files:
            continue
        step = max(1, len(files) // per_class)
        out = dest / cls_dir.name
        out.mkdir(parents=True, exist_ok=True)
        for f in files[::step][:per_class]:
            face = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            fs = int(rng.integers(face_lo, face_hi + 1))
            big = cv2.resize(face, (fs, fs), interpolation=cv2.INTER_CUBIC)
            img = _canvas(rng, canvas)
            x, y = (int(v) for v in rng.integers(0, canvas - fs + 1, 2))
            img[y : y + fs, x : x + fs] = big[..., None]
            cv2.imwrite(str(out / f.name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
            n += 1
    return n


def measure_build_throughput(fer_train: Path = FER_TRAIN, *, per_class_src: int = 30, canvas: int = 350,
                             face_size: tuple[int, int] = (120, 160), workers: int | None = None,
                             detector: str = "mtcnn", per_class: int = 10, seed: int = 0,
                             progress: bool = True) -> dict:
    """Compose a temporary SRC from the faces in *fer_train*, run build-btfer on it twice (fresh, then the
    cached re-run) and return the throughput figures (the keys of btfer_throughput.json, less ``command``)."""
    from fer_bench.btfer import BuildConfig, build_btfer
    from fer_bench.btfer.build import default_workers

    lo, hi = face_size
    workers = workers or default_workers()
    tmp = Path(tempfile.mkdtemp(prefix="btfer_bench_"))
    try:
        src, out = tmp / "src", tmp / "out"
        with harness.timer() as t_make:
            n = make_source(src, per_class_src, canvas, lo, hi, seed, fer_train)
        cfg = BuildConfig(per_class=per_class, allow_short=True, workers=workers, detector=detector)
        with harness.timer() as t_build:
            if progress:
                from rich.console import Console

                from fer_bench.cli.btfer_cmd import rich_progress

                with rich_progress(Console(stderr=True)) as bar:
                    res = build_btfer(src, out, cfg, progress=bar)
            else:
                res = build_btfer(src, out, cfg)
        with harness.timer() as t_cached:
            res2 = build_btfer(src, out, cfg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall, wall_cached = t_build.seconds, t_cached.seconds
    tot = res.report["totals"]
    st = res.stats
    cpu_img = st.get("analyse_cpu_s_per_image") or 0.0
    startup = st.get("worker_startup_cpu_s") or 0.0
    n_an = st.get("analysed") or n
    # what the same work takes on `workers` idle cores: start-up in parallel, then images split evenly
    est_wall = startup + n_an * cpu_img / workers
    load_end = harness.load_now()
    return {
        "benchmark": "btfer_throughput",
        "photos": n,
        "classes": res.report["classes"],
        "canvas_px": canvas,
        "face_px": [lo, hi],
        "detector": detector,
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": load_end,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "detect_images_per_s": st.get("analyse_images_per_s"),
        "detect_seconds": st.get("analyse_seconds"),
        "detect_first_result_s": st.get("analyse_first_result_s"),
        "cpu_s_per_image": cpu_img,
        "worker_startup_cpu_s": startup,
        "estimated_idle_cores_detect_images_per_s": round(n_an / est_wall, 2) if est_wall else None,
        "estimated_idle_cores_steady_images_per_s": round(workers / cpu_img, 2) if cpu_img else None,
        "end_to_end_images_per_s": round(n / wall, 2),
        "end_to_end_seconds": round(wall, 2),
        "cached_rerun_seconds": round(wall_cached, 2),
        "cached_rerun_detector_calls": res2.stats.get("detector_calls", 0),
        "detection_rate": round(tot["face_detected"] / max(1, tot["readable"]), 3),
        "passed_rate": round(tot["passed"] / max(1, tot["readable"]), 3),
        "totals": tot,
        "source_compose_seconds": round(t_make.seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=harness.DEFAULT_DATA,
                    help="FER2013 folder with train/<class>/*.jpg (default: ../shared/data/fer2013 from the repo)")
    ap.add_argument("--per-class-src", type=int, default=30, help="photos per class in the temporary SRC")
    ap.add_argument("--canvas", type=int, default=350, help="photo size (square)")
    ap.add_argument("--face-size", default="120:160", help="upscaled face size range LO:HI in pixels")
    ap.add_argument("--workers", type=int, default=None, help="build-btfer --workers (default: CPU cores)")
    ap.add_argument("--detector", default="mtcnn", choices=("mtcnn", "haar"))
    ap.add_argument(
        "--per-class", type=int, default=10, help="build-btfer --per-class (short classes allowed)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULT, help="where to write the JSON result")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    fer_train = args.data.expanduser() / "train"
    if not fer_train.is_dir():
        print(f"btfer_throughput: {fer_train} not found; this benchmark needs the shared FER2013 folder. Skipped.")
        return 0
    lo, hi = (
        (int(v) for v in args.face_size.split(":")) if ":" in args.face_size else (int(args.face_size),) * 2
    )
    machine = harness.machine_info(tensorflow=False)  # before the run: it records the load average at start
    result = measure_build_throughput(fer_train, per_class_src=args.per_class_src, canvas=args.canvas,
                                      face_size=(lo, hi), workers=args.workers, detector=args.detector,
                                      per_class=args.per_class, seed=args.seed, progress=not args.no_progress)
    result["command"] = " ".join([Path(sys.executable).name, *(sys.argv if argv is None else [__file__, *argv])])
    result["machine"] = machine
    out = harness.resolve_out(args.out)
    harness.write_json(out, result, indent=2)
    print(
        f"{result['photos']} photos ({args.canvas}px, faces {lo}-{hi}px), {result['workers']} worker(s): detect "
        f"{result['detect_images_per_s']} images/s, end-to-end {result['end_to_end_images_per_s']} images/s "
        f"({result['end_to_end_seconds']:.1f}s), cached re-run {result['cached_rerun_seconds']:.1f}s; CPU "
        f"{result['cpu_s_per_image'] * 1000:.0f} ms/image + {result['worker_startup_cpu_s']:.1f}s start-up per "
        f"worker -> on {result['workers']} idle cores ~{result['estimated_idle_cores_detect_images_per_s']} "
        f"images/s (steady {result['estimated_idle_cores_steady_images_per_s']}); load avg at end "
        f"{result['load_avg_at_end'][0] if result['load_avg_at_end'] else 'n/a'}; MTCNN found a face in "
        f"{result['detection_rate']:.0%} of photos, {result['passed_rate']:.0%} passed conf/size -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
