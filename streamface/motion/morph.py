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

Or a renderer that can cross-fade two prepared faces asks for `ParamMorph.keyframes`:
the morph is cut into a few equal parameter segments (about one per ``spacing`` of the
largest change), the renderer prepares only the segment ends and cross-fades between
them, and the weight follows the same smoothstep, so the picture moves every frame and
never pops while the costly prepare runs a few times per morph rather than every step.

Some parameters are choices, not amounts: a hairstyle's index, where every step between
two styles is a third style. Such ``discrete`` parameters do not walk: they keep the old
choice up to the middle of a morph and take the new one from there, so between keyframes
the old hair dissolves into the new once (walking the index showed a placeholder's hair
turn into five other cuts within a second).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_MORPH_S = 0.3


def smoothstep(u: float) -> float:
    """Ease in and out on [0, 1]: zero slope at both ends."""
    u = min(1.0, max(0.0, u))
    return u * u * (3.0 - 2.0 * u)


def max_step(change: float | np.ndarray, duration_s: float, fps: float) -> np.ndarray:
    """The largest per-frame step of a morph of ``change`` over ``duration_s``."""
    return 1.5 * np.abs(np.asarray(change, np.float64)) / (max(duration_s, MIN_MORPH_S) * fps)


@dataclass(frozen=True)
class Keyframes:
    """The morph at one moment as a cross-fade of two keyframes: ``a`` to ``b`` by ``weight``.

    ``value`` is the parameter vector at that moment (between ``a`` and ``b``); ``a`` and
    ``b`` are the same arrays, bit for bit, on every frame of a segment, so prepared
    keyframes can be cached by their bytes. Outside a morph ``a`` and ``b`` are both the
    value and ``weight`` is 0.
    """

    a: np.ndarray
    b: np.ndarray
    weight: float
    value: np.ndarray


class ParamMorph:
    """A parameter vector that moves smoothly between targets over media time.

    Thread-safe: targets are set from one thread while frames read from others.

    Args:
        initial: The starting vector (float32 [P]).
        step_s: Advance the morph in steps of this many seconds (0: continuously).
        discrete: Indices of parameters that switch from the old value to the new half
            way through a morph instead of walking between them (for a renderer that
            cross-fades keyframes, which turns the switch into a dissolve).
    """

    def __init__(self, initial: np.ndarray, step_s: float = 0.0, discrete: Sequence[int] = ()) -> None:
        self._lock = threading.Lock()
        self.step_s = max(0.0, float(step_s))
        self._discrete = np.array(sorted(set(discrete)), dtype=np.intp)
        start = np.array(initial, np.float32).reshape(-1)
        self._from = start
        self._to = start.copy()
        # No morph yet: settled on ``initial`` at any time (a morph "ending" at 0.3 s sent
        # a new session's first frames down the morphing path, drawn whole by the engine).
        self._t0 = -math.inf
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
        return self._between(self._from, self._to, s)

    def _between(self, frm: np.ndarray, to: np.ndarray, s: float) -> np.ndarray:
        """The vector a fraction ``s`` of the way from ``frm`` to ``to`` (discrete ones
        switched at half way)."""
        out = (frm + s * (to - frm)).astype(np.float32)
        if self._discrete.size:
            out[self._discrete] = (to if s >= 0.5 else frm)[self._discrete]
        return out

    def at(self, t: float) -> tuple[np.ndarray, bool]:
        """The vector at media time ``t`` and whether it has settled on the target."""
        with self._lock:
            return self._value(t), t >= self._t0 + self._dur

    def keyframes(
        self, t: float, spacing: float, min_gap_s: float, scale: np.ndarray | None = None
    ) -> Keyframes:
        """The morph at media time ``t`` as a cross-fade between two keyframes.

        Args:
            t: Media time.
            spacing: Largest change of any parameter (in units of ``scale``) between two
                neighbouring keyframes; a morph gets ``ceil(largest change / spacing)``
                segments...
            min_gap_s: ...but no more than keeps neighbouring keyframes this far apart
                in time where the morph is fastest.
            scale: Per-parameter range; None: 1 for every parameter.

        The progress is continuous (``step_s`` does not apply).
        """
        with self._lock:
            frm, to, t0, dur = self._from, self._to, self._t0, self._dur
        s = smoothstep((t - t0) / dur)
        if s <= 0.0:
            return Keyframes(frm.copy(), frm.copy(), 0.0, frm.copy())
        if s >= 1.0:
            return Keyframes(to.copy(), to.copy(), 0.0, to.copy())
        change = np.abs(to.astype(np.float64) - frm)
        if scale is not None:
            change = change / np.asarray(scale, np.float64).reshape(-1)
        switched = bool(self._discrete.size and change[self._discrete].any())
        change[self._discrete] = 0.0  # a switch is one dissolve, however far apart the choices
        largest = float(change.max()) if change.size else 0.0
        if largest == 0.0 and not switched:
            return Keyframes(to.copy(), to.copy(), 0.0, to.copy())
        # A smoothstep's steepest slope is 1.5 / dur (progress per second).
        most = max(1, int(dur / (1.5 * max(min_gap_s, 1e-6)) + 1e-9))
        n = min(most, max(1, math.ceil(largest / max(spacing, 1e-9) - 1e-9)))
        j = min(int(s * n), n - 1)

        def key(i: int) -> np.ndarray:
            if i == 0:
                return frm.copy()
            if i == n:
                return to.copy()
            out = (frm + np.float32(i / n) * (to - frm)).astype(np.float32)
            if self._discrete.size:
                out[self._discrete] = (to if 2 * i >= n else frm)[self._discrete]
            return out

        return Keyframes(key(j), key(j + 1), float(s * n - j), self._between(frm, to, s))

    def reset(self, value: np.ndarray) -> None:
        """Jump to ``value`` with no morph (only for a fresh or closed session)."""
        value = np.array(value, np.float32).reshape(-1)
        with self._lock:
            self._from = value
            self._to = value.copy()
            self._t0 = -math.inf
            self.version += 1
