"""Sweep backends: where the runs of a sweep execute.

* :class:`LocalBackend` runs the configs one after another in this process (what ``fer-bench sweep`` always did).
* :class:`RayBackend` makes every run a Ray task (``num_cpus`` / ``num_gpus`` resource requests) on a Ray cluster,
  or on a local Ray instance started for the sweep when no address is given. Each task calls the same
  :func:`fer_bench.protocol.run.execute_run` as a local run, writing into the same results folder, so a cluster
  sweep produces the same ``results/runs/<config-hash>/`` folders, hashes and leaderboard as a local one.

Shared filesystem: the results folder must be one every worker sees (NFS, a cluster filesystem, or the local
disk of a one-machine Ray instance). Folders appear by rename, the run lock is an ``flock`` on that filesystem,
and a task that cannot see the folder stops with a one-line error naming it (the driver writes a marker the
workers look for); nothing is copied back from workers.

Data: before any task starts, the driver decodes every (dataset split, resolution, colour, resize) the sweep
needs into the decode-once cache (:func:`warm_caches`). Workers then only read it when ``FER_BENCH_CACHE`` is on
the shared filesystem too; on a node with its own cache, the first task that needs an entry decodes it under a
per-entry lock and the others wait for it and read it, so nothing is decoded twice on one node.

Retries: a run whose task fails (an exception, or its worker process dying: out of memory, a lost node) is
submitted again up to ``retries`` times; a run killed part-way resumes from its last epoch checkpoint, and the
run lock (released by the kernel when a worker dies) keeps two attempts from training one config at once. After
the last attempt the run is reported with its error and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FerBenchError
from .config import RunConfig

BACKENDS = ("local", "ray")
#: the file the driver writes into the results folder; a worker that cannot see it is not on the shared filesystem
MARKER = ".fer-bench-results"
#: test-only hook: a path; the first Ray task to reach its second epoch creates that file and kills its own worker
#: process (``os._exit``), to exercise the retry of a run whose worker died mid-run
CRASH_ENV = "FER_BENCH_TEST_CRASH_ONCE"


@dataclass
class RunFailure:
    config: RunConfig
    error: str
    attempts: int


@dataclass
class SweepReport:
    """What a backend did: finished outcomes, runs skipped because another process held them, failures."""

    outcomes: list = field(default_factory=list)
    locked: list = field(default_factory=list)  # (config, reason)
    failures: list[RunFailure] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)  # per finished Ray task: node, pid, attempt, decoded entries


# ---- the decode-once cache, before tasks start -------------------------------------------------------------
def cache_needs(cfg: RunConfig) -> list[tuple[str, str, int, str, str]]:
    """The cache entries one run reads: (dataset spec, split, size, colour, resize), as :func:`prepare` decodes."""
    from .run import _open, _train_and_test_splits, pick_eval_split

    resize = "nearest" if cfg.protocol == "paper" else "area"
    train_src = _open(cfg.train)
    train_split, test_split = _train_and_test_splits(train_src)
    needs = [(cfg.train, train_split, cfg.res, cfg.color, resize)]
    if test_split is not None:
        needs.append((cfg.train, test_split, cfg.res, cfg.color, resize))
    for t in cfg.tests:
        needs.append((t, pick_eval_split(_open(t)), cfg.res, cfg.color, resize))
    return needs


@contextlib.contextmanager
def _entry_lock(key: str):
    """An flock per cache entry in the cache root: one decoder per entry and node (or shared filesystem)."""
    import fcntl

    from ..data.cache import cache_root

    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{key}.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # blocks while another process decodes this entry
        yield


def warm_caches(configs, on_entry: Callable[[str, bool], None] | None = None) -> list[str]:
    """Decode every cache entry the configs need that is not cached yet; returns the keys decoded here.

    Runs on the sweep's driver before any task, and in each task before its run (a no-op when the cache is
    shared: every entry is there). ``on_entry(description, decoded)`` is told about each entry.
    """
    from ..data.cache import cache_key, cache_root, decode_split, verify_entry
    from .run import _open

    decoded, seen = [], set()
    for cfg in configs:
        for spec, split, size, color, resize in cache_needs(cfg):
            src = _open(spec)
            key = cache_key(src, split, size, color, resize)
            if key in seen:
                continue
            seen.add(key)
            with _entry_lock(key):
                entry = cache_root() / key
                fresh = not entry.exists() or verify_entry(entry) is not None
                decode_split(src, split, size, color=color, resize=resize)
            if fresh:
                decoded.append(key)
            if on_entry:
                on_entry(f"{src.name} [{split}] {size}px {color}", fresh)
    return decoded


# ---- local ---------------------------------------------------------------------------------------------------
class LocalBackend:
    """Every run in this process, one after another (the callbacks of :func:`fer_bench.api.run_sweep`)."""

    name = "local"

    def run(self, configs, results: Path, *, force: bool = False, on_start=None, on_epoch=None, on_stage=None,
            on_run=None, on_failed=None, on_progress=None) -> SweepReport:
        from ..api import run as run_one
        from ..results.store import RunLockedError

        report = SweepReport()
        for cfg in configs:
            if on_start:
                on_start(cfg)
            t0 = time.perf_counter()
            try:
                out = run_one(cfg, results, force=force, on_epoch=on_epoch, on_stage=on_stage)
            except RunLockedError as exc:
                report.locked.append((cfg, str(exc)))
                if on_run:
                    on_run(cfg, None, str(exc), time.perf_counter() - t0)
                continue
            if on_run:
                on_run(cfg, out, None, time.perf_counter() - t0)
            report.outcomes.append(out)
        return report


# ---- Ray -----------------------------------------------------------------------------------------------------
def import_ray():
    """ray, or a one-line FerBenchError naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise FerBenchError('--backend ray needs Ray, which is not installed; install the extra: '
                            'pip install -e ".[ray]" (or pip install "fer-bench[ray]")') from None
    return ray


