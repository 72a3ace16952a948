"""Where a point of the renderer's normalised frame falls in an image (for pixel tests)."""

from __future__ import annotations

from streamface.face.render.common import CENTRE, ZOOM


def col_of(x: float, size: int) -> int:
    """Pixel column of normalised x in a ``size``-pixel frame (the renderer's framing)."""
    return int(((x - CENTRE[0]) / ZOOM + 1.0) / 2.0 * size)


def row_of(y: float, size: int) -> int:
    """Pixel row of normalised y in a ``size``-pixel frame."""
    return int(((y - CENTRE[1]) / ZOOM + 1.0) / 2.0 * size)
