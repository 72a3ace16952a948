"""Facial hair: a shaving shadow, stubble, and seven grown styles.

`facial_hair` says how much grows (none .. shadow .. stubble .. grown); the style row
(`BEARD_COLUMNS`, blended along `facial_hair_style`) says where a grown beard is.
Drawn as clean shapes with soft shading, never as noise.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from streamface.face import shapes as sh
from streamface.face.params import BEARD_STYLES
from streamface.face.render.common import Geometry, col, frame_coords, pixel_size

BEARD_COLUMNS: tuple[str, ...] = ("cheek", "moustache", "chin", "strap", "horseshoe", "length")
"""Where hair grows (cheeks and jaw, over the lip, on the chin, along the jaw line, down
from the mouth corners) and how long it is."""

BEARD_ROWS: dict[str, tuple[float, ...]] = {
    "full": (1.0, 1.0, 1.0, 1.0, 0.0, 0.8),
    "short_boxed": (1.0, 1.0, 1.0, 1.0, 0.0, 0.3),
    "goatee": (0.0, 0.5, 1.0, 0.0, 0.0, 0.35),
    "circle": (0.0, 1.0, 1.0, 0.0, 0.0, 0.3),
    "moustache": (0.0, 1.0, 0.0, 0.0, 0.0, 0.25),
    "chin_strap": (0.0, 0.0, 0.7, 1.0, 0.0, 0.25),
    "horseshoe": (0.0, 1.0, 0.2, 0.0, 1.0, 0.3),
}
assert tuple(BEARD_ROWS) == BEARD_STYLES, "BEARD_ROWS != params.BEARD_STYLES"


def moustache_d(g: Geometry, x: Tensor, y: Tensor) -> Tensor:
    """Signed distance of the moustache (shared with the mouth layer, which redraws it)."""
    my, mw = g["mouth_y"], g["mouth_w"]
    t = torch.clamp(x / (mw * 1.15), -1.0, 1.0)
    top = my - g["lip_t"] - 0.028 - 0.008 * g["b_length"] + 0.006 * t * t
    bottom = my - 0.004 + 0.018 * t * t * g["b_horseshoe"] + 0.01 * t * t
    d = torch.maximum(top - y, y - bottom)
    return torch.maximum(d, torch.abs(x) - mw * 1.15)


def stubble_field(size: int, box: tuple[int, int, int, int], seed: int = 0x57BB1E) -> Tensor:
    """[1, 1, h, w] coverage of short hairs as small clean dots on a jittered grid."""
    x0, x1, y0, y1 = box
    px = pixel_size(size)
    rng = np.random.default_rng(seed)
    step = 0.0105
    gx, gy = np.meshgrid(np.arange(-0.45, 0.45, step), np.arange(-0.2, 0.45, step))
    cx = (gx + rng.uniform(-0.35, 0.35, gx.shape) * step).ravel()
    cy = (gy + rng.uniform(-0.35, 0.35, gy.shape) * step).ravel()
    fx, fy = frame_coords(size)
    xs, ys = fx[x0:x1], fy[y0:y1]
    field = np.zeros((y1 - y0, x1 - x0))
    r = max(0.0022, 0.6 * px)
    # Splat each dot into the few pixels it covers.
    ix = np.searchsorted(xs, cx)
    iy = np.searchsorted(ys, cy)
    for i in range(cx.shape[0]):
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                u, v = ix[i] + dx, iy[i] + dy
                if 0 <= u < xs.shape[0] and 0 <= v < ys.shape[0]:
                    d = np.hypot(xs[u] - cx[i], ys[v] - cy[i]) - r
                    field[v, u] = max(field[v, u], 1.0 / (1.0 + np.exp(d * 1.7 / px)))
    return torch.tensor(field, dtype=torch.float32).reshape(1, 1, y1 - y0, x1 - x0)


def beard(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, face_d: Tensor, stubble: Tensor) -> Tensor:
    """Shadow, stubble (short hairs drawn as clean dots) or a grown beard over the lower face.

    Args:
        stubble: `stubble_field` of this box.
    """
    fh = g["facial_hair"]
    ax = torch.abs(x)
    my, mw, ny_ = g["mouth_y"], g["mouth_w"], g["nose_y"]
    rx = g["rx"]
    # Where beard can grow: below a line from the sideburns to beside the mouth.
    line = (ny_ + 0.01) + (g["eye_y"] + 0.05 - ny_ - 0.01) * sh.smoothstep(mw * 1.0, rx * 0.95, ax)
    line = line + 0.05 * sh.smoothstep(mw * 1.2, mw * 2.0, ax) * (1.0 - sh.smoothstep(rx * 0.7, rx * 0.95, ax))
    area = torch.sigmoid((y - line - 0.015) / 0.026) * sh.fill(face_d, px)
    lips = sh.soft(sh.ellipse(x, y, 0.0, my + 0.002, mw * 0.95, g["lip_t"] * 0.8), 0.003)
    area = area * (1.0 - lips)
    # Shaving shadow and stubble: a flat, cool darkening (fairer hair shows less).
    hair = g["hair"]
    dark = (1.0 - 0.75 * hair.mean(dim=1, keepdim=True)) * (1.0 - 0.6 * g["tone"])
    shadow = sh.smoothstep(0.03, 0.18, fh) * 0.20 + sh.smoothstep(0.18, 0.42, fh) * 0.20
    k = area * shadow * dark
    img = img * (1.0 - k)
    # Half way to a cool grey: a full grey wash reads as dirt on light skin.
    img = img + (img.mean(dim=1, keepdim=True) * col(0.95, 0.98, 1.05).to(x) - img) * (0.5 * k)
    # Crisp short hairs in a dark shade of the hair colour read as stubble.
    # (White stubble shows less: on light skin it would read as a texture, not as hair.)
    dots = stubble * area * sh.smoothstep(0.2, 0.42, fh) * (1.0 - sh.smoothstep(0.6, 0.8, fh)) * 0.5 * (1.0 - 0.6 * g["grey"])
    img = sh.over(img, hair * 0.6, dots)
    # A grown beard in the style's areas.
    grown = sh.smoothstep(0.42, 0.72, fh)
    ext = (0.004 + 0.035 * g["b_length"]) * grown
    below = face_d - ext * sh.smoothstep(my, g["chin_y"], y)
    shape = sh.fill(below, px)
    cheek = g["b_cheek"] * torch.sigmoid((y - line - 0.045) / 0.012)
    chin_zone = sh.fill(sh.ellipse(x, y, 0.0, g["chin_y"] - 0.035 + 0.5 * ext, mw * 0.85, 0.075 + ext), px)
    chin_zone = chin_zone * torch.sigmoid((y - my - g["lip_t"] - 0.006) / 0.004)
    strap = g["b_strap"] * sh.fill(-face_d - 0.03 - 0.02 * g["b_length"], px) * sh.smoothstep(my - 0.06, my, y)
    shoe = g["b_horseshoe"] * sh.fill(torch.abs(ax - mw * 1.1) - 0.016, px) * sh.smoothstep(my - 0.03, my - 0.01, y)
    must = g["b_moustache"] * sh.fill(moustache_d(g, x, y), px)
    zone = torch.maximum(torch.maximum(cheek, g["b_chin"] * chin_zone), torch.maximum(strap, shoe))
    a = torch.maximum(zone * shape * (1.0 - lips), must) * grown * sh.fill(face_d - ext - 0.02, px)
    # Shading: a rounded volume, darker under the chin and on the shadow side, soft highlights.
    lit = (1.0 - 0.30 * sh.smoothstep(-0.2, 0.3, x)) * (1.0 - 0.25 * sh.smoothstep(my, g["chin_y"] + ext, y))
    rim = torch.exp(torch.clamp(face_d - ext, max=0.0) / 0.02)
    tex = 1.0 - 0.06 * torch.relu(torch.cos(x * 90.0 + torch.sin(y * 40.0) * 2.0)) ** 4
    sheen = sh.soft(sh.ellipse(x, y, -0.06, g["chin_y"] - 0.02, 0.07, 0.03), 0.03)
    colour = (hair * 1.05 + 0.07) * lit * (1.0 - 0.2 * rim) * tex + 0.06 * sheen
    # A grown beard is dense in the middle and lets the skin through towards its edges.
    a = a * (0.62 + 0.28 * sh.smoothstep(0.0, 0.04, -(face_d - ext)))
    return sh.over(img, colour, a)
