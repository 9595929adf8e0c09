"""Peak memory of a 224x224 training run over the full FER2013 training split, through fer-bench's pipeline.

Why: the issue requires a 224 px run on all 28,709 FER2013 training images to stay below 6 GB of resident
memory. fer-bench decodes each split once into a uint8 memory-mapped cache (grey FER2013 at 224 px:
28,709 x 224 x 224 = 1.44 GB on disk) and streams shuffled batches from it through tf.data, so the float32
data set never exists in RAM. This script checks that claim on the real data.

What it does, in one process (like ``fer-bench run``):

1. decodes the training split at ``--size`` with ``decode_split`` (the normal cache; a ``--max-images``
   subset is decoded into a temporary folder instead), timing the decode; if the split was already cached,
   the decode time recorded in the entry's ``meta.json`` is reported (``--fresh-decode`` re-times it into a
   temporary folder, after the training measurement so it cannot inflate the peak);
2. builds ``--model`` (``mobilenetv2`` from scratch by default; ``sequential_4conv`` also fits the brief but
   is ~20x more compute per image at 224 px) and trains it for ``--steps`` batches of 64 with
   ``make_dataset(shuffle=True, augment=paper_augmentation(seed), class_weights=simple)``, validating at the
   end on ``--val-steps`` batches of ``--val-batch-size`` from a stratified carve of the training split (10 %,
   or more when a subset is too small to fill them). The default validation batch is the one fer-bench's run
   uses: 64 at sizes > 96 px (so 64 at 224 px, to bound memory: MobileNetV2 validating at batch 256 peaks
   above 7 GB on its own), 256 at smaller sizes;
3. reports peak RSS two ways: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the kernel's high-water mark for
   the whole process, KiB on Linux) and a sampler thread reading RSS every ``--interval`` s (psutil when
   installed, else ``/proc/self/status``), which also splits RSS into anonymous memory (TensorFlow, Python,
   batches) and file-backed pages (the memory-mapped cache: page cache that the kernel can drop, but counted
   in RSS), per phase (decode, build, training).

Pass/fail: overall peak RSS (ru_maxrss, the conservative figure) < ``--limit-gb`` (6 GB = 6e9 bytes).
RSS counts the cache pages the run has touched; fer-bench's ``make_dataset`` releases them every 64 batches
(madvise MADV_DONTNEED on the read-only map, for caches >= 256 MB), so they cannot pile up over an epoch. The
report still gives an upper bound for a run that held every page at once: peak anonymous RSS + the cache file.

Writes ``results/benchmarks/memory.json`` and ``memory.md`` (``--out``). Exits 0 with a message, writing
nothing, when the data folder is absent. The two measurements are functions returning dicts:
``measure_peak_rss`` (the run above, in this process) and ``measure_model_only`` (the comparison run, in a child
process that runs ``measure_model_only_here``); ``main`` parses the arguments, calls them and writes.

    python benchmarks/memory.py                          # full: 28,709 images at 224 px, 200 steps
    python benchmarks/memory.py --max-images 2000 --steps 20 --val-steps 2   # a short check
    python -m benchmarks.memory --max-images 2000 --steps 20 --val-steps 2   # the same, as a module
"""

from __future__ import annotations

import argparse
import json
import mmap
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__:
    from . import harness
    from . import pipeline as bp
else:  # run as a file (python benchmarks/memory.py): this folder is sys.path[0]
    import harness
    import pipeline as bp

harness.quiet_tf()

import numpy as np

say = harness.say
DEFAULT_OUT = harness.RESULTS
GB = 1e9

try:
    import psutil  # type: ignore
except ImportError:  # not a fer-bench dependency
    psutil = None


def proc_status() -> dict:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of this process in bytes (Linux /proc/self/status)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def mapped_rss(suffix: str) -> int:
    """Resident bytes of this process's mappings of files whose path ends with *suffix* (/proc/self/smaps)."""
    total, hit = 0, False
    try:
        with open("/proc/self/smaps") as fh:
            for line in fh:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):  # a mapping header: addr-addr perms off dev inode path
                    parts = line.split()
                    hit = len(parts) >= 6 and parts[5].endswith(suffix)
                elif hit and first == "Rss:":
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


def ru_maxrss_bytes() -> int:
    v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(v) if sys.platform == "darwin" else int(v) * 1024  # bytes on macOS, KiB on Linux


