"""Label the faces in photos and videos with any exported or trained model.

Inputs: image files, folders (searched recursively, sorted) and videos (decoded one frame at a time with
PyAV, so a long video never sits in memory; every N-th frame or N frames per second). Faces are found and cropped
the way the image track (build-btfer) does it: :mod:`fer_bench.btfer.detect` (MTCNN by default, Haar, or
``none`` for inputs that are already face crops), the box made square plus a 20-pixel margin
(:func:`fer_bench.btfer.crop.crop_box`), resized with INTER_AREA / bicubic to the model's input size, then
converted as the model's training data was (grey for FER2013-trained models).

Every input gives at least one record: one per face (box, label, score, all probabilities), ``no_face`` when
the detector found none, ``skipped`` (with the reason) when the file cannot be read. Records stream out of
:func:`predict_inputs` as they are made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FerBenchError
from ..models.zoo import shipped_model
from ..video.frames import VIDEO_SUFFIXES
from .runners import KERAS_SUFFIXES, Runner

MODEL_SUFFIXES = (*KERAS_SUFFIXES, ".tflite", ".onnx")
DETECTORS = ("mtcnn", "haar", "none")


def looks_like_model(path: Path) -> bool:
    p = Path(path)
    if p.is_dir():
        return (p / "saved_model.pb").is_file() or (p / "model.keras").is_file()
    return p.suffix.lower() in MODEL_SUFFIXES


def split_model_and_inputs(paths: list[Path], model: Path | None = None) -> tuple[Path, list[Path]]:
    """``[MODEL] INPUT...``: the first path is the model when it looks like one, else the shipped model."""
    paths = list(paths)
    if model is None and paths and looks_like_model(paths[0]):
        model, paths = paths[0], paths[1:]
    if not paths:
        raise FerBenchError("no INPUT given; pass image files, folders or videos after the model")
    return (Path(model) if model is not None else shipped_model()), paths


def is_video(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def iter_inputs(paths: Iterable[Path]) -> Iterator[tuple[Path, str, str]]:
    """(file, name shown in records, name relative to its argument): files as given, folders walked
    recursively in sorted order."""
    from ..imageio import is_image_file

    for p in paths:
        p = Path(p)
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    fp = Path(root) / f
                    if is_image_file(fp) or is_video(fp):
                        yield fp, str(fp), str(Path(p.name) / fp.relative_to(p))
        elif p.exists():
            yield p, str(p), p.name
        else:
            raise FerBenchError(f"{p}: no such file or folder")


@dataclass(frozen=True)
class PredictOptions:
    detector: str = "mtcnn"
    #: video sampling: every N-th frame (default 1 when fps is not set) or F frames per second
    every: int | None = None
    fps: float | None = None
    margin: int = 20
    min_face: int = 20
    min_confidence: float = 0.9
    annotate: Path | None = None

    def __post_init__(self):
        if self.detector not in DETECTORS:
            raise FerBenchError(f"--detector {self.detector}: use one of {', '.join(DETECTORS)}")
        if self.every is not None and self.fps is not None:
            raise FerBenchError("--every and --fps both given; pick one way to sample video frames")
        if self.every is not None and self.every < 1:
            raise FerBenchError(f"--every {self.every}: must be >= 1")
        if self.fps is not None and not self.fps > 0:
            raise FerBenchError(f"--fps {self.fps}: must be > 0")


class FaceFinder:
    """Detection + crop as build-btfer does it; ``none`` treats the whole image as one face."""

    def __init__(self, opts: PredictOptions):
        self.opts = opts
        self.detect = None
        if opts.detector != "none":
            from ..btfer.detect import DetectorSpec, make_detector

            self.spec = DetectorSpec(opts.detector, min_face=max(opts.min_face, 20))
            self.detect = make_detector(opts.detector)

    def faces(self, rgb: np.ndarray, size: int) -> tuple[list[dict], np.ndarray, str | None]:
        """(faces with box/confidence, crops N x size x size x 3 uint8, note)."""
        from ..btfer.crop import crop_box, crop_face, face_size

        h, w = rgb.shape[:2]
        if self.detect is None:
            cb = crop_box((0, 0, w, h), w, h, 0, square=False)
            return [{"box": [0, 0, w, h], "confidence": None}], crop_face(rgb, cb, size)[None], None
        from ..btfer.detect import detect_image

        found, note = detect_image(rgb, self.spec, self.detect)
        found = [f for f in found if f["confidence"] >= self.opts.min_confidence and
                 face_size(f) >= self.opts.min_face]
        crops = [crop_face(rgb, crop_box(f["box"], w, h, self.opts.margin), size) for f in found]
        faces = [{"box": [round(v) for v in f["box"]], "confidence": round(f["confidence"], 4)} for f in found]
        return faces, (np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)), note


def _records(runner: Runner, name: str, frame: int | None, time_s: float | None, rgb: np.ndarray,
             finder: FaceFinder) -> tuple[list[dict], list[dict]]:
    faces, crops, note = finder.faces(rgb, runner.meta.input_size)
    base = {"file": name, "frame": frame, "time": None if time_s is None else round(float(time_s), 3)}
    if not faces:
        return [{**base, "status": "no_face", "face": None, "box": None, "label": None, "score": None,
                 "probs": None, "detector_confidence": None, "note": note}], []
    probs = runner.predict(crops)
    out = []
    for i, (f, p) in enumerate(zip(faces, probs, strict=True)):
        k = int(np.argmax(p))
        out.append({**base, "status": "face", "face": i, "box": f["box"], "label": runner.labels[k],
                    "score": round(float(p[k]), 4), "probs": {n: round(float(v), 4) for n, v in
                                                             zip(runner.labels, p, strict=True)},
                    "detector_confidence": f["confidence"], "note": None})
    return out, faces


def annotate(rgb: np.ndarray, records: list[dict]) -> np.ndarray:
    """A BGR copy of *rgb* with each face's box and ``label score`` drawn."""
    import cv2

    img = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    thick = max(1, round(max(img.shape[:2]) / 300))
    for r in records:
        if r["status"] != "face":
            continue
        x, y, w, h = r["box"]
        cv2.rectangle(img, (x, y), (x + w, y + h), (0, 220, 0), thick)
        text = f"{r['label']} {r['score']:.2f}"
        scale = max(0.4, thick * 0.45)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 6 >= 0 else y + h + th + 4
        cv2.rectangle(img, (x, ty - th - 3), (x + tw + 4, ty + base), (0, 220, 0), -1)
        cv2.putText(img, text, (x + 2, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return img


def _write_annotated(folder: Path, rel: str, img_bgr: np.ndarray) -> Path:
    import cv2

    from ..fsutil import atomic_path

    dest = folder / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest, dest.suffix) as tmp:
        if not cv2.imwrite(str(tmp), img_bgr):
            raise FerBenchError(f"{dest}: cannot write the annotated image")
    return dest


def _annotated_name(name: str, frame: int | None) -> str:
    p = Path(name)
    parts = [q for q in p.parts if q not in ("/", "..", ".")]
    rel = Path(*parts) if parts else Path(p.name)
    if frame is None:
        return str(rel.with_suffix(".png") if rel.suffix.lower() not in (".jpg", ".jpeg", ".png") else rel)
    return str(rel.with_suffix("") / f"frame_{frame:06d}.jpg")


def video_frames(path: Path, every: int | None, fps: float | None) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, time in s, RGB frame) of the sampled frames, decoded one at a time (PyAV)."""
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise FerBenchError(f"{path}: cannot be opened as a video ({type(exc).__name__})") from None
    step = every or (None if fps else 1)
    next_t = 0.0
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else (i / float(stream.average_rate or 25))
            if step is not None:
                if i % step:
                    continue
            else:
                if t + 1e-6 < next_t:
                    continue
                next_t += 1.0 / fps
                while next_t <= t:
                    next_t += 1.0 / fps
            yield i, t, frame.to_ndarray(format="rgb24")


def video_frame_count(path: Path) -> int | None:
    """Frames in a video's header (for the progress bar), or None."""
    import av

    try:
        with av.open(str(path)) as c:
            n = c.streams.video[0].frames
            return int(n) or None
    except Exception:
        return None


