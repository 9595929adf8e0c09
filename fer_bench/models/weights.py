"""Pretrained weights, offline first: a cache directory, a table of known files, and loaders.

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

VGGFace h5 files are in the Keras-2 legacy weight layout (root attribute ``layer_names``; one group per layer
with attribute ``weight_names``). Their layer names contain ``/`` (``conv1/7x7_s2/bn``), which Keras 3 forbids
in layer names, so fer-bench names those layers with ``__`` instead of ``/`` (:func:`keras_layer_name`) and
:func:`load_h5_by_name` maps the names while it assigns weights layer by layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FerBenchError

#: Environment variable overriding the fer-bench weights cache directory.
ENV_VAR = "FER_BENCH_WEIGHTS"
DEFAULT_DIR = "~/.cache/fer-bench/weights"

_VGGFACE_RELEASE = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"


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


# ------------------------------------------------------------------------------------------------ the table
@dataclass(frozen=True)
class WeightsEntry:
    """One known pretrained weight file."""

    name: str
    description: str
    filename: str
    url: str | None
    #: "fer_bench" (our cache), "keras" (keras.applications cache) or "keras_hub" (a keras-hub preset folder)
    store: str
    md5: str | None = None
    sha256: str | None = None
    #: registry model and init this file serves
    model: str = ""
    init: str = ""
    #: short, human name used in error messages
    label: str = ""

    def directory(self) -> Path:
        return keras_models_dir() if self.store == "keras" else weights_dir()

    def target(self) -> Path:
        """Where fetch/import put the file."""
        return self.directory() / self.filename

    def candidates(self) -> list[Path]:
        paths = [self.target()]
        if self.store == "fer_bench" and self.name.startswith("vggface_"):
            paths.append(keras_models_dir() / "vggface" / self.filename)  # where keras_vggface caches them
        return paths


def _vggface(arch: str, label: str) -> WeightsEntry:
    fname = f"rcmalli_vggface_tf_notop_{arch}.h5"
    return WeightsEntry(
        name=f"vggface_{arch}", label=label, filename=fname, url=_VGGFACE_RELEASE + fname, store="fer_bench",
        description=f"{label} (keras-vggface v2.0 release, no top)",
        model={"vgg16": "vgg16", "resnet50": "resnet50", "senet50": "senet50"}[arch], init="vggface",
    )


def _imagenet(model: str, label: str, filename: str, url: str, md5: str | None) -> WeightsEntry:
    return WeightsEntry(
        name=f"imagenet_{model}", label=f"ImageNet {label}", filename=filename, url=url, md5=md5, store="keras",
        description=f"keras.applications {label}, ImageNet, no top", model=model, init="imagenet",
    )


KNOWN: dict[str, WeightsEntry] = {e.name: e for e in (
    _vggface("vgg16", "VGGFace VGG16"),
    _vggface("resnet50", "VGGFace2 ResNet50"),
    _vggface("senet50", "VGGFace2 SENet50"),
    _imagenet("vgg16", "VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "6d6bbae143d832006294945121d1f1fc"),
    _imagenet("vgg19", "VGG19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "253f8cb515780f3b799900260a226db6"),
    _imagenet("resnet50", "ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "4d473c1dd8becc155b73f8504c6f6626"),
    _imagenet("mobilenet", "MobileNet", "mobilenet_1_0_224_tf_no_top.h5",
              _KERAS_APPS + "mobilenet/mobilenet_1_0_224_tf_no_top.h5", None),
    _imagenet("mobilenetv2", "MobileNetV2", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
              _KERAS_APPS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", None),
    _imagenet("nasnetmobile", "NASNetMobile", "nasnet_mobile_no_top.h5",
              _KERAS_APPS + "nasnet/NASNet-mobile-no-top.h5", "1ed92395b5b598bdda52abe5c0dbfd63"),
    _imagenet("densenet121", "DenseNet121", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "30ee3e1110167f948a6b9946edeeb738"),
    _imagenet("inceptionv3", "InceptionV3", "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "bcbd6486424b2319ff4ef7d526e38f63"),
    _imagenet("xception", "Xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
              _KERAS_APPS + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "b0042744bf5b25fce3cb969f33bebb97"),
    _imagenet("efficientnetv2b0", "EfficientNetV2B0", "efficientnetv2-b0_notop.h5",
              _KERAS_APPS + "efficientnet_v2/efficientnetv2-b0_notop.h5", "893217f2bb855e2983157299931e43ff"),
    WeightsEntry(
        name="imagenet_resnet18", label="ImageNet ResNet18 (keras-hub)", filename="resnet_18_imagenet", url=None,
        store="keras_hub", model="resnet18", init="imagenet",
        description="keras-hub preset resnet_18_imagenet (needs keras-hub; a cached preset folder)",
    ),
)}


def get_entry(name: str) -> WeightsEntry:
    key = name.strip().lower().replace("-", "_")
    if key not in KNOWN:
        raise FerBenchError(
            f"unknown weights {name!r}; known: {', '.join(sorted(KNOWN))} (see `fer-bench weights status`)"
        )
    return KNOWN[key]


def entry_for(model: str, init: str) -> WeightsEntry | None:
    for e in KNOWN.values():
        if e.model == model and e.init == init:
            return e
    return None


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
    for p in e.candidates():
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
        raise FerBenchError(f"{e.label} weights not found in {_display(e.directory())}; {fix_hint(e)}")
    return p


# ------------------------------------------------------------------------------------------------ skip loading
_ARCH_ONLY = False


@contextlib.contextmanager
def architecture_only() -> Iterator[None]:
    """Inside this block builders skip loading pretrained weights (parameter counts, layout checks)."""
    global _ARCH_ONLY
    old, _ARCH_ONLY = _ARCH_ONLY, True
    try:
        yield
    finally:
        _ARCH_ONLY = old


def loading_skipped() -> bool:
    return _ARCH_ONLY


# ------------------------------------------------------------------------------------------------ h5 layouts
def keras_layer_name(h5_name: str) -> str:
    """Keras 3 forbids ``/`` in layer names: ``conv1/7x7_s2/bn`` -> ``conv1__7x7_s2__bn``."""
    return h5_name.replace("/", "__")


def h5_layer_name(keras_name: str) -> str:
    """Inverse of :func:`keras_layer_name`."""
    return keras_name.replace("__", "/")


def _decode(v: Any) -> str:
    return v.decode("utf8") if isinstance(v, bytes | np.bytes_) else str(v)


def read_legacy_h5(path: str | os.PathLike) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Read a Keras-2 legacy h5 weights file: {layer_name: [(weight_name, array), ...]} in file order.

    Layers without weights are left out. Accepts full-model files (weights under ``model_weights``).
    """
    import h5py

    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    try:
        with h5py.File(path, "r") as f:
            g = f
            if "layer_names" not in g.attrs and "model_weights" in g:
                g = g["model_weights"]
            if "layer_names" not in g.attrs:
                raise FerBenchError(
                    f"{path} is not a Keras legacy h5 weights file (no 'layer_names' attribute); "
                    "expected the keras-vggface / keras.applications h5 layout"
                )
            for lname in (_decode(n) for n in g.attrs["layer_names"]):
                lg = g[lname]
                wnames = [_decode(n) for n in lg.attrs.get("weight_names", [])]
                if wnames:
                    out[lname] = [(wn, np.asarray(lg[wn])) for wn in wnames]
    except OSError as exc:
        raise FerBenchError(f"cannot read {path} as HDF5: {exc}") from exc
    return out


