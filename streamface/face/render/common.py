"""Shared pieces of the face layers: palettes, layout boxes, crop/paste, bilinear sampling.

Coordinates are normalised: x and y run from -1 to 1 across the image (y downwards).
A box is ``(x0, x1, y0, y1)`` in those units, or in pixels once converted by the renderer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..shapes import constant

Box = tuple[int, int, int, int]
"""A pixel box ``(x0, x1, y0, y1)``: columns x0..x1-1, rows y0..y1-1."""

Geometry = dict[str, Tensor]
"""Per-face scalars and colours ([B, 1, 1, 1] or [B, 3, 1, 1]) from `geometry.geometry`."""

AnimGetter = Callable[[str], Tensor]
"""Animation input by field name, as [B, 1, 1, 1]."""

# Hair from black to platinum blonde, and the red variant of each.
HAIR = ((0.07, 0.06, 0.06), (0.18, 0.12, 0.09), (0.33, 0.22, 0.14), (0.52, 0.37, 0.23), (0.72, 0.57, 0.36), (0.90, 0.80, 0.58))
HAIR_RED = ((0.20, 0.07, 0.05), (0.42, 0.15, 0.08), (0.62, 0.25, 0.11), (0.78, 0.38, 0.16), (0.86, 0.54, 0.27), (0.93, 0.70, 0.44))
# Iris: dark brown, brown, hazel, green, blue, grey.
IRIS = ((0.24, 0.13, 0.07), (0.43, 0.25, 0.11), (0.55, 0.44, 0.18), (0.30, 0.52, 0.30), (0.28, 0.52, 0.80), (0.55, 0.62, 0.68))

# Framing: the drawing space is zoomed so that the head fills about half the frame height
# (a video-call head-and-shoulders shot). Pixel i of S sits at
# ((i + 0.5) / S * 2 - 1) * ZOOM + centre, in x and y.
ZOOM = 0.92
CENTRE = (0.0, 0.06)


def frame_coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised x and y of the pixel centres of a square frame of ``size`` pixels."""
    base = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    return base * ZOOM + CENTRE[0], base * ZOOM + CENTRE[1]


def pixel_size(size: int) -> float:
    """Width of one pixel in normalised units."""
    return 2.0 * ZOOM / size


# Layout in normalised coordinates (x0, x1, y0, y1).
# Sized for the extremes of every parameter (a lifted brow, the widest glasses, the lowest
# open mouth); kept small because they are drawn every frame.
EYE_BOX = (-0.30, 0.30, -0.32, 0.0)  # eyes, brows and glasses: redrawn every frame
MOUTH_BOX = (-0.17, 0.17, 0.0, 0.36)  # lips, teeth, tongue: redrawn every frame
WARP_BOX = (-0.60, 0.60, -1.0, 0.52)  # what turns with the head
HEAD_BOX = (-0.54, 0.54, -0.96, 0.46)  # ears and front hair
FACE_BOX = (-0.40, 0.40, -0.62, 0.40)  # the face: skin, shading, lines, glasses arms
BEARD_BOX = (-0.40, 0.40, -0.14, 0.40)  # where facial hair can grow
BACK_BOX = (-0.60, 0.60, -0.98, 0.98)  # the hair behind the head and beside the neck
TAIL_BOX = (-0.54, 0.54, -0.06, 0.98)  # a ponytail over the shoulder, and its shadow
BODY_BOX = (-1.0, 1.0, 0.10, 1.0)  # neck and shoulders
PIVOT = (0.0, 0.30)  # the head rotates about the top of the neck
LIGHT = (-0.45, -0.55, 0.70)  # key light from the upper left, in front


def col(*rgb: float, like: Tensor) -> Tensor:
    """A constant colour as [1, 3, 1, 1] on ``like``'s device and dtype (made once per device)."""
    return constant(rgb, (1, 3, 1, 1), like)


def hue(colour: Tensor) -> Tensor:
    """``colour`` [B, 3, ...] scaled to a mean of 1: its hue and colourfulness, to lighten a
    colour in its own tone (a near-white highlight over a dark colour reads grey)."""
    return colour / (colour.mean(dim=1, keepdim=True) + 1e-3)


