"""Smooth changes of face parameters: every change eases in and out, never pops.

`ParamMorph` holds a parameter vector as a function of media time. A new target starts
from wherever the face is at that moment (mid-morph included) and is reached along a
smoothstep curve over at least `MIN_MORPH_S`. A smoothstep's steepest slope is 1.5x the
average, so across any morph of duration D the per-frame change of each parameter is
at most ``1.5 * |change| / (D * fps)``; with D >= 0.3 s and 30 fps that is a sixth of the
change, for a change over the parameter's full range a sixth of that range.

A morph may advance in steps of ``step_s`` rather than every frame, so a renderer
re-prepares the face (its costly part) on fewer frames. Each step then moves at most
``1.5 * |change| * step_s / D``: with steps of two frames and D >= 0.6 s still a sixth
of the change per frame, the same bound as a 0.3 s morph updated every frame.
"""

from __future__ import annotations

import threading

import numpy as np

MIN_MORPH_S = 0.3


def smoothstep(u: float) -> float:
    """Ease in and out on [0, 1]: zero slope at both ends."""
    u = min(1.0, max(0.0, u))
    return u * u * (3.0 - 2.0 * u)


def max_step(change: float | np.ndarray, duration_s: float, fps: float) -> np.ndarray:
    """The largest per-frame step of a morph of ``change`` over ``duration_s``."""
    return 1.5 * np.abs(np.asarray(change, np.float64)) / (max(duration_s, MIN_MORPH_S) * fps)


class ParamMorph:
    """A parameter vector that moves smoothly between targets over media time.

    Thread-safe: targets are set from one thread while frames read from others.

    Args:
        initial: The starting vector (float32 [P]).
        step_s: Advance the morph in steps of this many seconds (0: continuously).
    """

    def __init__(self, initial: np.ndarray, step_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.step_s = max(0.0, float(step_s))
        start = np.array(initial, np.float32).reshape(-1)
        self._from = start
        self._to = start.copy()
        self._t0 = 0.0
        self._dur = MIN_MORPH_S
        self.version = 0
        """Incremented on every new target (lets callers cache work per face)."""

    @property
    def target(self) -> np.ndarray:
        """Where the face is heading (a copy)."""
        with self._lock:
            return self._to.copy()

    def set_target(self, target: np.ndarray, t: float, duration_s: float) -> None:
        """Morph to ``target`` starting at media time ``t`` over ``duration_s`` (>= 0.3 s)."""
        target = np.array(target, np.float32).reshape(-1)
        with self._lock:
            if target.shape != self._to.shape:
                raise ValueError(f"target has shape {target.shape}, expected {self._to.shape}")
            self._from = self._value(t)
            self._to = target
            self._t0 = float(t)
            self._dur = max(MIN_MORPH_S, float(duration_s))
            self.version += 1

    def _value(self, t: float) -> np.ndarray:
        elapsed = t - self._t0
        if self.step_s > 0.0 and elapsed < self._dur:
            elapsed = np.floor(elapsed / self.step_s + 1e-9) * self.step_s
        s = smoothstep(elapsed / self._dur)
        if s >= 1.0:
            return self._to.copy()
        return (self._from + s * (self._to - self._from)).astype(np.float32)

    def at(self, t: float) -> tuple[np.ndarray, bool]:
        """The vector at media time ``t`` and whether it has settled on the target."""
        with self._lock:
            return self._value(t), t >= self._t0 + self._dur

    def reset(self, value: np.ndarray) -> None:
        """Jump to ``value`` with no morph (only for a fresh or closed session)."""
        value = np.array(value, np.float32).reshape(-1)
        with self._lock:
            self._from = value
            self._to = value.copy()
            self._t0 = 0.0
            self.version += 1
