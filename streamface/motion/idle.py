"""Life when nothing is said: blinks, small head motion, breathing, wandering gaze.

`IdleMotion` is a pure function of media time for a given seed: asking for the same
``t`` twice gives the same pose, whatever was asked in between, so renders are
reproducible and frames can be computed in any order (or on several threads).

* Blinks: intervals drawn uniformly from 2-6 s, each 100-150 ms long; the lids close a
  little faster than they open.
* Head: yaw, pitch and roll are sums of a few slow sinusoids (0.05-0.4 Hz) with seeded
  phases: smooth noise whose standard deviation is about 1-1.5 degrees, so it stays mostly
  under 3 degrees, and is hard-limited at ±10.
* Breathing: a slow rise and fall (about 0.2-0.3 Hz, varying), 0..1.
* Gaze: small fixations held 0.8-3 s, with quick (~60 ms) eased saccades between them.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

import numpy as np

BLINK_INTERVAL_S = (2.0, 6.0)
BLINK_DURATION_S = (0.10, 0.15)
HEAD_LIMIT_DEG = 10.0
_HEAD_SIGMA_DEG = {"yaw": 1.5, "pitch": 1.0, "roll": 0.7}
_HEAD_FREQS_HZ = (0.05, 0.4)
_N_SINES = 5
_BREATH_HZ = (0.2, 0.3)
_GAZE_HOLD_S = (0.8, 3.0)
_GAZE_RANGE = 0.25
_SACCADE_S = 0.06


@dataclass(frozen=True)
class IdlePose:
    """Idle part of one frame's animation (see `FaceAnimation` for units)."""

    blink: float
    yaw: float
    pitch: float
    roll: float
    breath: float
    gaze_x: float
    gaze_y: float


def _smoothstep(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return u * u * (3.0 - 2.0 * u)


class _Schedule:
    """Lazily extended, seeded sequence of event start times and per-event values."""

    def __init__(self, rng: np.random.Generator, gap: tuple[float, float], first: float) -> None:
        self._rng = rng
        self._gap = gap
        self.starts: list[float] = [first]
        self.values: list[tuple[float, ...]] = []
        self._lock = threading.Lock()

    def extend_to(self, t: float, make_value: int) -> None:
        with self._lock:
            while self.starts[-1] <= t or len(self.values) < len(self.starts):
                if len(self.values) < len(self.starts):
                    self.values.append(tuple(float(v) for v in self._rng.random(make_value)))
                else:
                    self.starts.append(self.starts[-1] + float(self._rng.uniform(*self._gap)))


class IdleMotion:
    """Seeded idle animation as a function of media time.

    Args:
        seed: Same seed, same motion.
    """

    def __init__(self, seed: int = 0) -> None:
        seeds = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x1D1E]).spawn(3)
        blink_rng, gaze_rng, head_rng = (np.random.default_rng(s) for s in seeds)
        self._blinks = _Schedule(blink_rng, BLINK_INTERVAL_S, float(blink_rng.uniform(1.0, 3.0)))
        self._gaze = _Schedule(gaze_rng, _GAZE_HOLD_S, 0.0)
        self._head: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for axis, sigma in _HEAD_SIGMA_DEG.items():
            lo, hi = np.log(_HEAD_FREQS_HZ[0]), np.log(_HEAD_FREQS_HZ[1])
            freqs = np.exp(head_rng.uniform(lo, hi, _N_SINES))
            phases = head_rng.uniform(0.0, 2.0 * np.pi, _N_SINES)
            amps = head_rng.uniform(0.5, 1.0, _N_SINES)
            amps *= sigma * np.sqrt(2.0) / np.sqrt(np.sum(amps**2))  # std of the sum = sigma
            self._head[axis] = (freqs, phases, amps)
        # The three axes' sines in one product (the same values as axis by axis, at a
        # quarter of the calls): rows yaw, pitch, roll.
        self._head_freqs, self._head_phases, self._head_amps = (
            np.stack([self._head[axis][i] for axis in ("yaw", "pitch", "roll")]) for i in range(3)
        )
        self._breath_hz = float(head_rng.uniform(*_BREATH_HZ))
        self._breath_phase = float(head_rng.uniform(0.0, 2.0 * np.pi))

    def blink_at(self, t: float) -> float:
        """Lid closure 0..1 at ``t``."""
        self._blinks.extend_to(t + BLINK_DURATION_S[1], 1)
        i = bisect.bisect_right(self._blinks.starts, t) - 1
        if i < 0:
            return 0.0
        start = self._blinks.starts[i]
        dur = BLINK_DURATION_S[0] + self._blinks.values[i][0] * (BLINK_DURATION_S[1] - BLINK_DURATION_S[0])
        u = (t - start) / dur
        if not 0.0 <= u < 1.0:
            return 0.0
        close = 0.4  # fraction of the blink spent closing
        return _smoothstep(u / close) if u < close else 1.0 - _smoothstep((u - close) / (1.0 - close))

    def blink_times(self, until: float) -> list[tuple[float, float]]:
        """(start, duration) of every blink that starts before ``until`` (for tests)."""
        self._blinks.extend_to(until, 1)
        out = []
        for start, (v,) in zip(self._blinks.starts, self._blinks.values, strict=False):
            if start < until:
                out.append((start, BLINK_DURATION_S[0] + v * (BLINK_DURATION_S[1] - BLINK_DURATION_S[0])))
        return out

    def head_at(self, t: float) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees at ``t``."""
        sums = (self._head_amps * np.sin(2.0 * np.pi * self._head_freqs * t + self._head_phases)).sum(axis=1)
        yaw, pitch, roll = (max(-HEAD_LIMIT_DEG, min(HEAD_LIMIT_DEG, v)) for v in sums.tolist())
        return yaw, pitch, roll

    def breath_at(self, t: float) -> float:
        """Breathing rise 0..1 at ``t`` (the rate drifts a little over time)."""
        drift = 0.15 * np.sin(2.0 * np.pi * 0.013 * t + self._breath_phase)
        phase = 2.0 * np.pi * self._breath_hz * t * (1.0 + drift) + self._breath_phase
        return float(0.5 - 0.5 * np.cos(phase))

    def gaze_at(self, t: float) -> tuple[float, float]:
        """(gaze_x, gaze_y) in -1..1 at ``t``: fixations joined by quick saccades."""
        self._gaze.extend_to(max(t, 0.0), 2)
        i = max(0, bisect.bisect_right(self._gaze.starts, t) - 1)
        target = self._fixation(i)
        if i == 0:
            return target
        prev = self._fixation(i - 1)
        s = _smoothstep((t - self._gaze.starts[i]) / _SACCADE_S)
        return (prev[0] + s * (target[0] - prev[0]), prev[1] + s * (target[1] - prev[1]))

    def _fixation(self, i: int) -> tuple[float, float]:
        if i == 0:
            return (0.0, 0.0)
        gx, gy = self._gaze.values[i]
        return ((2.0 * gx - 1.0) * _GAZE_RANGE, (2.0 * gy - 1.0) * _GAZE_RANGE * 0.6)

    def at(self, t: float) -> IdlePose:
        """The whole idle pose at media time ``t``."""
        yaw, pitch, roll = self.head_at(t)
        gx, gy = self.gaze_at(t)
        return IdlePose(self.blink_at(t), yaw, pitch, roll, self.breath_at(t), gx, gy)
