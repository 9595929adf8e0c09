"""Stream the frames of a video file or an image-sequence folder as ``(index, time_s, RGB uint8)``.

Two kinds of source, one interface (:func:`open_frames`, :func:`iter_frames`):

* **Video files** (``.mp4 .avi .mov .webm .mkv .m4v .flv``) are decoded with PyAV (FFmpeg bundled in the wheel,
  no system ffmpeg). Frames are streamed one at a time, never the whole video in memory. ``index`` is the
  0-based decode-order frame number (OpenFace numbers the same frames from 1), ``time_s`` the presentation time
  in seconds from the start of the container (PTS based, so variable-frame-rate smartphone videos get true
  times). Rotation metadata is honoured: smartphone videos are stored sideways with a display matrix saying
  how to turn them; the frame's ``rotation`` (FFmpeg's display-matrix angle, counter-clockwise degrees) is
  applied, falling back to the legacy ``rotate`` stream tag (clockwise degrees) for files whose frames carry
  no display matrix. Mirroring in the display matrix is not applied (front-camera apps bake it in).
* **Image-sequence folders** (one folder of frames per video, as CK+, MMI, Oulu-CASIA or DFEW ship them):
  image files sorted naturally (``img2`` before ``img10``), ``time_s = index / sequence_fps`` (a nominal
  rate; the folders carry none). A frame that cannot be decoded is left out and noted in
  :attr:`FrameSource.bad_frames` (its index stays unused, so the others keep their numbers).

Sampling (``fps``): ``None`` yields every frame; a rate yields, for each point of the grid ``0, 1/fps, 2/fps,
...``, the first frame at or after it (half a source frame of slack), so a 30 fps video sampled at 10 fps keeps
every third frame and a rate above the source rate yields every frame once.

A video that cannot be opened or decoded raises :class:`VideoReadError` (a :class:`FerBenchError`) with a
one-line message naming the file: callers skip it and count it. Because decoding streams, the error can come
after some frames were yielded; callers that need all-or-nothing collect first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import FerBenchError, ImageReadError
from ..imageio import is_image_file, read_image

#: file suffixes read as video containers
#: the one list of video file suffixes (frame reader, dataset layouts, `fer-bench predict`)
VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", ".flv", ".mpg", ".mpeg", ".wmv"})
#: the nominal frame rate of image-sequence folders when none is given
DEFAULT_SEQUENCE_FPS = 30.0


class VideoReadError(FerBenchError):
    """A video file or image-sequence folder could not be opened or decoded (one-line message)."""


class Frame(NamedTuple):
    """One frame: 0-based index, time in seconds, HxWx3 uint8 RGB (display orientation)."""

    index: int
    time: float
    image: np.ndarray


def is_video_file(path: str | Path) -> bool:
    """True for a non-hidden file name with a video suffix (case-insensitive)."""
    p = Path(path)
    return p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")


def natural_key(name: str) -> tuple:
    """Sort key that orders digit runs by value: ``f2.png`` < ``f10.png``; ties broken by the plain name."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p) + (name,)


def image_files(folder: str | Path) -> list[Path]:
    """The image files directly in ``folder``, naturally sorted."""
    files = (p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p))
    return sorted(files, key=lambda p: natural_key(p.name))


def is_sequence_folder(path: str | Path) -> bool:
    """True for a folder holding at least one image file (an image-sequence video)."""
    p = Path(path)
    return p.is_dir() and not p.name.startswith(".") and any(is_image_file(c) for c in p.iterdir() if c.is_file())


