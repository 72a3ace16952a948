"""Skin and body layers: background, shoulders, neck, ears, the face's shape and its soft
shading, nose, blush, age lines, freckles and a beauty mark.

Shading is deliberately simple (see docs/STYLE.md): a flat base colour, one soft
terminator towards the shadow side, warm shadows, a little ambient occlusion at the
outline and a few soft highlights. No noise or grain.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from streamface.face import shapes as sh
from streamface.face.render.common import LIGHT, Geometry, col, frame_coords, pixel_size

FRECKLE_BOX = (-0.30, 0.30, -0.16, 0.20)
"""Where freckles and the beauty mark are drawn (down to beside the mouth)."""

_FRECKLE_DOTS = (-0.30, 0.30, -0.16, 0.10)
# Where the fixed field of freckle dots is scattered (kept when the box grew, so every
# face keeps its freckles).

FOLD_SPAN = (0.4, 1.05)
"""Where a smile fold runs, as fractions of the way from the nose tip (0) to the mouth (1)."""

FOLD_BOW = 0.008
"""How far an upright smile fold bows out from the line between its ends, at its middle
(about 2 px at 512 px): a parenthesis round the mouth. Straight, where the mouth is about
as wide as the nose's wings the fold ran straight down beside the mouth corner, and with the
nose's underside it drew a box round the mouth at 100 %."""

FOLD_SLANT = 0.04
"""How far out a smile fold's lower end must lie from its upper one to need no bow: a fold
slanting out from the nose wing to past a wide mouth's corner reads as a crease already.
(Bowed on every face, the grid's older men with a slanting fold read as women more often:
face-api's dark-skinned third 92.2 -> 89.2 %, dlib 95.4 -> 94.9 %.)"""

# Spots a beauty mark can take (relative to features), chosen along `mole_pos`.
_MOLE_SPOTS = 6


def freckle_field(size: int, box: tuple[int, int, int, int], seed: int = 0x5F4CE) -> Tensor:
    """[1, 1, h, w] coverage of small round dots (a fixed pattern, clean-edged)."""
    x0, x1, y0, y1 = box
    fx, fy = frame_coords(size)
    xs, ys = fx[x0:x1][None, :], fy[y0:y1][:, None]
    rng = np.random.default_rng(seed)
    n = 150
    cx = rng.uniform(_FRECKLE_DOTS[0], _FRECKLE_DOTS[1], n)
    cy = rng.uniform(_FRECKLE_DOTS[2], _FRECKLE_DOTS[3], n)
    r = rng.uniform(0.0035, 0.0065, n)
    shade = rng.uniform(0.5, 1.0, n)
    field = np.zeros((y1 - y0, x1 - x0))
    px = pixel_size(size)
    for i in range(n):
        d = np.sqrt((xs - cx[i]) ** 2 + (ys - cy[i]) ** 2) - r[i]
        field = np.maximum(field, shade[i] / (1.0 + np.exp(d * 1.7 / px)))
    return torch.tensor(field, dtype=torch.float32).reshape(1, 1, y1 - y0, x1 - x0)


def backdrop(x: Tensor, y: Tensor) -> Tensor:
    """The light of a soft two-tone backdrop with a glow behind the head, [1, 1, H, W] over
    the grid ``x`` [1, 1, 1, W], ``y`` [1, 1, H, 1]; the backdrop is the face's ``g["bg"]``
    times it. It depends on no face, so an export holds it as a constant."""
    glow = torch.exp(-((x + 0.1) ** 2 + (y + 0.25) ** 2) / 0.5)
    return 0.90 + 0.16 * glow - 0.06 * (y + 1.0) / 2.0


def _edge(ax: Tensor, y: Tensor, x0: Tensor, y0: Tensor, x1: Tensor, y1: Tensor) -> Tensor:
    """Signed distance to the line from (x0, y0) down to (x1, y1), positive on its outer side."""
    dx, dy = x1 - x0, y1 - y0
    return ((ax - x0) * dy - (y - y0) * dx) / torch.sqrt(dx * dx + dy * dy)


