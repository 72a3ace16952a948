"""Mouth movement from speech audio: openness from the envelope, shape from the spectrum.

`MouthTracker` takes 16 kHz mono audio in chunks of any size and keeps, for a short
history, one mouth state per 10 ms hop indexed by media time (seconds since the first
sample). A frame at media time ``t`` reads the state of the last hop that ends at or
before ``t``, so the picture never runs ahead of the sound and lags it by at most one hop
plus the attack smoothing (well under one 30 fps frame).

Per hop (20 ms Hann window, 10 ms hop):

* Level: RMS in dBFS. An adaptive noise floor and a decaying peak reference make the
  openness independent of the input gain: 30 dB below the recent peak is closed, 4 dB
  below it is wide open. A speech gate (level clearly above the floor and above -55 dBFS)
  keeps noise and silence from moving the lips.
* Openness: that level mapping, smoothed with a fast attack (15 ms) and slower release
  (50 ms), like a jaw that opens quickly and relaxes.
* Shape: band energies of the spectrum. Energy around F1 of open vowels (800-1800 Hz)
  favours A; high F2 and frication (1800-4000 Hz) favours E/I; energy low in the spectrum
  (150-800 Hz, low F1 and F2) favours O/U. Low energy between syllables while the speech
  gate is still held closes the lips (M/B/P); silence relaxes them (rest).

All of it is causal and deterministic: the same audio gives the same states whatever the
chunking (up to float rounding of batched FFTs). That lets `push` only queue the audio:
the hops are analysed when a state or the media time is read (or `QUEUE_S` of audio is
waiting), so 20 ms chunks read at 30 fps are analysed a frame's worth at a time (fewer,
larger numpy calls than one analysis per chunk).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms
WIN = 320  # 20 ms
HOP_S = HOP / SAMPLE_RATE

_BANDS_HZ = ((150.0, 800.0), (800.0, 1800.0), (1800.0, 4000.0))  # low (O/U), mid (A), high (E/I)
_TAU_ATTACK_S = 0.015
_TAU_RELEASE_S = 0.050
_TAU_SHAPE_S = 0.040
_TAU_SHAPE_NORM_S = 2.0  # running mean of the band shares (adapts to voice and channel)
_SHAPE_DB = 4.0  # a band this many dB above its usual share is e-times more likely
_GATE_HOLD_S = 0.25  # lips stay "in speech" (closed, not relaxed) this long after a syllable
_TAU_GATE_S = 0.12
_CLOSED_BELOW_PEAK_DB = 30.0
_OPEN_BELOW_PEAK_DB = 4.0
_ABS_GATE_DBFS = -55.0
_GATE_ABOVE_FLOOR_DB = 9.0
_PEAK_DECAY_DB_S = 3.0
_FLOOR_RISE_DB_S = 2.0
QUEUE_S = 0.25
"""Most audio `push` queues before it analyses it without being read."""


@dataclass(frozen=True)
class MouthState:
    """Mouth of one instant.

    Attributes:
        open: 0 closed .. 1 wide open.
        visemes: weights over `streamface.face.animation.VISEMES` (rest, a, ei, ou, mbp),
            non-negative, summing to 1.
        level: the raw envelope, RMS of the hop's window (linear, full scale 1.0).
        speaking: 0..1, how strongly the speech gate is held.
    """

    open: float
    visemes: tuple[float, float, float, float, float]
    level: float
    speaking: float


SILENT = MouthState(0.0, (1.0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.0)


def _coef(tau_s: float) -> float:
    return float(1.0 - np.exp(-HOP_S / tau_s))


class MouthTracker:
    """Streaming mouth analysis with a media-time indexed history.

    Thread-safe: `push` from one thread while `at` is called from others.

    Args:
        history_s: Seconds of hop states kept (older ones are dropped).
    """

    def __init__(self, history_s: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._cap = max(8, int(round(history_s / HOP_S)))
        # Per-hop states in a ring: open, 5 visemes, level, speaking.
        self._ring = np.zeros((self._cap, 8), np.float32)
        self._hops = 0  # hops computed so far (hop k covers media time up to (k+1)*HOP_S)
        self._tail = np.zeros(WIN - HOP, np.float32)  # last samples of the previous window
        self._pending = np.zeros(0, np.float32)
        self._queued: list[np.ndarray] = []  # pushed, not analysed yet
        self._queued_n = 0
        self._queue_samples = int(QUEUE_S * SAMPLE_RATE)
        self._window = np.hanning(WIN + 1)[:-1].astype(np.float32)
        freqs = np.fft.rfftfreq(WIN, 1.0 / SAMPLE_RATE)
        self._band_masks = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in _BANDS_HZ]).astype(
            np.float32
        )
        self._a_att, self._a_rel = _coef(_TAU_ATTACK_S), _coef(_TAU_RELEASE_S)
        self._a_shape, self._a_gate = _coef(_TAU_SHAPE_S), _coef(_TAU_GATE_S)
        self._a_norm = _coef(_TAU_SHAPE_NORM_S)
        self._hold_hops = int(round(_GATE_HOLD_S / HOP_S))
        self._reset_state()

    def _reset_state(self) -> None:
        self._open = 0.0
        self._shape = [1.0 / 3.0] * 3  # a, ei, ou mix
        self._share_mean: list[float] | None = None  # low, mid, high band shares (dB)
        self._speaking = 0.0
        self._since_active = 10**9
        self._peak_db = -40.0
        self._floor_db = -70.0

    @property
    def media_time(self) -> float:
        """Seconds of audio consumed into complete hops."""
        with self._lock:
            self._catch_up()
            return self._hops * HOP_S

    def push(self, samples: np.ndarray) -> None:
        """Append 16 kHz mono float samples (any chunk size); full hops are analysed when read."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if x.size == 0:
            return
        if not np.isfinite(x).all():  # the ingest's output never has non-finite samples
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        with self._lock:
            self._queued.append(x)
            self._queued_n += x.size
            if self._queued_n >= self._queue_samples:
                self._catch_up()

    def _catch_up(self) -> None:
        """(Lock held.) Analyse the queued audio's full hops."""
        if not self._queued:
            return
        buf = np.concatenate([self._pending, *self._queued])
        self._queued = []
        self._queued_n = 0
        n_hops = buf.size // HOP
        if n_hops == 0:
            self._pending = buf
            return
        used = n_hops * HOP
        self._pending = buf[used:].copy()
        stream = np.concatenate([self._tail, buf[:used]])
        self._tail = stream[-(WIN - HOP) :].copy()
        # The hop windows as a view (what sliding_window_view(stream, WIN)[::HOP] gives,
        # without its per-call overhead, nor as_strided's, which cost as much as the view
        # constructor's several times over).
        step = stream.strides[0]
        frames = np.ndarray((n_hops, WIN), np.float32, stream, 0, (HOP * step, step))
        self._analyse(frames)

    def _analyse(self, frames: np.ndarray) -> None:
        x = frames.astype(np.float64)
        # np.mean's sum and division without its per-call overhead (the same values).
        rms = np.sqrt(np.add.reduce(x * x, axis=1) / WIN)
        db = 20.0 * np.log10(np.maximum(rms, 1e-7))
        spec = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
        bands = spec @ self._band_masks.T  # [n, 3] low, mid, high
        # Each band's share of the energy in dB (used on active hops): the vowel is whichever
        # band stands out, against its running mean for this voice and channel.
        shares = (10.0 * np.log10(bands / (bands.sum(axis=1, keepdims=True) + 1e-20) + 1e-6)).tolist()
        rows: list[tuple[float, ...]] = []
        peak_decay = _PEAK_DECAY_DB_S * HOP_S
        floor_rise = _FLOOR_RISE_DB_S * HOP_S
        # Scalars in Python floats and locals: a hop's state is a handful of numbers, and
        # numpy's per-call overhead on 3-vectors (then attribute look-ups and calls of
        # max/min) were most of the tracker's cost. `max(a, b)` is `b if b > a else a`.
        floor_db, peak_db, since, opened, speaking = (
            self._floor_db, self._peak_db, self._since_active, self._open, self._speaking
        )
        s0, s1, s2 = self._shape
        mean = self._share_mean
        m0, m1, m2 = mean if mean is not None else (0.0, 0.0, 0.0)
        seen = mean is not None
        a_att, a_rel, a_gate, a_shape, a_norm = self._a_att, self._a_rel, self._a_gate, self._a_shape, self._a_norm
        hold_hops = self._hold_hops
        exp = math.exp
        for level_db, level, share in zip(db.tolist(), rms.tolist(), shares, strict=True):
            # Adaptive noise floor: follows dips quickly, rises slowly.
            if level_db < floor_db:
                floor_db += 0.5 * (level_db - floor_db)
            else:
                floor_db += floor_rise
            gate = floor_db + _GATE_ABOVE_FLOOR_DB
            active = level_db > (gate if gate > _ABS_GATE_DBFS else _ABS_GATE_DBFS)
            decayed = peak_db - peak_decay
            if active:
                peak_db = level_db if level_db > decayed else decayed
                since = 0
            else:
                rest = floor_db + 20.0
                peak_db = rest if rest > decayed else decayed
                peak_db = -60.0 if peak_db < -60.0 else peak_db
                since += 1
            target = 0.0
            if active:
                lo = peak_db - _CLOSED_BELOW_PEAK_DB
                hi = peak_db - _OPEN_BELOW_PEAK_DB
                u = (level_db - lo) / (hi - lo)
                u = u if u > 0.0 else 0.0
                target = 1.0 if u > 1.0 else u
            opened += (a_att if target > opened else a_rel) * (target - opened)
            speaking += a_gate * ((1.0 if since <= hold_hops else 0.0) - speaking)
            if active:
                h0, h1, h2 = share
                if not seen:
                    m0, m1, m2, seen = h0, h1, h2, True
                m0 += a_norm * (h0 - m0)
                m1 += a_norm * (h1 - m1)
                m2 += a_norm * (h2 - m2)
                d0, d1, d2 = (h1 - m1) / _SHAPE_DB, (h2 - m2) / _SHAPE_DB, (h0 - m0) / _SHAPE_DB  # a, ei, ou
                top = d1 if d1 > d0 else d0
                top = d2 if d2 > top else top
                e0, e1, e2 = exp(d0 - top), exp(d1 - top), exp(d2 - top)
                total = e0 + e1 + e2
                s0 += a_shape * (e0 / total - s0)
                s1 += a_shape * (e1 / total - s1)
                s2 += a_shape * (e2 / total - s2)
            o, g = opened, speaking
            norm = s0 + s1 + s2 + 1e-12
            rows.append((
                o,
                (1.0 - g) * (1.0 - o),  # rest
                o * s0 / norm,  # a
                o * s1 / norm,  # ei
                o * s2 / norm,  # ou
                g * (1.0 - o),  # closed lips between syllables
                level,
                g,
            ))
        self._floor_db, self._peak_db, self._since_active = floor_db, peak_db, since
        self._open, self._speaking = opened, speaking
        self._shape = [s0, s1, s2]
        self._share_mean = [m0, m1, m2] if seen else None
        start = self._hops % self._cap
        if start + len(rows) <= self._cap:  # no wrap: a slice, not an index array
            self._ring[start : start + len(rows)] = rows
        else:
            idx = (self._hops + np.arange(len(rows))) % self._cap
            self._ring[idx] = np.array(rows, np.float32)
        self._hops += len(rows)

    def at(self, t: float) -> MouthState:
        """Mouth state at media time ``t`` (seconds): the last hop ending at or before it.

        Before any audio, or for times older than the history, the mouth is at rest.
        After the newest audio, the newest state is held.
        """
        with self._lock:
            self._catch_up()
            k = math.floor(t / HOP_S + 1e-9) - 1  # hop k ends at (k + 1) * HOP_S
            k = min(k, self._hops - 1)
            if k < 0 or k < self._hops - self._cap:
                return SILENT
            # Python floats (float32 to float64 exactly): numpy's calls on a row of eight
            # cost more than the arithmetic; the same values (a sum of five, left to right).
            opened, *vis, level, speaking = self._ring[k % self._cap].tolist()
        vis = [v if v > 0.0 else 0.0 for v in vis]
        total = sum(vis) or 1.0
        return MouthState(
            open=opened,
            visemes=(vis[0] / total, vis[1] / total, vis[2] / total, vis[3] / total, vis[4] / total),
            level=level,
            speaking=speaking,
        )

    def clear(self) -> None:
        """Zero the history and the audio kept for the next window."""
        with self._lock:
            self._ring[:] = 0.0
            self._tail[:] = 0.0
            self._pending = np.zeros(0, np.float32)
            for chunk in self._queued:
                chunk.fill(0.0)
            self._queued = []
            self._queued_n = 0
            self._hops = 0
            self._reset_state()
