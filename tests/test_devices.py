"""--devices (MirroredStrategy) and --precision: hashing rules, CPU behaviour, and a real 2-replica run on a CPU
split into two logical devices (in a subprocess: the split must happen before TensorFlow initialises)."""

import json
import subprocess
import sys
import textwrap

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.protocol.config import RunConfig, parse_devices, scale_for_devices

TRAIN, TEST = "synth:lab?n=10&test=5", "synth:wild?n=5&test=5"


def test_hash_rules():
    base = RunConfig(model="lenet5", train="synth:lab", tests=("synth:wild",))
    assert base.config_hash() == "279a8f2aadb2"  # pinned in test_config: defaults leave the hash alone
    for d in (1, 2, "all", "2"):
        c = RunConfig(model="lenet5", train="synth:lab", tests=("synth:wild",), devices=d)
        assert c.config_hash() == base.config_hash() and c == base  # where a run trains is not what it computes
    assert RunConfig(model="lenet5", train="synth:lab", precision="float32").config_hash() == "279a8f2aadb2"
    mixed = RunConfig(model="lenet5", train="synth:lab", precision="mixed")
    assert mixed.config_hash() != base.config_hash() and mixed.to_dict()["precision"] == "mixed"
    assert "precision" not in base.to_dict() and "devices" not in base.to_dict()
    assert RunConfig.from_dict(mixed.to_dict()).config_hash() == mixed.config_hash()
    assert parse_devices("all") == "all" and parse_devices("3") == 3 and parse_devices(None) is None
    for bad in ("0", "two", -1):
        with pytest.raises(FerBenchError, match="--devices"):
            RunConfig(devices=bad)
    with pytest.raises(FerBenchError, match="--precision"):
        RunConfig(precision="bfloat16")


def test_scale_for_devices():
    cfg = RunConfig(model="lenet5", train="synth:lab", batch_size=32, devices=4).resolved()
    from fer_bench.models.registry import get_spec

    s = scale_for_devices(cfg, 4)
    assert s.batch_size == 128 and s.learning_rate == pytest.approx(4 * get_spec("lenet5").learning_rate)
    assert s.config_hash() != cfg.config_hash()
    assert scale_for_devices(cfg, 1) is cfg
    with pytest.raises(FerBenchError, match="--scale-batch"):
        scale_for_devices(cfg, "all")


def test_mixed_precision_refused_on_cpu():
    from fer_bench.protocol.devices import execution

    with pytest.raises(FerBenchError, match="--precision mixed needs a GPU") as exc, execution(None, "mixed", 16):
        pass
    assert "\n" not in str(exc.value)
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"


def test_device_errors_on_cpu():
    from fer_bench.protocol.devices import _devices

    names, kind = _devices("all")
    assert kind == "CPU" and len(names) >= 1
    with pytest.raises(FerBenchError, match="--devices 64: this machine has"):
        _devices(64)


SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import fer_bench as fb
    cfg = fb.RunConfig(model="lenet5", train=sys.argv[2], tests=(sys.argv[3],), epochs=1, batch_size=16,
                       devices="all")
    res = []
    for devices in ("all", 1):  # the same config hash: the second run replaces the first's folder (force)
        out = fb.run(cfg.replace(devices=devices), sys.argv[1], force=True)
        run = json.load(open(out.folder / "run.json"))
        res.append({"folder": out.folder.name, "execution": run["execution"], "precision": run["precision"]})
    print(json.dumps(res))
""")


def test_two_logical_cpus_mirrored(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), TRAIN, TEST], capture_output=True,
                          text=True, timeout=300, env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    two, one = json.loads(proc.stdout.strip().splitlines()[-1])
    ex = two["execution"]
    assert ex["strategy"] == "MirroredStrategy" and ex["device_kind"] == "CPU"
    assert ex["replicas"] == 2 and ex["per_replica_batch"] == 8 and ex["global_batch"] == 16
    assert ex["devices"] == "all" and len(ex["device_names"]) == 2
    assert one["execution"]["replicas"] == 1 and one["execution"]["devices"] == 1 and one["precision"] == "float32"
    # the same config hash (and folder) as a run without --devices
    cfg = RunConfig(model="lenet5", train=TRAIN, tests=(TEST,), epochs=1, batch_size=16).resolved()
    assert two["folder"] == one["folder"] == cfg.config_hash()


def test_bf16_policy_keeps_a_float32_softmax_and_the_weights():
    """--precision bf16: bfloat16 compute, but the softmax layer in float32 (no rounded probabilities)."""
    import keras
    import numpy as np

    from fer_bench.models.registry import build_model

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model("lenet5", 32, 7, "scratch")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert model.layers[2].compute_dtype == "bfloat16"
    out = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    assert out.dtype == np.float32 and np.allclose(out.sum(1), 1, atol=1e-5)


def test_bf16_refused_on_a_cpu_without_native_bfloat16(monkeypatch):
    import fer_bench.protocol.devices as devices

    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    with pytest.raises(FerBenchError, match="--precision bf16 needs a CPU with AVX512_BF16"), \
            devices.execution(None, "bf16", 16):
        pass


def test_bf16_run_trains_where_the_cpu_supports_it(tmp_path):
    from fer_bench.protocol.devices import cpu_has_bf16
    from fer_bench.protocol.run import execute_run

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bfloat16")
    cfg = RunConfig(model="lenet5", res=32, train="synth:lab?n=6&test=3", epochs=1, precision="bf16")
    out = execute_run(cfg, tmp_path)
    import json

    info = json.loads((out.folder / "run.json").read_text())
    assert info["precision"] == "bf16" and 0 <= out.metrics["in_domain"]["accuracy"] <= 1


def test_bf16_refused_on_a_pre_ampere_gpu(monkeypatch):
    import tensorflow as tf

    import fer_bench.protocol.devices as devices

    class Gpu:
        name = "/physical_device:GPU:0"

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [Gpu()] if kind == "GPU" else [])
    monkeypatch.setattr(devices, "_compute_capability", lambda g: (7, 5))
    with pytest.raises(FerBenchError, match="needs an Ampere or newer GPU"), devices.execution(None, "bf16", 16):
        pass
