"""Quiet TensorFlow start-up: one home for hiding TF's native log lines (and nothing else).

Importing TensorFlow 2.21 writes a dozen lines to the process's stderr from C++ before Python sees anything:
``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR``, the oneDNN notice,
``Could not find cuda drivers`` (once per TF shared library, so twice), ``cpu_feature_guard`` lines; the first
device query adds ``E0000 ... failed call to cuInit`` on a machine without a GPU. ``TF_CPP_MIN_LOG_LEVEL``
hides only the last two kinds: the rest is written by absl before any log level is read, straight to file
descriptor 2. The only switch that hides them is to point fd 2 elsewhere while TensorFlow loads and probes its
devices, which is what :func:`quiet_native_stderr` does (``TF_ENABLE_ONEDNN_OPTS`` would silence the oneDNN
line too, but it changes the numerics, so it is left alone).

:func:`install` arranges for the first ``import tensorflow`` of the process (direct, or through ``import
keras``) to run inside :func:`quiet_native_stderr`, followed by one quiet ``tf.config.list_physical_devices()``
(the cuInit probe; it does not initialise the runtime, so threading and determinism settings still apply).
Only that import and that probe are hidden: anything our own code, Keras or TensorFlow print later is shown,
and if the import itself fails, what it wrote is replayed on stderr with the exception.

``fer-bench --verbose`` (or ``FER_BENCH_VERBOSE=1``, which child processes inherit) shows everything.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

VERBOSE_ENV = "FER_BENCH_VERBOSE"


def verbose() -> bool:
    """True when TensorFlow's native messages should be shown ($FER_BENCH_VERBOSE set to a true value)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def set_verbose(on: bool) -> None:
    """Turn verbose mode on or off for this process and the processes it starts."""
    if on:
        os.environ[VERBOSE_ENV] = "1"
    else:
        os.environ.pop(VERBOSE_ENV, None)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Point file descriptor 2 at a scratch file for the duration of the block (a no-op in verbose mode).

    TensorFlow's C++ start-up banner (absl, oneDNN, CUDA probing) is written to fd 2 regardless of
    TF_CPP_MIN_LOG_LEVEL. Python exceptions are unaffected: they propagate and are printed after fd 2 is
    restored, and what the block wrote is replayed on stderr first, so a failing import still explains itself.
    """
    if verbose():
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no fd 2
        yield
        return
    failed = False
    with tempfile.TemporaryFile() as sink:
        try:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            yield
        except Exception:  # not KeyboardInterrupt: Ctrl-C during the import needs no replay of the banner
            failed = True
            raise
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                with contextlib.suppress(OSError):
                    sink.seek(0)
                    os.write(2, sink.read()[-20000:])


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: executes the package, then probes the devices, with fd 2 quiet."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with quiet_native_stderr():
            self._loader.exec_module(module)
            with contextlib.suppress(Exception):  # the probe only moves the cuInit message; never fail on it
                module.config.list_physical_devices()

    def __getattr__(self, name: str):  # get_resource_reader, is_package, ...: TensorFlow's loader answers
        return getattr(self._loader, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """A meta-path entry that only recognises the top-level ``tensorflow`` package, the first time."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: the first import is the noisy one
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Hide TensorFlow's native start-up lines from the first ``import tensorflow`` on (see the module notes).

    Sets TF_CPP_MIN_LOG_LEVEL=2 unless it is set (TF's own INFO/WARNING lines after start-up) and the
    "tensorflow" Python logger to ERROR; does nothing in verbose mode, when TensorFlow is already imported, or
    when already installed.
    """
    if verbose():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow's Python-side warnings (tf.function retracing hints from MTCNN's and Keras' predict loops) are
    # performance notes for TensorFlow developers, not for users of a finished command: errors only
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
