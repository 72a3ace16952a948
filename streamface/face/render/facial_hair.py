"""Facial hair: a shaving shadow, stubble, and seven grown styles.

`facial_hair` says how much grows (none .. shadow .. stubble .. grown); the style row
(`BEARD_COLUMNS`, blended along `facial_hair_style`) says where a grown beard is.
Drawn as clean shapes with soft shading, never as noise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from streamface.face import shapes as sh
from streamface.face.params import BEARD_STYLES
from streamface.face.render.common import Geometry, col

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


def beard(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, face_d: Tensor) -> Tensor:
    """Shaving shadow, stubble or a grown beard over the lower face, each a clean soft shape.

    Stubble is a soft tint in a dark shade of the hair colour (denser over the lip and on
    the chin), as in Memoji-like avatars: at call-tile sizes single hairs read as dirt.
    """
    fh = g["facial_hair"]
    ax = torch.abs(x)
    my, mw, ny_ = g["mouth_y"], g["mouth_w"], g["nose_y"]
    rx = g["rx"]
    # Where beard can grow: below a line from the sideburns to beside the mouth.
    line = (ny_ + 0.01) + (g["eye_y"] + 0.05 - ny_ - 0.01) * sh.smoothstep(mw * 1.0, rx * 0.95, ax)
    line = line + 0.05 * sh.smoothstep(mw * 1.2, mw * 2.0, ax) * (1.0 - sh.smoothstep(rx * 0.7, rx * 0.95, ax))
    inside = sh.fill(face_d, px)
    lips = sh.soft(sh.ellipse(x, y, 0.0, my + 0.002, mw * 0.95, g["lip_t"] * 0.8), 0.003)
    area = torch.sigmoid((y - line - 0.015) / 0.02) * inside * (1.0 - lips)
    # Shaving shadow and stubble: one clean, soft-edged tint in a cool dark shade of the
    # hair colour (no single hairs, which read as dirt at call-tile sizes). The shadow is
    # light and feathered (fairer hair shows less); stubble is denser over the lip and on
    # the chin and has a crisper edge up the cheeks.
    hair = g["hair"]
    hair_dark = 1.0 - 0.75 * hair.mean(dim=1, keepdim=True)
    tint = (hair * 0.55 + g["skin_shadow"] * 0.25) * col(0.94, 0.98, 1.06).to(x)
    # Grey stubble on darker skin: a lighter tint, but never a pale mask.
    tint = tint - 0.6 * torch.relu(tint - g["skin"] * 0.9)
    edge = torch.sigmoid((y - line - 0.03) / 0.008) * inside * (1.0 - lips)
    must_zone = sh.soft(moustache_d(g, x, y), 0.006)
    chin_zone = sh.soft(sh.ellipse(x, y, 0.0, g["chin_y"] - 0.03, mw * 0.95, 0.06), 0.02)
    dense = 0.55 + 0.25 * torch.maximum(must_zone, chin_zone) + 0.2 * sh.smoothstep(line + 0.03, line + 0.12, y)
    shadow = area * sh.smoothstep(0.03, 0.18, fh) * 0.24 * (0.5 + 0.5 * hair_dark)
    # White stubble shows less (on light skin a pale tint reads as a texture, not as hair).
    stub = edge * dense * sh.smoothstep(0.2, 0.42, fh) * (1.0 - sh.smoothstep(0.6, 0.8, fh)) * 0.55 * (1.0 - 0.4 * g["grey"])
    img = img + (tint - img) * torch.clamp(shadow + stub, 0.0, 0.8)
    # A grown beard in the style's areas.
    grown = sh.smoothstep(0.42, 0.72, fh)
    ext = (0.004 + 0.035 * g["b_length"]) * grown
    below = face_d - ext * sh.smoothstep(my, g["chin_y"], y)
    shape = sh.fill(below, px)
    cheek = g["b_cheek"] * torch.sigmoid((y - line - 0.045) / 0.008)
    chin_fill = sh.fill(sh.ellipse(x, y, 0.0, g["chin_y"] - 0.035 + 0.5 * ext, mw * 0.85, 0.075 + ext), px)
    chin_fill = chin_fill * torch.sigmoid((y - my - g["lip_t"] - 0.006) / 0.004)
    strap = g["b_strap"] * sh.fill(-face_d - 0.03 - 0.02 * g["b_length"], px) * sh.smoothstep(my - 0.06, my, y)
    shoe = g["b_horseshoe"] * sh.fill(torch.abs(ax - mw * 1.1) - 0.016, px) * sh.smoothstep(my - 0.03, my - 0.01, y)
    must = g["b_moustache"] * sh.fill(moustache_d(g, x, y), px)
    zone = torch.maximum(torch.maximum(cheek, g["b_chin"] * chin_fill), torch.maximum(strap, shoe))
    a = torch.maximum(zone * shape * (1.0 - lips), must) * grown * sh.fill(face_d - ext - 0.02, px)
    # Shading: a rounded volume, darker under the chin and on the shadow side, a soft sheen,
    # and a slightly feathered upper edge where it meets the cheek.
    lit = (1.0 - 0.30 * sh.smoothstep(-0.2, 0.3, x)) * (1.0 - 0.25 * sh.smoothstep(my, g["chin_y"] + ext, y))
    rim = torch.exp(torch.clamp(face_d - ext, max=0.0) / 0.02)
    sheen = sh.soft(sh.ellipse(x, y, -0.06, g["chin_y"] - 0.02, 0.07, 0.03), 0.03)
    colour = (hair * 1.05 + 0.05) * lit * (1.0 - 0.2 * rim) + 0.06 * sheen
    a = a * (0.80 + 0.15 * sh.smoothstep(0.0, 0.03, y - line - 0.045))
    return sh.over(img, colour, a)
