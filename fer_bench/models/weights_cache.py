"""Where pretrained weight files live, finding them, and fetching or copying them in on request.

Where weights live
------------------
* **fer-bench cache** (VGGFace / VGGFace2 files, keras-hub presets copied in by hand):
  ``$FER_BENCH_WEIGHTS`` if set, else ``~/.cache/fer-bench/weights``. For VGGFace files the directory where
  ``keras_vggface`` itself caches them (``~/.keras/models/vggface/``) is also looked at, read-only.
* **Keras cache** (ImageNet weights of ``keras.applications``): ``$KERAS_HOME/models`` (default
  ``~/.keras/models``), under the exact file names Keras uses, so both fer-bench and Keras find them.

fer-bench never downloads anything on its own. Builders call :func:`require`, which returns the local path or
raises a one-line :class:`~fer_bench.errors.FerBenchError` that names the directory it looked in and the two
commands that fix it (``fer-bench weights fetch NAME`` / ``fer-bench weights import NAME FILE``). ImageNet
backbones are always built with ``weights=None`` and the cached file is then loaded explicitly, so Keras'
``get_file`` (which downloads silently, and re-downloads on a hash mismatch) is never reached.

Checking that a user's file fits the architecture before it is copied in is
:mod:`fer_bench.models.weights_layout` (it needs the model families, which need this module).
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import FerBenchError
from ..fsutil import atomic_path
from ..hashing import file_hashes
from .weights_table import KNOWN, WeightsEntry, get_entry

#: Environment variable overriding the fer-bench weights cache directory.
ENV_VAR = "FER_BENCH_WEIGHTS"
DEFAULT_DIR = "~/.cache/fer-bench/weights"


# ------------------------------------------------------------------------------------------------ locations
def weights_dir() -> Path:
    """The fer-bench weights cache: ``$FER_BENCH_WEIGHTS`` or ``~/.cache/fer-bench/weights``."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path(DEFAULT_DIR).expanduser()


def keras_models_dir() -> Path:
    """Where keras.applications keeps its weight files: ``$KERAS_HOME/models`` (default ``~/.keras/models``)."""
    env = os.environ.get("KERAS_HOME")
    if env:
        return Path(env).expanduser() / "models"
    try:
        from keras.src.backend.config import keras_home

        return Path(keras_home()).expanduser() / "models"
    except (ImportError, AttributeError):  # pragma: no cover - private API moved
        return Path("~/.keras/models").expanduser()


def _display(path: Path) -> str:
    home = str(Path.home())
    s = str(path)
    return "~" + s[len(home):] if s.startswith(home + os.sep) or s == home else s


def directory(e: WeightsEntry) -> Path:
    """The cache directory of an entry's store."""
    return keras_models_dir() if e.store == "keras" else weights_dir()


def target(e: WeightsEntry) -> Path:
    """Where fetch/import put the file."""
    return directory(e) / e.filename


def candidates(e: WeightsEntry) -> list[Path]:
    """Every place the file of ``e`` is looked for, the cache target first."""
    paths = [target(e)]
    if e.store == "fer_bench" and e.name.startswith("vggface_"):
        paths.append(keras_models_dir() / "vggface" / e.filename)  # where keras_vggface caches them
    return paths


# ------------------------------------------------------------------------------------------------ presence
def keras_hub_preset_dir() -> Path | None:
    """A locally cached keras-hub ``resnet_18_imagenet`` preset folder, or None (never downloads)."""
    own = weights_dir() / "resnet_18_imagenet"
    if (own / "config.json").is_file():
        return own
    base = Path(os.environ.get("KAGGLEHUB_CACHE", "~/.cache/kagglehub")).expanduser()
    found = sorted(base.glob("models/keras/*/keras/resnet_18_imagenet/*/config.json"),
                   key=lambda p: (len(p.parent.name), p.parent.name))
    return found[-1].parent if found else None


def keras_hub_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("keras_hub") is not None


def find(name: str) -> Path | None:
    """The local path of a known weights entry, or None when it is not cached."""
    e = get_entry(name)
    if e.store == "keras_hub":
        return keras_hub_preset_dir()
    for p in candidates(e):
        if p.is_file():
            return p
    return None