def face_sdf(g: Geometry, x: Tensor, y: Tensor) -> Tensor:
    """Signed distance of the face outline: a cranium ellipse over a tapered lower face.

    The lower face is three rounded edges: the cheek side tapering from the cranium's
    widest row to the jaw angle, the jaw line from there to the chin, and the chin's
    flat. A masculine jaw angle is wider, lower and crisper and the chin broader, so the
    face tapers less (cheekbone -> jaw -> chin), but it still tapers (a straight-sided
    jaw reads as a block); a feminine one is rounder and narrows to a small chin.
    """
    ax = torch.abs(x)
    cran = sh.ellipse(x, y, 0.0, g["cy"], g["rx"], g["ry"])
    # Widest at the cheekbones, just below the eyes; tapering from there to the jaw angle.
    cheekbone = g["eye_y"] + 0.06
    side = sh.smax(ax - g["rx"], _edge(ax, y, g["rx"], cheekbone, g["jaw_rx"], g["jaw_y"]), 0.06)
    # Cheek fullness and jowls widen the side as smooth bulges of the edge (no separate
    # shapes, whose joins notched the outline).
    side = side - 0.014 * (g["cheek"] - 0.3) * torch.exp(-(((y - g["eye_y"] - 0.11) / 0.09) ** 2))
    chin_y = g["chin_y"]
    jaw_line = _edge(ax, y, g["jaw_rx"], g["jaw_y"], g["chin_w"], chin_y)
    lower = sh.smax(side, jaw_line, g["jaw_round"])
    lower = sh.smax(lower, y - chin_y, g["chin_round"])
    lower = sh.smax(lower, g["cy"] - y, 0.02)
    jowl = torch.exp(-(((y - g["mouth_y"] - 0.05) / 0.06) ** 2)) * sh.smoothstep(g["chin_w"], g["jaw_rx"] * 0.8, ax)
    lower = lower - 0.03 * g["sag"] * jowl
    return sh.smin(cran, lower, 0.06)


def neck_flare(y: Tensor) -> Tensor:
    """How far the neck's outline widens beyond ``neck_w`` at height ``y``, into the shoulders."""
    return 0.20 * sh.smoothstep(0.28, 0.58, y) ** 2