def predict_inputs(runner: Runner, paths: Iterable[Path], opts: PredictOptions = PredictOptions(), *,
                   on_progress: Callable[[str, int, int | None], None] | None = None) -> Iterator[dict]:
    """Records for every face (or no face, or skipped file) in *paths*, streamed in input order.

    on_progress(name, done_in_file, total_in_file or None) is called after each image or sampled frame.
    """
    from ..imageio import ImageReadError, read_image

    finder = FaceFinder(opts)
    progress = on_progress or (lambda *_a: None)
    for path, name, rel in iter_inputs(paths):
        if is_video(path):
            total = video_frame_count(path)
            try:
                for i, t, rgb in video_frames(path, opts.every, opts.fps):
                    recs, _faces = _records(runner, name, i, t, rgb, finder)
                    if opts.annotate is not None:
                        _write_annotated(opts.annotate, _annotated_name(rel, i), annotate(rgb, recs))
                    yield from recs
                    progress(name, i + 1, total)
            except FerBenchError as exc:
                yield _skipped(name, "unreadable_video", str(exc))
            except Exception as exc:  # a decoder error mid-stream: keep what was read, say why it stopped
                yield _skipped(name, "corrupt_video", f"{type(exc).__name__}: {str(exc)[:120]}")
            continue
        try:
            rgb = read_image(path)
        except ImageReadError as exc:
            yield _skipped(name, getattr(exc, "kind", "unreadable"), str(exc))
            progress(name, 1, 1)
            continue
        recs, _faces = _records(runner, name, None, None, rgb, finder)
        if opts.annotate is not None:
            _write_annotated(opts.annotate, _annotated_name(rel, None), annotate(rgb, recs))
        yield from recs
        progress(name, 1, 1)


def _skipped(name: str, kind: str, detail: str) -> dict:
    return {"file": name, "frame": None, "time": None, "status": "skipped", "face": None, "box": None,
            "label": None, "score": None, "probs": None, "detector_confidence": None, "note": f"{kind}: {detail}"}


CSV_COLUMNS = ("file", "frame", "time", "status", "face", "x", "y", "w", "h", "label", "score",
               "detector_confidence", "note")


def csv_row(rec: dict, labels: tuple[str, ...]) -> list:
    box = rec.get("box") or [None] * 4
    probs = rec.get("probs") or {}
    return [rec["file"], rec["frame"], rec["time"], rec["status"], rec["face"], *box, rec["label"], rec["score"],
            rec["detector_confidence"], rec["note"], *[probs.get(n) for n in labels]]
