"""Synthetic test signals for voice analysis: vowels, noise, silence, music-like tones."""

from __future__ import annotations

import os

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

SR = 16_000


def vowel(
    f0: float,
    formants: tuple[float, ...] = (500.0, 1500.0, 2500.0, 3500.0),
    seconds: float = 1.0,
    *,
    sr: int = SR,
    vibrato: float = 0.0,
    breath: float = 0.03,
    seed: int = 0,
) -> np.ndarray:
    """A glottal pulse train at `f0` through formant resonators (a cascade synthesiser).

    `breath` adds noise above 4 kHz at that fraction of the voice's RMS (-30 dB by default),
    as aspiration and fricatives give real wideband recordings energy up to 8 kHz.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    inst = f0 * (1.0 + vibrato * np.sin(2 * np.pi * 5.0 * t))
    phase = np.cumsum(inst) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0)
    src = lfilter([1.0], [1.0, -0.97], pulses)  # glottal roll-off
    y = src
    for i, f in enumerate(formants):
        bw = 60.0 + 20.0 * i
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        y = lfilter([1.0 - r], a, y)
    y = np.diff(y, prepend=0.0)  # lip radiation (+6 dB/octave)
    y = y - np.mean(y)
    y = y / (np.max(np.abs(y)) + 1e-12) * 0.5
    hiss = sosfilt(butter(4, 4000.0, "highpass", fs=sr, output="sos"), rng.standard_normal(n))
    y = y + breath * float(np.std(y)) / float(np.std(hiss)) * hiss + 1e-4 * rng.standard_normal(n)
    return y.astype(np.float32)


def missing_fundamental(
    f0: float, seconds: float = 1.0, *, first: int = 3, last: int = 12
) -> np.ndarray:
    """Harmonics `first`..`last` of `f0` only: no energy at the fundamental itself."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t + 0.3 * k) / k for k in range(first, last + 1))
    y = np.asarray(y, dtype=np.float64)
    return (0.4 * y / np.max(np.abs(y))).astype(np.float32)


def white_noise(seconds: float = 3.0, level: float = 0.1, seed: int = 1) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(
        np.float32
    )


def silence(seconds: float = 3.0) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def music_like(seconds: float = 4.0) -> np.ndarray:
    """Held chords of harmonic tones with slow attacks (organ-like), no speech."""
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    chords = [
        (261.6, 329.6, 392.0),
        (220.0, 277.2, 329.6),
        (246.9, 311.1, 370.0),
        (196.0, 246.9, 293.7),
    ]
    seg = t.size // len(chords)
    for i, chord in enumerate(chords):
        tt = t[i * seg : (i + 1) * seg]
        env = np.minimum(1.0, (tt - tt[0]) / 0.2)
        for f in chord:
            for k in range(1, 6):
                y[i * seg : (i + 1) * seg] += env * np.sin(2 * np.pi * f * k * tt) / k
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sr: int = SR) -> None:
    """Write float samples as 16-bit mono WAV."""
    import wave

    pcm = np.clip(np.round(np.asarray(samples) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