def body_d(g: Geometry, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Signed distances of the neck and of the top (its neckline cut out)."""
    neck_d = torch.maximum(torch.abs(x) - g["neck_w"] - neck_flare(y), (g["cy"] + 0.3) - y)
    top_d = sh.superellipse(x, y, 0.0, 1.10, g["shoulder_w"], 0.70, 2.6)
    neckline = sh.ellipse(x, y, 0.0, 0.42, g["neck_w"] * 1.45, 0.11 + 0.03 * g["fem"])
    return neck_d, sh.smax(top_d, -neckline, 0.03)


def body(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float) -> Tensor:
    """Neck (with the jaw's shadow) and a plain top with a rounded neckline."""
    neck_d, top_d = body_d(g, x, y)
    ax = torch.abs(x)
    shadow = sh.soft(sh.ellipse(x, y, 0.0, g["chin_y"] - 0.02, g["jaw_rx"] * 0.95, 0.10), 0.02)
    neck_col = g["skin"] + (g["skin_shadow"] - g["skin"]) * (0.45 + 0.55 * shadow)
    light = 1.0 - 0.10 * sh.smoothstep(0.0, 0.2, x)
    # An Adam's apple on a masculine neck: a small lit bump with a shadow under it.
    apple = sh.soft(sh.ellipse(x, y, -0.004, g["chin_y"] + 0.09, 0.018, 0.02), 0.01)
    light = light * (1.0 + 0.10 * g["masc"] * apple)
    # An older neck: two soft cords down from under the chin and a fold across it.
    below = y - g["chin_y"]
    cords = torch.exp(-(((ax - 0.035 - 0.25 * below) / 0.016) ** 2)) * sh.smoothstep(0.0, 0.04, below) * sh.smoothstep(0.16, 0.06, below)
    fold = torch.exp(-(((below - 0.05 - 0.6 * x * x) / 0.006) ** 2)) * sh.smoothstep(g["neck_w"] * 0.9, g["neck_w"] * 0.3, ax)
    # (Its light as one grey map, then one product with the colour.)
    neck_col = neck_col * (light * (1.0 - g["old"] * (0.06 * cords + 0.14 * fold)))
    img = sh.over(img, neck_col, sh.fill(neck_d, px))
    sw = g["shoulder_w"]
    lit = 1.0 - 0.16 * sh.smoothstep(-0.3, 0.7, x) - 0.10 * sh.smoothstep(0.4, 0.95, ax / sw)
    hem = 1.0 - 0.18 * torch.exp(torch.clamp(top_d, max=0.0) / 0.012)  # a soft rim along the edge
    return sh.over(img, g["top"] * lit * hem, sh.fill(top_d, px))


def ears(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float) -> Tensor:
    """Simple ears with a shaded inner bowl."""
    ax = torch.abs(x)
    es = g["ear_s"]
    ex, ey = g["rx"] * 0.95 + 0.02, g["eye_y"] + 0.05
    outer = sh.ellipse(ax, y, ex, ey, 0.040 * es, 0.072 * es)
    bowl = sh.soft(sh.ellipse(ax, y, ex + 0.006, ey + 0.006, 0.020 * es, 0.045 * es), 0.008)
    ear_col = g["skin"] + (g["skin_shadow"] - g["skin"]) * (0.35 + 0.5 * bowl)
    return sh.over(img, ear_col, sh.fill(outer, px))


def shading(g: Geometry, x: Tensor, y: Tensor, face_d: Tensor) -> Tensor:
    """The face's colour before features: lit skin, warm shadow side, highlights, blush."""
    ax = torch.abs(x)
    norm = math.sqrt(sum(c * c for c in LIGHT))
    lx, ly, lz = (c / norm for c in LIGHT)
    nx = x / (g["rx"] * 1.15)
    ny = (y - g["cy"] - 0.12) / (g["ry"] + 0.22)
    nz = torch.sqrt(torch.clamp(1.0 - nx * nx - ny * ny, min=0.0) + 0.02)
    lit = sh.smoothstep(-0.15, 0.5, nx * lx + ny * ly + nz * lz)
    ao = torch.exp(face_d / 0.03)  # near the outline
    floor = 0.34 + 0.22 * g["tone"]
    k = floor + (1.0 - floor) * lit * (1.0 - 0.35 * ao)
    ey, edx, ny_, nw = g["eye_y"], g["eye_dx"], g["nose_y"], g["nose_w"]
    # Soft sockets above the eyes, a shadow under the nose and the lower lip's shadow.
    sock = sh.soft(sh.ellipse(ax, y, edx, ey - 0.01, g["eye_w"] * 1.45, g["eye_h"] * 1.6 + 0.01), 0.02)
    k = k * (1.0 - (0.06 + 0.06 * g["masc"] + 0.08 * g["sag"]) * sock)
    # A masculine brow ridge: a soft shadow under the brows, across the sockets' tops.
    ridge = sh.soft(sh.ellipse(ax, y, edx - 0.005, g["brow_y"] + 0.022, g["eye_w"] * 1.9, 0.016), 0.012)
    k = k * (1.0 - g["brow_ridge"] * ridge)
    # Nose: a shadow down the bridge's shadow side, a rounded tip, wings and nostrils.
    along = sh.smoothstep(ey - 0.02, ey + 0.05, y) * sh.smoothstep(ny_ + 0.005, ny_ - 0.02, y)
    side = torch.exp(-(((x - nw * 0.6 - 0.004) / (0.012 + 0.006 * g["masc"])) ** 2)) * along
    # A man's stronger bridge: a straight ridge from eye level down, edged on the lit side
    # too (fainter), so the nose reads as a shape and not only as a tip. (Started between
    # the brows, its shadow read as a frown.)
    ridge_along = sh.smoothstep(ey - 0.01, ey + 0.03, y) * sh.smoothstep(ny_ - 0.005, ny_ - 0.03, y)
    lit_edge = torch.exp(-(((x + nw * 0.45 + 0.004) / 0.010) ** 2)) * ridge_along * g["masc"]
    side = side + 0.35 * torch.exp(-(((x - nw * 0.55 - 0.004) / 0.014) ** 2)) * ridge_along * (1.0 - along) * g["masc"]
    under = sh.soft(sh.ellipse(x, y, 0.004, ny_ + 0.016, nw * 1.2, 0.013), 0.01)
    wing_d = sh.ellipse(ax, y, nw * 0.85, ny_ - 0.002, nw * 0.45, 0.017)
    wings = sh.soft(wing_d, 0.006)
    crease = torch.exp(-((wing_d / 0.0035) ** 2)) * sh.smoothstep(ny_ - 0.02, ny_ + 0.004, y)
    crease = crease * sh.smoothstep(nw * 0.6, nw * 1.0, ax)
    strength = 0.75 + 0.8 * g["masc"]
    k = k * (1.0 - 0.28 * strength * side) * (1.0 - 0.32 * strength * under) * (1.0 - 0.10 * wings)
    k = k * (1.0 - 0.30 * strength * crease) * (1.0 - 0.10 * lit_edge)
    my, mw = g["mouth_y"], g["mouth_w"]
    below = sh.soft(sh.ellipse(x, y, 0.0, my + g["lip_t"] * 1.3 + 0.02, mw * 0.6, 0.012), 0.01)
    k = k * (1.0 - 0.16 * below)
    # A masculine face: hollows under the cheekbones and a shaded, angular jaw line.
    hollow = sh.soft(sh.ellipse(ax, y, g["rx"] * 0.72, ny_ + 0.03, 0.04, 0.07), 0.03)
    jaw_line = torch.exp(torch.clamp(face_d, max=0.0) / 0.02) * sh.smoothstep(my - 0.05, my + 0.04, y)
    k = k * (1.0 - g["masc"] * (0.10 * hollow + 0.16 * jaw_line))
    out = g["skin_shadow"] + (g["skin"] - g["skin_shadow"]) * k
    # A warm bounce light along the shadow-side cheek keeps darker faces modelled.
    bounce = sh.soft(sh.ellipse(x, y, g["rx"] * 0.62, g["cy"] + 0.16, 0.07, 0.14), 0.05) * (1.0 - ao)
    out = out + col(0.10, 0.06, 0.03, like=x) * bounce * g["tone"]
    nostril = sh.fill(sh.ellipse(ax, y, nw * 0.52, ny_ + 0.004, nw * 0.30, 0.0065), 0.004)
    out = out * (1.0 - 0.45 * nostril)
    # Highlights (stronger on darker skin, where they carry the face's structure).
    hi = (0.03 + 0.16 * g["tone"]) * g["gloss"]
    fore = sh.soft(sh.ellipse(x, y, -0.07, g["cy"] - 0.12, 0.10, 0.06), 0.05)
    tip = sh.soft(sh.ellipse(x, y, -0.006, ny_ - 0.012, nw * (0.45 + 0.25 * g["nose_tip"]), 0.011 + 0.004 * g["nose_tip"]), 0.007)
    bridge = torch.exp(-(((x + 0.008) / 0.006) ** 2)) * (along * 0.5 + 0.6 * g["masc"] * ridge_along)
    cheekbone = sh.soft(sh.ellipse(x, y, -edx - 0.01, ey + 0.085, 0.06, 0.03), 0.03)
    chin = sh.soft(sh.ellipse(x, y, -0.01, g["chin_y"] - 0.05, 0.05, 0.03), 0.025)
    brow_hi = sh.soft(sh.ellipse(x, y, -edx * 0.9, g["brow_y"] - 0.028, 0.07, 0.018), 0.02) * g["masc"]
    out = out + hi * (fore + 1.4 * tip + 0.5 * bridge + cheekbone + 0.7 * chin + 0.8 * brow_hi) * col(1.0, 0.95, 0.9, like=x)
    # Blush: warm cheeks (less visible, and less needed, on darker skin).
    blush = sh.soft(sh.ellipse(ax, y, edx + 0.025, ny_ - 0.01, 0.068, 0.042), 0.035)
    amount = (0.07 * g["fem"] + 0.04 * g["makeup"] + 0.03 * g["child"]) * (1.0 - 0.55 * g["tone"])
    return out + col(0.9, -0.35, -0.2, like=x) * amount * blush


def age_lines(g: Geometry, img: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """A few clean lines of age: smile folds, forehead, crow's feet, under-eye, marionette."""
    ax = torch.abs(x)
    lines, sag = g["lines"], g["sag"]
    ey, edx, ew, eh = g["eye_y"], g["eye_dx"], g["eye_w"], g["eye_h"]
    ny_, nw, my, mw = g["nose_y"], g["nose_w"], g["mouth_y"], g["mouth_w"]

    def stroke(dist: Tensor, width: Tensor | float) -> Tensor:
        return torch.exp(-((dist / width) ** 2))

    # Smile folds: a short curved crease round the mouth corner, from below the nose wing
    # to a little past the corner's level, tapered at both ends (a faint hint on young
    # faces). Measured with face-api: a crease that started at the nose wing read as a
    # pinched, sad nose-to-mouth (seniors' sad reads 0.30 -> 0.05 without its upper part);
    # two long straight lines down to the chin read as a ventriloquist's dummy; a soft
    # shadow on the fold's mouth side read as a down-turned mouth.
    t = (y - (ny_ - 0.012)) / (my - ny_ + 0.012)
    tc = torch.clamp(t, 0.0, 1.0)
    x0, x1 = nw * 1.3 + 0.008, mw * 1.15 + 0.014
    span = torch.clamp((t - FOLD_SPAN[0]) / (FOLD_SPAN[1] - FOLD_SPAN[0]), 0.0, 1.0)
    arch = torch.sin(math.pi * span)
    upright = 1.0 - sh.smoothstep(0.0, FOLD_SLANT, x1 - x0)
    fold_x = x0 + (x1 - x0) * (1.6 * tc - 0.6 * tc * tc) + FOLD_BOW * upright * arch
    taper = torch.clamp(arch, 0.0, 1.0) ** 0.8
    amount = (0.75 * lines + 0.35 * sag) * sh.smoothstep(0.05, 0.3, lines)
    fold = stroke(ax - fold_x, 0.003 + 0.004 * lines) * taper * amount
    # Forehead: two gently curved lines.
    fy = g["brow_y"] - y - 0.035 + 0.01 * (x / 0.2) ** 2
    fwin = sh.smoothstep(0.22, 0.12, ax)
    fore = stroke(fy, 0.004) + 0.9 * stroke(fy - 0.035, 0.0036) + 0.7 * stroke(fy - 0.068, 0.0032)
    fore = fore * fwin * 0.45 * sh.smoothstep(0.25, 0.8, lines)
    # Crow's feet: three short rays from the outer eye corners.
    cu = ax - edx - ew - 0.012
    cwin = sh.smoothstep(-0.004, 0.004, cu) * sh.smoothstep(0.032, 0.02, cu)
    crow = (stroke(y - ey + 0.25 * cu, 0.0025) + stroke(y - ey - 0.012 - 0.45 * cu, 0.0025) + stroke(y - ey + 0.014 + 0.6 * cu, 0.0025))
    crow = crow * cwin * 0.5 * sh.smoothstep(0.35, 0.85, lines)
    # Under-eye: one soft arc (bags with sagging).
    ue = (ax - edx) / (ew * 1.1)
    uwin = torch.clamp(1.0 - ue * ue, 0.0, 1.0)
    under = stroke(y - (ey + eh * 0.85 + 0.018 + 0.008 * sag - 0.01 * uwin), 0.0035) * uwin * (0.8 * sag)
    # Marionette lines: short soft curves below and outside the mouth corners, apart from
    # the smile folds, bending in towards the chin.
    mt = (y - my - 0.022) / 0.04
    mtc = torch.clamp(mt, 0.0, 1.0)
    mx = mw * 1.12 + 0.008 - 0.012 * mtc * mtc
    mwin = torch.clamp(torch.sin(math.pi * mtc), 0.0, 1.0) * (mt > 0.0).to(x.dtype) * (mt < 1.0).to(x.dtype)
    mar = (stroke(ax - mx, 0.0028) + 0.3 * stroke(ax - mx + 0.007, 0.008)) * mwin * 0.4 * sh.smoothstep(0.3, 0.9, sag)
    dark = torch.clamp(fold + fore + crow + under + mar, 0.0, 0.7)
    return img * (1.0 - dark * col(0.34, 0.40, 0.40, like=x))


def marks(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, freckles: Tensor) -> Tensor:
    """Freckles across the nose and cheeks, and a beauty mark at one of a few spots.

    Args:
        freckles: The fixed dot field cropped to this region ([1, 1, h, w]).
    """
    ax = torch.abs(x)
    zone = sh.soft(sh.ellipse(ax, y, g["eye_dx"] * 0.55, g["nose_y"] - 0.05, g["eye_dx"] + 0.06, 0.07), 0.03)
    a = freckles * zone * torch.clamp(g["freckles"] * 1.2, 0.0, 1.0) * 0.4
    img = img * (1.0 - a * col(0.30, 0.40, 0.48, like=x))
    # Beauty mark: at exactly one of a few deliberate spots, the one nearest mole_pos (a
    # blend of two spots put it in between, e.g. in the philtrum, where it read as dirt).
    spots = (
        (-0.9, g["nose_y"] + 0.0, g["eye_dx"]),  # cheek beside the nose
        (0.8, g["mouth_y"] - 0.065, g["mouth_w"]),  # above the lip's corner
        (-1.75, g["mouth_y"] - 0.01, g["mouth_w"]),  # low on the cheek, beside the mouth
        (1.0, g["eye_y"] + 0.075, g["eye_dx"]),  # on the cheekbone under the eye
        (-0.75, g["mouth_y"] - 0.065, g["mouth_w"]),  # above the lip's other corner
        (0.75, g["nose_y"] + 0.03, g["eye_dx"]),  # cheek beside the nose wing
    )
    pos = torch.round(torch.clamp(g["mole_pos"], 0.0, 1.0) * (_MOLE_SPOTS - 1))
    mx = torch.zeros_like(pos)
    my = torch.zeros_like(pos)
    for i, (fx, sy, scale) in enumerate(spots):
        w = (pos == float(i)).to(pos.dtype)
        mx = mx + w * fx * scale * 1.1
        my = my + w * sy
    mole = sh.fill(sh.ellipse(x, y, mx, my, 0.0075, 0.0075), px) * torch.clamp(g["mole"] * 1.5 - 0.2, 0.0, 1.0)
    return img + (img * col(0.45, 0.36, 0.34, like=x) - img) * mole