def fix_hint(e: WeightsEntry) -> str:
    if e.store == "keras_hub":
        return ("run `fer-bench weights fetch imagenet_resnet18` (online, once) or "
                "`fer-bench weights import imagenet_resnet18 PRESET_DIR`")
    return f"run `fer-bench weights fetch {e.name}` or `fer-bench weights import {e.name} FILE`"


def require(name: str) -> Path:
    """Return the cached file of ``name`` or raise a FerBenchError that names the exact fix."""
    e = get_entry(name)
    if e.store == "keras_hub" and not keras_hub_available():
        raise FerBenchError(
            f"{e.label} weights need the keras-hub package, which is not installed; use --init scratch, or "
            f"`pip install keras-hub`, then {fix_hint(e)}"
        )
    p = find(name)
    if p is None:
        raise FerBenchError(f"{e.label} weights not found in {_display(directory(e))}; {fix_hint(e)}")
    return p


# ------------------------------------------------------------------------------------------------ verify
def verify_hash(e: WeightsEntry, path: str | os.PathLike) -> str:
    """Raise FerBenchError on a known-hash mismatch; return the sha256 of the file."""
    digests = file_hashes(path, ("sha256", "md5") if e.md5 else ("sha256",))
    sha = digests["sha256"]
    if e.sha256 and sha != e.sha256:
        raise FerBenchError(f"{path}: sha256 {sha} does not match the expected {e.sha256} for {e.name}")
    if e.md5 and digests["md5"] != e.md5:
        raise FerBenchError(f"{path}: md5 {digests['md5']} does not match the expected {e.md5} for {e.name}")
    return sha


# ------------------------------------------------------------------------------------------------ fetch/store
def fetch(name: str, force: bool = False, progress: Callable[[int, int], None] | None = None) -> Path:
    """Download a known file into its cache (only when a user asks; verifies md5/sha256 when known)."""
    e = get_entry(name)
    if e.store == "keras_hub":
        if not keras_hub_available():
            raise FerBenchError("imagenet_resnet18 needs keras-hub: `pip install keras-hub`, then fetch again")
        import keras_hub  # type: ignore[import-not-found]

        keras_hub.models.ResNetBackbone.from_preset("resnet_18_imagenet")  # downloads into the kagglehub cache
        found = keras_hub_preset_dir()
        if found is None:
            raise FerBenchError("keras-hub loaded resnet_18_imagenet but its cache folder was not found")
        return found
    existing = find(name)
    if existing is not None and not force:
        return existing
    if not e.url:
        raise FerBenchError(f"no download URL known for {name}; use `fer-bench weights import {name} FILE`")
    dst = target(e)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(dst, ".part") as tmp:  # nothing lands under the expected name unless it verifies
            with urllib.request.urlopen(e.url, timeout=60) as resp, open(tmp, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            verify_hash(e, tmp)
    except OSError as exc:
        raise FerBenchError(f"download of {e.url} failed: {exc}") from exc
    return dst


def store(name: str, src: str | os.PathLike) -> Path:
    """Copy a file (or, for keras-hub, a preset folder) into the cache under the expected name.

    Checks known hashes but not the layout; :func:`fer_bench.models.weights_layout.import_file` does both.
    """
    e = get_entry(name)
    src = Path(src).expanduser()
    if e.store == "keras_hub":
        dst = weights_dir() / "resnet_18_imagenet"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst)
        return dst
    if e.md5 or e.sha256:
        verify_hash(e, src)
    dst = target(e)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)
    return dst


def status() -> list[dict[str, Any]]:
    """One row per known weights entry: name, model/init, cached?, path, where it would go."""
    rows = []
    for e in KNOWN.values():
        p = find(e.name)
        rows.append({
            "name": e.name, "model": e.model, "init": e.init, "description": e.description,
            "cached": p is not None, "path": str(p) if p else None, "target": str(target(e)),
            "store": e.store, "url": e.url, "sha256": e.sha256, "md5": e.md5,
        })
    return rows
