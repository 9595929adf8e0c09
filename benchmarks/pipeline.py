"""Input-pipeline speed: fer-bench's decode-once cache + tf.data versus Keras 2's ImageDataGenerator.

One run, the same FER2013 training images, two measurements per input size (48 and 224 px by default):

(i) **the input path alone** (decode, augment, batch; no model), in images/s:

    * ``reference``: the BTFER authors' path, Keras 2's ``ImageDataGenerator(rescale=1/255,
      rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, zoom_range=0.2,
      horizontal_flip=True).flow_from_directory(train/, target_size=(S, S), batch_size=64,
      class_mode="categorical")`` (interpolation "nearest", the default). In Keras 3 it lives in
      ``keras.src.legacy.preprocessing.image``. It decodes every JPEG again on every epoch.
    * ``fer-bench``: ``decode_split`` once (its one-time cost is reported separately; if the split was
      already cached, a fresh decode into a temporary cache folder is timed as well), then
      ``make_dataset(cached, shuffle=True, augment=paper_augmentation(seed), class_weights=...)``.
      ``paper_augmentation`` is ``RandomAffine``: rotation, shift, zoom and flip composed into one affine
      resampling per image, like ImageDataGenerator; ``make_dataset`` applies it right after the uint8->float32
      cast and before the grey->RGB expansion (a third of the pixels for grey FER2013).

    Target set by the project issue: fer-bench >= 5x the reference at both sizes.

(ii) **training throughput** of the same model (``sequential_4conv`` at 48 px, ``mobilenetv2`` from scratch at
     224 px), in images/s of ``model.fit``:

    * ``reference``: ``model.fit`` on the ImageDataGenerator iterator (class_weight passed to fit, as the
      authors did);
    * ``fer-bench``: ``model.fit`` on ``make_dataset`` (augmentation + per-sample class weights);
    * ``model-only``: the upper bound: float32 tensors already in memory, no augmentation
      (``from_tensor_slices((x, y, w)).batch(64).cache().repeat()``), on a subset of the images.

    Target: fer-bench >= 0.95 of model-only.

Steady state: every fit runs ``warmup + steps`` batches in one call; a callback stamps the end of every batch
and only the last ``steps`` batches count (tracing, the first shuffle buffer fill and thread-pool start-up fall
in the warm-up). Two rates are reported per measurement: ``img_s`` = images / wall time of the timed window
(the headline figure) and ``img_s_median`` = batch size / median batch time (robust to a busy neighbour process
stealing the CPU for a few batches). The load average at start and end is recorded so a reader can judge
contention: on a 2-core machine, anything else running makes every figure lower and noisier.

The profile section (``--no-profile`` to skip) splits fer-bench's input path into its stages - memmap gather
alone, + float32 cast and grey->RGB expansion, + fer-bench's ``paper_augmentation`` (one fused affine
resampling, on grey before the expansion) - and, for comparison, swaps in the four chained Keras 3 layers
(``keras_layer_augmentation``: RandomRotation/Translation/Zoom/Flip, fer-bench's augmentation before
``RandomAffine``) via ``make_dataset(augment=keras_layer_augmentation(seed))``; since ``make_dataset`` applies
its augment callable before the grey->RGB expansion, that chain then also runs on the grey batch, which makes
it cheaper than it was in fer-bench's old RGB path. It also times every augmentation op alone on one in-memory
batch (grey and RGB), to show where the time goes.

Writes ``results/benchmarks/pipeline.json`` and ``pipeline.md`` (``--out``). Exits 0 with a message, writing
nothing, when the data folder is absent. Each measurement is a function returning a dict (``measure_decode``,
``measure_input_path``, ``measure_profile``, ``measure_training``); ``main`` parses the arguments, calls them and
writes.

    python benchmarks/pipeline.py                        # full run: all 28,709 images, 48 and 224 px
    python benchmarks/pipeline.py --quick                # smoke test: a 1,024-image subset, a few steps
    python benchmarks/pipeline.py --sizes 48 --steps 200 --train-steps 60
    python -m benchmarks.pipeline --quick               # the same, as a module (from the repository root)
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/pipeline.py): this folder is sys.path[0]
    import harness

harness.quiet_tf()

import numpy as np

say = harness.say
DEFAULT_DATA = harness.DEFAULT_DATA
DEFAULT_OUT = harness.RESULTS
BATCH = 64
SEED = 0
# figures measured on this machine by the issue author (reference path), for comparison in the report
ISSUE_FIGURES = {"reference_input_48": 1250, "reference_input_224": 230, "reference_train_48": 254,
                 "model_only_train_48": 325}
TARGET_INPUT_RATIO = 5.0
TARGET_TRAIN_FRACTION = 0.95


# ---------------------------------------------------------------------------------------------------------
# the one-time decode (memory.py uses subset_source and measure_decode too)

def subset_source(source, split: str, n: int, seed: int = 0):
    """A DataSource whose *split* holds a stratified sample of n of its images (other splits dropped)."""
    df = source.subset(split)
    if n <= 0 or n >= len(df):
        return source
    rng = np.random.default_rng(seed)
    frac = n / len(df)
    keep = []
    for _, grp in df.groupby("label", sort=True):
        k = max(1, round(frac * len(grp)))
        keep.extend(rng.choice(grp.index.to_numpy(), size=min(k, len(grp)), replace=False))
    sub = df.loc[sorted(keep)].reset_index(drop=True)
    return dataclasses.replace(source, manifest=sub)


def measure_decode(source, size: int, *, max_images: int, tmp_root: Path, fresh_decode: str = "full",
                   decode_sample: int = 4096, resize: str = "area") -> tuple:
    """The one-time decode of the train split at *size*: returns (CachedSplit, decode report dict).

    The cache comes back too because every other measurement reads it. Full split: the normal fer-bench
    cache. If it already existed, a fresh decode is timed into a temporary cache folder (fresh_decode="full":
    the whole split; "sample": *decode_sample* images, extrapolated; "none": skipped). A subset
    (max_images > 0) is always decoded fresh into *tmp_root*.
    """
    from fer_bench.data.cache import cache_disk_bytes, cache_key, cache_root, decode_split

    n_full = len(source.subset("train"))
    report: dict = {"size": size, "resize": resize, "n_split": n_full}
    last = [0.0]

    def progress(done, total):
        now = time.perf_counter()
        if now - last[0] > 15 or done == total:
            last[0] = now
            say(f"      decoded {done}/{total}")

    if max_images and max_images < n_full:
        src = subset_source(source, "train", max_images)
        root = tmp_root / f"subset{size}"
        with harness.timer() as t:
            cached = decode_split(src, "train", size, resize=resize, root=root, progress=progress)
        dt = t.seconds
        n = len(cached)
        report.update({"cache": "temporary (subset)", "n": n, "was_cached": False, "decode_seconds": round(dt, 2),
                       "decode_img_s": round(n / dt, 1),
                       "decode_seconds_full_split_extrapolated": round(dt * n_full / n, 1),
                       "decode_measured": f"this run: a {n}-image subset into a temporary cache (the full "
                                          f"{n_full:,}-image split extrapolated: {dt * n_full / n:.0f} s)",
                       "cache_bytes": cache_disk_bytes(cached.path)})
        return cached, report

    entry = cache_root() / cache_key(source, "train", size, "auto", resize)
    was_cached = (entry / "meta.json").is_file()
    with harness.timer() as t:
        cached = decode_split(source, "train", size, resize=resize, progress=progress)
    dt = t.seconds
    report.update({"cache": str(cached.path), "n": len(cached), "was_cached": was_cached,
                   "cache_bytes": cache_disk_bytes(cached.path)})
    if not was_cached:
        report.update({"decode_seconds": round(dt, 2), "decode_img_s": round(len(cached) / dt, 1),
                       "decode_measured": "this run (first decode into the normal cache)"})
        return cached, report
    report["load_seconds"] = round(dt, 3)
    report["decode_seconds_recorded"] = cached.meta.get("decode_seconds")
    if fresh_decode == "none":
        report["decode_measured"] = "not re-measured (--fresh-decode none); see decode_seconds_recorded"
        return cached, report
    src, label = source, "full split"
    if fresh_decode == "sample" and decode_sample < n_full:
        src, label = subset_source(source, "train", decode_sample), f"{decode_sample}-image sample"
    say(f"    already cached at {cached.path}; timing a fresh decode ({label}) into a temporary folder ...")
    root = tmp_root / f"fresh{size}"
    with harness.timer() as t:
        fresh = decode_split(src, "train", size, resize=resize, root=root, progress=progress)
    dt = t.seconds
    n = len(fresh)
    report.update({"decode_seconds": round(dt * n_full / n, 2), "decode_img_s": round(n / dt, 1),
                   "decode_measured": f"fresh decode of the {label} into a temporary cache"
                   + ("" if n == n_full else f" ({n} images in {dt:.1f} s, extrapolated to {n_full})")})
    del fresh
    shutil.rmtree(root, ignore_errors=True)
    return cached, report


# ---------------------------------------------------------------------------------------------------------
# timing helpers

def time_iterator(next_batch, steps: int, warmup: int) -> dict:
    for _ in range(warmup):
        next_batch()
    stamps = [time.perf_counter()]
    for _ in range(steps):
        next_batch()
        stamps.append(time.perf_counter())
    return harness.batch_rates(stamps, BATCH)


def time_dataset(ds, steps: int, warmup: int) -> dict:
    it = iter(ds)
    return time_iterator(lambda: next(it), steps, warmup)


# ---------------------------------------------------------------------------------------------------------
# the two input paths

def reference_iterator(train_dir: Path, size: int, seed: int = SEED):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    gen = ImageDataGenerator(rescale=1.0 / 255, rotation_range=20, width_shift_range=0.2,
                             height_shift_range=0.2, zoom_range=0.2, horizontal_flip=True)
    return gen.flow_from_directory(str(train_dir), target_size=(size, size), batch_size=BATCH,
                                   class_mode="categorical", seed=seed)  # color rgb, interpolation nearest


def train_class_weights(cached) -> dict:
    from fer_bench.protocol.balance import class_counts, class_weights

    return class_weights(class_counts(cached.labels, 7), "simple")


def fer_bench_dataset(cached, weights, *, augment: bool = True, seed: int = SEED):
    """fer-bench's training input path: make_dataset with paper_augmentation (RandomAffine) and class weights."""
    from fer_bench.data.pipeline import make_dataset, paper_augmentation

    aug = paper_augmentation(seed) if augment else None
    return make_dataset(cached, batch_size=BATCH, shuffle=True, augment=aug, class_weights=weights, seed=seed,
                        repeat=True)