class Sampler(threading.Thread):
    """Samples this process's RSS every *interval* seconds, tracking per-phase maxima and a timeline."""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval = interval
        self.phase = "start"
        self.t0 = time.perf_counter()
        self.peaks: dict[str, dict] = {}
        self.timeline: list[dict] = []
        self._halt = threading.Event()
        self._proc = psutil.Process() if psutil else None
        self.source = self.describe_source()
        self.cache_file: str | None = None  # path suffix of the memory-mapped cache file, once known
        self.cache_peak = 0
        self.cache_samples = 0

    @staticmethod
    def describe_source() -> str:
        return "psutil + /proc/self/status" if psutil else "/proc/self/status"

    def sample(self) -> dict:
        st = proc_status()
        rss = self._proc.memory_info().rss if self._proc else st.get("VmRSS", 0)
        return {"rss": int(rss), "anon": st.get("RssAnon"), "file": st.get("RssFile"), "hwm": st.get("VmHWM")}

    def record(self) -> dict:
        s = self.sample()
        p = self.peaks.setdefault(self.phase, {"rss": 0, "anon": 0, "file": 0})
        p["rss"] = max(p["rss"], s["rss"])
        p["anon"] = max(p["anon"], s["anon"] or 0)
        p["file"] = max(p["file"], s["file"] or 0)
        t = time.perf_counter() - self.t0
        if not self.timeline or t - self.timeline[-1]["t"] >= 1.0:
            self.timeline.append({"t": round(t, 1), "phase": self.phase, "rss_mb": round(s["rss"] / 1e6, 1),
                                  "anon_mb": round((s["anon"] or 0) / 1e6, 1),
                                  "file_mb": round((s["file"] or 0) / 1e6, 1)})
        return s

    def record_cache(self) -> int:
        """Resident bytes of the memory-mapped cache (smaps; too slow for every sample, so called at phase
        switches and progress points)."""
        if not self.cache_file:
            return 0
        v = mapped_rss(self.cache_file)
        self.cache_peak = max(self.cache_peak, v)
        self.cache_samples += 1
        p = self.peaks.setdefault(self.phase, {"rss": 0, "anon": 0, "file": 0})
        p["cache_mapped"] = max(p.get("cache_mapped", 0), v)
        return v

    def set_phase(self, phase: str) -> None:
        self.record()
        self.record_cache()
        self.phase = phase
        self.record()

    def run(self):
        while not self._halt.is_set():
            self.record()
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)
        self.record()


def mb(v) -> str:
    return "-" if v is None else f"{v / 1e6:,.0f} MB"


