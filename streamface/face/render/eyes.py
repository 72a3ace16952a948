"""Eyes, brows and glasses: drawn every frame (blinks, glances, brows that move with speech).

Eyes are illustrated, not photographic: a clean white, a large iris with a darker rim and
a lighter lower half, a round pupil, two catch-lights, a defined upper lid line, lashes
(longer with a feminine presentation or makeup), a soft crease and a lower lid line.
"""

from __future__ import annotations

import torch
from torch import Tensor

from streamface.face import shapes as sh
from streamface.face.render.common import AnimGetter, Geometry, col


def brow_lift(g: Geometry, a: AnimGetter) -> Tensor:
    """How far the brows rise this frame: a little with open vowels, as people do when talking."""
    opn = torch.clamp(a("mouth_open"), 0.0, 1.0)
    vowel = a("v_a") + 0.6 * a("v_ou") + 0.4 * a("v_ei")
    return 0.012 * opn * torch.clamp(vowel, 0.0, 1.0)


def eyes(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, a: AnimGetter) -> Tensor:
    """Both eyes (lids, sclera, iris, pupil, catch-lights, lashes, crease)."""
    sign = torch.sign(x)
    u = torch.abs(x) - g["eye_dx"]  # positive towards the outer corner
    w, h = g["eye_w"], g["eye_h"]
    v = y - g["eye_y"] + g["eye_tilt"] * u
    t = u / w
    s = torch.clamp(1.0 - t * t, 0.0, 1.0)
    skew = 1.0 - 0.15 * t  # the upper lid peaks towards the inner corner
    # A man's upper lid is flatter (a lower arch over the same opening).
    v_up_open = -h * s ** ((0.75 - 0.3 * g["eye_round"]) * (1.0 - 0.25 * g["masc"])) * skew
    v_low = h * 0.58 * s**0.8  # a relaxed lower lid, lifted a little as in a smile
    blink = torch.clamp(a("blink"), 0.0, 1.0)
    v_up = v_up_open + (v_low - v_up_open) * torch.clamp(blink + g["lid_droop"], 0.0, 1.0)
    inside = torch.sigmoid((v - v_up) / (px * 0.6)) * torch.sigmoid((v_low - v) / (px * 0.6)) * (s > 0).to(x.dtype)
    # White, shaded under the upper lid and towards the corners.
    lid_sh = torch.exp(torch.clamp(v - v_up, min=0.0) / -(0.25 * h))
    white = col(0.97, 0.96, 0.94, like=x) * (0.86 + 0.14 * torch.sqrt(s + 1e-6)) * (1.0 - 0.22 * lid_sh)
    white = white * (1.0 - 0.12 * g["deep"])
    # Iris and pupil follow the gaze.
    # A man's narrower opening keeps a full-size iris (the lids cover more of it).
    ri = torch.minimum(h * (0.98 + 0.12 * g["masc"]), w * (0.56 - 0.04 * g["masc"]))
    ix = x - sign * g["eye_dx"] - a("gaze_x") * w * 0.35
    iy = y - g["eye_y"] - a("gaze_y") * h * 0.3 + 0.16 * h
    r = torch.sqrt(ix * ix + iy * iy + 1e-9)
    iris_a = sh.fill(r - ri, px)
    iris = g["iris"] * (1.0 + 0.35 * sh.smoothstep(-0.2 * ri, 0.8 * ri, iy)) * (1.0 - 0.45 * sh.smoothstep(0.7 * ri, ri, r))
    iris = iris * (1.0 - 0.35 * lid_sh)
    eye = sh.over(white, iris, iris_a)
    eye = sh.over(eye, col(0.03, 0.02, 0.03, like=x), sh.fill(r - ri * 0.46, px))
    glint = sh.fill(sh.ellipse(ix, iy, -ri * 0.32, -ri * 0.36, ri * 0.24, ri * 0.22), px)
    glint2 = sh.fill(sh.ellipse(ix, iy, ri * 0.38, ri * 0.36, ri * 0.09, ri * 0.09), px)
    eye = sh.over(eye, col(1.0, 1.0, 1.0, like=x), torch.maximum(glint, 0.8 * glint2))
    out = sh.over(img, eye, inside)
    # Crease above the lid (a double fold) and a soft lid shadow / eyeshadow.
    crease_v = v_up_open - 0.012 - 0.006 * g["lid_fold"]
    crease = torch.exp(-(((v - crease_v) / 0.0028) ** 2)) * s * sh.smoothstep(0.1, 0.6, g["lid_fold"])
    lid = torch.sigmoid((v - crease_v) / 0.004) * torch.sigmoid((v_up - v) / (px * 0.6)) * s
    shadow_col = col(0.55, 0.42, 0.48, like=x) * (0.6 + 0.4 * g["lum"])
    out = out * (1.0 - 0.22 * crease * col(0.9, 1.0, 1.0, like=x))
    # Older lids are a little heavier: more of the lid in shade under the crease.
    out = out + (out * shadow_col * 1.15 - out) * lid * (0.18 + 0.5 * g["makeup"] + 0.12 * g["sag"])
    # Upper lid line with lashes: heavier towards the outer corner, with a flick.
    lash_t = 0.0012 + 0.0042 * g["fem"] + 0.0025 * g["makeup"] + 0.0008 * g["masc"]
    lash_line = sh.fill(torch.abs(v - v_up + lash_t * 0.4) - lash_t * (0.6 + 0.7 * sh.smoothstep(-0.3, 0.9, t)), px)
    lash_line = lash_line * sh.smoothstep(1.08, 0.95, torch.abs(t))
    flick_len = 0.006 + 0.014 * g["fem"] + 0.008 * g["makeup"]
    fv = v + (u - w * 0.9) * 0.9
    flick = sh.fill(torch.abs(fv) - 0.0025 * (1.0 - sh.smoothstep(w * 0.8, w + flick_len, u)), px)
    flick = flick * sh.smoothstep(w * 0.7, w * 0.85, u) * sh.smoothstep(w + flick_len, w + flick_len * 0.7, u)
    flick = flick * (y < g["eye_y"]).to(x.dtype)
    lash = torch.maximum(lash_line, flick * g["fem"] ** 2)
    out = sh.over(out, g["lash_col"], lash)
    # Lower lid: a fine line, fading when closed.
    low = torch.exp(-(((v - v_low - 0.0015) / 0.0022) ** 2)) * s * (1.0 - blink)
    return out * (1.0 - 0.25 * low)