def _ray_task(cfg: RunConfig, results: str, force: bool, attempt: int, argv: list[str], crash_marker: str | None
              ) -> dict:
    """One run inside a Ray worker: check the shared results folder, read (or, on a node with its own cache,
    decode once) the data, then :func:`execute_run` exactly as a local run."""
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ..results.store import RunLockedError
    from .run import execute_run

    node = socket.gethostname()
    res = Path(results)
    if not (res / MARKER).is_file():
        raise FerBenchError(f"results folder {results} is not visible on node {node}; --results must be on a "
                            "filesystem every Ray worker sees (NFS or a cluster filesystem)")
    sys.argv = list(argv)  # run.json records the sweep's command line, not Ray's worker command
    t0 = time.perf_counter()
    decoded = warm_caches([cfg])
    on_epoch = None
    if crash_marker:
        def on_epoch(phase, epoch, n, row):  # test hook: die once, mid-run, after epoch 1's checkpoint exists
            if epoch >= min(2, n):
                try:
                    fd = os.open(crash_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.write(fd, f"{cfg.config_hash()} pid {os.getpid()} {phase} epoch {epoch}\n".encode())
                os.close(fd)
                os._exit(17)
    where = {"backend": {"name": "ray", "node": node, "pid": os.getpid(), "attempt": attempt}}
    info = {"node": node, "pid": os.getpid(), "attempt": attempt, "decoded": decoded}
    try:
        out = execute_run(cfg, res, force=force, on_epoch=on_epoch, record_extra=where)
    except RunLockedError as exc:
        return {**info, "locked": str(exc)}
    return {**info, "folder": str(out.folder), "skipped": out.skipped, "metrics": out.metrics,
            "status": out.status, "resumed_from": out.resumed_from, "seconds": time.perf_counter() - t0}


def _error_line(exc: BaseException) -> str:
    """One line for a failed task: the FerBenchError's text, else the exception's type and first line."""
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, FerBenchError):
        return str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    name = type(cause).__name__
    text = (str(cause).strip().splitlines() or [""])[0]
    if "WorkerCrashed" in name or "died" in text.lower() or "ActorDied" in name or "NodeDied" in name:
        return f"{name}: the worker process died (killed, out of memory, or its node was lost)"
    return f"{name}: {text[:300]}"


