"""Call-tile framing: square and wide (16:9) frames from the square face render.

The renderer draws a square head-and-shoulders frame whose left and right edges are
background only (a smooth gradient from the ``bg_*`` parameters). A wide frame is that
square at full height, centred, with the background extended sideways: every row of a
side band repeats the mean of the square's two outermost columns of that row, so the
seam is invisible and the person stays a video-call head-and-shoulders shot.

The bands depend only on the face, not on the frame: the renderer animates the head, so
the square's outer columns change only when the face does. `Framer` keeps the bands and
rebuilds them only when those columns change (once per face, or per morph step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamface.errors import StreamFaceError

MIN_SIDE, MAX_SIDE = 64, 2048
MAX_ASPECT = 2.0
"""Widest frame accepted (width / height); 16:9 is 1.78."""
_EDGE = 2  # outermost columns averaged for the band


@dataclass(frozen=True)
class FrameSize:
    """Output frame size.

    Attributes:
        width: Pixels, even.
        height: Pixels, even; also the side of the square face render.
    """

    width: int
    height: int

    @property
    def square(self) -> bool:
        return self.width == self.height

    @property
    def face(self) -> int:
        """Side of the square render the frame is made from."""
        return self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def parse_frame_size(text: str | int) -> FrameSize:
    """``"512"`` (square), ``"640x360"``, ``"1280x720"`` -> `FrameSize`.

    Raises:
        StreamFaceError: not N or WxH, odd, out of 64..2048, taller than wide, or wider
            than 2:1.
    """
    raw = str(text).strip().lower().replace("×", "x")
    parts = raw.split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise StreamFaceError(f"--size takes N or WIDTHxHEIGHT (e.g. 512, 1280x720), got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise StreamFaceError(f"--size takes N or WIDTHxHEIGHT (e.g. 512, 1280x720), got {text!r}")
    width, height = values
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise StreamFaceError(f"--size {text}: each side must be {MIN_SIDE} to {MAX_SIDE} pixels")
    if width % 2 or height % 2:
        raise StreamFaceError(f"--size {text}: width and height must be even")
    if width < height or width > MAX_ASPECT * height:
        raise StreamFaceError(f"--size {text}: the frame must be square or wide (up to 2:1)")
    return FrameSize(width, height)


class Framer:
    """Composes square face frames onto a frame of `FrameSize` (thread-compatible, not shared).

    Args:
        size: The output size; its height is the square render's side.
    """

    def __init__(self, size: FrameSize) -> None:
        self.size = size
        self.left = (size.width - size.height) // 2
        self._edges: np.ndarray | None = None
        self._bands: tuple[np.ndarray, np.ndarray] | None = None
        self.rebuilds = 0
        """Times the side bands were rebuilt (a new face, or a morph step)."""

    def compose(self, square: np.ndarray) -> np.ndarray:
        """The output frame for a uint8 [S, S, 3] square render (S = height).

        Returns:
            uint8 [height, width, 3], a new array (the square itself when the output is square).

        Raises:
            ValueError: the square is not [height, height, 3].
        """
        s = self.size.height
        if square.shape != (s, s, 3):
            raise ValueError(f"expected a {s}x{s} RGB frame, got {square.shape}")
        if self.size.square:
            return square
        edges = np.concatenate((square[:, :_EDGE], square[:, -_EDGE:]), axis=1)
        if self._bands is None or self._edges is None or not np.array_equal(edges, self._edges):
            self._edges = edges.copy()
            self._bands = self._build(square)
            self.rebuilds += 1
        left_band, right_band = self._bands
        out = np.empty((s, self.size.width, 3), np.uint8)
        out[:, : self.left] = left_band
        out[:, self.left : self.left + s] = square
        out[:, self.left + s :] = right_band
        return out

    def _build(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        right_w = self.size.width - self.size.height - self.left
        left_col = square[:, :_EDGE].astype(np.float32).mean(axis=1, keepdims=True)
        right_col = square[:, -_EDGE:].astype(np.float32).mean(axis=1, keepdims=True)
        left = np.repeat(np.rint(left_col).astype(np.uint8), self.left, axis=1)
        right = np.repeat(np.rint(right_col).astype(np.uint8), right_w, axis=1)
        return left, right
