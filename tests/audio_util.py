"""Signals and files for the audio tests (made here, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np

SR = 16000


def sine(freq: float, seconds: float, rate: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(round(seconds * SR)) * 10 ** (dbfs / 20)).astype(np.float32)


def coloured_noise(seconds: float, dbfs: float, exponent: float, seed: int = 0) -> np.ndarray:
    """Noise with power ~ 1/f**exponent (1: pink, 2: brown), no content below 40 Hz."""
    n = round(seconds * SR)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[f < 40] = 0
    spec[f >= 40] /= f[f >= 40] ** (exponent / 2)
    x = np.fft.irfft(spec, n)
    return (x / x.std() * 10 ** (dbfs / 20)).astype(np.float32)


def organ_chord(seconds: float, amp: float = 0.5) -> np.ndarray:
    """A held C major chord, five harmonics per note: music-like, steady."""
    t = np.arange(round(seconds * SR)) / SR
    x = sum(
        0.5**h * np.sin(2 * np.pi * f0 * (h + 1) * t)
        for f0 in (261.63, 329.63, 392.0)
        for h in range(5)
    )
    return (amp * x / np.abs(x).max()).astype(np.float32)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    """Frequency of the strongest spectral peak, refined by parabolic interpolation."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-20)
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + delta) * rate / len(x)


def write_audio(
    path: Path,
    x: np.ndarray,
    rate: int,
    *,
    container: str,
    codec: str,
    channels: int = 1,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode float audio (full scale 1.0) with PyAV's encoders (muxer `options`)."""
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        stream: Any = out.add_stream(codec, rate=rate)
        stream.layout = layout
        fmt = stream.codec_context.codec.audio_formats[0].name
        stream.format = fmt
        res = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        data = np.ascontiguousarray(x, dtype=np.float32)
        for i in range(0, len(data), 4096):
            block = data[i : i + 4096]
            if channels == 2:
                planar = np.ascontiguousarray(np.stack([block, block]))
                frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
            else:
                frame = av.AudioFrame.from_ndarray(
                    block.reshape(1, -1), format="flt", layout="mono"
                )
            frame.sample_rate = rate
            for f in res.resample(frame):
                for pkt in stream.encode(f):
                    out.mux(pkt)
        for f in res.resample(None):
            for pkt in stream.encode(f):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    return path
