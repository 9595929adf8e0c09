"""Dataset adapters: turn a DATASET spec into a :class:`~fer_bench.data.source.DataSource`.

A DATASET spec is one of

* ``synth:lab`` / ``synth:wild`` (options: ``synth:wild?n=100&test=30&seed=1&size=64``; see
  :mod:`.synthetic`): the embedded synthetic generator;
* a name registered in the datasets TOML (see :mod:`.registry`), e.g. ``fer2013``;
* a path, whose layout is detected (or forced with ``format=``):

  ==================== =====================================================================================
  ``rafdb``            RAF-DB basic: ``EmoLabel/list_patition_label.txt`` + ``Image/aligned/``
  ``affectnet_csv``    AffectNet: ``training.csv`` / ``validation.csv`` + ``Manually_Annotated_Images/``
  ``fer2013_csv``      ``fer2013.csv`` (the file, or a folder holding it)
  ``folder``           class folders (``angry/`` ...), optionally under split folders (``train/`` ...)
  ``affectnet_folders`` class folders named ``0`` .. ``7`` in AffectNet order (only when asked for)
  ==================== =====================================================================================

Detection tries the layouts in that order. Every adapter maps its native labels to the canonical names
explicitly (``fer_bench.labels.DATASET_ORDERS``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import FerBenchError
from ...imageio import display_name
from ..source import DataSource
from ._common import show
from .affectnet import find_affectnet, is_affectnet_csv, open_affectnet_csv
from .fer2013_csv import find_fer2013_csv, is_fer2013_csv, open_fer2013_csv
from .folder import NotAFolderDataset, folders_phrase, looks_like_folder_dataset, open_folder
from .rafdb import find_rafdb_root, open_rafdb
from .registry import DEFAULT_REGISTRY, RegistryEntry, load_registry, registry_path
from .synthetic import open_synth, parse_synth_spec

__all__ = [
    "DEFAULT_REGISTRY", "FILE_FORMATS", "FORMATS", "RegistryEntry", "detect_format", "item_path",
    "load_registry", "normalize_format", "open_affectnet_csv", "open_dataset", "open_fer2013_csv", "open_folder",
    "open_rafdb", "open_synth", "parse_synth_spec", "registry_path",
]

#: Formats accepted by ``open_dataset(..., format=)`` / ``--format``.
FORMATS = ("folder", "fer2013_csv", "rafdb", "affectnet_csv", "affectnet_folders")
#: Formats whose items are image files at ``Path(source.root) / item``.
FILE_FORMATS = ("folder", "affectnet_folders", "rafdb", "affectnet_csv")
#: accepted spellings (lower-case, without ``_``/``-``) -> format id
_FORMAT_ALIASES = {
    "folder": "folder", "folders": "folder", "imagefolder": "folder",
    "fer2013csv": "fer2013_csv", "fer2013": "fer2013_csv",
    "rafdb": "rafdb", "raf": "rafdb", "rafdbbasic": "rafdb",
    "affectnetcsv": "affectnet_csv", "affectnet": "affectnet_csv",
    "affectnetfolders": "affectnet_folders", "affectnetfolder": "affectnet_folders",
}

SUPPORTED_LAYOUTS = (
    "class folders (angry/ happy/ ... optionally inside train/ val/ test/), fer2013.csv, "
    "RAF-DB basic (EmoLabel/list_patition_label.txt + Image/aligned/), or AffectNet "
    "(training.csv/validation.csv + Manually_Annotated_Images/)"
)


def normalize_format(fmt: str | None) -> str | None:
    """Canonical format id for *fmt* (aliases such as ``raf-db`` accepted); FerBenchError if unknown."""
    if fmt is None or not str(fmt).strip():
        return None
    key = _FORMAT_ALIASES.get(str(fmt).strip().lower().replace("-", "").replace("_", ""))
    if key is None:
        raise FerBenchError(f"unknown dataset format {fmt!r}; use one of {', '.join(FORMATS)}")
    return key


def _detect(path: Path, *, descend: bool = True) -> tuple[str, Path]:
    if path.is_file():
        if path.suffix.lower() == ".csv":
            if is_fer2013_csv(path):
                return "fer2013_csv", path
            if is_affectnet_csv(path):
                return "affectnet_csv", path
        raise FerBenchError(
            f"cannot tell the dataset format of {show(path)}; a dataset file must be fer2013.csv or an "
            f"AffectNet training.csv/validation.csv, otherwise pass a folder with {SUPPORTED_LAYOUTS}"
        )
    if find_rafdb_root(path) is not None:
        return "rafdb", path
    if find_affectnet(path) is not None:
        return "affectnet_csv", path
    if find_fer2013_csv(path) is not None:
        return "fer2013_csv", path
    if looks_like_folder_dataset(path):
        return "folder", path
    if descend:  # a folder holding just the dataset folder (e.g. an unzipped archive)
        try:
            subs = [e for e in os.scandir(path) if e.is_dir() and not e.name.startswith((".", "_"))]
        except OSError:
            subs = []
        if len(subs) == 1:
            try:
                return _detect(Path(subs[0].path), descend=False)
            except FerBenchError:
                pass
    raise FerBenchError(
        f"cannot tell the dataset format of {show(path)}: {folders_phrase(path)}; expected "
        f"{SUPPORTED_LAYOUTS} (or pass --format {'|'.join(FORMATS)})"
    )


def detect_format(path: str | Path) -> str:
    """The format id of the dataset at *path* (one of FORMATS except affectnet_folders, which is never guessed)."""
    return _detect(Path(path).expanduser().absolute())[0]


def _open_path(path: Path, *, name: str, fmt: str | None) -> DataSource:
    if fmt is None:
        fmt, path = _detect(path)
    if fmt == "folder":
        try:
            return open_folder(path, name=name)
        except NotAFolderDataset as exc:
            raise FerBenchError(f"{exc}; expected {SUPPORTED_LAYOUTS}") from None
    if fmt == "affectnet_folders":
        try:
            return open_folder(path, name=name, numeric_order="affectnet")
        except NotAFolderDataset as exc:
            raise FerBenchError(f"{exc}; expected AffectNet class folders 0..7 or expression names") from None
    if fmt == "fer2013_csv":
        return open_fer2013_csv(path, name=name)
    if fmt == "rafdb":
        return open_rafdb(path, name=name)
    if fmt == "affectnet_csv":
        return open_affectnet_csv(path, name=name)
    raise FerBenchError(f"unknown dataset format {fmt!r}; use one of {', '.join(FORMATS)}")  # pragma: no cover


def _is_bare_name(spec: str) -> bool:
    return bool(spec) and "/" not in spec and os.sep not in spec and not spec.startswith((".", "~"))


def check_dataset_spec(spec: str | Path, *, registry_file: str | Path | None = None) -> None:
    """Fail (one line) on a DATASET spec whose path or registry entry does not exist, without reading any
    data: a run checks its datasets this way before it takes its lock or creates anything in the results
    folder."""
    text = str(spec).strip()
    if not text or text.lower().startswith("synth:"):
        return
    if _is_bare_name(text):
        reg_path, explicit = registry_path(registry_file)
        registry = load_registry(registry_file) if (explicit or reg_path.is_file()) else {}
        entry = registry.get(text)
        if entry is not None:
            if not entry.path.lower().startswith("synth:") and not Path(entry.path).exists():
                raise FerBenchError(f"dataset {text!r} is registered in {show(entry.file)} as {entry.path}, which "
                                    "does not exist; fix its path there")
            return
    path = Path(text).expanduser()
    if not path.exists():
        reg_path, _ = registry_path(registry_file)
        raise FerBenchError(f"dataset path {show(path)} not found; check the path or register it in {show(reg_path)}")


def open_dataset(
    spec: str | Path, *, registry_file: str | Path | None = None, format: str | None = None
) -> DataSource:
    """Open a dataset from a DATASET spec (see module docstring).

    Args:
        spec: ``synth:<domain>[?opts]``, a registered name, or a path.
        registry_file: datasets TOML to use instead of ``$FER_BENCH_DATASETS`` / ``~/.config/...``.
        format: force a layout (one of FORMATS) instead of detecting it; overrides a registry ``format``.

    A bare name (no ``/``) that is registered wins over a same-named folder in the working directory.
    Raises FerBenchError (one line, naming the path and the fix) for missing paths and unknown layouts.
    """
    text = str(spec).strip()
    fmt = normalize_format(format)
    if not text:
        raise FerBenchError("empty dataset spec; pass a path, a registered name or synth:wild")
    if text.lower().startswith("synth:"):
        if fmt is not None:
            raise FerBenchError(f"--format does not apply to the synthetic dataset {text!r}; drop it")
        return open_synth(text)
    path = Path(text).expanduser()
    if _is_bare_name(text):
        reg_path, explicit = registry_path(registry_file)
        registry = load_registry(registry_file) if (explicit or reg_path.is_file()) else {}
        entry = registry.get(text)
        if entry is not None:
            if entry.path.lower().startswith("synth:"):
                return open_synth(entry.path, name=text)
            p = Path(entry.path)
            if not p.exists():
                raise FerBenchError(
                    f"dataset {text!r} is registered in {show(entry.file)} as {entry.path}, which does not "
                    f"exist; fix its path there"
                )
            if fmt is None and entry.format:
                try:
                    fmt = normalize_format(entry.format)
                except FerBenchError as exc:
                    raise FerBenchError(f"{exc} (in [datasets.{text}] of {show(entry.file)}); fix it there") from None
            return _open_path(p, name=text, fmt=fmt)
    if not path.exists():
        reg_path, _ = registry_path(registry_file)
        raise FerBenchError(
            f"dataset path {show(path)} not found; check the path or register it in {show(reg_path)}"
        )
    # the name is for messages and records only (files are read through source.root): keep it printable
    return _open_path(path.absolute(), name=display_name(text), fmt=fmt)


def item_path(source: DataSource, item: str) -> Path | None:
    """The image file behind *item* for file-based sources (FILE_FORMATS), else None (CSV pixels, synth)."""
    if source.format in FILE_FORMATS:
        return Path(source.root) / item
    return None

