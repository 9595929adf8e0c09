"""How long does the video-track quickstart take, and how well do the SVM and the three GRU heads do on it?

Why: ``fer-bench video quickstart`` (issue 12) is to generate the synthetic STREs-WoZ-like dataset
(:func:`fer_bench.video.synth.generate_video_dataset`) and run
:func:`fer_bench.video.experiment.run_video` (the code path of the CLI) with SVM + average / attention / conv heads in a few minutes on a
2-core CPU, with every method clearly above chance (16 classes: chance UAR 0.0625). This script measures exactly
that with :data:`fer_bench.video.synth.QUICKSTART_DEFAULTS` (each value can be overridden for calibration):
generation time, experiment wall time, per-method pooled and mean-fold test UAR/accuracy, epochs run.

    python benchmarks/video_synth_quickstart.py                       # the defaults; writes the JSON
    python benchmarks/video_synth_quickstart.py --participants 6 --max-epochs 30 --out /tmp/calib

Writes ``results/benchmarks/video_synth_quickstart.json`` (``--out`` to change). Needs no data: the dataset is
generated into a temporary folder and deleted afterwards (``--keep DIR`` keeps it there instead).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__:
    from . import harness
else:  # run as a file: python benchmarks/video_synth_quickstart.py
    import harness

harness.quiet_tf()


def measure_quickstart(params: dict, work: Path, heads=("average", "attention", "conv")) -> dict:
    """Generate the dataset into ``work`` and run the AU experiment; returns timings and scores."""
    from fer_bench.video.synth import generate_video_dataset

    with harness.timer() as t_gen:
        summary = generate_video_dataset(
            work, label_set=params["label_set"], n_participants=params["n_participants"],
            videos_per_class_per_participant=params["videos_per_class_per_participant"],
            frames=tuple(params["frames"]), fps=params["fps"], seed=params["seed"], overwrite=True,
        )
    harness.say(f"generated {summary['n_videos']} videos, {summary['n_frames']} frames in {t_gen.seconds:.1f} s")
    from fer_bench.video.dataset import resolve_dataset
    from fer_bench.video.experiment import VideoRunConfig, read_video_run, run_video

    cfg = VideoRunConfig(
        features="au", task="multiclass", label_set=params["label_set"], split="group_kfold",
        n_splits=params["n_splits"], heads=tuple(heads), seeds=(params["seed"],), max_epochs=params["max_epochs"],
        patience=params["patience"], batch_size=params["batch_size"],
    )
    t_start = time.perf_counter()

    def on_unit(name, done, total):
        harness.say(f"  unit {done + 1}/{total} {name}: started at {time.perf_counter() - t_start:.0f} s")

    with harness.timer() as t_exp:
        res = run_video(cfg, resolve_dataset(work), work / "results", on_unit=on_unit, force=True)
    run = read_video_run(res.folder)
    units = json.loads((res.folder / "history.json").read_text())
    methods = {}
    for name, m in res.metrics["methods"].items():
        row = {"test_uar": m["test_uar"]["mean"], "test_accuracy": m["test_accuracy"]["mean"],
               "val_uar": m["val_uar"]["mean"], "test_uar_ci95": m["test_uar_ci95"]}
        if name != "svm":
            row["epochs_run"] = [len(h) for k, h in sorted(units.items()) if f"-{name}-" in k]
        methods[name] = row
        harness.say(f"{name:10s} test UAR {row['test_uar']:.3f}  acc {row['test_accuracy']:.3f}  "
                    f"val UAR {row['val_uar']:.3f}")
    return {
        "params": params,
        "dataset": {k: summary[k] for k in ("n_videos", "n_frames", "n_failed_frames", "classes")},
        "generation_s": round(t_gen.seconds, 2),
        "experiment_s": round(t_exp.seconds, 2),
        "total_s": round(t_gen.seconds + t_exp.seconds, 2),
        "chance_uar": res.metrics["chance_uar"],
        "methods": methods,
        "split": run["split"],
        "config_hash": res.hash,
    }


def main(argv: list[str] | None = None) -> dict:
    from fer_bench.video.synth import QUICKSTART_DEFAULTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    d = QUICKSTART_DEFAULTS
    ap.add_argument("--participants", type=int, default=d["n_participants"])
    ap.add_argument("--videos-per-class", type=int, default=d["videos_per_class_per_participant"])
    ap.add_argument("--n-splits", type=int, default=d["n_splits"])
    ap.add_argument("--max-epochs", type=int, default=d["max_epochs"])
    ap.add_argument("--patience", type=int, default=d["patience"])
    ap.add_argument("--batch-size", type=int, default=d["batch_size"])
    ap.add_argument("--seed", type=int, default=d["seed"])
    ap.add_argument("--heads", default="average,attention,conv")
    ap.add_argument("--keep", type=Path, default=None, help="generate here and keep the dataset")
    ap.add_argument("--out", type=Path, default=harness.RESULTS)
    args = ap.parse_args(argv)
    params = {**d, "n_participants": args.participants, "videos_per_class_per_participant": args.videos_per_class,
              "n_splits": args.n_splits, "max_epochs": args.max_epochs, "patience": args.patience,
              "batch_size": args.batch_size, "seed": args.seed}
    params["frames"] = list(params["frames"])
    machine = harness.machine_info()
    work = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="ferbench-vsynth-"))
    t0 = time.perf_counter()
    try:
        data = measure_quickstart(params, work, heads=tuple(args.heads.split(",")))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    data["wall_s"] = round(time.perf_counter() - t0, 2)
    data["machine"] = {**machine, "load_average_end": harness.load_now()}
    data["command"] = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    harness.say(f"total {data['total_s']:.0f} s (generation {data['generation_s']:.1f} s, "
                f"experiment {data['experiment_s']:.0f} s)")
    for p in harness.write_results(args.out, "video_synth_quickstart", data):
        harness.say(f"wrote {p}")
    return data


if __name__ == "__main__":
    main()