def brows(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, lift: Tensor) -> Tensor:
    """Tapered brows (heavier and straighter on a masculine face)."""
    u = torch.abs(x) - g["eye_dx"]
    u0 = -g["eye_w"] * 1.15
    u1 = g["eye_w"] * 1.35
    t = (u - u0) / (u1 - u0)
    tc = torch.clamp(t, 0.0, 1.0)
    arch = g["brow_arch"] * (1.0 - ((tc - 0.6) / 0.6) ** 2)
    yb = brow_line(g) - arch - lift * (0.7 + 0.5 * (1.0 - tc)) + 0.008 * tc * tc * (0.5 + 0.25 * g["sag"])
    # A man's brow keeps its weight out to the tail (a straight, blocky shape).
    half = g["brow_t"] * (1.0 - (0.55 - 0.25 * g["masc"]) * tc**1.5) * 0.5
    d = torch.abs(y - yb) - half
    ends = torch.maximum(u0 - u, u - u1)
    d = torch.maximum(d, ends)
    # The inner end is rounder and lighter.
    alpha = sh.fill(d, px) * (0.55 + 0.35 * g["masc"] + (0.45 - 0.35 * g["masc"]) * sh.smoothstep(0.0, 0.25, t))
    # Grey brows: the darker hairs at the brow's root (its lower edge and inner end), silver
    # above and towards the tail, more silver the greyer the hair; no grey, one colour.
    # (Silver streaks inside it, a few pixels apart, read as a mesh, dashes or a glint on a
    # dark bar; one along the top edge as a thin arched line over it.)
    top = sh.smoothstep((0.7 - 0.45 * g["brow_heavy"]) * half, -0.9 * half, y - yb)
    mix = torch.clamp(g["brow_mix"] * (g["brow_root"] * (1.0 + 0.8 * tc) + 0.45 * top), max=1.0)
    colour = g["brow_col"] + (g["brow_silver"] - g["brow_col"]) * mix
    return sh.over(img, colour, alpha * 0.95)


