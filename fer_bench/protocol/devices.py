"""Where one run trains: ``--devices N|all`` (tf.distribute.MirroredStrategy) and ``--precision mixed|float32``.

* ``devices`` None (the default): no strategy, TensorFlow's default device; everything as before the option.
* ``devices`` N / ``all``: a MirroredStrategy over the first N (all) GPUs; on a machine without GPUs, over the
  logical CPU devices (one unless the process split its CPU with ``tf.config.set_logical_device_configuration``,
  as the tests do). ``batch_size`` is the global batch: each of the N replicas gets ``batch_size / N`` images
  per step and the gradients are summed across them, so the learning rate and the training computed stay those
  of one device (see :func:`fer_bench.protocol.config.scale_for_devices` for the linear scaling rule).
* ``precision`` ``bf16``: Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 variables, no loss
  scaling needed): on CPUs with AVX512_BF16 or AMX (checked in /proc/cpuinfo; refused elsewhere) and on GPUs.
  The softmax layer computes in float32 under both mixed policies (models.registry).
* ``precision`` ``mixed``: Keras' ``mixed_float16`` policy (float16 compute, float32 variables, dynamic loss
  scaling through the optimizer Keras wraps at compile time). GPU only: on CPUs it brings no speed-up and
  usually runs slower, so a run without a visible GPU refuses it in one line instead of silently training in
  float32 (the result would not be what was asked for, and its hash would claim mixed precision).

:func:`execution` is the context a run's prepare/train/record steps run in; it yields what ``run.json`` records.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..errors import FerBenchError


def _devices(n: int | str) -> tuple[list[str], str]:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    pool, kind = (gpus, "GPU") if gpus else (tf.config.list_logical_devices("CPU"), "CPU")
    names = [d.name for d in pool]
    if n == "all":
        return names, kind
    if n > len(names):
        raise FerBenchError(f"--devices {n}: this machine has {len(names)} {kind} device"
                            f"{'s' if len(names) != 1 else ''} visible to TensorFlow; pass --devices "
                            f"{len(names)} or all")
    return names[:n], kind


def patch_symbolic_build(model) -> None:
    """Work around Keras 3's MirroredStrategy build step for batches that do not split evenly.

    Before fit/evaluate under a strategy, Keras builds the metrics from the first batch by *averaging* the
    replicas' shards (``strategy.reduce("MEAN", batch)``), which fails when that batch splits unevenly (7
    validation images on 2 replicas: shards of 4 and 3). Only the shapes matter to that build, so this takes the
    first replica's shard instead. Instance-level: other models are untouched.
    """
    import tensorflow as tf
    from keras import tree

    strategy = model.distribute_strategy

    def first_shard(v):
        return strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tree.map_structure(first_shard, next(it))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build


def _compute_capability(gpu) -> tuple[int, int]:
    """A GPU's CUDA compute capability, (99, 0) when TensorFlow does not say (then it is not refused)."""
    import tensorflow as tf

    try:
        cc = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    except (ValueError, RuntimeError):
        cc = None
    return tuple(cc) if cc else (99, 0)


#: the Keras dtype policy of each non-default --precision
POLICIES = {"mixed": "mixed_float16", "bf16": "mixed_bfloat16"}


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN uses AVX512_BF16 / AMX; elsewhere it emulates it)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@contextlib.contextmanager
def execution(devices: int | str | None, precision: str, batch_size: int):
    """Enter the run's distribution strategy and precision policy; yields the record for ``run.json``."""
    import keras
    import tensorflow as tf

    record: dict = {"precision": precision, "devices": devices, "strategy": None, "replicas": 1,
                    "global_batch": int(batch_size), "per_replica_batch": int(batch_size)}
    if precision == "mixed" and not tf.config.list_logical_devices("GPU"):
        raise FerBenchError("--precision mixed needs a GPU (mixed_float16 brings CPUs no speed-up and usually "
                            "runs slower); use --precision float32 here (or bf16 on a CPU with AVX512_BF16), "
                            "or run on a GPU machine")
    if precision == "bf16":
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus and not cpu_has_bf16():
            raise FerBenchError("--precision bf16 needs a CPU with AVX512_BF16 or AMX (this one has neither, so "
                                "bfloat16 would be emulated and slower) or a GPU; use --precision float32 here")
        old = [g.name for g in gpus if _compute_capability(g) < (8, 0)]
        if old:
            raise FerBenchError(f"--precision bf16 needs an Ampere or newer GPU (compute capability 8.0+); "
                                f"{', '.join(old)} is older: use --precision mixed (float16) there")
    previous = keras.mixed_precision.global_policy().name
    strategy = None
    if devices is not None:
        names, kind = _devices(devices)
        strategy = tf.distribute.MirroredStrategy(devices=names)
        n = int(strategy.num_replicas_in_sync)
        if batch_size < n:
            raise FerBenchError(f"--batch-size {batch_size} is smaller than the {n} replicas of --devices "
                                f"{devices}; use a batch of at least {n}")
        record.update(strategy="MirroredStrategy", replicas=n, device_names=names, device_kind=kind,
                      per_replica_batch=int(batch_size) // n)
    try:
        if precision in POLICIES:
            keras.mixed_precision.set_global_policy(POLICIES[precision])
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            yield record
    finally:
        keras.mixed_precision.set_global_policy(previous)
