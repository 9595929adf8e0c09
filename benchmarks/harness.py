"""What the benchmark scripts share: where things are, the machine record, timing, and writing results.

* :data:`REPO`, :data:`DEFAULT_DATA` (FER2013 as class folders, ``../shared/data/fer2013`` from the repository
  root), :data:`RESULTS` (``results/benchmarks``), :func:`check_data` (is there a ``train/<class>/`` folder?);
* :func:`machine_info`: date, CPU model, cores, vector extensions, memory, load average, package versions, GPUs;
  :func:`load_now` for the load average at the end of a run;
* :func:`timer` (a stopwatch context manager) and :func:`batch_rates` (images/s from batch-end timestamps);
* :func:`write_results` / :func:`write_json` / :func:`write_text_atomic`: JSON (+ Markdown) written through a
  temporary file and ``os.replace``, so an interrupted run never leaves a half-written result file;
* :func:`quiet_tf`: hide TensorFlow's C++ log lines (call it before TensorFlow is imported);
* :func:`say`: print and flush (the scripts report as they go).

Nothing here imports TensorFlow at module level, so importing a benchmark module is cheap.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
RESULTS = REPO / "results" / "benchmarks"
#: CPU flags that decide how fast the models run (two CPUs sold under one name were seen ~8x apart)
VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")


def quiet_tf() -> None:
    """Hide TensorFlow's C++ INFO/WARNING/ERROR log lines (set before TensorFlow is imported; idempotent)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def say(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------------------
# locations

def check_data(data: Path) -> bool:
    """True when *data* has a train/ folder with class folders; prints why not otherwise."""
    train = data / "train"
    if not train.is_dir() or not any(p.is_dir() for p in train.iterdir()):
        say(f"FER2013 not found at {data} (expected {train}/<class>/*.jpg); pass --data PATH. "
            "Nothing measured, nothing written.")
        return False
    return True


def resolve_out(path: Path) -> Path:
    """An --out path as given on the command line: relative paths are relative to the working directory."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


# ---------------------------------------------------------------------------------------------------------
# the machine

def load_now() -> list | None:
    """1/5/15-minute load average, rounded (None where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def cpu_info() -> dict:
    """CPU model name and the vector extensions in VECTOR_FLAGS it has (Linux /proc/cpuinfo; None elsewhere)."""
    model = platform.processor() or platform.machine()
    vector = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and vector is None:
                flags = set(line.split(":", 1)[1].split())
                vector = " ".join(f for f in VECTOR_FLAGS if f in flags)
    except OSError:
        pass
    return {"cpu_model": model, "cpu_vector": vector}


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def package_version(module: str, dist: str | None = None) -> str | None:
    """Version of *module*: its ``__version__`` when already imported, else the installed distribution's."""
    mod = sys.modules.get(module)
    if mod is not None and getattr(mod, "__version__", None):
        return str(mod.__version__)
    from importlib import metadata

    try:
        return metadata.version(dist or module)
    except metadata.PackageNotFoundError:
        return None


def machine_info(*, tensorflow: bool = True) -> dict:
    """Where and when a measurement ran: the dict the scripts store under "machine".

    With *tensorflow* (the default), TensorFlow and Keras are imported so their versions are the ones in use
    and GPUs are counted; with ``tensorflow=False`` nothing heavy is imported (versions from the installed
    packages' metadata, ``gpus`` None) - for scripts whose measured work runs in other processes.
    """
    gpus = None
    if tensorflow:
        import keras  # noqa: F401
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "cpus_usable": affinity, **cpu_info(), "memory_gb": memory_gb(),
        "load_average_start": load_now(), "python": platform.python_version(),
        "tensorflow": package_version("tensorflow"), "keras": package_version("keras"),
        "numpy": package_version("numpy"), "platform": platform.platform(), "gpus": gpus,
    }


# ---------------------------------------------------------------------------------------------------------
# timing

@dataclass
class Elapsed:
    """Filled in by :func:`timer`: ``seconds`` is the time so far inside the block, the total after it."""

    start: float
    end: float | None = None

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else time.perf_counter()) - self.start


@contextlib.contextmanager
def timer() -> Iterator[Elapsed]:
    """``with timer() as t: ...`` then ``t.seconds`` (wall clock, time.perf_counter)."""
    t = Elapsed(time.perf_counter())
    try:
        yield t
    finally:
        t.end = time.perf_counter()


def batch_rates(stamps: list[float], batch: int) -> dict:
    """Images/s from batch-end timestamps (stamps[0] = start of the timed window, one stamp per batch after).

    ``img_s`` = images / wall time of the window (the headline figure); ``img_s_median`` = batch / median batch
    time (robust to a neighbour process stealing the CPU for a few batches).
    """
    import numpy as np

    d = np.diff(np.asarray(stamps))
    total = float(stamps[-1] - stamps[0])
    return {"img_s": round(batch * len(d) / total, 1), "img_s_median": round(batch / float(np.median(d)), 1),
            "batches": len(d), "seconds": round(total, 3),
            "batch_ms_p10_p50_p90": [round(float(np.percentile(d, q)) * 1000, 2) for q in (10, 50, 90)]}


# ---------------------------------------------------------------------------------------------------------
# writing

def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write *text* to *path* through a temporary file in the same folder and os.replace (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # keep an existing file's permissions; a new one gets the usual 0o666 less the umask (not mkstemp's 0o600)
        mode = path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding=encoding) as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path, data, *, indent: int = 1) -> Path:
    """Write ``json.dumps(data, indent=indent)`` plus a final newline to *path*, atomically."""
    return write_text_atomic(resolve_out(path), json.dumps(data, indent=indent) + "\n")


def write_results(out: Path, name: str, data: dict, markdown: str | None = None, *, indent: int = 1) -> list[Path]:
    """Write ``out/name.json`` (and ``out/name.md`` when *markdown* is given), each atomically.

    Returns the paths written. The JSON is ``json.dumps(data, indent=indent)`` plus a final newline.
    """
    out = resolve_out(out)
    written = [write_json(out / f"{name}.json", data, indent=indent)]
    if markdown is not None:
        written.append(write_text_atomic(out / f"{name}.md", markdown if markdown.endswith("\n") else markdown + "\n"))
    return written
