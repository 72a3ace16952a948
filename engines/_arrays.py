"""Input checks shared by the engines: every engine takes the same arrays the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def as_rows(array: np.ndarray, dim: int, what: str) -> np.ndarray:
    """A float32, C-contiguous [B, dim] view of ``array`` (a single row may be 1-D).

    Raises:
        ValueError: The array is not [B, dim] (or [dim]), is empty, or holds NaN / inf.
    """
    rows = np.asarray(array, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    if rows.ndim != 2 or rows.shape[1] != dim or rows.shape[0] == 0:
        raise ValueError(f"{what} must be [B, {dim}] with B >= 1, got shape {np.shape(array)}")
    if not np.isfinite(rows).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return np.ascontiguousarray(rows)


def match_batch(face_rows: np.ndarray, anim: np.ndarray, what: str = "params") -> np.ndarray:
    """Repeat a single face row to the animation batch; otherwise the batches must agree."""
    if face_rows.shape[0] == anim.shape[0]:
        return face_rows
    if face_rows.shape[0] == 1:
        return np.ascontiguousarray(np.repeat(face_rows, anim.shape[0], axis=0))
    raise ValueError(
        f"{what} batch {face_rows.shape[0]} does not match anim batch {anim.shape[0]} "
        "(give one face for all frames, or one per frame)"
    )


def check_blendable(a: Any, b: Any, kind: type[Any]) -> None:
    """Raise unless ``a`` and ``b`` are ``kind`` faces (``.prepared``, ``.params``) of one shape.

    Raises:
        TypeError: either was not prepared by this engine.
        ValueError: their shapes differ.
    """
    if not isinstance(a, kind) or not isinstance(b, kind):
        raise TypeError("blend takes faces prepared by this engine")
    if a.prepared.shape != b.prepared.shape or a.params.shape != b.params.shape:
        raise ValueError(
            f"cannot blend faces of shapes {tuple(a.prepared.shape)} and {tuple(b.prepared.shape)}"
        )


def split_rows(images: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """Cut a stacked batch back into the callers' parts (each its own contiguous copy).

    Copies, so that one caller's frames never keep the whole batch alive or alias another's.
    """
    out: list[np.ndarray] = []
    start = 0
    for n in counts:
        out.append(np.array(images[start : start + n], copy=True))
        start += n
    if start != images.shape[0]:
        raise RuntimeError(f"engine returned {images.shape[0]} frames for {start} rows")
    return out