def crop(img: Tensor, box: Box) -> Tensor:
    """``img[..., box]`` for a pixel box."""
    x0, x1, y0, y1 = box
    return _cols(_rows(img, y0, y1), x0, x1)


def _rows(img: Tensor, y0: int, y1: int) -> Tensor:
    """``img[:, :, y0:y1]``, and ``img`` itself for all its rows (the exported Slice would
    copy the whole of it)."""
    return img if (y0, y1) == (0, img.shape[2]) else img[:, :, y0:y1]


def _cols(img: Tensor, x0: int, x1: int) -> Tensor:
    """``img[..., x0:x1]``, and ``img`` itself for all its columns (as `_rows`)."""
    return img if (x0, x1) == (0, img.shape[3]) else img[..., x0:x1]


def paste(img: Tensor, box: Box, patch: Tensor) -> Tensor:
    """``img`` with ``patch`` in place of the box (by concatenation, which exports cleanly)."""
    x0, x1, y0, y1 = box
    band = _rows(img, y0, y1)
    mid = concat([band[..., :x0], patch, band[..., x1:]], dim=3)
    return concat([img[:, :, :y0], mid, img[:, :, y1:]], dim=2)


def concat(parts: list[Tensor], dim: int) -> Tensor:
    """``torch.cat`` of the parts that are not empty: a box as wide or as tall as the image
    then costs no copy (a Concat of one input still copies it in ONNX Runtime)."""
    kept = [p for p in parts if p.shape[dim] > 0]
    return kept[0] if len(kept) == 1 else torch.cat(kept, dim=dim)


def paste_all(img: Tensor, patches: tuple[tuple[Box, Tensor], ...]) -> Tensor:
    """`paste` of several patches, in one copy of ``img`` when their rows do not overlap."""
    order = sorted(patches, key=lambda item: item[0][2])
    if any(a[0][3] > b[0][2] for a, b in zip(order, order[1:], strict=False)):
        for box, patch in patches:
            img = paste(img, box, patch)
        return img
    bands: list[Tensor] = []
    row = 0
    for (x0, x1, y0, y1), patch in order:
        bands.append(img[:, :, row:y0])
        bands.append(concat([img[:, :, y0:y1, :x0], patch, img[:, :, y0:y1, x1:]], dim=3))
        row = y1
    bands.append(img[:, :, row:])
    return concat(bands, dim=2)


def inner(box: Box, outer: Box) -> Box:
    """A pixel box expressed relative to the corner of an enclosing one."""
    return box[0] - outer[0], box[1] - outer[0], box[2] - outer[2], box[3] - outer[2]


def bilinear(img: Tensor, fx: Tensor, fy: Tensor, width: int, height: int) -> Tensor:
    """Sample ``img`` [B, C, height, width] at pixel coordinates ``fx``, ``fy`` [B, height, width].

    Bilinear, clamped to the border: the same as ``F.grid_sample(mode="bilinear",
    padding_mode="border", align_corners=False)`` on the equivalent grid, but written as
    four element gathers, which ONNX Runtime runs several times faster on the CPU than its
    GridSample kernel. Differentiable in the image and in the coordinates.
    """
    fx = torch.clamp(fx, 0.0, width - 1.0)
    fy = torch.clamp(fy, 0.0, height - 1.0)
    cx = torch.clamp(torch.floor(fx), max=width - 2.0)
    cy = torch.clamp(torch.floor(fy), max=height - 2.0)
    wx = (fx - cx).flatten(1).unsqueeze(1)
    wy = (fy - cy).flatten(1).unsqueeze(1)
    w11 = wx * wy
    w01, w10 = wx - w11, wy - w11
    w00 = 1.0 - wx - w10
    i00 = (cy * width + cx).to(torch.int64).flatten(1).unsqueeze(1)
    channels = img.shape[1]
    flat = img.flatten(2)

    def tap(offset: int, weight: Tensor) -> Tensor:
        index = (i00 + offset if offset else i00).expand(-1, channels, -1)
        return torch.gather(flat, 2, index) * weight

    out = tap(0, w00) + tap(1, w01) + tap(width, w10) + tap(width + 1, w11)
    return out.unflatten(2, (height, width))
