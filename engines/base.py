"""The interface every generator backend implements.

An engine turns face descriptions into RGB images. It has two paths:

* `render(params, anim)`: full frames, B face-parameter rows with B animation rows.
* `prepare(params)` then `animate(prepared, anim)`: the per-frame path, where everything
  that depends only on the face (not on the animation) is computed once by `prepare`
  and each frame only recomputes what moves.

Arrays: ``params`` float32 [B, PARAM_DIM]; ``anim`` float32 [B, ANIM_DIM]; images
uint8 [B, H, W, 3] RGB, C-contiguous.

`animate_many(calls)` answers several `animate` calls (different faces, e.g. different
sessions) with one engine call where the backend can stack them (`engines.batching`).

`animate_part(prepared, anim, part)` draws one animated patch of the frame alone (the
shipped layout's "eyes" or "mouth" box at zero pose, `parts`), for compositors that
cache patches (`streamface.face.sprites`).

An engine whose prepared faces can be cross-faded (`Engine.blend`, ``blends = True``)
lets a morphing face be prepared at a few keyframes only (`Session`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np


class Engine(ABC):
    """A face generator backend.

    Attributes:
        name: The backend's name as given to ``--engine``.
        size: Output width and height in pixels.
    """

    name: str = "engine"

    def __init__(self, size: int = 512) -> None:
        self.size = size

    @abstractmethod
    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        """Render full frames: [B, P] and [B, A] float32 -> [B, H, W, 3] uint8."""

    def prepare(self, params: np.ndarray) -> Any:
        """Precompute what depends only on the face; the default keeps the params."""
        return np.ascontiguousarray(params, dtype=np.float32)

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        """Render frames of a prepared face: [B, A] -> [B, H, W, 3] uint8."""
        return self.render(prepared, anim)

    def animate_many(self, calls: Sequence[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        """Several `animate` calls at once: each (prepared, anim) gets its own frames back.

        Backends that can stack prepared faces along the batch dimension answer all of
        them with one call; this default runs them one after the other. The result of
        each entry equals ``animate(prepared, anim)`` for it.

        Raises:
            ValueError, TypeError: an entry is malformed (the whole call fails; a caller
                that needs per-entry errors retries the entries one by one).
        """
        return [self.animate(prepared, anim) for prepared, anim in calls]

    def check_part(self, part: str) -> None:
        """Raise ValueError unless `animate_part` can draw ``part``."""
        if part not in self.parts:
            raise ValueError(f"{self.name} draws no part {part!r}; it draws {self.parts}")

    @property
    def parts(self) -> tuple[str, ...]:
        """Patches `animate_part` draws (the shipped layout: "eyes", "mouth"); () for none."""
        return ()

    def animate_part(self, prepared: Any, anim: np.ndarray, part: str) -> np.ndarray:
        """One patch of the frames alone: [B, A] -> [B, h, w, 3] uint8.

        Equals ``animate(prepared, anim)`` with the pose fields (yaw, pitch, roll, breath)
        zeroed, cropped to the part's box (`FaceRenderer.part_box`), at a fraction of its
        cost. Only for ``part`` in `parts`.

        Raises:
            ValueError: the engine draws no such part.
        """
        raise ValueError(f"{self.name} draws no part {part!r}")

    @property
    def blends(self) -> bool:
        """Whether `blend` cross-fades prepared faces (False: it returns None)."""
        return False

    @property
    def face_layout(self) -> bool:
        """Whether ``animate`` draws `FaceRenderer`'s layout: the animation changes only the
        eye and mouth boxes, then the head warp turns the warp box (zero pose: none).

        A `Session` then composes settled frames from the engine's own pictures
        (`streamface.face.sprites`) instead of calling ``animate`` every frame.
        """
        return False

    def blend(self, a: Any, b: Any, weight: float) -> Any | None:
        """A prepared face between two prepared faces, or None when not supported.

        The static layers are cross-faded (``(1 - weight) * a + weight * b``) and so are
        the face parameters the per-frame layers (eyes, mouth) are drawn with. ``a`` and
        ``b`` come from this engine's `prepare` (or `blend`) with the same batch.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing
        """Release native resources (GPU memory, sessions)."""
