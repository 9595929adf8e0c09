"""The worker pool of build-btfer: per-image jobs on spawned processes, one face detector per process.

A job function is a module-level (picklable) ``fn(job, get_detector) -> result``; ``get_detector()`` returns
the process's detector, created on first call (a job that needs none never loads it). With one worker, or
fewer than :attr:`WorkerPool.MIN_POOL_JOBS` jobs, jobs run inline in the calling process instead: starting
worker processes (the TensorFlow import) costs seconds.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from typing import Any

from . import detect as detect_mod

JobFn = Callable[[dict[str, Any], Callable[[], detect_mod.DetectFn]], dict[str, Any]]

# worker-process state: one detector per process, created on first use
_WORKER: dict[str, Any] = {}


def default_workers() -> int:
    """CPU cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(detector_name: str) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's job: it stops the pool
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    _WORKER["name"] = detector_name
    import cv2

    cv2.setNumThreads(1)


def _worker_detector() -> detect_mod.DetectFn:
    if "detector" not in _WORKER:
        if _WORKER.get("name") == "mtcnn":
            with detect_mod.quiet_native_stderr():
                import tensorflow as tf

                try:  # one thread per worker process: workers x 1 thread = the cores
                    tf.config.threading.set_intra_op_parallelism_threads(1)
                    tf.config.threading.set_inter_op_parallelism_threads(1)
                except RuntimeError:  # pragma: no cover - TF already initialised in this process
                    pass
        _WORKER["detector"] = detect_mod.make_detector(_WORKER.get("name", "mtcnn"))
    return _WORKER["detector"]


def _worker_call(fn: JobFn, job: dict[str, Any]) -> dict[str, Any]:
    return fn(job, _worker_detector)


class WorkerPool:
    """Runs per-image jobs inline (workers == 1, or few jobs) or on a lazily started process pool."""

    #: fewer jobs than this run inline: starting worker processes (TensorFlow import) costs seconds
    MIN_POOL_JOBS = 8

    def __init__(self, workers: int, detector_name: str) -> None:
        self.workers = workers
        self.detector_name = detector_name
        self._pool: cf.ProcessPoolExecutor | None = None
        self._detector: detect_mod.DetectFn | None = None
        self.pool_started = False

    def _inline_detector(self) -> detect_mod.DetectFn:
        if self._detector is None:
            self._detector = detect_mod.make_detector(self.detector_name)
        return self._detector

    def run(self, fn: JobFn, jobs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield ``fn(job, get_detector)`` for each job as it completes (order not guaranteed)."""
        if not jobs:
            return
        if self.workers <= 1 or len(jobs) < self.MIN_POOL_JOBS:
            for job in jobs:
                yield fn(job, self._inline_detector)
            return
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.detector_name,),
            )
            self.pool_started = True
        futures = [self._pool.submit(_worker_call, fn, job) for job in jobs]
        try:
            for fut in cf.as_completed(futures):
                yield fut.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def close(self, *, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
