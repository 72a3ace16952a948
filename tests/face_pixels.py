"""Where a point of the renderer's normalised frame falls in an image (for pixel tests)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import facial_hair, skin
from streamface.face.render.common import CENTRE, ZOOM, Geometry
from streamface.face.renderer import FaceRenderer


def col_of(x: float, size: int) -> int:
    """Pixel column of normalised x in a ``size``-pixel frame (the renderer's framing)."""
    return int(((x - CENTRE[0]) / ZOOM + 1.0) / 2.0 * size)


def row_of(y: float, size: int) -> int:
    """Pixel row of normalised y in a ``size``-pixel frame."""
    return int(((y - CENTRE[1]) / ZOOM + 1.0) / 2.0 * size)


def beard_layer(renderer: FaceRenderer, face: dict[str, object]) -> tuple[np.ndarray, Geometry, Tensor, Tensor]:
    """The facial hair layer of one face over the whole frame: how much of what lies under
    it shows through, per pixel (the layer drawn over a black and over a white face,
    differenced; 0 where it is opaque), with the face's geometry, the frame's y grid and the
    face outline's signed distance."""
    g = renderer._geometry(torch.from_numpy(params_matrix([FaceParams().with_overrides(face)])))
    size = renderer.size
    x, y = renderer.xs.expand(1, 1, size, size), renderer.ys.expand(1, 1, size, size)
    face_d = skin.face_sdf(g, x, y)
    with torch.no_grad():
        black = facial_hair.beard(g, torch.zeros(1, 3, size, size), x, y, renderer.px, face_d)
        white = facial_hair.beard(g, torch.ones(1, 3, size, size), x, y, renderer.px, face_d)
    return (white - black).mean(dim=1)[0].numpy(), g, y, face_d
