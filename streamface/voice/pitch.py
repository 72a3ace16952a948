"""Fundamental frequency (F0) of speech: a YIN tracker with a voicing decision and octave guard.

YIN (de Cheveigné & Kawahara 2002) looks for the lag at which a frame best repeats itself
(the cumulative-mean-normalised difference function, CMNDF), so it finds the period from
the harmonics even when the fundamental itself is missing, as on 300-3400 Hz telephone
audio. Steps:

1. Low-pass and decimate to 8 kHz (F0 <= 500 Hz needs no more; harmonics to 4 kHz stay).
2. 10 ms hop, 25 ms integration window; CMNDF for lags of 2 ms (500 Hz) to 20 ms (50 Hz),
   computed for all frames at once with FFT cross-correlation.
3. Per frame: the first local minimum of the CMNDF under an absolute threshold (YIN's
   rule that avoids octave-down errors), else the global minimum; parabolic refinement.
4. Voiced when the CMNDF minimum (an aperiodicity measure) is low enough and the frame is
   not much quieter than the loud part of the speech.
5. Repeat check: a pick above 250 Hz must also dip at 2x and 3x its lag, else the frame
   takes its best dip further out (formant ringing in reverberant, band-passed audio).
6. Octave guard: frames more than ~0.6 octave away from the utterance's median are
   re-searched near the median; if nothing periodic is there they are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from streamface.audio.polyphase import resample_poly

FS = 8_000
HOP = 80  # 10 ms at 8 kHz
WINDOW = 200  # 25 ms integration window
F0_MIN = 50.0
F0_MAX = 500.0
TAU_MIN = int(FS // F0_MAX)  # 16
TAU_MAX = int(np.ceil(FS / F0_MIN))  # 160
FRAME = WINDOW + TAU_MAX + 2
NFFT = 512
DIP_THRESHOLD = 0.15  # YIN's absolute threshold for the first dip
VOICED_THRESHOLD = 0.35  # CMNDF minimum above this: not periodic enough to be voiced
QUIET_RATIO = 0.03  # frames under 3 % of the loud frames' energy (-15 dB) are unvoiced
OCTAVE_GUARD = 1.5  # frames beyond median * 1.5 or median / 1.5 are re-searched
REPEAT_CHECK_HZ = 250.0  # picks above this F0 must repeat at 2x and 3x the lag
REPEAT_THRESHOLD = 0.35


@dataclass(frozen=True)
class PitchTrack:
    """Per-frame pitch of a signal (10 ms hop).

    Attributes:
        f0_hz: F0 per frame, NaN where unvoiced.
        aperiodicity: CMNDF value at the chosen lag (0 = perfectly periodic, ~1 = noise).
        voiced: Voicing decision per frame.
    """

    f0_hz: np.ndarray
    aperiodicity: np.ndarray
    voiced: np.ndarray

    hop_seconds: float = HOP / FS

    @property
    def voiced_f0(self) -> np.ndarray:
        """F0 of the voiced frames only."""
        return self.f0_hz[self.voiced]

    @property
    def voiced_seconds(self) -> float:
        """Seconds of voiced speech."""
        return float(np.count_nonzero(self.voiced)) * self.hop_seconds

    def median(self) -> float | None:
        """Median F0 of voiced frames, None when fewer than 5 are voiced."""
        f0 = self.voiced_f0
        return float(np.median(f0)) if f0.size >= 5 else None

    def percentile_range(self, low: float = 10.0, high: float = 90.0) -> tuple[float, float] | None:
        """The `low` and `high` percentiles of voiced F0, None when fewer than 5 are voiced."""
        f0 = self.voiced_f0
        if f0.size < 5:
            return None
        lo, hi = np.percentile(f0, [low, high])
        return float(lo), float(hi)

    def jitter(self) -> float | None:
        """Mean relative F0 change between consecutive voiced frames (a rough jitter)."""
        f0 = self.f0_hz
        both = self.voiced[1:] & self.voiced[:-1]
        if np.count_nonzero(both) < 5:
            return None
        rel = np.abs(np.diff(f0))[both] / f0[1:][both]
        return float(np.median(rel))

    def hnr_db(self) -> float | None:
        """Median harmonics-to-noise ratio of voiced frames, from YIN's aperiodicity."""
        ap = self.aperiodicity[self.voiced]
        if ap.size < 5:
            return None
        ap = np.clip(ap, 1e-3, 0.999)
        return float(np.median(10.0 * np.log10((1.0 - ap) / ap)))