def measure_input_path(cached, size: int, *, train_dir: Path | None, steps: int, warmup: int) -> dict:
    """(i) The input path alone, no model: the reference (ImageDataGenerator over *train_dir*, skipped when
    None) and fer-bench (make_dataset over *cached*), each ``warmup`` + ``steps`` batches; their ratio."""
    out: dict = {}
    if train_dir is not None:
        ref_it = reference_iterator(train_dir, size)
        out["reference"] = time_iterator(lambda it=ref_it: next(it), steps, warmup)
        del ref_it
        say(f"    reference  ImageDataGenerator: {out['reference']['img_s']:9.0f} img/s "
            f"(median {out['reference']['img_s_median']:.0f})")
    r_fb = time_dataset(fer_bench_dataset(cached, train_class_weights(cached)), steps, warmup)
    out["fer_bench"] = r_fb
    if "reference" in out:
        ratio = r_fb["img_s"] / out["reference"]["img_s"]
        out["ratio_fer_bench_vs_reference"] = round(ratio, 3)
        vs = f"  -> {ratio:.2f}x the reference"
    else:
        vs = ""
    say(f"    fer-bench  make_dataset:       {r_fb['img_s']:9.0f} img/s (median {r_fb['img_s_median']:.0f}){vs}")
    return out