def on_rim(g: Geometry) -> Tensor:
    """How far a brow rests on the top rim of glasses: feminine faces with glasses.

    A feminine brow is thin and arched: above a frame it drew a second, raised line over the
    eye (face-api read 13.5 % of faces with glasses surprised or fearful, 1.3 % without).
    Masculine brows are lower and heavier already, and were read angry when moved onto the rim;
    older brows go only half way (fully on the rim, dlib read more older women as men).
    """
    return g["glasses"] * sh.smoothstep(0.5, 0.9, g["fem"]) * (1.0 - 0.5 * g["old"])


def brow_line(g: Geometry) -> Tensor:
    """Resting height of the brow line (before its arch): lowered, with glasses, to rest on the top rim."""
    _, lh, ly = lens(g)
    rest = ly - lh - 0.5 * g["brow_t"] - 0.010  # the arch's peak just over the rim (touching it)
    return g["brow_y"] + torch.clamp(rest - (g["brow_y"] - g["brow_arch"]), min=0.0) * on_rim(g)


def brow_top(g: Geometry) -> Tensor:
    """Height of the resting brow's highest edge (the peak of its arch)."""
    return brow_line(g) - g["brow_arch"] - 0.5 * g["brow_t"]


def glasses(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float) -> Tensor:
    """Frames round each eye and the bridge (the arms are drawn with the head, `glasses_arms`)."""
    ax = torch.abs(x)
    lw, lh, ly = lens(g)
    n = 2.0 + 2.5 * g["glasses_shape"]
    d = sh.superellipse(ax, y, g["eye_dx"], ly, lw, lh, n)
    thick = 0.005 + 0.004 * (1.0 - torch.clamp(g["glasses_tint"] * 2.0 - 1.0, 0.0, 1.0))
    rim = sh.fill(torch.abs(d) - thick, px)
    inner_edge = g["eye_dx"] - lw * 0.9
    bridge = sh.fill(torch.abs(y - ly + lh * 0.35 - 0.025 * (ax / (inner_edge + 1e-3)) ** 2) - thick * 0.8, px) * sh.fill(ax - inner_edge, px)
    glare = sh.fill(d, px) * torch.exp(-(((x * 0.6 + y - ly + 0.02) / 0.012) ** 2)) * 0.10
    out = sh.over(img, col(1.0, 1.0, 1.0, like=x), glare * g["glasses"])
    return sh.over(out, g["glasses_col"], torch.maximum(rim, bridge) * g["glasses"])


def lens(g: Geometry) -> tuple[Tensor, Tensor, Tensor]:
    """Half-width, half-height and centre height of a lens.

    On a feminine face the bottom bar sits close under the eye: a deep frame, its bottom bar
    well below a feminine eye, outlined a wide-open eye (face-api read women with glasses
    surprised or fearful). Masculine frames stay deep: shallower on every face, more faces read
    sad, fewer men as men and seniors younger.
    """
    # Under a fringe the top bar is the only line near the brows: the frame sits lower there.
    drop = 0.022 * sh.smoothstep(0.3, 0.8, g["h_fringe"])
    raise_ = 0.008 * sh.smoothstep(0.5, 0.9, g["fem"])
    return g["eye_w"] * 1.5 + 0.012, g["eye_h"] + 0.038 - raise_ - 0.5 * drop, g["eye_y"] + 0.004 - raise_ + 0.5 * drop


def glasses_arms(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float) -> Tensor:
    """The arms of the glasses from the lenses to the ears (static)."""
    lw, lh, ly = lens(g)
    ax = torch.abs(x)
    start = g["eye_dx"] + lw
    arm = sh.fill(torch.abs(y - ly + lh * 0.45 - 0.02 * (ax - start)) - 0.004, px)
    arm = arm * sh.smoothstep(start - 0.01, start, ax) * sh.smoothstep(g["rx"] + 0.03, g["rx"] + 0.0, ax)
    return sh.over(img, g["glasses_col"] * 0.8, arm * g["glasses"])
