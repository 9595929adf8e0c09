"""Per-video feature sequences for the video track: the one entry point the run code calls (:func:`load_features`).

Feature kinds (Keinert et al., 2025, JMIR; Methods, "Feature Extraction" and "Experimental Setup"):

* ``au``: OpenFace's 35 action-unit values per frame, read from ``FeatureExtraction`` CSVs in ``au_dir``
  (:func:`fer_bench.video.openface.read_folder`; failed frames trimmed/forward-filled there);
* ``deep``: penultimate-layer embeddings of each frame's face crop (:mod:`fer_bench.video.deep`), from video
  files or image-sequence folders in ``video_dir`` (:mod:`fer_bench.video.frames`);
* ``both``: the two concatenated per frame (``[35 AU, D deep]``), keeping frames present in both.

Matching: a labels row's ``video`` equals an OpenFace CSV's file stem, a video file's stem or an image-sequence
folder's name. Files or folders without a labels row are skipped with a reason; labelled videos with no file are
not an error (compare ``FeatureSet.labels`` with the labels file), but no match at all is.

Alignment (``both``): OpenFace numbers frames from 1, :mod:`.frames` from 0, so deep frame ``i`` is OpenFace
frame ``i + 1`` (the same decoded frame). When fewer than half the frames of the shorter sequence match that way
(CSVs made from another decode, other sampling), frames are paired by nearest timestamp instead, within half an
OpenFace frame interval. The result carries the deep sequence's frame indices and timestamps.

Emotional phase (``vad``): frames outside the phase (:mod:`fer_bench.video.vad`) are dropped *before* the
failed-frame rule for deep features (so a face missing at the phase start is trimmed, not filled from before
it). For AU CSVs the phase needs the matching video's audio (``video_dir``) and is applied to the OpenFace
timestamps after OpenFace's own trimming. A video without audio, without voice, or without timestamps keeps all
its frames; ``info["vad"]["kept_all"]`` says which and why.

Cache: deep features of each video are computed for every sampled frame of the whole video (before the phase
and the failed-frame rule, so changing ``vad`` reuses them) and stored as
``<cache_root()>/../video-features/<key>.npz`` (or ``cache_dir``). The key hashes the source (video file: size,
mtime and the sha256 of its first and last MiB; image folder: every frame's name, size and mtime plus the sha256
of the first and last frame), the model file's sha256, the colour/scaling, ``fps``, the image-sequence rate, the
crop settings and :data:`FEATURES_VERSION`. Files are written atomically and carry a checksum of their arrays;
a damaged file is rebuilt (counted in ``info["cache"]["rebuilt"]``). A model passed as an in-memory Keras object
has no file hash, so its features are not cached.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.cache import cache_root
from ..errors import FerBenchError
from ..fsutil import atomic_path
from .deep import (
    DEEP_VERSION,
    CropConfig,
    FaceCropper,
    RawFeatures,
    apply_failed_frame_rule,
    embed_frames,
    load_embedder,
    resolve_model_path,
    window_mask,
)
from .frames import (
    DEFAULT_SEQUENCE_FPS,
    VideoReadError,
    _Sampler,
    image_files,
    is_sequence_folder,
    is_video_file,
    open_frames,
)
from .labels import LabelSet, read_labels
from .openface import AU_COLUMNS, read_folder
from .vad import AudioReadError, VADConfig, detect_phase

KINDS = ("au", "deep", "both")
#: bump when the cached arrays change meaning (also covers :data:`fer_bench.video.deep.DEEP_VERSION`)
FEATURES_VERSION = 1
_MIB = 1 << 20


@dataclass(frozen=True)
class FeatureSequence:
    """One video's features: ``(T, D)`` float32, ``(T,)`` timestamps in seconds, ``(T,)`` int frame indices."""

    features: np.ndarray
    timestamps: np.ndarray
    frames: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.features.shape[0])


@dataclass
class FeatureSet:
    """What :func:`load_features` read: sequences by video id, their label rows (same order), skips, info."""

    kind: str
    sequences: dict[str, FeatureSequence]
    labels: pd.DataFrame  # video, participant, label, y: one row per sequence, in sequence order
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (video or file, one-line reason)
    dim: int = 0
    info: dict = field(default_factory=dict)  # JSON-able description for the run record

    @property
    def n_frames(self) -> int:
        return sum(s.n_frames for s in self.sequences.values())