# ---------------------------------------------------------------------------------------------------------
# profile of fer-bench's input path

def describe_paper_augmentation() -> str:
    from fer_bench.data.pipeline import paper_augmentation

    aug = paper_augmentation(SEED)
    if hasattr(aug, "layers"):
        return f"{type(aug).__name__} of " + " + ".join(type(x).__name__ for x in aug.layers)
    return type(aug).__name__


def measure_profile(cached, size: int, steps: int, warmup: int) -> dict:
    """fer-bench's input path stage by stage (tf.data pipelines), and each augmentation op alone on one batch."""
    import tensorflow as tf

    from fer_bench.data.pipeline import keras_layer_augmentation, make_dataset, paper_augmentation

    current = describe_paper_augmentation()
    out: dict = {"paper_augmentation_is": current, "tf_data_stages": {}, "augmentation_in_isolation": {}}
    images = cached.images
    h, w, c = images.shape[1:]
    idx = np.arange(len(cached))
    # make_dataset applies its augment callable after the float32 cast and before the grey->RGB expansion
    on_grey = " on grey, before grey->RGB" if c == 1 else f" on the {c}-channel batch"

    def gather(b):
        order = np.argsort(b, kind="stable")
        o = np.empty((len(b), h, w, c), np.uint8)
        o[order] = images[b[order]]
        return o

    def gather_only():
        ds = tf.data.Dataset.from_tensor_slices(idx).shuffle(len(idx), seed=SEED).repeat().batch(BATCH)
        ds = ds.map(lambda b: tf.numpy_function(gather, [b], tf.uint8, stateful=False),
                    num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    weights = train_class_weights(cached)
    kw = {"batch_size": BATCH, "shuffle": True, "class_weights": weights, "seed": SEED, "repeat": True}
    stages = [
        ("1 gather uint8 from memmap (shuffled batches)", gather_only),
        ("2 + float32 + grey->RGB + one-hot/weights (make_dataset, no augmentation)",
         lambda: make_dataset(cached, augment=None, **kw)),
        (f"3 + paper_augmentation = {current}: 1 affine resampling{on_grey} (fer-bench)",
         lambda: make_dataset(cached, augment=paper_augmentation(SEED), **kw)),
        (f"4 comparison: 2 + keras_layer_augmentation (4 chained Keras 3 layers){on_grey}",
         lambda: make_dataset(cached, augment=keras_layer_augmentation(SEED), **kw)),
    ]
    for name, make in stages:
        r = time_dataset(make(), steps, warmup)
        out["tf_data_stages"][name] = r
        say(f"      {name[:98]:98s} {r['img_s']:8.0f} img/s (median batch {r['img_s_median']:.0f})")

    # single ops on one in-memory batch (best of 3 windows: an isolated op timing)
    from keras import layers

    grey8 = tf.constant(np.asarray(images[:BATCH]) if c == 1 else np.asarray(images[:BATCH])[..., :1])
    rgb = tf.image.grayscale_to_rgb(tf.cast(grey8, tf.float32))
    grey = tf.cast(grey8, tf.float32)
    n_iter = max(3, min(20, steps // 2))
    cases = [
        ("float32 cast + grey->RGB (grayscale_to_rgb)", lambda b: tf.image.grayscale_to_rgb(tf.cast(b, tf.float32)),
         grey8),
        ("RandomRotation (grey)", layers.RandomRotation(20 / 360, fill_mode="nearest", seed=1), grey),
        ("RandomTranslation (grey)", layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=2), grey),
        ("RandomZoom (grey)", layers.RandomZoom(0.2, fill_mode="nearest", seed=3), grey),
        ("RandomFlip (grey)", layers.RandomFlip("horizontal", seed=4), grey),
        ("4 chained Keras 3 layers, keras_layer_augmentation (grey)", keras_layer_augmentation(SEED), grey),
        ("4 chained Keras 3 layers, keras_layer_augmentation (RGB)", keras_layer_augmentation(SEED), rgb),
        (f"paper_augmentation = {current} (grey, as fer-bench runs it)", paper_augmentation(SEED), grey),
        (f"paper_augmentation = {current} (RGB)", paper_augmentation(SEED), rgb),
    ]
    for name, op, x in cases:
        if hasattr(op, "call") or hasattr(op, "transforms"):
            fn = tf.function(lambda b, op=op: op(b, training=True))
        else:
            fn = tf.function(op)
        fn(x).numpy()
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(n_iter):
                r = fn(x)
            r.numpy()
            best = min(best, (time.perf_counter() - t0) / n_iter)
        out["augmentation_in_isolation"][name] = {"ms_per_batch": round(best * 1000, 2),
                                                  "img_s": round(BATCH / best, 1)}
        say(f"      {name[:66]:66s} {best * 1000:8.2f} ms/batch of {BATCH} {BATCH / best:9.0f} img/s")
    return out


# ---------------------------------------------------------------------------------------------------------
# training throughput

def _batch_timer():
    import keras

    class BatchTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stamps: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            if not self.stamps:
                self.stamps.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            self.stamps.append(time.perf_counter())

    return BatchTimer()


def build(model_name: str, size: int):
    import keras

    from fer_bench.models.registry import build_model

    keras.utils.set_random_seed(SEED)
    model = build_model(model_name, size, 7, "scratch")
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy",
                  metrics=["accuracy"], weighted_metrics=[])
    return model


def time_fit(model_name: str, size: int, data, steps: int, warmup: int, class_weight=None) -> dict:
    import keras

    model = build(model_name, size)
    timer = _batch_timer()
    t0 = time.perf_counter()
    model.fit(data, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[timer],
              class_weight=class_weight)
    total = time.perf_counter() - t0
    r = harness.batch_rates(timer.stamps[warmup:], BATCH)
    r["fit_seconds_incl_warmup"] = round(total, 1)
    del model
    keras.backend.clear_session()
    return r


def model_only_data(cached, weights, n: int):
    import tensorflow as tf

    n = min(n, len(cached))
    rng = np.random.default_rng(SEED)
    rows = np.sort(rng.choice(len(cached), size=n, replace=False))
    x = np.asarray(cached.images[rows], dtype=np.float32)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    lab = cached.labels[rows].astype(np.int64)
    y = np.eye(7, dtype=np.float32)[lab]
    table = np.ones(7, np.float32)
    for k, v in weights.items():
        table[int(k)] = v
    w = table[lab]
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(BATCH, drop_remainder=True).cache().repeat()
    return ds.prefetch(tf.data.AUTOTUNE), x.nbytes


def measure_training(cached, size: int, model_name: str, *, train_dir: Path, steps: int, warmup: int,
                     model_only_images: int) -> dict:
    """(ii) model.fit throughput of *model_name* (scratch) through the reference path, fer-bench's path and
    the model-only bound (*model_only_images* float32 images in memory), and the ratios between them."""
    weights = train_class_weights(cached)
    say(f"\n  (ii) training {model_name} at {size} px: {warmup} warm-up + {steps} timed steps per path")
    tr: dict = {"model": model_name, "steps": steps}
    ref_it = reference_iterator(train_dir, size)
    tr["reference"] = time_fit(model_name, size, ref_it, steps, warmup, class_weight=weights)
    del ref_it
    say(f"    reference  fit(ImageDataGenerator): {tr['reference']['img_s']:8.1f} img/s "
        f"(median {tr['reference']['img_s_median']:.1f})")
    tr["fer_bench"] = time_fit(model_name, size, fer_bench_dataset(cached, weights), steps, warmup)
    say(f"    fer-bench  fit(make_dataset):       {tr['fer_bench']['img_s']:8.1f} img/s "
        f"(median {tr['fer_bench']['img_s_median']:.1f})")
    n_mo = max(model_only_images, BATCH)
    ds, nbytes = model_only_data(cached, weights, n_mo)
    tr["model_only"] = time_fit(model_name, size, ds, steps, warmup)
    tr["model_only"]["images_in_memory"] = min(n_mo, len(cached))
    tr["model_only"]["float32_bytes"] = int(nbytes)
    del ds
    say(f"    model-only (float32 in memory):     {tr['model_only']['img_s']:8.1f} img/s "
        f"(median {tr['model_only']['img_s_median']:.1f})")
    mo = tr["model_only"]["img_s"]
    tr["fer_bench_vs_model_only"] = round(tr["fer_bench"]["img_s"] / mo, 3)
    tr["fer_bench_vs_reference"] = round(tr["fer_bench"]["img_s"] / tr["reference"]["img_s"], 3)
    tr["reference_vs_model_only"] = round(tr["reference"]["img_s"] / mo, 3)
    say(f"    fer-bench / model-only = {tr['fer_bench_vs_model_only']:.3f} (target >= "
        f"{TARGET_TRAIN_FRACTION}); reference / model-only = {tr['reference_vs_model_only']:.3f}")
    return tr


# ---------------------------------------------------------------------------------------------------------
# report

def fmt(v, nd=0):
    return "-" if v is None else f"{v:,.{nd}f}"


def render_markdown(res: dict) -> str:
    m = res["machine"]
    s = res["settings"]
    lines = [
        "# Input pipeline benchmark (`benchmarks/pipeline.py`)", "",
        (f"{m['date']} - {m['cpu_count']} CPUs ({m['cpu_model']}; "
         f"{m.get('cpu_vector') or 'vector extensions unknown'}), {m['memory_gb']} GB RAM, "
         f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, Python {m['python']}, GPUs: {m['gpus']}.  "),
        (f"Load average at start {m['load_average_start']}, at end {res.get('load_average_end')} "
         f"(1/5/15 min; above ~{m['cpu_count']} the machine was busy with other work and every figure below is "
         "depressed and noisy).  "),
        f"Settings: batch {BATCH}, input path {s['steps']} timed batches after {s['warmup']} warm-up, training "
        f"{s['train_steps']} timed steps after {s.get('train_warmup')} warm-up"
        f"{', QUICK smoke-test mode' if s['quick'] else ''}; images: "
        + ", ".join(f"{k} px: {v['n']:,}" for k, v in res["decode"].items()) + ".", "",
        ("img/s = images / wall time of the timed window; median = batch size / median batch time "
         "(robust to short stalls)."), "",
        "## One-time decode (fer-bench cache)", "",
        "| size | images | decode s | decode img/s | cache on disk | how measured |", "|---|---|---|---|---|---|",
    ]
    for size, d in res["decode"].items():
        lines.append(f"| {size} | {d['n']:,} | {fmt(d.get('decode_seconds'), 1)} | {fmt(d.get('decode_img_s'))} | "
                     f"{d['cache_bytes'] / 1e6:,.1f} MB | {d.get('decode_measured', d.get('cache'))} |")
    lines += ["", "## (i) Input path alone (decode/gather, augment, batch; no model)", "",
              "| path | size | img/s | median img/s | ratio vs reference |", "|---|---|---|---|---|"]
    for size, r in res["input_path"].items():
        ref = r["reference"]["img_s"]
        for key, label in (("reference", "reference: ImageDataGenerator.flow_from_directory"),
                           ("fer_bench", "fer-bench: decode_split + make_dataset + paper_augmentation")):
            if key in r:
                lines.append(f"| {label} | {size} | {fmt(r[key]['img_s'])} | {fmt(r[key]['img_s_median'])} | "
                             f"{r[key]['img_s'] / ref:.2f}x |")
    lines += ["", "## (ii) Training throughput (model.fit, steady state)", "",
              "| path | size | model | img/s | median img/s | vs reference | vs model-only |",
              "|---|---|---|---|---|---|---|"]
    for size, r in res["training"].items():
        ref, mo = r["reference"]["img_s"], r["model_only"]["img_s"]
        for key, label in (("reference", "reference: fit(ImageDataGenerator)"),
                           ("fer_bench", "fer-bench: fit(make_dataset + paper_augmentation)"),
                           ("model_only", "model-only (float32 in memory, no augmentation)")):
            if key in r:
                v = r[key]["img_s"]
                lines.append(f"| {label} | {size} | {r['model']} | {fmt(v, 1)} | {fmt(r[key]['img_s_median'], 1)} | "
                             f"{v / ref:.2f}x | {v / mo:.2f} |")
    lines += ["", "## Targets (project issue)", "", "| target | size | measured | met |", "|---|---|---|---|"]
    for t in res["targets"]:
        lines.append(f"| {t['target']} | {t['size']} | {t['measured']:.2f} | {'yes' if t['met'] else 'NO'} |")
    lines += ["", (f"Issue author's figures on this machine (reference path): input "
                   f"~{ISSUE_FIGURES['reference_input_48']:,} img/s at 48 px, ~{ISSUE_FIGURES['reference_input_224']}"
                   f" at 224 px; a sequential_4conv-like net ~{ISSUE_FIGURES['reference_train_48']} img/s through "
                   f"it, ~{ISSUE_FIGURES['model_only_train_48']} model-only.")]
    if res.get("profile"):
        lines += ["", "## Profile of fer-bench's input path", ""]
        for size, p in res["profile"].items():
            lines += [f"### {size} px", "", f"fer-bench's paper_augmentation: {p.get('paper_augmentation_is')}.", "",
                      "| tf.data pipeline | img/s | median img/s |", "|---|---|---|"]
            for name, r in p["tf_data_stages"].items():
                lines.append(f"| {name} | {fmt(r['img_s'])} | {fmt(r['img_s_median'])} |")
            lines += ["", f"| augmentation alone, one in-memory batch of {BATCH} (best of 3) | ms/batch | img/s |",
                      "|---|---|---|"]
            for name, r in p["augmentation_in_isolation"].items():
                lines.append(f"| {name} | {r['ms_per_batch']:.2f} | {fmt(r['img_s'])} |")
            lines.append("")
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"* {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring (top of benchmarks/pipeline.py) for details.")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="FER2013 folder with train/<class>/*.jpg (default: ../shared/data/fer2013 from the repo)")
    ap.add_argument("--sizes", default="48,224", help="comma-separated input sizes (default 48,224)")
    ap.add_argument("--steps", type=int, default=None,
                    help="timed batches per input-path measurement (default 100; --quick 20)")
    ap.add_argument("--train-steps", type=int, default=None,
                    help="timed batches per training measurement (default 40 at 48 px, a third of it (>= 10) at "
                         "larger sizes; --quick 3)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed warm-up batches before each input-path measurement, so tf.data's autotuner has "
                         "ramped up (default 10; --quick 5)")
    ap.add_argument("--train-warmup", type=int, default=None,
                    help="untimed warm-up batches of each training measurement (tracing; default 5; --quick 2)")
    ap.add_argument("--max-images", type=int, default=None,
                    help="use a stratified subset of N training images for fer-bench's path, decoded into a "
                         "temporary cache (default: all 28,709 in the normal cache; --quick 1024). The "
                         "reference always lists the whole train/ folder (its per-image cost is the same)")
    ap.add_argument("--model-only-images", type=int, default=None,
                    help="images held in memory as float32 for the model-only bound (default 2048 at 48 px, "
                         "1024 at larger sizes; --quick 256)")
    ap.add_argument("--fresh-decode", choices=("full", "sample", "none"), default=None,
                    help="when the split is already cached, time a fresh decode into a temporary folder of the "
                         "full split (default), of --decode-sample images (extrapolated), or not at all")
    ap.add_argument("--decode-sample", type=int, default=4096, help="images for --fresh-decode sample")
    ap.add_argument("--model-48", default="sequential_4conv", help="model for sizes < 100 px")
    ap.add_argument("--model-224", default="mobilenetv2", help="model for sizes >= 100 px (scratch init)")
    ap.add_argument("--no-profile", action="store_true", help="skip the stage-by-stage profile")
    ap.add_argument("--no-train", action="store_true", help="skip the training measurements")
    ap.add_argument("--quick", action="store_true", help="tiny step counts and a subset: a smoke test")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default results/benchmarks)")
    a = ap.parse_args(argv)
    q = a.quick
    a.steps = a.steps or (20 if q else 100)
    a.warmup = a.warmup if a.warmup is not None else (5 if q else 10)
    a.train_warmup = a.train_warmup if a.train_warmup is not None else (2 if q else 5)
    a.max_images = a.max_images if a.max_images is not None else (1024 if q else 0)
    a.fresh_decode = a.fresh_decode or ("sample" if q else "full")
    if q:
        a.decode_sample = min(a.decode_sample, 512)
    a.sizes = [int(s) for s in str(a.sizes).split(",") if s.strip()]
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    data = a.data.expanduser().resolve()
    if not harness.check_data(data):
        return 0
    say(f"pipeline benchmark: data {data}, sizes {a.sizes}{' (QUICK)' if a.quick else ''}")
    machine = harness.machine_info()
    say(f"  {machine['cpu_count']} CPUs, TF {machine['tensorflow']}, Keras {machine['keras']}, "
        f"load average at start {machine['load_average_start']}")

    from fer_bench.data.adapters import open_dataset

    source = open_dataset(str(data))
    res: dict = {"machine": machine, "settings": {
        "data": str(data), "sizes": a.sizes, "steps": a.steps, "warmup": a.warmup,
        "train_warmup": a.train_warmup, "quick": a.quick,
        "max_images": a.max_images, "batch_size": BATCH, "seed": SEED, "train_steps": None},
        "decode": {}, "input_path": {}, "training": {}, "profile": {}, "targets": [], "notes": []}
    tmp_root = Path(tempfile.mkdtemp(prefix="fer-bench-pipeline-bench-"))
    caches = {}
    try:
        for size in a.sizes:
            say(f"\n== {size} px ==")
            say("  decode (fer-bench cache)")
            cached, dec = measure_decode(source, size, max_images=a.max_images, tmp_root=tmp_root,
                                         fresh_decode=a.fresh_decode, decode_sample=a.decode_sample)
            caches[size] = cached
            res["decode"][str(size)] = dec
            say(f"    {dec['n']:,} images, cache {dec['cache_bytes'] / 1e6:,.1f} MB, one-time decode "
                f"{dec.get('decode_seconds')} s ({dec.get('decode_img_s')} img/s; {dec.get('decode_measured', '')})")

            say("  (i) input path alone")
            ip = measure_input_path(cached, size, train_dir=data / "train", steps=a.steps, warmup=a.warmup)
            res["input_path"][str(size)] = ip
            ratio = ip["ratio_fer_bench_vs_reference"]
            res["targets"].append({"target": f"input path >= {TARGET_INPUT_RATIO:g}x reference", "size": size,
                                   "measured": ratio, "met": bool(ratio >= TARGET_INPUT_RATIO)})
            if not a.no_profile:
                say("  profile of fer-bench's input path")
                res["profile"][str(size)] = measure_profile(cached, size, a.steps, a.warmup)

        if not a.no_train:
            res["settings"]["train_steps"] = a.train_steps or ("3" if a.quick else "40 at 48 px, 14 at 224 px")
            for size in a.sizes:
                steps = a.train_steps or (3 if a.quick else (40 if size < 100 else 14))
                n_mo = a.model_only_images or (256 if a.quick else (2048 if size < 100 else 1024))
                tr = measure_training(caches[size], size, a.model_48 if size < 100 else a.model_224,
                                      train_dir=data / "train", steps=steps, warmup=a.train_warmup,
                                      model_only_images=n_mo)
                res["training"][str(size)] = tr
                res["targets"].append({"target": f"fer-bench training >= {TARGET_TRAIN_FRACTION} of model-only",
                                       "size": size, "measured": tr["fer_bench_vs_model_only"],
                                       "met": bool(tr["fer_bench_vs_model_only"] >= TARGET_TRAIN_FRACTION)})
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    res["load_average_end"] = harness.load_now()
    res["notes"] = run_notes(machine, quick=a.quick)
    written = harness.write_results(a.out, "pipeline", res, render_markdown(res))
    say("\nTargets:")
    for t in res["targets"]:
        say(f"  {t['target']:45s} {t['size']:>4} px: {t['measured']:.2f}  {'met' if t['met'] else 'NOT met'}")
    say(f"\nwrote {written[0]} and {written[1]}")
    return 0


