"""The mouth, drawn every frame: lips with a resting hint of a smile, and for speech an
opening with upper and lower teeth and a tongue, shaped by the viseme weights (rest, A,
E/I, O/U, M/B/P from `streamface.motion.mouth`)."""

from __future__ import annotations

import torch
from torch import Tensor

from streamface.face import shapes as sh
from streamface.face.render.common import AnimGetter, Geometry, col, hue
from streamface.face.render.facial_hair import grown, moustache_colour, moustache_cover

SMILE = 0.024
"""How far the mouth corners sit above the centre of the lips at rest (normalised units)."""


def mouth(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, a: AnimGetter) -> Tensor:
    """Lips, opening, teeth, tongue and the moustache in front of them."""
    ax = torch.abs(x)
    opn = torch.clamp(a("mouth_open"), 0.0, 1.0)
    va, vei, vou, vmbp, vrest = a("v_a"), a("v_ei"), a("v_ou"), a("v_mbp"), a("v_rest")
    total = va + vei + vou + vmbp + vrest + 1e-6
    va, vei, vou, vmbp, vrest = va / total, vei / total, vou / total, vmbp / total, vrest / total
    width = g["mouth_w"] * (1.0 + 0.16 * vei - 0.32 * vou - 0.04 * vmbp + 0.04 * va)
    gap = opn * (0.085 * va + 0.034 * vei + 0.055 * vou + 0.028 * vrest) * (1.0 - vmbp)
    lt = g["lip_t"] * (1.0 - 0.35 * vmbp + 0.25 * vou)
    t = x / width
    s = torch.clamp(1.0 - t * t, 0.0, 1.0)
    sr = s ** (0.5 - 0.25 * vou)  # rounder opening for O/U
    # The resting smile lifts the corners; spread vowels lift them a little more.
    smile = (SMILE + 0.006 * vei - 0.008 * vou) * t * t
    v = y - g["mouth_y"] + smile
    gap_top = -gap * 0.28 * sr
    gap_bot = gap * 0.72 * sr
    bow = 1.0 - 0.45 * torch.exp(-((x / (width * 0.16)) ** 2))  # the cupid's bow dips at the centre
    # A man's upper lip is thinner (a lower lip of the same fullness).
    up_edge = gap_top - lt * (0.80 - 0.25 * g["masc"]) * s**0.45 * (0.72 + 0.28 * bow)
    low_edge = gap_bot + lt * 1.05 * s**0.55
    valid = (s > 0).to(x.dtype)
    lips = torch.sigmoid((v - up_edge) / (px * 0.7)) * torch.sigmoid((low_edge - v) / (px * 0.7)) * valid
    opening = torch.sigmoid((v - gap_top) / (px * 0.6)) * torch.sigmoid((gap_bot - v) / (px * 0.6)) * valid
    # A gap under a pixel is no opening: the two soft edges still overlapped there at a
    # quarter, and a closed mouth showed a pale line of teeth between the lips (grey-lavender
    # on dark skin) instead of the seam.
    opening = opening * torch.clamp(gap / px, 0.0, 1.0)
    # Lips: the upper one in shade, the lower one lit with a soft highlight.
    upper = torch.sigmoid((gap_top - v) / (px * 0.8))
    lip = g["lip"] * (0.78 + 0.22 * (1.0 - upper)) * (0.9 + 0.1 * s)
    gloss = torch.exp(-(((v - gap_bot - lt * 0.42) / (lt * 0.28 + 1e-4)) ** 2)) * (1.0 - upper)
    gloss = gloss * torch.exp(-(((x + 0.012) / (width * 0.45)) ** 2))
    # On darker lips the gloss is a lighter tone of the lip's own colour (as much lighter):
    # a flat white step there drew a pale grey stripe along the lip.
    sheen = 1.0 + (hue(g["lip"]) - 1.0) * g["deep"]
    lip = lip + (0.10 + 0.10 * g["makeup"]) * gloss * sheen
    out = sh.over(img, lip, lips)
    # Closed: a soft line between the lips with small lifted corners.
    closed = 1.0 - sh.smoothstep(0.003, 0.012, gap)
    seam = torch.exp(-(((v - (gap_top + gap_bot) * 0.5) / 0.0028) ** 2)) * sr * closed
    corner = torch.exp(-(((ax - width * 1.02) / 0.005) ** 2 + ((v + 0.002) / 0.004) ** 2)) * closed
    out = out * (1.0 - 0.5 * torch.clamp(seam + 0.6 * corner, 0.0, 1.0) * col(0.8, 1.0, 1.0, like=x))
    # Inside: a warm dark mouth, upper teeth, lower teeth for wide vowels, a tongue.
    depth = sh.smoothstep(gap_top, gap_bot + 1e-3, v)
    inside = col(0.30, 0.09, 0.10, like=x) * (0.75 + 0.25 * depth)
    tongue = sh.fill(sh.ellipse(x, v, 0.0, gap_bot + 0.004, width * 0.6, gap * 0.5 + 0.003), px)
    inside = sh.over(inside, col(0.80, 0.40, 0.42, like=x) * (0.85 + 0.15 * (1.0 - depth)), tongue * (0.4 + 0.6 * (va + vou + vrest)))
    # Teeth show as bands at the top (and, on spread vowels, the bottom) of a dark mouth
    # with the tongue in it: teeth filling the opening read as a grimace.
    upper_h = torch.clamp(gap * 0.3, max=0.018) + 0.003
    teeth_w = sh.smoothstep(0.92, 0.7, ax / width)
    upper_teeth = torch.sigmoid((gap_top + upper_h - v) / (px * 0.7)) * teeth_w
    lower_h = gap * (0.04 + 0.22 * vei) * (1.0 - vou)
    lower_teeth = torch.sigmoid((v - (gap_bot - lower_h)) / (px * 0.7)) * teeth_w * sh.smoothstep(0.8, 0.55, ax / width)
    tooth = col(0.97, 0.96, 0.92, like=x)
    inside = sh.over(inside, tooth * (0.9 + 0.1 * s), torch.maximum(upper_teeth, lower_teeth))
    out = sh.over(out, inside, opening)
    # A moustache hangs in front of the upper lip.
    drawn, length = grown(g)
    must = moustache_cover(g, x, y, px) * drawn
    return sh.over(out, moustache_colour(g, x, y, length), must)
