"""Per-frame animation inputs of the face renderer.

The renderer takes one row of `ANIM_FIELDS` per image. Viseme weights (`v_*`) are a
convex mix over the mouth shapes; `mouth_open` scales how far the jaw drops.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

VISEMES: tuple[str, ...] = ("rest", "a", "ei", "ou", "mbp")
"""Mouth shapes: rest, open A, spread E/I, rounded O/U, closed M/B/P."""


@dataclass(frozen=True)
class FaceAnimation:
    """Animation state of one frame.

    Attributes:
        mouth_open: 0 closed .. 1 wide open.
        v_rest, v_a, v_ei, v_ou, v_mbp: viseme weights, non-negative, summing to 1.
        blink: 0 eyes open .. 1 closed.
        gaze_x, gaze_y: -1..1, where the irises look (right/down positive).
        yaw, pitch, roll: head rotation in degrees, each within ±10.
        breath: 0..1 phase of the breathing rise of shoulders and head.
    """

    mouth_open: float = 0.0
    v_rest: float = 1.0
    v_a: float = 0.0
    v_ei: float = 0.0
    v_ou: float = 0.0
    v_mbp: float = 0.0
    blink: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    breath: float = 0.0

    def to_vector(self) -> np.ndarray:
        """The renderer's input row, float32 of length `ANIM_DIM`."""
        # Not dataclasses.astuple: it deep-copies every field (10x the cost, once per frame).
        return np.array([getattr(self, name) for name in ANIM_FIELDS], dtype=np.float32)

    @classmethod
    def from_vector(cls, vec: np.ndarray) -> FaceAnimation:
        """Inverse of `to_vector`."""
        return cls(*(float(v) for v in np.asarray(vec).reshape(-1)[:ANIM_DIM]))


ANIM_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FaceAnimation))
ANIM_DIM = len(ANIM_FIELDS)
NEUTRAL = FaceAnimation()
"""Rest pose: mouth closed, eyes open, looking ahead."""
