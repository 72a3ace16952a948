"""Mouth from audio: in sync with the envelope, shaped by the spectrum, closed in silence.

Sync threshold: on the 13 shared voices the per-frame mouth openness correlates with
the audio envelope (RMS over each frame's 33 ms) at r = 0.76-0.86 with no lag; the
openness is a compressed (dB), gated and smoothed function of the envelope, so r = 1 is
not expected. Delaying the mouth by one frame gives 0.71-0.80, by two frames 0.41-0.56.
A threshold of 0.6 therefore passes correct sync with margin and fails a mouth that is
two or more frames late, which the lag check (cross-correlation peak within one frame)
also catches.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from streamface.motion.mouth import HOP_S, SAMPLE_RATE, SILENT, MouthTracker

FPS = 30
MIN_R = 0.6


def load_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0


def envelope(x: np.ndarray, n: int, fps: float = FPS) -> np.ndarray:
    """RMS of the audio over each frame's interval (t - 1/fps, t]."""
    out = np.zeros(n)
    for k in range(n):
        a, b = max(0, int((k - 1) / fps * SAMPLE_RATE)), int(k / fps * SAMPLE_RATE) + 1
        seg = x[a:b]
        out[k] = np.sqrt(np.mean(seg**2)) if seg.size else 0.0
    return out


def sync_stats(openness: np.ndarray, env: np.ndarray, max_lag: int = 5) -> tuple[float, int]:
    """Pearson r at lag 0 and the lag (frames, positive = mouth late) of the peak."""
    n = len(openness)
    lags = range(-max_lag, max_lag + 1)
    rs = []
    for lag in lags:
        if lag >= 0:
            rs.append(np.corrcoef(openness[lag:], env[: n - lag])[0, 1])
        else:
            rs.append(np.corrcoef(openness[: n + lag], env[-lag:])[0, 1])
    return float(rs[max_lag]), list(lags)[int(np.nanargmax(rs))]


def test_mouth_follows_envelope_on_shared_voices(shared_voices: dict[Path, str]) -> None:
    for path in sorted(shared_voices):
        x = load_wav(path)
        mouth = MouthTracker(history_s=60.0)
        for i in range(0, x.size, 320):  # 20 ms chunks, as a live transport delivers
            mouth.push(x[i : i + 320])
        n = int(x.size / SAMPLE_RATE * FPS)
        openness = np.array([mouth.at(k / FPS).open for k in range(n)])
        r, lag = sync_stats(openness, envelope(x, n))
        assert r >= MIN_R, (path.name, r)
        assert abs(lag) <= 1, (path.name, lag)


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000 * 2) * np.repeat(rng.random(20), 1600) * 0.3).astype(np.float32)
    whole, pieces = MouthTracker(), MouthTracker()
    whole.push(x)
    i = 0
    while i < x.size:
        step = int(rng.integers(1, 700))
        pieces.push(x[i : i + step])
        i += step
    for t in np.arange(0.0, 2.0, 0.013):
        a, b = whole.at(t), pieces.at(t)  # equal up to float rounding of batched FFTs
        assert a.open == pytest.approx(b.open, abs=1e-5)
        assert a.visemes == pytest.approx(b.visemes, abs=1e-5)


def test_silence_closes_and_relaxes_the_mouth() -> None:
    rng = np.random.default_rng(1)
    mouth = MouthTracker()
    loud = (rng.standard_normal(16000) * 0.2).astype(np.float32)
    mouth.push(loud)
    assert mouth.at(0.9).open > 0.3
    mouth.push(np.zeros(16000, np.float32))
    late = mouth.at(1.95)
    assert late.open < 0.01
    assert late.visemes[0] > 0.95  # rest, not pressed lips


def test_quiet_gap_between_syllables_closes_the_lips() -> None:
    rng = np.random.default_rng(2)
    syllable = (rng.standard_normal(3200) * 0.2).astype(np.float32)
    gap = (rng.standard_normal(2400) * 0.002).astype(np.float32)  # 150 ms, 40 dB down
    mouth = MouthTracker()
    mouth.push(np.concatenate([syllable, gap, syllable]))
    state = mouth.at(0.34)  # near the end of the gap
    assert state.open < 0.15
    assert state.visemes[4] > state.visemes[0]  # M/B/P closure rather than rest


def _band_noise(lo: float, hi: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SAMPLE_RATE)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n)
    return (x / np.sqrt(np.mean(x**2)) * 0.1).astype(np.float32)


def test_shape_follows_the_spectrum() -> None:
    """Low energy -> O/U, mid (F1 of open vowels) -> A, high (F2, frication) -> E/I."""
    rng = np.random.default_rng(3)
    segments = {"ou": (200, 700), "a": (900, 1700), "ei": (2000, 3800)}
    order = ["ou", "a", "ei", "a", "ou", "ei"]
    mouth = MouthTracker(history_s=10.0)
    for name in order:
        mouth.push(_band_noise(*segments[name], 0.4, rng))
    index = {"a": 1, "ei": 2, "ou": 3}
    for i, name in enumerate(order[1:], start=1):  # the first has no running mean yet
        t = i * 0.4 + 0.3
        vis = mouth.at(t).visemes
        shape = max(index, key=lambda k: vis[index[k]])
        assert shape == name, (i, name, vis)


def test_visemes_are_a_convex_mix_and_time_is_causal() -> None:
    rng = np.random.default_rng(4)
    mouth = MouthTracker()
    assert mouth.at(0.5) == SILENT  # nothing heard yet
    mouth.push((rng.standard_normal(8000) * 0.1).astype(np.float32))
    for t in np.arange(0.0, 0.6, 0.01):
        s = mouth.at(t)
        assert min(s.visemes) >= 0.0 and sum(s.visemes) == pytest.approx(1.0, abs=1e-5)
        assert 0.0 <= s.open <= 1.0
    # Past the newest audio the newest state holds; a hop is readable once it has ended.
    assert mouth.at(10.0) == mouth.at(0.5)
    assert mouth.media_time == pytest.approx(0.5)
    assert mouth.at(HOP_S - 1e-6) == SILENT


def test_clear_forgets_everything() -> None:
    mouth = MouthTracker()
    mouth.push(np.full(4000, 0.3, np.float32))
    mouth.clear()
    assert mouth.media_time == 0.0 and mouth.at(0.2) == SILENT
    assert not mouth._ring.any() and not mouth._tail.any()


def test_reads_between_pushes_see_the_same_states_as_one_push() -> None:
    """Live use: 20 ms chunks pushed, a frame read after each 1/30 s; the queued audio is
    analysed on the read, so the states are those of the whole signal."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(16000 * 2) * np.repeat(rng.random(20), 1600) * 0.3).astype(np.float32)
    whole, live = MouthTracker(), MouthTracker()
    whole.push(x)
    pushed = 0
    for k in range(60):
        t = k / 30
        while pushed < min(x.size, int((t + 1 / 30) * SAMPLE_RATE)):
            live.push(x[pushed : pushed + 320])
            pushed += 320
        assert live.media_time == pytest.approx((pushed // 160) * 0.01)  # every full hop, read now
        a, b = whole.at(t), live.at(t)
        assert a.open == pytest.approx(b.open, abs=1e-5)
        assert a.visemes == pytest.approx(b.visemes, abs=1e-5)


def test_clear_drops_queued_audio() -> None:
    mouth = MouthTracker()
    mouth.push(np.full(800, 0.3, np.float32))  # queued, not analysed yet
    mouth.clear()
    assert mouth.media_time == 0.0 and not mouth._queued and not mouth._pending.any()