def write_legacy_h5(path: str | os.PathLike, layers: dict[str, list[tuple[str, np.ndarray]]]) -> None:
    """Write {layer: [(weight_name, array)]} in the Keras-2 legacy layout (used by tests and exports)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode("utf8") for n in layers], dtype="S")
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for lname, ws in layers.items():
            g = f.require_group(lname)
            g.attrs["weight_names"] = np.array([wn.encode("utf8") for wn, _ in ws], dtype="S")
            for wn, arr in ws:
                g.create_dataset(wn, data=np.asarray(arr))


_SUFFIXES = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "depthwise_kernel",
             "pointwise_kernel")


def _suffix(weight_name: str) -> str:
    base = weight_name.rsplit("/", 1)[-1].split(":", 1)[0]
    return base


def _ordered_for(layer, ws: list[tuple[str, np.ndarray]]) -> list[np.ndarray]:
    """Arrays of one h5 layer group in the order of ``layer.weights`` (by weight-name suffix when possible)."""
    targets = [w.name for w in layer.weights]
    by_suffix = {_suffix(wn): a for wn, a in ws}
    if len(by_suffix) == len(ws) and all(t in by_suffix for t in targets) and all(
            s in _SUFFIXES for s in by_suffix):
        return [by_suffix[t] for t in targets]
    return [a for _, a in ws]


def _is_container(layer) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _walk_layers(model) -> Iterator[Any]:
    """Every layer of ``model``, descending into nested models (the containers themselves are skipped)."""
    for layer in model.layers:
        if _is_container(layer):
            yield from _walk_layers(layer)
        else:
            yield layer


def load_h5_by_name(model, path: str | os.PathLike, skip_mismatch: bool = False,
                    require_all: bool = True) -> dict[str, list[str]]:
    """Assign weights from a Keras-2 legacy h5 file to the layers of ``model`` (nested models included)
    whose names match, mapping ``/`` to ``__`` (see :func:`keras_layer_name`).

    The Keras-3 equivalent of Keras 2's ``model.load_weights(path, by_name=True)``. With ``require_all`` every
    layer of ``model`` that has weights must be found in the file. Shape mismatches raise FerBenchError unless
    ``skip_mismatch``. Returns {"loaded": [...], "missing": [...], "mismatched": [...], "unused": [...]}.
    """
    stored = read_legacy_h5(path)
    by_keras = {keras_layer_name(n): ws for n, ws in stored.items()}
    report: dict[str, list[str]] = {"loaded": [], "missing": [], "mismatched": [], "unused": []}
    seen: set[str] = set()
    for layer in _walk_layers(model):
        if not layer.weights:
            continue
        ws = by_keras.get(layer.name)
        if ws is None:
            report["missing"].append(layer.name)
            continue
        seen.add(layer.name)
        arrays = _ordered_for(layer, ws)
        shapes_ok = len(arrays) == len(layer.weights) and all(
            tuple(a.shape) == tuple(w.shape) for a, w in zip(arrays, layer.weights, strict=False))
        if not shapes_ok:
            report["mismatched"].append(layer.name)
            if not skip_mismatch:
                want = [tuple(w.shape) for w in layer.weights]
                got = [tuple(a.shape) for a in arrays]
                raise FerBenchError(
                    f"weights file {path}: layer {h5_layer_name(layer.name)!r} has shapes {got}, the model "
                    f"expects {want}; the file does not match this architecture"
                )
            continue
        layer.set_weights(arrays)
        report["loaded"].append(layer.name)
    report["unused"] = [h5_layer_name(n) for n in by_keras if n not in seen]
    if require_all and report["missing"]:
        names = ", ".join(h5_layer_name(n) for n in report["missing"][:5])
        more = f" and {len(report['missing']) - 5} more" if len(report["missing"]) > 5 else ""
        raise FerBenchError(
            f"weights file {path} lacks layers {names}{more}; is it the right file for this architecture?"
        )
    return report


def check_topological_layout(model, path: str | os.PathLike) -> None:
    """Check a keras.applications weight file against ``model``: same number of weighted layers, same shapes
    in order (Keras loads these files topologically, not by name)."""
    stored = list(read_legacy_h5(path).items())
    mine = [lay for lay in _walk_layers(model) if lay.weights]
    if len(stored) != len(mine):
        raise FerBenchError(
            f"weights file {path} has {len(stored)} layers with weights, the architecture has {len(mine)}; "
            "is it the right (no-top) file?"
        )
    for (sname, ws), layer in zip(stored, mine, strict=True):
        got = [tuple(a.shape) for _, a in ws]
        want = [tuple(w.shape) for w in layer.weights]
        if sorted(got) != sorted(want):
            raise FerBenchError(
                f"weights file {path}: layer {sname!r} has shapes {got}, the architecture expects {want} "
                f"(layer {layer.name!r})"
            )


# ------------------------------------------------------------------------------------------------ hashing
def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_hash(e: WeightsEntry, path: str | os.PathLike) -> str | None:
    """Raise FerBenchError on a known-hash mismatch; return the sha256 of the file."""
    sha = file_digest(path, "sha256")
    if e.sha256 and sha != e.sha256:
        raise FerBenchError(f"{path}: sha256 {sha} does not match the expected {e.sha256} for {e.name}")
    if e.md5:
        md5 = file_digest(path, "md5")
        if md5 != e.md5:
            raise FerBenchError(f"{path}: md5 {md5} does not match the expected {e.md5} for {e.name}")
    return sha


# ------------------------------------------------------------------------------------------------ layout check
def _reference_model(e: WeightsEntry):
    """The architecture a weights file must fit (built without loading anything)."""
    if e.name.startswith("vggface_"):
        from . import vggface

        return vggface.backbone(e.name.split("_", 1)[1], 224)
    from . import applications

    return applications.backbone_architecture(e.model, 224)


def verify_layout(name: str, path: str | os.PathLike) -> dict[str, Any]:
    """Check that ``path`` holds weights in the layout the fer-bench architecture of ``name`` expects."""
    e = get_entry(name)
    if e.store == "keras_hub":
        p = Path(path)
        if not (p.is_dir() and (p / "config.json").is_file()):
            raise FerBenchError(f"{path} is not a keras-hub preset folder (no config.json)")
        return {"kind": "keras_hub preset"}
    if not Path(path).is_file():
        raise FerBenchError(f"file not found: {path}")
    model = _reference_model(e)
    if e.store == "fer_bench":
        report = load_h5_by_name(model, path, require_all=True)
        return {"kind": "by-name", "layers": len(report["loaded"]), "unused": report["unused"]}
    check_topological_layout(model, path)
    return {"kind": "topological", "layers": len([x for x in _walk_layers(model) if x.weights])}


# ------------------------------------------------------------------------------------------------ fetch/import
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
    target = e.target()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=e.filename + ".", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        with urllib.request.urlopen(e.url, timeout=60) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        verify_hash(e, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise FerBenchError(f"download of {e.url} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def import_file(name: str, src: str | os.PathLike) -> Path:
    """Verify the layout of a user's file and copy it into the cache under the expected name."""
    e = get_entry(name)
    src = Path(src).expanduser()
    if not src.exists():
        raise FerBenchError(f"file not found: {src}")
    verify_layout(name, src)
    if e.store == "keras_hub":
        dst = weights_dir() / "resnet_18_imagenet"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst)
        return dst
    if e.md5 or e.sha256:
        verify_hash(e, src)
    dst = e.target()
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
            "cached": p is not None, "path": str(p) if p else None, "target": str(e.target()),
            "store": e.store, "url": e.url, "sha256": e.sha256, "md5": e.md5,
        })
    return rows