def to_8k(wav16k: np.ndarray) -> np.ndarray:
    """Low-pass and decimate 16 kHz audio to 8 kHz (polyphase FIR)."""
    return resample_poly(np.asarray(wav16k, dtype=np.float64), 1, 2)


def _frames(x: np.ndarray) -> np.ndarray:
    n = 1 + max(0, (x.size - FRAME)) // HOP
    if x.size < FRAME:
        x = np.pad(x, (0, FRAME - x.size))
    return np.lib.stride_tricks.as_strided(
        x, shape=(n, FRAME), strides=(x.strides[0] * HOP, x.strides[0]), writeable=False
    )


@lru_cache(maxsize=1)
def _taus() -> np.ndarray:
    return np.arange(TAU_MAX + 2, dtype=np.float64)


def cmndf(frames: np.ndarray) -> np.ndarray:
    """YIN's cumulative-mean-normalised difference function, shape (n, TAU_MAX + 2)."""
    frames = np.asarray(frames, dtype=np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec_a = np.fft.rfft(frames[:, :WINDOW], NFFT, axis=1)
    spec_x = np.fft.rfft(frames, NFFT, axis=1)
    corr = np.fft.irfft(np.conj(spec_a) * spec_x, NFFT, axis=1)[:, : TAU_MAX + 2]
    sq = np.zeros((frames.shape[0], frames.shape[1] + 1), dtype=np.float64)
    np.cumsum(frames.astype(np.float64) ** 2, axis=1, out=sq[:, 1:])
    lags = TAU_MAX + 2
    energy_tau = sq[:, WINDOW : WINDOW + lags] - sq[:, :lags]
    diff = np.maximum(energy_tau[:, :1] + energy_tau - 2.0 * corr, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    out = np.ones_like(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 1:] = diff[:, 1:] * _taus()[1:] / cum
    out[~np.isfinite(out)] = 1.0
    return out


def _refine(d: np.ndarray, rows: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parabolic interpolation of the dip at integer lag `tau` per row."""
    tau = np.clip(tau, 1, d.shape[1] - 2)
    a, b, c = d[rows, tau - 1], d[rows, tau], d[rows, tau + 1]
    den = a - 2.0 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / den, 0.0)
    shift = np.clip(shift, -0.5, 0.5)
    return tau + shift, b


def _repeat_check(d: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Reject short lags (F0 > 250 Hz) that do not repeat at 2x and 3x the lag.

    A true period T makes the signal repeat at 2T and 3T as well. A formant ringing in a
    reverberant room, seen without the fundamental (300-3400 Hz telephone band), can dip
    the CMNDF at a short lag once without repeating; such frames take the best dip at
    least 1.5x further out instead.
    """
    short = np.flatnonzero(idx < FS / REPEAT_CHECK_HZ)
    if short.size == 0:
        return idx
    lags = np.arange(d.shape[1])
    out = idx.copy()
    for r in short:
        lag = int(idx[r])
        checks = []
        for k in (2, 3):
            centre = k * lag
            if centre + 2 > TAU_MAX:
                break
            checks.append(float(d[r, centre - 2 : centre + 3].min()))
        if not checks or float(np.mean(checks)) <= REPEAT_THRESHOLD:
            continue
        far = (lags >= int(1.5 * lag)) & (lags >= TAU_MIN) & (lags <= TAU_MAX)
        alt = int(lags[far][np.argmin(d[r, far])])
        if d[r, alt] < VOICED_THRESHOLD:
            out[r] = alt
    return out


FILTER_REACH = 20
"""16 kHz samples on each side that one sample of `to_8k` depends on (half its low-pass)."""


class CmndfCache:
    """CMNDF rows of frames already analysed, by their position in one speech stream.

    The speech buffer a session analyses is a window on an append-only stream of speech.
    A pitch frame's CMNDF depends only on the 8 kHz samples it covers, and an 8 kHz sample
    depends only on the 16 kHz samples within `FILTER_REACH` of it; so a frame that lay
    away from the buffer's edges last time and does again this time has the same row,
    bit for bit (`to_8k` of the interior and the per-row FFTs do not depend on what else
    is in the buffer; tests check it). `track` reuses those rows and computes only new
    frames and frames near the edges: about a fifth of them when the buffer moves by 1 s
    of 5. Rows of frames that have left the buffer are dropped; `clear` zeroes all of it
    (the rows are derived from the speaker's voice and go when the session ends).
    """

    def __init__(self) -> None:
        self._rows: dict[int, np.ndarray] = {}
        self.reused = 0
        self.computed = 0

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Zero and forget every row."""
        for row in self._rows.values():
            row.fill(0.0)
        self._rows.clear()

    def cmndf(self, frames: np.ndarray, n16: int, origin16: int) -> np.ndarray:
        """`cmndf(frames)` of the frames of ``to_8k(wav16k)``, reusing rows seen before.

        Args:
            frames: `_frames` of ``to_8k(wav16k)`` (no padding: at least `FRAME` samples).
            n16: ``len(wav16k)``.
            origin16: Position of ``wav16k[0]`` in the speech stream (16 kHz samples, even).
        """
        n = frames.shape[0]
        origin8 = origin16 // 2
        starts = origin8 + HOP * np.arange(n)
        # 8 kHz sample j is interior when 2j - REACH >= 0 and 2j + REACH <= n16 - 1.
        first = -(-FILTER_REACH // 2)
        last = (n16 - 1 - FILTER_REACH) // 2
        local = HOP * np.arange(n)
        clean = (local >= first) & (local + FRAME - 1 <= last)
        out = np.empty((n, TAU_MAX + 2), dtype=np.float64)
        todo: list[int] = []
        for i in range(n):
            row = self._rows.get(int(starts[i])) if clean[i] else None
            if row is None:
                todo.append(i)
            else:
                out[i] = row
        if todo:
            idx = np.asarray(todo)
            out[idx] = cmndf(frames[idx])
            for i in todo:
                if clean[i]:
                    self._rows[int(starts[i])] = out[i].copy()
        self.reused += n - len(todo)
        self.computed += len(todo)
        for key in [k for k in self._rows if k < origin8]:  # left the buffer
            self._rows.pop(key).fill(0.0)
        return out


def track(
    wav16k: np.ndarray, *, cache: CmndfCache | None = None, origin: int | None = None
) -> PitchTrack:
    """Track F0 (50-500 Hz) of 16 kHz speech; works on telephone-band audio too.

    Args:
        wav16k: 16 kHz mono speech.
        cache: Reuse the CMNDF of frames seen in an earlier call on the same stream
            (a sliding speech buffer); the result is the same as without it.
        origin: Position of ``wav16k[0]`` in that stream (16 kHz samples); needed with
            ``cache``, and even (an odd one computes everything).
    """
    x = to_8k(wav16k)
    if x.size < WINDOW:
        empty = np.zeros(0)
        return PitchTrack(empty, empty, np.zeros(0, dtype=bool))
    frames = _frames(x)
    if cache is not None and origin is not None and origin % 2 == 0 and x.size >= FRAME:
        d = cache.cmndf(frames, int(np.asarray(wav16k).size), int(origin))
    else:
        d = cmndf(frames)
    n = d.shape[0]
    rows = np.arange(n)
    band = d[:, TAU_MIN : TAU_MAX + 1]
    # First local minimum under the threshold, else the global minimum.
    inner = band[:, 1:-1]
    is_min = (inner <= band[:, :-2]) & (inner <= band[:, 2:]) & (inner < DIP_THRESHOLD)
    has = is_min.any(axis=1)
    first = np.argmax(is_min, axis=1) + 1
    best = np.argmin(band, axis=1)
    idx = np.where(has, first, best) + TAU_MIN
    idx = _repeat_check(d, idx)
    tau, value = _refine(d, rows, idx)
    f0 = FS / tau

    energy = np.sum(frames[:, :WINDOW] ** 2, axis=1)
    loud = np.percentile(energy, 90) if n else 0.0
    voiced = (value < VOICED_THRESHOLD) & (energy > QUIET_RATIO * loud) & (energy > 1e-9)

    # Octave guard around the utterance median.
    if np.count_nonzero(voiced) >= 5:
        med = float(np.median(f0[voiced]))
        off = voiced & ((f0 > med * OCTAVE_GUARD) | (f0 < med / OCTAVE_GUARD))
        if off.any():
            lo = max(TAU_MIN, int(np.floor(FS / (med * 1.3))))
            hi = min(TAU_MAX, int(np.ceil(FS / (med / 1.3))))
            sub = d[off, lo : hi + 1]
            alt = np.argmin(sub, axis=1) + lo
            alt_tau, alt_val = _refine(d, rows[off], alt)
            ok = alt_val < VOICED_THRESHOLD
            fixed = f0[off]
            fixed[ok] = FS / alt_tau[ok]
            f0[off] = fixed
            value[off] = np.where(ok, alt_val, value[off])
            voiced[np.flatnonzero(off)[~ok]] = False

    f0 = np.where(voiced, f0, np.nan)
    return PitchTrack(f0_hz=f0, aperiodicity=value, voiced=voiced)