def rotate_image(img: np.ndarray, ccw_degrees: float) -> np.ndarray:
    """``img`` turned counter-clockwise by ``ccw_degrees`` (rounded to a multiple of 90)."""
    k = int(round(float(ccw_degrees) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(img, k=k)) if k else img


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Sampler:
    """Keeps the first frame at or after each point of the ``1/fps`` grid (see module docstring)."""

    def __init__(self, fps: float | None, slack: float) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise FerBenchError(f"fps {fps!r} must be a positive number (or None for every frame)")
        self.step = None if fps is None else 1.0 / float(fps)
        self.slack = slack
        self.next_t = -math.inf

    def keep(self, t: float) -> bool:
        if self.step is None:
            return True
        if t + self.slack < self.next_t:
            return False
        # the next grid point strictly after this frame's own grid point
        self.next_t = (math.floor((t + self.slack) / self.step) + 1) * self.step
        return True


@dataclass
class FrameSource:
    """An opened video file or image-sequence folder; iterate :meth:`frames` (streams; may be re-iterated)."""

    path: Path
    kind: str  # "video" | "images"
    fps: float  # nominal frame rate (container's average rate, or sequence_fps)
    n_frames: int | None  # frame count when known (image count; container's count, 0/None when unknown)
    duration: float | None  # seconds, when known
    rotation: int = 0  # ccw degrees applied to every frame (video: from the first frame / stream tag)
    has_audio: bool = False
    bad_frames: list[tuple[str, str]] = field(default_factory=list)  # (image file, reason): image sequences
    _files: list[Path] = field(default_factory=list, repr=False)

    def frames(self, fps: float | None = None) -> Iterator[Frame]:
        """Frames in order, sampled at ``fps`` (None: every frame). Raises :class:`VideoReadError`."""
        if self.kind == "images":
            return self._image_frames(fps)
        return self._video_frames(fps)

    def _image_frames(self, fps: float | None) -> Iterator[Frame]:
        self.bad_frames = []
        sampler = _Sampler(fps, 0.5 / self.fps)
        for i, f in enumerate(self._files):
            t = i / self.fps
            if not sampler.keep(t):
                continue
            try:
                img = read_image(f)
            except ImageReadError as exc:
                self.bad_frames.append((str(f), str(exc)))
                continue
            yield Frame(i, t, img)

    def _video_frames(self, fps: float | None) -> Iterator[Frame]:
        import av

        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoReadError(f"{self.path}: cannot open video ({_short(exc)}); re-encode or remove it") from None
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = _container_start(container)
            sampler = _Sampler(fps, 0.5 / self.fps if self.fps > 0 else 0.0)
            legacy = _legacy_rotation(stream)
            index = -1
            try:
                for frame in container.decode(stream):
                    index += 1
                    t = _frame_time(frame, index, self.fps, start)
                    if not sampler.keep(t):
                        continue
                    rot = int(getattr(frame, "rotation", 0) or 0) or legacy
                    img = frame.to_ndarray(format="rgb24")
                    yield Frame(index, t, rotate_image(img, rot))
            except (av.FFmpegError, OSError, ValueError, MemoryError) as exc:
                raise VideoReadError(
                    f"{self.path}: decoding failed after {index} frame(s) ({_short(exc)}); re-encode or remove it"
                ) from None
            if index < 0:
                raise VideoReadError(f"{self.path}: no decodable video frame; re-encode or remove it")
        finally:
            container.close()


def _container_start(container) -> float:
    st = getattr(container, "start_time", None)
    return float(st) / 1e6 if st is not None else 0.0


def _frame_time(frame, index: int, fps: float, start: float) -> float:
    t = frame.time
    if t is None or not math.isfinite(t):
        return index / fps if fps > 0 else float(index)
    return max(0.0, float(t) - start)


def _legacy_rotation(stream) -> int:
    """Counter-clockwise degrees from the old ``rotate`` tag (which states clockwise degrees), 0 if absent."""
    tag = (stream.metadata or {}).get("rotate")
    try:
        return -int(round(float(tag))) if tag is not None else 0
    except ValueError:
        return 0


def open_frames(path: str | Path, *, sequence_fps: float = DEFAULT_SEQUENCE_FPS) -> FrameSource:
    """Open a video file or an image-sequence folder; raises :class:`VideoReadError` (one line) on failure."""
    path = Path(path)
    if path.is_dir():
        if not (math.isfinite(sequence_fps) and sequence_fps > 0):
            raise FerBenchError(f"sequence_fps {sequence_fps!r} must be a positive number")
        files = image_files(path)
        if not files:
            raise VideoReadError(f"{path}: folder holds no image files; put the frames of one video in it")
        return FrameSource(path, "images", float(sequence_fps), len(files), len(files) / sequence_fps, _files=files)
    if not path.is_file():
        raise VideoReadError(f"{path}: no such video file or folder; check the path")
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path}: container has no video stream; pass a video file")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            if not (math.isfinite(fps) and fps > 0):
                fps = 30.0
            dur = None
            if stream.duration is not None and stream.time_base is not None:
                dur = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                dur = container.duration / 1e6
            n = int(stream.frames) if stream.frames else None
            return FrameSource(
                path, "video", fps, n, dur, rotation=_legacy_rotation(stream), has_audio=bool(container.streams.audio)
            )
    except VideoReadError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(f"{path}: cannot open video ({_short(exc)}); re-encode or remove it") from None


def iter_frames(
    path: str | Path, fps: float | None = None, *, sequence_fps: float = DEFAULT_SEQUENCE_FPS
) -> Iterator[Frame]:
    """Frames ``(index, time_s, RGB uint8)`` of a video file or image-sequence folder (see module docstring)."""
    yield from open_frames(path, sequence_fps=sequence_fps).frames(fps)