class RayBackend:
    """Every run a Ray task; see the module docstring.

    address: a Ray cluster address (``ray://host:10001`` or ``host:6379``, or ``auto``); None starts a local
    instance for the sweep (no dashboard, loopback only, ``num_cpus`` CPUs: all of this machine's by default).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_run: float = 1, gpus_per_run: float = 0,
                 retries: int = 2, num_cpus: int | None = None, poll_s: float = 0.5):
        if cpus_per_run <= 0 or gpus_per_run < 0 or retries < 0:
            raise FerBenchError("--cpus-per-run must be > 0, --gpus-per-run and --retries >= 0")
        self.address, self.cpus, self.gpus, self.retries = address, cpus_per_run, gpus_per_run, retries
        self.num_cpus, self.poll_s = num_cpus, poll_s

    @contextlib.contextmanager
    def _connected(self):
        ray = import_ray()
        if ray.is_initialized():  # a caller (a notebook, a test) manages the instance
            yield ray
            return
        import logging

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
        kw = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                  configure_logging=True)
        try:
            if self.address:
                ray.init(address=self.address, **kw)
            else:
                # Ray nices its workers (15) by default; a local instance runs them at this process's priority, as
                # the local backend would (RAY_worker_niceness in the environment overrides it)
                os.environ.setdefault("RAY_worker_niceness", "0")
                ray.init(address="local", num_cpus=self.num_cpus, _node_ip_address="127.0.0.1",
                         object_store_memory=200 << 20, **kw)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: one line, never a traceback
            where = self.address or "a local instance"
            raise FerBenchError(f"cannot start Ray on {where}: {(str(exc).splitlines() or [''])[0][:300]}; "
                                "check --ray-address (e.g. ray://HEAD:10001, or auto on a cluster node)") from None
        try:
            yield ray
        finally:
            ray.shutdown()

    def _capacity(self, ray) -> int:
        """How many runs the cluster can hold at once with the per-run requests (at least 1)."""
        res = ray.cluster_resources()
        slots = int(res.get("CPU", 0) // self.cpus)
        if self.gpus:
            slots = min(slots, int(res.get("GPU", 0) // self.gpus))
        return max(1, slots)

    def run(self, configs, results: Path, *, force: bool = False, on_run=None, on_failed=None, on_progress=None,
            on_stage=None, **_ignored) -> SweepReport:
        """Run the configs as Ray tasks. on_run(cfg, outcome | None, locked_reason | None, seconds) per finished
        run, on_failed(RunFailure) per run that failed its last attempt, on_progress(counts) about twice a
        second (counts: total, done, running, failed, queued, retries), on_stage(text) for driver steps."""
        import sys

        from ..results.store import check_writable, is_finished
        from .run import RunOutcome

        stage = on_stage or (lambda s: None)
        results = Path(results).resolve()
        check_writable(results)
        (results / MARKER).write_text("fer-bench results folder (Ray workers check they can see it)\n")
        configs = list(configs)
        todo = [c for c in configs if force or not is_finished(results, c.config_hash())]
        report = SweepReport()
        for c in configs:
            if c not in todo:  # finished before: the same outcome a local sweep reports, without a task
                from .run import execute_run

                report.outcomes.append(execute_run(c, results))
                if on_run:
                    on_run(c, report.outcomes[-1], None, 0.0)
        if not todo:
            return report
        stage(f"decoding the data of {len(todo)} runs into the cache before any task starts")
        warm_caches(todo, on_entry=lambda d, fresh: stage(f"{'decoded' if fresh else 'cached'}: {d}"))
        crash = os.environ.get(CRASH_ENV) or None
        argv = list(sys.argv)
        counts = {"total": len(configs), "done": len(configs) - len(todo), "running": 0, "failed": 0,
                  "queued": len(todo), "retries": 0}
        with self._connected() as ray:
            have = ray.cluster_resources()
            stage(f"Ray: {self.address or 'local instance'}, {have.get('CPU', 0):.0f} CPUs, "
                  f"{have.get('GPU', 0):.0f} GPUs")
            short = [f"{n} {k}s" for k, n in (("CPU", self.cpus), ("GPU", self.gpus)) if n > have.get(k, 0)]
            if short:  # no node can ever take a run: it would wait forever
                msg = (f"each run requests {' and '.join(short)} but the Ray cluster has "
                       f"{have.get('CPU', 0):.0f} CPUs and {have.get('GPU', 0):.0f} GPUs")
                if not self.address:
                    raise FerBenchError(f"{msg}; lower --cpus-per-run / --gpus-per-run")
                stage(f"{msg}; waiting for the cluster to grow (autoscaling) - Ctrl-C to stop")
            # a fresh worker per run (max_calls=1): no TensorFlow state carried over; retries are counted here
            task = ray.remote(max_calls=1, max_retries=0)(_ray_task).options(num_cpus=self.cpus,
                                                                            num_gpus=self.gpus)
            queue = [(c, 1) for c in todo]
            pending: dict = {}  # ObjectRef -> (cfg, attempt, start time)
            while queue or pending:
                cap = self._capacity(ray)
                while queue and len(pending) < cap:
                    cfg, attempt = queue.pop(0)
                    ref = task.remote(cfg, str(results), force, attempt, argv, crash)
                    pending[ref] = (cfg, attempt, time.perf_counter())
                counts.update(running=len(pending), queued=len(queue))
                if on_progress:
                    on_progress(dict(counts))
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    cfg, attempt, t0 = pending.pop(ref)
                    try:
                        info = ray.get(ref)
                    except Exception as exc:  # the task raised, or its worker died
                        err = _error_line(exc)
                        if attempt <= self.retries:
                            counts["retries"] += 1
                            stage(f"{cfg.short_name()} attempt {attempt} failed ({err}); retrying")
                            queue.insert(0, (cfg, attempt + 1))
                        else:
                            counts["failed"] += 1
                            fail = RunFailure(cfg, err, attempt)
                            report.failures.append(fail)
                            if on_failed:
                                on_failed(fail)
                        continue
                    report.tasks.append({"config_hash": cfg.config_hash(), **{k: info[k] for k in
                                                                               ("node", "pid", "attempt",
                                                                                "decoded")}})
                    counts["done"] += 1
                    if "locked" in info:
                        report.locked.append((cfg, info["locked"]))
                        if on_run:
                            on_run(cfg, None, info["locked"], time.perf_counter() - t0)
                        continue
                    out = RunOutcome(cfg, Path(info["folder"]), info["skipped"], info["metrics"], info["status"],
                                     info["resumed_from"])
                    report.outcomes.append(out)
                    if on_run:
                        on_run(cfg, out, None, time.perf_counter() - t0)
            counts.update(running=0, queued=0)
            if on_progress:
                on_progress(dict(counts))
        return report


def make_backend(name: str = "local", **options):
    """A backend by name: ``local`` (options ignored) or ``ray`` (RayBackend's options)."""
    if name == "local":
        return LocalBackend()
    if name == "ray":
        import_ray()  # the missing-extra error before any work
        return RayBackend(**{k: v for k, v in options.items() if v is not None})
    raise FerBenchError(f"unknown --backend {name!r}; use one of {', '.join(BACKENDS)}")
