"""Emotional-phase detection on synthetic audio (tone bursts in faint noise) written with PyAV."""

from __future__ import annotations

import importlib.util
import sys

import av
import numpy as np
import pytest
from test_video_frames import stripe_frame, write_video

from fer_bench.errors import FerBenchError
from fer_bench.video.vad import VADConfig, detect_phase, emotional_phase, phase_from_audio

RATE = 16000
BURSTS = ((0.5, 0.9), (1.5, 2.8), (3.0, 3.2))  # the 0.2 s gap joins the last two at the default 0.3 s


def signal(duration: float = 5.0, bursts=BURSTS, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    t = np.arange(int(duration * RATE)) / RATE
    x = 0.001 * np.random.default_rng(seed).standard_normal(len(t))
    for a, b in bursts:
        m = (t >= a) & (t < b)
        x[m] += amp * np.sin(2 * np.pi * 220 * t[m])
    return x.astype(np.float32)


def write_wav(path, x: np.ndarray):
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=RATE)
        s.layout = "mono"
        pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
        for i in range(0, len(pcm), 1024):
            f = av.AudioFrame.from_ndarray(pcm[i : i + 1024][None], format="s16", layout="mono")
            f.sample_rate, f.pts = RATE, i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_longest_segment_plus_tail_in_wav(tmp_path):
    path = write_wav(tmp_path / "a.wav", signal())
    ph = detect_phase(path)
    assert ph.reason is None
    assert len(ph.segments) == 2
    assert ph.segments[0] == pytest.approx((0.5, 0.9), abs=0.1)
    assert ph.start == pytest.approx(1.5, abs=0.1)
    assert ph.end == pytest.approx(3.2 + 1.0, abs=0.1)
    assert emotional_phase(path) == (ph.start, ph.end)


def test_phase_from_mp4_audio_and_tail_clipped(tmp_path):
    # video 5 s at 2 fps with AAC audio; the longest burst ends 0.5 s before the end: the tail is clipped
    x = signal(bursts=((0.4, 0.8), (2.0, 4.5)))
    path = write_video(tmp_path / "v.mp4", [stripe_frame()] * 10, fps=2, audio=x)
    start, end = emotional_phase(path)
    assert start == pytest.approx(2.0, abs=0.1)
    assert end == pytest.approx(5.0, abs=0.1)  # 4.5 + 1.0 clipped to the audio's end (AAC may pad a few ms)


def test_smoothing_parameters():
    x = signal()
    split = phase_from_audio(x, RATE, VADConfig(min_silence_s=0.1))  # the 0.2 s gap now separates
    assert split.window == pytest.approx((1.5, 2.8 + 1.0), abs=0.1)
    short = phase_from_audio(signal(bursts=((1.0, 1.05),)), RATE, VADConfig(min_speech_s=0.1))
    assert short.window is None and "no voice" in short.reason
    assert phase_from_audio(x, RATE, VADConfig(tail_s=0.0)).end == pytest.approx(3.2, abs=0.1)


def test_no_audio_and_silence_give_none_with_reason(tmp_path):
    silent_video = write_video(tmp_path / "mute.mp4", [stripe_frame()] * 3)
    ph = detect_phase(silent_video)
    assert ph.window is None and ph.reason == "no audio stream"
    assert emotional_phase(silent_video) is None
    quiet = write_wav(tmp_path / "quiet.wav", np.zeros(RATE, np.float32))
    ph = detect_phase(quiet)
    assert ph.window is None and "no voice" in ph.reason
    noise = write_wav(tmp_path / "noise.wav", signal(bursts=()))  # stationary faint noise only
    assert detect_phase(noise).window is None


def test_bad_inputs_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 5000)
    with pytest.raises(FerBenchError) as err:
        detect_phase(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(FerBenchError):
        VADConfig(method="silero")
    with pytest.raises(FerBenchError):
        VADConfig(tail_s=-1)


def voice_like(duration: float = 5.0, bursts=BURSTS, seed: int = 0) -> np.ndarray:
    """Harmonic bursts with a wobbling ~140 Hz pitch and a 4 Hz syllable rhythm: WebRTC's GMM calls them speech
    (a pure tone it often does not)."""
    t = np.arange(int(duration * RATE)) / RATE
    x = 0.001 * np.random.default_rng(seed).standard_normal(len(t))
    for a, b in bursts:
        m = (t >= a) & (t < b)
        phase = 2 * np.pi * np.cumsum(140 + 20 * np.sin(2 * np.pi * 3 * t[m])) / RATE
        x[m] += 0.2 * sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t[m]))
    return x.astype(np.float32)


def test_webrtcvad_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "webrtcvad", None)  # import fails as if not installed
    with pytest.raises(FerBenchError, match="pip install webrtcvad"):
        phase_from_audio(signal(), RATE, VADConfig(method="webrtcvad"))


@pytest.mark.skipif(importlib.util.find_spec("webrtcvad") is None, reason="webrtcvad not installed")
def test_webrtcvad_finds_the_voiced_segment():
    ph = phase_from_audio(voice_like(), RATE, VADConfig(method="webrtcvad", mode=3))
    assert ph.start == pytest.approx(1.5, abs=0.1)
    assert ph.segments[-1][1] == pytest.approx(3.2, abs=0.2)  # WebRTC adds its own ~0.1 s hangover
    energy = phase_from_audio(voice_like(), RATE)
    assert energy.window == pytest.approx((1.5, 4.2), abs=0.1)