# ------------------------------------------------------------------------------------------------ cache


def feature_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` or ``<cache_root()>/../video-features``."""
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_root().parent / "video-features"


def _sha_range(path: Path, start: int = 0, n: int | None = None) -> str:
    """sha256 of ``n`` bytes of ``path`` from ``start`` (None: to the end), read in 1 MiB blocks."""
    h = hashlib.sha256()
    left = math.inf if n is None else n
    with open(path, "rb") as fh:
        fh.seek(start)
        while left > 0:
            block = fh.read(int(min(_MIB, left)))
            if not block:
                break
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def source_fingerprint(path: Path) -> dict:
    """Cheap content identity of a video file or image-sequence folder (module docstring)."""
    path = Path(path)
    if path.is_dir():
        files = image_files(path)
        h = hashlib.sha256()
        for f in files:
            st = f.stat()
            h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        ends = [_sha_range(files[0]), _sha_range(files[-1])] if files else []
        return {"kind": "images", "n": len(files), "stat": h.hexdigest(), "ends": ends}
    st = path.stat()
    return {
        "kind": "file", "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "head": _sha_range(path, 0, _MIB), "tail": _sha_range(path, max(0, st.st_size - _MIB), _MIB),
    }


def _arrays_sha(raw: RawFeatures) -> str:
    h = hashlib.sha256()
    for a in (raw.frames, raw.times, raw.features, raw.ok):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _save(path: Path, key: str, raw: RawFeatures, extractor: dict) -> None:
    meta = {"key": key, "version": FEATURES_VERSION, "sha256": _arrays_sha(raw), "reasons": raw.reasons,
            "seconds": round(raw.seconds, 3), "extractor": extractor}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, frames=raw.frames, times=raw.times, features=raw.features, ok=raw.ok,
                 meta=np.array(json.dumps(meta, sort_keys=True)))


class _Damaged(Exception):
    pass


def _load(path: Path, key: str) -> tuple[RawFeatures, dict] | tuple[None, None]:
    """Cached raw features and the extractor info stored with them, ``(None, None)`` when absent; raises
    :class:`_Damaged` when present but not verifiable."""
    if not path.is_file():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            raw = RawFeatures(z["frames"].astype(np.int64), z["times"].astype(np.float64),
                              z["features"].astype(np.float32), z["ok"].astype(bool),
                              {str(k): int(v) for k, v in meta.get("reasons", {}).items()},
                              float(meta.get("seconds", 0.0)))
    except Exception as exc:  # truncated zip, missing member, bad JSON: all mean "rebuild"
        raise _Damaged(type(exc).__name__) from None
    n = len(raw.frames)
    if (meta.get("key") != key or meta.get("version") != FEATURES_VERSION or raw.features.ndim != 2
            or not (len(raw.times) == len(raw.ok) == raw.features.shape[0] == n)
            or meta.get("sha256") != _arrays_sha(raw)):
        raise _Damaged("content check failed")
    return raw, dict(meta.get("extractor") or {})


# ------------------------------------------------------------------------------------------------ helpers


def _scan_videos(video_dir: Path, labelled: set[str], labels_csv: Path) -> tuple[dict[str, Path], list]:
    """``{video id: file or folder}`` for entries of ``video_dir`` with a labels row; skips with reasons."""
    found: dict[str, Path] = {}
    skipped: list[tuple[str, str]] = []
    for p in sorted(video_dir.iterdir(), key=lambda q: q.name):
        if p.name.startswith("."):
            continue
        if p.is_file() and is_video_file(p):
            vid = p.stem
        elif p.is_dir() and is_sequence_folder(p):
            vid = p.name
        else:
            continue
        if vid not in labelled:
            skipped.append((str(p), f"{p}: no row for video '{vid}' in {labels_csv}; add it"))
        elif vid in found:
            skipped.append((str(p), f"{p}: video '{vid}' also found as {found[vid].name}; keep one of them"))
        else:
            found[vid] = p
    return found, skipped


def _vad_config(vad: Any) -> VADConfig | None:
    if vad is None or vad is False or (isinstance(vad, str) and vad.strip().lower() in ("", "none", "off")):
        return None
    if vad is True:
        return VADConfig()
    if isinstance(vad, VADConfig):
        return vad
    if isinstance(vad, str):
        return VADConfig(method=vad.strip().lower())
    if isinstance(vad, dict):
        return VADConfig(**vad)
    raise FerBenchError(f"vad={vad!r}: pass None, 'energy', 'webrtcvad' or a VADConfig")


def _sample_mask(times: np.ndarray, fps: float | None) -> np.ndarray:
    """Frames kept by sampling at ``fps`` on their timestamps (all when fps is None or times are NaN)."""
    if fps is None or len(times) == 0 or not np.isfinite(times).all():
        return np.ones(len(times), bool)
    step = np.median(np.diff(times)) if len(times) > 1 else 0.0
    s = _Sampler(float(fps), 0.5 * float(step) if math.isfinite(step) else 0.0)
    return np.array([s.keep(float(t)) for t in times], bool)


def align_both(au_seq, deep_seq: FeatureSequence) -> tuple[FeatureSequence, str] | None:
    """Concatenate AU and deep features per frame (module docstring); None when no frame is common."""
    au_idx0 = np.asarray(au_seq.frames, np.int64) - 1
    common, ia, idp = np.intersect1d(au_idx0, deep_seq.frames, assume_unique=False, return_indices=True)
    mode = "index"
    if len(common) < 0.5 * min(len(au_idx0), len(deep_seq.frames)):
        ta, td = np.asarray(au_seq.timestamps, np.float64), np.asarray(deep_seq.timestamps, np.float64)
        if len(ta) and np.isfinite(ta).all():
            tol = 0.5 * (float(np.median(np.diff(ta))) if len(ta) > 1 else 1.0 / 30.0)
            pos = np.clip(np.searchsorted(ta, td), 1, max(1, len(ta) - 1))
            left = np.clip(pos - 1, 0, len(ta) - 1)
            right = np.clip(pos, 0, len(ta) - 1)
            nearest = np.where(np.abs(ta[left] - td) <= np.abs(ta[right] - td), left, right)
            good = np.abs(ta[nearest] - td) <= tol + 1e-9
            if good.sum() > len(common):
                idp, ia, mode = np.flatnonzero(good), nearest[good], "timestamp"
    if len(idp) == 0:
        return None
    feats = np.concatenate([np.asarray(au_seq.features, np.float32)[ia], deep_seq.features[idp]], axis=1)
    return FeatureSequence(np.ascontiguousarray(feats, np.float32), deep_seq.timestamps[idp].astype(np.float64),
                           deep_seq.frames[idp].astype(np.int64)), mode


def _reasons_text(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])) or "no_face"


class _Lazy:
    """The embedder and the face cropper, built on the first cache miss (TensorFlow and MTCNN load slowly)."""

    def __init__(self, model: Any, color: str, scaling: str, batch_size: int, crop: CropConfig) -> None:
        self.args = (model, color, scaling, batch_size)
        self.crop = crop
        self._emb = None
        self._cropper = None

    @property
    def embedder(self):
        if self._emb is None:
            model, color, scaling, bs = self.args
            self._emb = load_embedder(model, color=color, scaling=scaling, batch_size=bs)
        return self._emb

    @property
    def cropper(self) -> FaceCropper:
        if self._cropper is None:
            self._cropper = FaceCropper(self.crop, self.embedder.size)
        return self._cropper


# ------------------------------------------------------------------------------------------------ entry point


def load_features(
    kind: str,
    labels_csv: str | Path,
    *,
    label_set: str | LabelSet = "stres-woz",
    au_dir: str | Path | None = None,
    video_dir: str | Path | None = None,
    model: Any = None,
    fps: float | None = None,
    detector: str = "mtcnn",
    vad: Any = None,
    min_confidence: float | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    sequence_fps: float = DEFAULT_SEQUENCE_FPS,
    color: str = "auto",
    scaling: str = "none",
    batch_size: int = 64,
    margin: int = 20,
    min_face: int = 40,
) -> FeatureSet:
    """Read labelled per-video feature sequences of ``kind`` (``au``, ``deep`` or ``both``; module docstring).

    ``model``: the embedding model for deep features (None: the shipped FER2013 model; a ``.keras``/``.h5``
    path; a ``model_zoo/pretrained`` name; a Keras model). ``fps``: sample frames at this rate (None: every
    frame). ``detector``: ``mtcnn`` (default), ``haar`` or ``none`` (frames are already face crops).
    ``vad``: None (all frames), ``"energy"``, ``"webrtcvad"``, True (energy) or a :class:`VADConfig`.
    ``min_confidence``: OpenFace confidence threshold for AU frames, and the face detector's confidence
    threshold for deep features (None: no AU threshold, detector 0.9 as build-btfer). ``sequence_fps``: the
    nominal rate of image-sequence folders. ``color``/``scaling``: model input preparation
    (:func:`fer_bench.video.deep.load_embedder`). ``margin``/``min_face``: crop settings (build-btfer's).
    ``progress(done, total, video_id)`` is called after each video.

    Unreadable videos, videos without a face and CSVs that fail to parse are skipped with a one-line reason in
    ``skipped``. Raises :class:`FerBenchError` (one line naming the file and the fix) for a missing folder, a
    bad labels file, or when no video could be read.
    """
    t_start = time.perf_counter()
    if kind not in KINDS:
        raise FerBenchError(f"unknown feature kind {kind!r}; use one of {', '.join(KINDS)}")
    labels_csv = Path(labels_csv)
    if kind in ("au", "both"):
        if au_dir is None:
            raise FerBenchError(f"features '{kind}' need au_dir: the folder of OpenFace CSVs (one per video)")
        au_dir = Path(au_dir)
        if not au_dir.is_dir():
            raise FerBenchError(f"{au_dir}: not a folder; pass the folder holding the OpenFace CSVs")
    if kind in ("deep", "both") and video_dir is None:
        raise FerBenchError(f"features '{kind}' need video_dir: the folder of video files or frame folders")
    if video_dir is not None:
        video_dir = Path(video_dir)
        if not video_dir.is_dir():
            raise FerBenchError(f"{video_dir}: not a folder; pass the folder holding the videos (or frame folders)")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise FerBenchError(f"fps {fps!r} must be a positive number, or None for every frame")
    vcfg = _vad_config(vad)
    table = read_labels(labels_csv, label_set)
    order = list(table["video"])
    labelled = set(order)

    skipped: list[tuple[str, str]] = []
    sources: dict[str, Path] = {}
    if video_dir is not None:
        sources, sk = _scan_videos(video_dir, labelled, labels_csv)
        if kind != "au":
            skipped += sk
        if kind in ("deep", "both") and not sources:
            raise FerBenchError(
                f"{video_dir}: no video file or frame folder matches a 'video' in {labels_csv}; name each file "
                "(stem) or frame folder after its labels row"
            )

    info: dict[str, Any] = {"kind": kind, "labels": str(labels_csv), "fps": fps, "n_labelled": len(order),
                            "label_set": getattr(label_set, "name", label_set)}

    # ---- emotional phase per video
    windows: dict[str, tuple[float, float] | None] = {}
    kept_all: dict[str, str] = {}
    if vcfg is not None:
        info["vad"] = {**vcfg.as_dict(), "phases": {}, "kept_all": kept_all}
    else:
        info["vad"] = None

    def window_for(vid: str) -> tuple[float, float] | None:
        if vcfg is None:
            return None
        if vid in windows:
            return windows[vid]
        src = sources.get(vid)
        win = None
        if src is None:
            kept_all[vid] = "no matching video file in video_dir for its audio"
        elif src.is_dir():
            kept_all[vid] = "image sequence: no audio"
        else:
            try:
                ph = detect_phase(src, vcfg)
            except AudioReadError as exc:
                kept_all[vid] = str(exc)
            else:
                win = ph.window
                if win is None:
                    kept_all[vid] = ph.reason or "no phase"
                else:
                    info["vad"]["phases"][vid] = [win[0], win[1]]
        windows[vid] = win
        return win

    # ---- AU sequences
    au_seqs: dict[str, Any] = {}
    if kind in ("au", "both"):
        fr = read_folder(au_dir, labels_csv, label_set=label_set, min_confidence=min_confidence)
        skipped += [(str(p), r) for p, r in fr.skipped]
        if not fr.sequences and not fr.skipped:
            raise FerBenchError(f"{au_dir}: no OpenFace CSV (*.csv) in the folder; pass the OpenFace output folder")
        if not fr.sequences and all("no row for video" in r for _, r in fr.skipped):
            raise FerBenchError(
                f"{au_dir}: no CSV matches a 'video' in {labels_csv}; name each CSV after its labels row"
            )
        au_seqs = dict(fr.sequences)
        info["au"] = {"dir": str(au_dir), "min_confidence": min_confidence, "columns": list(AU_COLUMNS),
                      "trimmed_frames": int(sum(s.n_trimmed for s in au_seqs.values())),
                      "filled_frames": int(sum(s.n_filled for s in au_seqs.values()))}

    # ---- deep sequences
    deep_seqs: dict[str, FeatureSequence] = {}
    cache = {"dir": None, "hits": 0, "misses": 0, "rebuilt": 0, "enabled": False}
    if kind in ("deep", "both"):
        crop = CropConfig(detector=detector, margin=margin, min_face=min_face,
                          min_confidence=0.9 if min_confidence is None else float(min_confidence))
        lazy = _Lazy(model, color, scaling, batch_size, crop)
        in_memory = not isinstance(model, (str, Path, type(None)))
        model_path = None if in_memory else resolve_model_path(model)
        model_sha = None
        if model_path is not None:
            from ..hashing import file_sha256

            model_sha = file_sha256(model_path)
        cdir = feature_cache_dir(cache_dir)
        cache.update(dir=str(cdir), enabled=model_sha is not None)
        base_key = {"v": FEATURES_VERSION, "deep": DEEP_VERSION, "model_sha256": model_sha, "color": color,
                    "scaling": scaling, "fps": fps, "sequence_fps": float(sequence_fps), "crop": crop.as_dict()}
        todo = [v for v in order if v in sources and (kind == "deep" or v in au_seqs)]
        dims: set[int] = set()
        trimmed = filled = 0
        load_s = extract_s = 0.0
        extractor: dict = {}
        failed_reasons: dict[str, int] = {}
        for n_done, vid in enumerate(todo, 1):
            src = sources[vid]
            raw = None
            path = key = None
            try:
                if model_sha is not None:
                    key = hashlib.sha256(json.dumps({**base_key, "src": source_fingerprint(src)},
                                                    sort_keys=True).encode()).hexdigest()[:32]
                    path = cdir / f"{key}.npz"
                    try:
                        raw, stored = _load(path, key)
                    except _Damaged:
                        cache["rebuilt"] += 1
                if raw is not None:
                    cache["hits"] += 1
                    extractor = extractor or stored
                else:
                    source = open_frames(src, sequence_fps=sequence_fps)
                    t_load = time.perf_counter()
                    embedder, cropper = lazy.embedder, lazy.cropper
                    load_s += time.perf_counter() - t_load
                    raw = embed_frames(source.frames(fps), embedder, cropper)
                    extract_s += raw.seconds
                    extractor = embedder.info
                    if source.bad_frames:
                        raw.reasons["unreadable_image"] = len(source.bad_frames)
                    cache["misses"] += 1
                    if path is not None and len(raw.frames):
                        try:
                            _save(path, key, raw, extractor)
                        except OSError as exc:
                            cache.setdefault("write_errors", []).append(f"{path}: {exc.strerror or exc}")
            except (VideoReadError, OSError) as exc:
                msg = str(exc) if isinstance(exc, VideoReadError) else f"{src}: cannot read ({exc.strerror or exc})"
                skipped.append((str(src), msg))
                if progress:
                    progress(n_done, len(todo), vid)
                continue
            for k, v in raw.reasons.items():
                failed_reasons[k] = failed_reasons.get(k, 0) + v
            if len(raw.frames) == 0:
                skipped.append((str(src), f"{src}: no frame decoded; re-encode or remove it"))
            else:
                dims.add(int(raw.features.shape[1]))
                win = window_for(vid)
                m = window_mask(raw.times, win)
                res = apply_failed_frame_rule(raw.frames[m], raw.times[m], raw.features[m], raw.ok[m])
                if res is None:
                    where = "in the emotional phase" if win is not None else f"in any of {len(raw.frames)} frame(s)"
                    skipped.append((str(src), f"{src}: no usable face {where} ({_reasons_text(raw.reasons)}); "
                                    "check the video or try another detector"))
                else:
                    f, t, x, n_trim, n_fill = res
                    trimmed += n_trim
                    filled += n_fill
                    deep_seqs[vid] = FeatureSequence(x, t, f)
            if progress:
                progress(n_done, len(todo), vid)
        emb_info = extractor or {"model": Path(model_path).stem if model_path else None, "model_sha256": model_sha,
                                 "dim": next(iter(dims)) if len(dims) == 1 else None, "version": DEEP_VERSION}
        info["deep"] = {**emb_info, "model_file": str(model_path) if model_path else None,
                        "model_load_seconds": round(load_s, 2), "extract_seconds": round(extract_s, 2),
                        "requested_color": color, "crop": crop.as_dict(), "sequence_fps": float(sequence_fps),
                        "failed_frames": failed_reasons, "trimmed_frames": trimmed, "filled_frames": filled}
    info["cache"] = cache

    # ---- combine, apply the phase to AU sequences
    out: dict[str, FeatureSequence] = {}
    align_modes: dict[str, int] = {}
    n_au = 0
    for vid in order:
        if kind == "deep":
            if vid in deep_seqs:
                out[vid] = deep_seqs[vid]
            continue
        if vid not in au_seqs:
            continue
        a = au_seqs[vid]
        keep = _sample_mask(a.timestamps, fps) if kind == "au" else np.ones(a.n_frames, bool)
        if vcfg is not None:
            win = window_for(vid)
            if win is not None:
                if not np.isfinite(a.timestamps).all():
                    kept_all[vid] = "OpenFace CSV has no timestamps"
                else:
                    keep &= window_mask(a.timestamps, win)
        if not keep.any():
            skipped.append((str(a.path), f"{a.path}: no AU frame in the emotional phase {windows.get(vid)}"))
            continue
        au_seq = FeatureSequence(a.features[keep], a.timestamps[keep], a.frames[keep])
        if kind == "au":
            out[vid] = au_seq
            n_au += 1
            if progress:
                progress(n_au, len(au_seqs), vid)
            continue
        if vid not in deep_seqs:
            if vid not in sources:
                skipped.append((vid, f"video '{vid}': OpenFace CSV but no video file or frame folder in {video_dir}"))
            continue
        res = align_both(au_seq, deep_seqs[vid])
        if res is None:
            skipped.append((vid, f"video '{vid}': no frame common to its OpenFace CSV and its video; "
                                 "were both made from the same file?"))
            continue
        out[vid], mode = res
        align_modes[mode] = align_modes.get(mode, 0) + 1
    if kind == "both":
        info["alignment"] = align_modes

    if not out:
        first = skipped[0][1] if skipped else "no labelled video found"
        raise FerBenchError(f"no video could be read ({len(skipped)} skipped; first: {first})")
    labels_out = table.set_index("video", drop=False).loc[list(out)].reset_index(drop=True)
    dims_out = {s.features.shape[1] for s in out.values()}
    if len(dims_out) != 1:
        raise FerBenchError(f"feature dimensions differ between videos {sorted(dims_out)}; clear the feature cache "
                            f"{feature_cache_dir(cache_dir)}")
    dim = dims_out.pop()
    info.update(n_videos=len(out), n_skipped=len(skipped), n_frames=int(sum(s.n_frames for s in out.values())),
                dim=int(dim), seconds=round(time.perf_counter() - t_start, 2))
    return FeatureSet(kind, out, labels_out, skipped, int(dim), info)
