"""Frame streaming from video files (PyAV, rotation metadata, fps sampling) and image-sequence folders.

The writer helpers here (:func:`write_video`, :func:`face_frames`) are also used by the other video-feature
tests: they make tiny real MP4s with PyAV, optionally with rotation metadata and an audio track.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fer_bench.errors import FerBenchError
from fer_bench.video.frames import (
    VideoReadError,
    iter_frames,
    natural_key,
    open_frames,
)

CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg4"


def face_frames(n: int, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    """``n`` synthetic face images (RGB uint8), different faces so frames are distinguishable."""
    from fer_bench.data.synth.generator import render_face

    rng = np.random.default_rng(seed)
    labels = ("happy", "sad", "angry", "surprise")
    return [render_face(labels[i % 4], "lab", rng, size) for i in range(n)]


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10, *, rotation: int = 0,
                audio: np.ndarray | None = None, rate: int = 16000) -> Path:
    """An MP4 (H.264 when available) of ``frames``; ``rotation``: display-matrix degrees (counter-clockwise);
    ``audio``: mono float signal at ``rate`` muxed as AAC."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        vs = c.add_stream(CODEC, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if CODEC == "libx264":
            vs.options = {"crf": "10"}
        if rotation:
            vs.set_display_rotation(rotation)
        a_s = None
        if audio is not None:
            a_s = c.add_stream("aac", rate=rate)
            a_s.layout = "mono"
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            f.pts = i
            for p in vs.encode(f):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a_s is not None:
            fmt = a_s.codec_context.format.name
            for i in range(0, len(audio), 1024):
                chunk = audio[i : i + 1024].astype(np.float32)[None]
                fr = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
                fr.sample_rate, fr.pts = rate, i
                for p in a_s.encode(fr):
                    c.mux(p)
            for p in a_s.encode():
                c.mux(p)
    return path


def stripe_frame(w: int = 64, h: int = 32) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 4] = 255  # white stripe on the left edge
    return img


def test_video_frames_indices_times_and_content(tmp_path):
    src = face_frames(6)
    path = write_video(tmp_path / "v.mp4", src, fps=10)
    s = open_frames(path)
    assert s.kind == "video" and s.fps == pytest.approx(10.0) and not s.has_audio
    got = list(s.frames())
    assert [f.index for f in got] == list(range(6))
    assert [f.time for f in got] == pytest.approx([i / 10 for i in range(6)], abs=1e-6)
    for f, img in zip(got, src, strict=True):
        assert f.image.shape == (64, 64, 3) and f.image.dtype == np.uint8
        assert np.abs(f.image.astype(int) - img.astype(int)).mean() < 12  # lossy codec, same picture
    # a source can be iterated again
    assert len(list(s.frames())) == 6


@pytest.mark.parametrize(("rotation", "shape", "white_at"), [
    (0, (32, 64, 3), "left"), (90, (64, 32, 3), "bottom"), (-90, (64, 32, 3), "top"), (180, (32, 64, 3), "right"),
])
def test_rotation_metadata_is_applied(tmp_path, rotation, shape, white_at):
    path = write_video(tmp_path / f"r{rotation}.mp4", [stripe_frame()] * 3, rotation=rotation)
    img = next(iter_frames(path)).image
    assert img.shape == shape
    g = img[..., 0].astype(float)
    edges = {"left": g[:, :4].mean(), "right": g[:, -4:].mean(), "top": g[:4].mean(), "bottom": g[-4:].mean()}
    assert max(edges, key=edges.get) == white_at


def test_fps_sampling(tmp_path):
    path = write_video(tmp_path / "v.mp4", [stripe_frame()] * 10, fps=10)
    assert [f.index for f in iter_frames(path, fps=5)] == [0, 2, 4, 6, 8]
    assert [f.index for f in iter_frames(path, fps=2.5)] == [0, 4, 8]
    assert [f.index for f in iter_frames(path, fps=50)] == list(range(10))
    with pytest.raises(FerBenchError):
        list(iter_frames(path, fps=0))


def test_image_sequence_natural_order_and_bad_frame(tmp_path):
    folder = tmp_path / "S001_001"
    folder.mkdir()
    for name, v in (("f10.png", 30), ("f2.png", 20), ("f1.png", 10)):
        Image.fromarray(np.full((48, 48), v, np.uint8), "L").save(folder / name)
    (folder / "f3.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    s = open_frames(folder, sequence_fps=25)
    assert s.kind == "images" and s.n_frames == 4
    got = list(s.frames())
    assert [f.index for f in got] == [0, 1, 3]  # f1, f2, (f3 unreadable), f10
    assert [int(f.image[0, 0, 0]) for f in got] == [10, 20, 30]
    assert got[2].image.shape == (48, 48, 3)
    assert [f.time for f in got] == pytest.approx([0.0, 0.04, 0.12])
    assert len(s.bad_frames) == 1 and s.bad_frames[0][0].endswith("f3.png")
    assert [f.index for f in s.frames(fps=12.5)] == [0]  # f3 (index 2) would be the second sample


def test_natural_key():
    names = ["img10.png", "img2.png", "IMG1.png", "img1.png"]
    assert sorted(names, key=natural_key) == ["IMG1.png", "img1.png", "img2.png", "img10.png"]


def test_corrupt_and_truncated_videos_raise_one_line(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError) as err:
        list(iter_frames(bad))
    assert "\n" not in str(err.value) and "bad.mp4" in str(err.value)
    good = write_video(tmp_path / "good.mp4", face_frames(8))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    try:  # a truncated MP4 either fails cleanly or yields what it can; never another exception
        n = len(list(iter_frames(cut)))
        assert n <= 8
    except VideoReadError as exc:
        assert "\n" not in str(exc)
    with pytest.raises(VideoReadError):
        open_frames(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoReadError):
        open_frames(empty)