def run_notes(machine: dict, *, quick: bool) -> list[str]:
    """The notes that go with every result: how to read the figures of this run."""
    notes = []
    if quick:
        notes.append("QUICK smoke-test run: few steps and a small subset; the figures are indicative only.")
    la = machine["load_average_start"]
    if la and machine["cpu_count"] and la[0] > 0.5 * machine["cpu_count"]:
        notes.append(f"The machine was not idle (1-min load {la[0]} at start on {machine['cpu_count']} CPUs): "
                     "other processes competed for the CPU, so absolute figures are low and ratios noisy.")
    notes.append("The reference feeds the model x/255 while the fer-bench models divide by 255 themselves "
                 "(Preprocess layer), so the reference path divides twice; this changes no timing.")
    notes.append("The reference reads the JPEGs of the whole train/ folder; with --max-images fer-bench's path "
                 "uses a stratified subset (the per-image cost does not depend on which images).")
    notes.append(f"fer-bench's paper_augmentation in this run: {describe_paper_augmentation()}. "
                 "Like ImageDataGenerator, it resamples once per image (rotation, shift, zoom and flip composed "
                 "into one matrix), on the grey batch before the RGB expansion; the 4 chained Keras 3 layers "
                 "(keras_layer_augmentation, profile only) resample three times plus a flip pass, and in the "
                 "profile they also run on grey because make_dataset applies its augment callable before the "
                 "expansion.")
    return notes


if __name__ == "__main__":
    sys.exit(main())