def render_markdown(res: dict) -> str:
    m, s, r = res["machine"], res["settings"], res["result"]
    d = res["decode"]
    mo = res.get("model_only") or {}
    lines = [
        "# Memory benchmark (`benchmarks/memory.py`)", "",
        (f"{m['date']} - {m['cpu_count']} CPUs ({m['cpu_model']}; "
         f"{m.get('cpu_vector') or 'vector extensions unknown'}), {m['memory_gb']} GB RAM, TensorFlow "
         f"{m['tensorflow']}, Keras {m['keras']}; load average at start {m['load_average_start']}, at end "
         f"{res.get('load_average_end')}.  "),
        (f"Run: {s['model']} (scratch) at {s['size']} px, {d['n']:,} training images, {s['steps']} steps of "
         f"{s['batch_size']} with paper augmentation and class weights, {s['val_steps']} validation batches of "
         f"{s.get('val_batch_size')}; RSS sampled every {s['interval']} s ({r['sampler']})"
         + (f"; cache pages dropped every {s['madvise_every']} steps (--madvise-every, on top of fer-bench's own every 64 batches)"
            if s.get("madvise_every") else "")
         + (" - **SUBSET run (--max-images), not the full-data figure**" if s["max_images"] else "") + "."), "",
        "| measure | value |", "|---|---|",
        f"| peak RSS, ru_maxrss (whole process) | **{mb(r['peak_rss_ru_maxrss'])}** |",
        f"| peak RSS, sampled | {mb(r['peak_rss_sampled'])} |",
        f"| limit | {mb(r['limit_bytes'])} |",
        f"| below the limit | **{'yes' if r['below_limit'] else 'NO'}** |",
        f"| peak anonymous RSS (TensorFlow, model activations, batches) | {mb(r['peak_anon_sampled'])} |",
        f"| peak file-backed RSS (shared libraries + cache pages) | {mb(r['peak_file_sampled'])} |",
        f"| of which the memory-mapped cache (smaps, {r['cache_samples']} samples) | {mb(r['peak_cache_mapped'])} |",
        (f"| bound if the whole cache were resident (peak RSS - cache pages + cache file) | "
         f"{mb(r['upper_bound_all_cache_resident'])} |"),
        f"| cache on disk (cache_disk_bytes) | {mb(d['cache_bytes'])} ({d['cache_bytes']:,} bytes) |",
        f"| decode time | {d.get('decode_seconds')} s ({d.get('decode_measured')}) |",
        f"| training | {r['fit_seconds']} s for {s['steps']} steps incl. tracing and validation |",
    ]
    if "data_path_adds" in r:
        lines += [
            (f"| same model and batch, in-memory random data, no pipeline ({mo['steps']} steps, "
             f"{mo.get('val_steps', 0)} validation batches) | "
             f"{mb(mo['peak_rss_vmhwm'])} (anonymous {mb(mo['peak_anon_sampled'])}) |"),
            (f"| => what the fer-bench data path adds: peak RSS / anonymous | "
             f"{mb(r['data_path_adds'])} / {mb(r['data_path_adds_anon'])} |"),
        ]
    lines += ["", "Peak RSS per phase (sampled):", "",
              "| phase | RSS | anonymous | file-backed | cache pages |", "|---|---|---|---|---|"]
    for ph, p in res["phases"].items():
        lines.append(f"| {ph} | {mb(p['rss'])} | {mb(p['anon'])} | {mb(p['file'])} | {mb(p.get('cache_mapped'))} |")
    if res.get("notes"):
        lines += ["", "Notes:", ""] + [f"* {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring (top of benchmarks/memory.py) for details.")
    ap.add_argument("--data", type=Path, default=harness.DEFAULT_DATA,
                    help="FER2013 folder with train/<class>/*.jpg (default: ../shared/data/fer2013 from the repo)")
    ap.add_argument("--size", type=int, default=224, help="input size (default 224)")
    ap.add_argument("--model", default="mobilenetv2", help="registry model, scratch init (default mobilenetv2)")
    ap.add_argument("--steps", type=int, default=200, help="training steps of --batch-size (default 200)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--val-steps", type=int, default=10,
                    help="validation batches at the end of training (default 10; 0 = none)")
    ap.add_argument("--val-batch-size", type=int, default=None,
                    help="validation batch size (default: as fer-bench's run validates, 64 at --size > 96 to "
                         "bound memory, 256 otherwise)")
    ap.add_argument("--max-images", type=int, default=0,
                    help="use a stratified subset of N training images, decoded into a temporary folder "
                         "(default 0 = all 28,709 in the normal cache). For quick checks only")
    ap.add_argument("--fresh-decode", action="store_true",
                    help="when the split is already cached, also time a fresh decode into a temporary folder "
                         "(after the training measurement)")
    ap.add_argument("--model-only-steps", type=int, default=10,
                    help="steps of the comparison run in a child process: the same model, batch size and "
                         "--val-steps on in-memory random data, to separate the model's own memory from the "
                         "data path's (default 10; 0 = skip)")
    ap.add_argument("--madvise-every", type=int, default=0,
                    help="extra shedding on top of fer-bench's own (make_dataset already drops the cache pages "
                         "of caches >= 256 MB from RSS every 64 batches with madvise(MADV_DONTNEED)): every N "
                         "training steps, drop them here too. Default 0 = off, i.e. fer-bench as is")
    ap.add_argument("--limit-gb", type=float, default=6.0, help="RSS limit in GB (1e9 bytes; default 6)")
    ap.add_argument("--interval", type=float, default=0.25, help="RSS sampling interval in seconds")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default results/benchmarks)")
    ap.add_argument("--model-only-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.val_batch_size is None:  # fer_bench/protocol/run.py: batch 64 when res > 96, else 256
        a.val_batch_size = 64 if a.size > 96 else 256
    return a


def measure_model_only_here(model_name: str, size: int, *, steps: int, batch_size: int, val_steps: int,
                            val_batch_size: int, interval: float = 0.25) -> dict:
    """Peak RSS of training *model_name* on two cached random batches in this process (and validating on
    *val_steps* random batches of *val_batch_size*, like the main run). Meant for a fresh process: see
    :func:`measure_model_only`."""
    import tensorflow as tf

    sampler = Sampler(interval)
    sampler.start()
    rng = np.random.default_rng(0)
    n = 2 * batch_size
    x = rng.integers(0, 256, (n, size, size, 3)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]
    w = np.ones(n, np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(batch_size).cache().repeat()
    val = None
    if val_steps:
        nv = val_batch_size
        xv = rng.integers(0, 256, (nv, size, size, 3)).astype(np.float32)
        yv = np.eye(7, dtype=np.float32)[rng.integers(0, 7, nv)]
        val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(nv).cache().repeat()
    model = bp.build(model_name, size)
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, validation_data=val,
              validation_steps=val_steps or None)
    sampler.stop()
    # VmHWM, not ru_maxrss: after fork+exec Linux carries the parent's high-water mark into the child's
    # ru_maxrss, while VmHWM belongs to the child's own address space
    return {"peak_rss_vmhwm": proc_status().get("VmHWM"), "ru_maxrss_inherited": ru_maxrss_bytes(),
            "peak_rss_sampled": max(p["rss"] for p in sampler.peaks.values()), "steps": steps,
            "val_steps": val_steps, "peak_anon_sampled": max(p["anon"] for p in sampler.peaks.values()),
            "input_bytes_in_memory": int(x.nbytes)}


def measure_model_only(model_name: str, size: int, *, steps: int, batch_size: int, val_steps: int,
                       val_batch_size: int, interval: float = 0.25) -> dict:
    """The model's own memory: :func:`measure_model_only_here` in a child process (``python -m
    benchmarks.memory --model-only-child ...`` from the repository root), so that nothing of this process
    counts. Returns its dict plus ``seconds``, or ``{"error": [last line]}`` when the child failed."""
    cmd = [sys.executable, "-m", "benchmarks.memory", "--model-only-child", "--model", model_name,
           "--size", str(size), "--steps", str(steps), "--batch-size", str(batch_size), "--val-steps",
           str(val_steps), "--val-batch-size", str(val_batch_size), "--interval", str(interval)]
    with harness.timer() as t:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=harness.REPO)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["seconds"] = round(t.seconds, 1)
    return out


def measure_peak_rss(data: Path, *, size: int, model_name: str, steps: int, batch_size: int, val_steps: int,
                     val_batch_size: int, max_images: int = 0, fresh_decode: bool = False, madvise_every: int = 0,
                     interval: float = 0.25, limit_gb: float = 6.0) -> dict:
    """Decode the train split of *data* at *size* and train *model_name* on it through fer-bench's pipeline
    (see the module docstring), sampling RSS. Returns {"decode", "result", "phases", "timeline", "notes"}."""
    import keras

    from fer_bench.data.adapters import open_dataset
    from fer_bench.data.cache import decode_split
    from fer_bench.data.pipeline import make_dataset, paper_augmentation, stratified_split
    from fer_bench.protocol.balance import class_counts, class_weights

    sampler = Sampler(interval)
    sampler.start()
    source = open_dataset(str(data))
    s0 = sampler.sample()
    say(f"  after imports: RSS {mb(s0['rss'])} (file-backed {mb(s0['file'])}: mostly shared libraries)")
    tmp_root = Path(tempfile.mkdtemp(prefix="fer-bench-memory-bench-"))
    notes: list[str] = []
    try:
        sampler.set_phase("decode")
        say(f"  decoding the train split at {size} px ...")
        cached, dec = bp.measure_decode(source, size, max_images=max_images, tmp_root=tmp_root,
                                        fresh_decode="none")
        sampler.cache_file = str(cached.path / "images.npy")
        sampler.record_cache()
        if dec.get("was_cached"):
            dec["decode_seconds"] = dec.get("decode_seconds_recorded")
            dec["decode_measured"] = ("already cached: decode time recorded in meta.json when the entry was "
                                      "created" + ("; re-timed below" if fresh_decode else
                                                   " (--fresh-decode to re-time it)"))
        say(f"    {dec['n']:,} images, cache {dec['cache_bytes'] / 1e6:,.1f} MB on disk, decode "
            f"{dec.get('decode_seconds')} s ({dec.get('decode_measured', dec.get('cache'))}); RSS now "
            f"{mb(sampler.sample()['rss'])}")

        sampler.set_phase("build")
        keras.utils.set_random_seed(0)
        # 10 % as the protocol carves, more when a small subset could not fill val_steps full batches
        val_frac = min(0.5, max(0.1, 1.05 * val_steps * val_batch_size / len(cached)))
        fit_idx, val_idx = stratified_split(cached.labels, val_frac, 0)
        num_classes = 7
        weights = class_weights(class_counts(cached.labels[fit_idx], num_classes), "simple")
        model = bp.build(model_name, size)
        train_ds = make_dataset(cached, fit_idx, batch_size=batch_size, num_classes=num_classes, shuffle=True,
                                augment=paper_augmentation(0), class_weights=weights, seed=0, repeat=True)
        val_ds = (make_dataset(cached, val_idx, batch_size=val_batch_size, num_classes=num_classes)
                  if val_steps else None)
        say(f"  model built ({model.count_params():,} params); RSS {mb(sampler.sample()['rss'])}")

        sampler.set_phase("training")
        say(f"  training {steps} steps ...")

        class Progress(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if madvise_every and (batch + 1) % madvise_every == 0:
                    sampler.record_cache()
                    mm = getattr(cached.images, "_mmap", None)
                    if mm is not None:
                        mm.madvise(mmap.MADV_DONTNEED)
                if (batch + 1) % 5 == 0 or batch + 1 == steps:
                    c = sampler.record_cache()
                    if (batch + 1) % 10 == 0 or batch + 1 == steps:
                        s = sampler.sample()
                        say(f"    step {batch + 1}/{steps}: RSS {mb(s['rss'])} (anon {mb(s['anon'])}, "
                            f"file-backed {mb(s['file'])}, cache pages {mb(c)}), {fit.seconds:.0f} s")

            def on_test_begin(self, logs=None):
                sampler.set_phase("validation")

        with harness.timer() as fit:
            model.fit(train_ds, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[Progress()],
                      validation_data=val_ds, validation_steps=val_steps or None)
        sampler.set_phase("after training")
        sampler.stop()
        peak_ru = ru_maxrss_bytes()
        hwm = proc_status().get("VmHWM")
        phases = sampler.peaks
        peak_sampled = max(p["rss"] for p in phases.values())
        peak_anon = max(p["anon"] for p in phases.values())
        peak_file = max(p["file"] for p in phases.values())
        del model, train_ds, val_ds

        if fresh_decode and dec.get("was_cached"):
            say("  timing a fresh decode into a temporary folder (after the RSS measurement) ...")
            with harness.timer() as t:
                fresh = decode_split(source, "train", size, root=tmp_root / "fresh")
            dec.update({"decode_seconds": round(t.seconds, 2), "decode_img_s": round(len(fresh) / t.seconds, 1),
                        "decode_measured": "fresh decode of the full split into a temporary folder"})
            del fresh
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    limit = limit_gb * GB
    cache_peak = sampler.cache_peak
    result = {
        "peak_rss_ru_maxrss": peak_ru, "peak_rss_vmhwm": hwm, "peak_rss_sampled": int(peak_sampled),
        "peak_anon_sampled": int(peak_anon), "peak_file_sampled": int(peak_file),
        "peak_cache_mapped": int(cache_peak), "cache_samples": sampler.cache_samples,
        "upper_bound_all_cache_resident": int(max(peak_ru, peak_sampled) - cache_peak + dec["cache_bytes"]),
        "limit_bytes": int(limit), "below_limit": bool(peak_ru < limit),
        "fit_seconds": round(fit.seconds, 1), "sampler": sampler.source,
    }
    result["upper_bound_below_limit"] = bool(result["upper_bound_all_cache_resident"] < limit)
    if madvise_every:
        notes.append(f"--madvise-every {madvise_every}: the cache pages were dropped from RSS every "
                     f"{madvise_every} steps, on top of fer-bench's own shedding every 64 batches.")
    if max_images:
        notes.append(f"SUBSET run ({dec['n']:,} images): the cache and its resident pages are smaller than with "
                     "the full split; run without --max-images for the figure the issue asks for.")
    notes.append("RSS counts the pages of the memory-mapped cache this process has touched (file-backed, "
                 "reclaimable page cache, measured from /proc/self/smaps); the bound assumes all of them "
                 "resident at once, as after a full epoch.")
    notes.append("File-backed RSS also counts the shared libraries (TensorFlow alone maps several hundred MB).")
    if dec.get("was_cached") is False and not max_images:
        notes.append("The split was decoded in this process, so the decode phase is part of the whole-process "
                     "peak, as in a first `fer-bench run`.")
    peak_phase = max(phases, key=lambda k: phases[k]["rss"])
    if peak_phase == "after training":  # the maximum was reached in the phase before and kept
        peak_phase = list(phases)[-2] if len(phases) > 1 else peak_phase
    notes.append(f"Peak phase: {peak_phase}. Most of the anonymous memory is the model's own activations "
                 f"(training at batch {batch_size}, validation at batch {val_batch_size}); the model-only "
                 "comparison (same model and batches, random data in memory, no pipeline) separates them from "
                 "what the data path adds.")
    return {"decode": dec, "result": result, "phases": phases, "timeline": sampler.timeline, "notes": notes}


def main(argv=None) -> int:
    a = parse_args(argv)
    run_kw = {"steps": a.steps, "batch_size": a.batch_size, "val_steps": a.val_steps,
              "val_batch_size": a.val_batch_size, "interval": a.interval}
    if a.model_only_child:  # the child process of measure_model_only: its dict as JSON on the last line
        print(json.dumps(measure_model_only_here(a.model, a.size, **run_kw)))
        return 0
    data = a.data.expanduser().resolve()
    if not harness.check_data(data):
        return 0
    machine = harness.machine_info()
    say(f"memory benchmark: {a.model} at {a.size} px, {a.steps} steps, data {data}")
    say(f"  {machine['cpu_count']} CPUs, {machine['memory_gb']} GB RAM, TF {machine['tensorflow']}, load average "
        f"{machine['load_average_start']}; RSS via {Sampler.describe_source()}")

    model_only = None
    if a.model_only_steps:  # first, so the parent holds little memory meanwhile
        say(f"  comparison: {a.model} on in-memory random data, {a.model_only_steps} steps, in a child process ...")
        model_only = measure_model_only(a.model, a.size, **{**run_kw, "steps": a.model_only_steps})
        if "peak_rss_vmhwm" in model_only:
            say(f"    the model alone: peak RSS {mb(model_only['peak_rss_vmhwm'])} (VmHWM; anonymous "
                f"{mb(model_only['peak_anon_sampled'])})")
        else:
            say(f"    comparison run failed: {model_only.get('error')}")

    run = measure_peak_rss(data, size=a.size, model_name=a.model, max_images=a.max_images,
                           fresh_decode=a.fresh_decode, madvise_every=a.madvise_every, limit_gb=a.limit_gb, **run_kw)
    result, dec = run["result"], run["decode"]
    if model_only and "peak_rss_vmhwm" in model_only:
        result["data_path_adds"] = int(result["peak_rss_ru_maxrss"] - model_only["peak_rss_vmhwm"])
        result["data_path_adds_anon"] = int(result["peak_anon_sampled"] - model_only["peak_anon_sampled"])
    res = {"machine": machine, "load_average_end": harness.load_now(),
           "settings": {"data": str(data), "size": a.size, "model": a.model, "steps": a.steps,
                        "batch_size": a.batch_size, "val_steps": a.val_steps,
                        "val_batch_size": a.val_batch_size, "max_images": a.max_images,
                        "interval": a.interval, "limit_gb": a.limit_gb, "madvise_every": a.madvise_every},
           "decode": dec, "result": result, "model_only": model_only, "phases": run["phases"],
           "timeline": run["timeline"], "notes": run["notes"]}
    say(f"\npeak RSS {mb(result['peak_rss_ru_maxrss'])} (ru_maxrss; sampled {mb(result['peak_rss_sampled'])}: "
        f"anonymous {mb(result['peak_anon_sampled'])}, file-backed {mb(result['peak_file_sampled'])}, of which "
        f"cache pages {mb(result['peak_cache_mapped'])}) vs limit {mb(result['limit_bytes'])}: "
        f"{'below' if result['below_limit'] else 'ABOVE'}")
    say(f"bound with the whole cache resident: {mb(result['upper_bound_all_cache_resident'])}; cache on disk "
        f"{dec['cache_bytes']:,} bytes; decode {dec.get('decode_seconds')} s")
    if "data_path_adds" in result:
        say(f"the model alone peaks at {mb(model_only['peak_rss_vmhwm'])}: the data path adds "
            f"{mb(result['data_path_adds'])} of RSS, {mb(result['data_path_adds_anon'])} of anonymous memory")
    written = harness.write_results(a.out, "memory", res, render_markdown(res))
    say(f"wrote {written[0]} and {written[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
