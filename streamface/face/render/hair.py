"""Hair: 13 masculine and 13 feminine styles described by a few continuous attributes.

Each style is a row of `STYLE_COLUMNS`; a face's style is a blend of rows (two chosen
styles mixed by `hair_mix`), so hair stays a continuous function of the parameters. The
hair is drawn as clean shapes: a silhouette (with volume, curls, buns, tails and long
lengths), a hairline (fringe, parting, recession), curtains that frame the face, soft
shading, a glossy highlight band and a few strand lines.
"""

from __future__ import annotations

import torch
from torch import Tensor

from streamface.face import shapes as sh
from streamface.face.params import HAIR_STYLES
from streamface.face.render import eyes as eye_layer
from streamface.face.render import skin
from streamface.face.render.common import Geometry

SHAPE_COLUMNS: tuple[str, ...] = (
    "cover", "top", "side", "length", "recede", "curl", "fringe", "part", "bun", "tail", "undercut", "quiff", "tuck",
    "density",
)
"""cover: hair on top (0 bald); top/side: volume; length: 0 above the ears .. 0.35 chin ..
1 long; recede: hairline recession; curl: 0 straight .. 0.5 wavy .. 1 curly; fringe: bangs;
part: side sweep; bun: a bun or puff on top; tail: a ponytail; undercut: clipped sides;
quiff: lifted front; tuck: long hair behind the ears; density: 1 opaque .. buzz-cut."""

CUT_COLUMNS: tuple[str, ...] = ("parting", "sheen", "fade", "tousle")
"""What tells short men's cuts apart at a call tile's size (0 on every other style):
parting: a visible parting line with the hair swept away from it; sheen: hair combed back
flat and glossy; fade: clipped sides fading to skin, reaching higher; tousle: an uneven,
piecey top."""

STYLE_COLUMNS: tuple[str, ...] = SHAPE_COLUMNS + CUT_COLUMNS

SHAPES: dict[str, tuple[float, ...]] = {
    #                cover top   side  len   rec   curl  fr    part  bun   tail  under quiff tuck  dens
    "bald":         (0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.9),
    "buzz":         (1.0, 0.0, 0.0, 0.0, 0.15, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0, 1.0, 0.55),
    "receding":     (1.0, 0.15, 0.05, 0.0, 0.35, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0),
    "crew":         (1.0, 0.20, 0.0, 0.0, 0.15, 0.0, 0.25, 0.0, 0.0, 0.0, 0.5, 0.15, 1.0, 1.0),
    "side_part":    (1.0, 0.40, 0.06, 0.0, 0.15, 0.0, 0.0, 1.0, 0.0, 0.0, 0.3, 0.3, 1.0, 1.0),
    "quiff":        (1.0, 0.55, 0.05, 0.0, 0.15, 0.1, 0.0, 0.3, 0.0, 0.0, 0.6, 1.25, 1.0, 1.0),
    "undercut":     (1.0, 0.80, 0.0, 0.0, 0.15, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.6, 1.0, 1.0),
    "slick_back":   (1.0, 0.22, 0.15, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 1.0, 1.0),
    "curly_top":    (1.0, 0.70, 0.05, 0.0, 0.15, 1.0, 0.1, 0.0, 0.0, 0.0, 0.9, 0.4, 1.0, 1.0),
    "short_afro":   (1.0, 0.60, 0.25, 0.0, 0.1, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0),
    "french_crop":  (1.0, 0.20, 0.0, 0.0, 0.15, 0.0, 0.55, 0.0, 0.0, 0.0, 0.9, 0.0, 1.0, 1.0),
    "high_fade":    (1.0, 0.60, 0.0, 0.0, 0.15, 0.0, 0.0, 0.4, 0.0, 0.0, 1.0, 0.6, 1.0, 1.0),
    "textured":     (1.0, 0.50, 0.08, 0.0, 0.12, 0.3, 0.15, 0.3, 0.0, 0.0, 0.6, 0.4, 1.0, 1.0),
    "pixie":        (1.0, 0.45, 0.15, 0.0, 0.0, 0.2, 0.6, 1.0, 0.0, 0.0, 0.2, 0.2, 1.0, 1.0),
    "bob":          (1.0, 0.45, 0.40, 0.36, 0.0, 0.0, 0.2, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "bob_bangs":    (1.0, 0.45, 0.40, 0.36, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "lob_waves":    (1.0, 0.50, 0.50, 0.55, 0.0, 0.5, 0.1, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "long":         (1.0, 0.40, 0.30, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "long_bangs":   (1.0, 0.40, 0.30, 0.9, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "long_waves":   (1.0, 0.50, 0.50, 0.95, 0.0, 0.5, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "side_swept":   (1.0, 0.45, 0.35, 0.8, 0.0, 0.1, 0.55, 1.0, 0.0, 0.0, 0.0, 0.0, 0.3, 1.0),
    "ponytail":     (1.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0),
    "bun":          (1.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0),
    "curly_shoulder": (1.0, 0.65, 0.65, 0.55, 0.0, 1.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 1.0),
    "afro":         (1.0, 1.0, 1.0, 0.28, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0),
    "afro_puff":    (1.0, 0.25, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0),
}
CUTS: dict[str, tuple[float, ...]] = {
    #                parting sheen fade tousle
    "side_part":    (1.0, 0.0, 0.0, 0.0),
    "undercut":     (0.8, 0.0, 0.4, 0.0),
    "slick_back":   (0.0, 1.0, 0.0, 0.0),
    "french_crop":  (0.0, 0.0, 0.3, 0.2),
    "high_fade":    (0.0, 0.0, 1.0, 0.0),
    "textured":     (0.0, 0.0, 0.0, 1.0),
}
NO_CUT = (0.0,) * len(CUT_COLUMNS)
STYLES: dict[str, tuple[float, ...]] = {name: row + CUTS.get(name, NO_CUT) for name, row in SHAPES.items()}
"""Every style's row of `STYLE_COLUMNS`, in `params.HAIR_STYLES` order."""
assert set(CUTS) <= set(SHAPES)
assert tuple(STYLES) == HAIR_STYLES, "hair STYLES rows != params.HAIR_STYLES"
assert all(len(row) == len(STYLE_COLUMNS) for row in STYLES.values())


COIL = 0.07
"""Diameter of one curl (drawing units: about 19 px at 512, 10 px at 256)."""


def coils(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Curls as round coils on a gently warped hexagonal layout.

    Returns the distance from the nearest coil's centre in coil radii (0 centre, ~1 edge),
    the unit direction (dx, dy) from that centre and a fixed pseudo-random angle per coil.
    The warp keeps the coils from lining up in rows and columns: a separable
    (cos x * cos y) pattern read as a waffle.
    """
    s = COIL
    u = x + 0.3 * s * torch.sin(y * 17.0 + 2.0 * torch.sin(x * 7.0))
    v = y + 0.3 * s * torch.sin(x * 19.0 + 1.3 + 1.5 * torch.sin(y * 5.0))
    h = s * 3.0**0.5
    ax_, ay = u - s * (torch.floor(u / s) + 0.5), v - h * (torch.floor(v / h) + 0.5)
    bx, by = u - s * torch.floor(u / s + 0.5), v - h * torch.floor(v / h + 0.5)
    use_a = (ax_ * ax_ + ay * ay) < (bx * bx + by * by)
    dx, dy = torch.where(use_a, ax_, bx), torch.where(use_a, ay, by)
    dist = torch.sqrt(dx * dx + dy * dy + 1e-8)
    turn = 6.0 * torch.sin((u - dx) * 91.7 + (v - dy) * 47.3)
    return dist / (0.5 * s), dx / dist, dy / dist, turn


def silhouette(g: Geometry, x: Tensor, y: Tensor, full: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Signed distance of the whole hair mass, and the ellipse it is lit as (cy, rx, ry).

    ``full=False`` leaves out the bun, which never reaches the face (a cheaper shape for
    the per-frame fringe mask). A ponytail's tail is not part of it (`tail`).
    """
    top, side, curl = g["h_top"], g["h_side"], g["h_curl"]
    cy, rx, ry = g["cy"], g["rx"], g["ry"]
    # Thinning hair loses its volume on top before a bald patch opens there (a patch cut
    # into a tall quiff or slick-back was a skin-coloured hole in the hair).
    lift = 1.0 - thinned(g)
    hcy = cy - (0.015 + 0.04 * top) * lift
    # Short masculine cuts hug the head at the sides (no helmet or bowl).
    snug = g["masc"] * (1.0 - sh.smoothstep(0.1, 0.4, g["h_length"]))
    hrx = rx + 0.014 - 0.008 * snug + (0.03 * top + 0.17 * side) * (1.0 - 0.8 * g["h_undercut"])
    hry = ry + 0.006 + (0.012 + 0.075 * top + 0.05 * side) * lift
    d = sh.ellipse(x, y, 0.0, hcy, hrx, hry)
    quiff = g["h_quiff"] * lift
    quiff_d = sh.ellipse(x - 0.05 * g["h_dir"], y, 0.0, cy - ry + 0.01, 0.15, 0.05 + 0.04 * quiff)
    d = sh.smin(d, quiff_d + 0.15 * (1.0 - quiff), 0.05)
    length = g["h_length"]
    has_long = sh.smoothstep(0.08, 0.25, length)
    y_end = g["chin_y"] - 0.30 + 0.9 * length
    half_w = rx + 0.03 + 0.13 * side + 0.04 * length
    long_d = sh.superellipse(x, y, 0.0, (hcy + y_end) * 0.5, half_w, (y_end - hcy) * 0.5 + 1e-3, 3.2)
    d = sh.smin(d, long_d + 0.3 * (1.0 - has_long), 0.05)
    # A curly outline is a row of coils (round bumps where coils meet the edge); wavy hair
    # keeps its soft wave (measured: changing it made face-api read lob_waves faces surprised).
    curly = sh.smoothstep(0.5, 1.0, curl)
    wave = (0.007 + 0.012 * side) * torch.sin(x * 52.0) * torch.sin(y * 50.0 + 1.0)
    bumps = curl * ((1.0 - curly) * wave + curly * (0.008 + 0.010 * side) * (coils(x, y)[0] - 0.7))
    d = d + bumps
    # A tousled top: uneven tufts standing up along the upper outline.
    tufts = torch.relu(torch.sin(x * 47.0 + 2.5 * torch.sin(x * 13.0 + 1.0))) ** 2
    d = d - g["h_tousle"] * 0.022 * tufts * sh.smoothstep(hcy - 0.2 * hry, hcy - 0.8 * hry, y) * lift
    if not full:
        return d, hcy, hrx, hry
    # A bun (or an afro puff) on top. (A ponytail's tail is `tail`, drawn by `back_hair`.)
    bun = g["h_bun"]
    size = (0.55 + 0.45 * bun) * (1.0 + 0.45 * curl)
    bun_d = sh.ellipse(x, y, 0.0, cy - ry - 0.06 * bun * size, 0.10 * size, 0.08 * size) + bumps
    d = torch.minimum(d, bun_d + 0.3 * (1.0 - torch.clamp(bun * 3.0, 0.0, 1.0)))
    return d, hcy, hrx, hry


TAIL_LENGTH = 0.62
"""How far a full ponytail hangs below its root behind the jaw (drawing units): onto the chest."""


def _tail_path(g: Geometry, t: Tensor) -> tuple[Tensor, Tensor]:
    """The tail's centre line (x) and half width at ``t`` along it (0 root .. 1 full tip)."""
    # Thick as gathered hair is, tapering over its lower half. Its inner edge runs behind
    # the neck's (no backdrop between them) down to the shoulders, then leaves it to lie
    # over the collarbone and the front of the shoulder; its root, behind the jaw, is
    # narrower and further in, so that no end of it shows there: it comes out from behind.
    root = sh.smoothstep(0.0, 0.15, t)
    half = 0.072 * (0.75 + 0.25 * root) * (1.0 - 0.62 * sh.smoothstep(0.3, 1.0, t))
    inner = g["neck_w"] - 0.012 - 0.03 * (1.0 - root) + 0.05 * sh.smoothstep(0.3, 0.7, t)
    return torch.sign(g["h_dir"]) * (inner + half), half


def tail(g: Geometry, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A ponytail worn low and brought forward over one shoulder (the ``h_dir`` side).

    Returns its signed distance, the place across it (-1 left edge .. 1 right edge), the
    place along it (0 at the root .. 1 at a full tail's tip) and its half width there.

    It is gathered behind the head: its root is behind the jaw, it comes out from behind
    the neck below the ear and lies over the front of the shoulder (`back_hair` draws it
    behind the neck, ears and face, over the top). (Hung from the temple beside the cheek
    and neck, a thin strand ending in the air below the jaw, it read as a stray lock.)
    A part of a ponytail (a style blended in by an uncertain presentation, or a morph)
    is a shorter tail growing down from that root, never a thinner one: shrinking its
    outline drew a lock a pixel wide, a dashed line down the neck.
    """
    # (A morph that moves the parting to the other side draws the tail back behind the jaw
    # and out over the other shoulder: it never hangs down the middle of the chest.)
    grown = torch.clamp(g["h_tail"] * 3.0, 0.0, 1.0) * sh.smoothstep(0.0, 0.5, torch.abs(g["h_dir"]))
    y0 = g["jaw_y"] - 0.06
    t = (y - y0) / TAIL_LENGTH
    xc, half = _tail_path(g, t)
    # It ends in a rounded point (an ellipse longer than wide) wherever it stops growing;
    # the first tenth of its growth stays behind the jaw.
    t_end = torch.clamp(1.1 * grown - 0.13, min=0.0)
    xe, he = _tail_path(g, t_end)
    ye = y0 + TAIL_LENGTH * t_end
    band = torch.maximum(torch.abs(x - xc) - half, torch.maximum(y - ye, y0 - y))
    d = torch.minimum(band, sh.ellipse(x, y, xe, ye, he, 0.03 + he))
    absent = 0.8 * (grown <= 0.0).to(x.dtype)  # no tail at all: out of the picture
    return d + absent, (x - xc) / half, t, half


def curtain_edge(g: Geometry, x: Tensor, y: Tensor) -> Tensor:
    """How far from the centre the curtains of longer hair begin at each height."""
    sweep = 0.5 + 0.5 * torch.tanh(x * g["h_dir"] / 0.08)  # 1 on the side the hair is swept to
    reach = sh.smoothstep(g["cy"] - g["ry"] + 0.05, g["eye_y"], y)
    return g["rx"] * (0.78 - 0.05 * g["h_side"]) * torch.sqrt(reach + 1e-4) - 0.07 * g["h_part"] * sweep * (1.0 - reach)


def colour(g: Geometry, x: Tensor, y: Tensor, hcy: Tensor, hrx: Tensor, hry: Tensor) -> Tensor:
    """Shaded hair colour: lit from the upper left, a glossy band, strand lines or curls."""
    nx = x / hrx
    ny = (y - hcy) / hry
    lit = sh.smoothstep(-0.3, 0.7, -0.6 * nx - 0.7 * ny + 0.2)
    shade = 0.58 + 0.52 * lit
    xp = 0.09 * g["h_part"] * g["h_dir"]
    # (With a parting line the strands fan out from it, swept across the top.)
    xp = xp + (parting_x(g) - xp) * g["h_parting"]
    yp = g["cy"] - g["ry"] - 0.08
    q = (x - xp) / (torch.abs(y - yp) + 0.12)
    curl = torch.clamp(g["h_curl"], 0.0, 1.0)
    tousle, slick = g["h_tousle"], g["h_sheen"]
    # Tousled hair: strands bent this way and that in pieces; combed-back hair: crisp grooves.
    qt = q + tousle * 0.10 * torch.sin(y * 55.0 + 4.0 * torch.sin(x * 21.0))
    grooves = 0.14 + 0.22 * slick + 0.12 * tousle
    strands = 1.0 - grooves * sh.power(torch.relu(torch.cos(qt * 24.0 + 0.4)), 6) * (1.0 - curl)
    # Coils: each an open C-shaped stroke of shadow with a lit stroke just inside it on the
    # side facing the light, each turned and sized its own way. (A closed ring with a sheen
    # inside read as a bubble, and a shade where the coils meet outlined scales.)
    cr, cdx, cdy, turn = coils(x, y)
    rad = 0.66 + 0.12 * torch.sin(1.7 * turn + 0.5)
    facing = 0.6 * cdx + 0.8 * cdy  # -1 towards the light (upper left) .. 1 away
    open_ = sh.smoothstep(-0.35, 0.25, cdx * torch.cos(turn) + cdy * torch.sin(turn))
    loop = torch.exp(-(((cr - rad) / 0.11) ** 2)) * (1.0 - open_)
    sheen = torch.exp(-(((cr - rad + 0.2) / 0.1) ** 2)) * (1.0 - open_) * torch.relu(-facing)
    # (Loops only on curly hair: wavy hair keeps its soft wave shadows.)
    curly = sh.smoothstep(0.5, 1.0, curl)
    # Waves: soft shadow bands across the strands, bending from strand to strand as the
    # locks fall (a grid of cosines here read as quilting or scales at 100 %).
    across = torch.cos(y * 38.0 + 1.6 * torch.sin(q * 5.0) + 0.8 * torch.sin(x * 9.0))
    waves = curl * 0.12 * torch.relu(across) ** 2
    curls = 1.0 - (1.0 - curly) * waves - curly * (0.2 * loop - 0.1 * sheen)
    r = torch.sqrt(nx * nx + ny * ny + 1e-6)
    band = torch.exp(-(((r - 0.74) / 0.075) ** 2)) * sh.smoothstep(0.25, -0.35, ny) * (0.55 + 0.45 * sh.smoothstep(0.4, -0.4, nx))
    band = band * (0.6 + 0.4 * torch.cos(q * 11.0)) * (1.0 - 0.7 * curl)
    # A slick-back's wet-look sheen: a stronger, wider band; tousled pieces catch the light.
    band = band * (1.0 + 0.9 * slick) + slick * 0.35 * torch.exp(-(((r - 0.6) / 0.12) ** 2)) * sh.smoothstep(0.2, -0.4, ny)
    pieces = tousle * 0.5 * sh.power(torch.relu(torch.cos(qt * 12.0 + 1.0 + 1.5 * torch.sin(y * 40.0))), 4) * lit
    # (base * strands * curls + (gloss - 0.5 * base) * highlight with base = hair * shade,
    # gathered per pixel first: two colour-wide products where there were eight.)
    hair = g["hair"]
    gloss = hair * 0.55 + 0.26
    highlight = (band + pieces) * 0.55
    return hair * (shade * strands * curls - 0.5 * shade * highlight) + gloss * highlight


def tail_colour(g: Geometry, u: Tensor, t: Tensor, half: Tensor) -> Tensor:
    """A ponytail's colour at ``u`` across, ``t`` along it and ``half`` its half width there
    (`tail`), lit and stranded like the rest of the hair: a rounded rope of hair lit from
    the left, strands running along it, fewer where it tapers, and a glossy streak on the
    lit side."""
    across = torch.clamp(u, -1.0, 1.0)
    rounded = torch.sqrt(1.0 - across * across + 1e-4)
    lit = sh.smoothstep(-0.9, 0.6, -across)
    shade = (0.6 + 0.45 * lit) * (0.78 + 0.22 * rounded)
    # Strands a fixed width apart (where it tapers there are fewer, never finer ones: lines
    # finer than a pixel broke into dots), with a little twist along its length.
    k = across * half / 0.014 + 0.5 * torch.sin(t * 11.0 + across * 1.5)
    strands = 1.0 - 0.16 * sh.power(torch.relu(torch.cos(k * 3.1416)), 4)
    streak = torch.exp(-(((across + 0.38 - 0.1 * torch.sin(t * 7.0)) / 0.22) ** 2))
    streak = streak * (0.6 + 0.4 * torch.cos(k * 1.7)) * sh.smoothstep(0.1, 0.3, t) * (1.0 - 0.7 * torch.clamp(g["h_curl"], 0.0, 1.0))
    # (base * strands + (gloss - 0.5 * base) * streak / 2 with base = hair * shade, gathered
    # per pixel first.)
    hair = g["hair"]
    gloss = hair * 0.55 + 0.26
    highlight = streak * 0.5
    return hair * (shade * strands - 0.5 * shade * highlight) + gloss * highlight


def parting_x(g: Geometry) -> Tensor:
    """Where a visible parting runs: on the side the hairline lifts (away from the sweep)."""
    return -0.38 * g["rx"] * g["h_dir"]


def thinned(g: Geometry) -> Tensor:
    """How far thinning has flattened the hair on top: 0 full volume .. 1 lying on the head,
    complete before a bald patch opens (`bald_crown`)."""
    return sh.smoothstep(0.42, 0.5, g["h_recede"])


def bald_crown(g: Geometry, x: Tensor, y: Tensor) -> Tensor:
    """Coverage of the bald patch on top of the head (`bald_d`, cut crisply)."""
    return _crisp(bald_d(g, x, y))


def _crisp(bald: Tensor) -> Tensor:
    return torch.sigmoid(bald / -0.005)


def bald_d(g: Geometry, x: Tensor, y: Tensor) -> Tensor:
    """Signed distance of the bald patch on top of the head: strong thinning's, or a bald style's.

    A clean-edged shape coming in from the top of the head and growing towards the temples
    (so thinning never shows as translucent hair, nor as a hole in it), leaving a horseshoe
    of hair at the sides. A bald style
    (no ``cover``) opens it fully: a fade of the hair's opacity drew translucent grey
    patches at the temples.
    """
    b = torch.maximum(g["h_bald"], sh.smoothstep(0.2, 0.8, 1.0 - g["h_cover"]))
    cy, rx, ry = g["cy"], g["rx"], g["ry"]
    # The patch grows in size, never in opacity (a faint patch is see-through hair): from
    # skin at the top of the outline to, fully bald, a wide one reaching down the sides to
    # about the brows, so what is left is a horseshoe whose upper edge runs round the head
    # (a crown ellipse alone left horn-like points at the temples).
    grow = sh.smoothstep(0.0, 0.25, b)
    t = sh.smoothstep(0.15, 1.0, b)
    top = cy - ry
    # It comes in from the top of the outline, open upwards: the region above a wide, low
    # arc that sinks from above the (flattened, `thinned`) hair to below the hairline, so
    # thinning on top is skin at the top of the head, never a hole in the hair (a patch
    # growing from a speck on the crown read as a wound). (Pushed out of the picture until
    # it starts: open upwards, it would cut the top of tall hair, a bun or an afro.)
    pcy = (top + 0.02 - 0.115 * (1.0 - sh.smoothstep(0.03, 0.16, b))) + ((cy - 0.35) - (top + 0.02)) * t
    prx = rx * (0.35 + 0.45 * b + 0.4 * t) + 1e-3
    pry = 0.06 + (0.04 * (1.0 - t) + 0.16 * b) * grow + 0.02 * t
    d = sh.ellipse(x, y, 0.0, pcy, prx, pry)
    # Where the arc comes close to the hairline the hair between them goes with it, and all
    # of it once its thickest part is that thin: a thin piece left between them read as a
    # line across the scalp, a stray tuft or a dot.
    def arc_at(xs: Tensor) -> Tensor:
        return pcy + pry * torch.sqrt(1.0 - torch.clamp(xs / prx, -1.0, 1.0) ** 2 + 1e-6)

    arc, y_hl = arc_at(x), hairline(g, x)
    # (The height of the hair between them, on the grid and at seven columns over the top.)
    cols = [torch.full_like(pcy, 0.03 * i) for i in range(-3, 4)]
    thickest = torch.stack([hairline(g, c) - arc_at(c) for c in cols]).amax(0)
    gone = torch.maximum(sh.smoothstep(0.05, 0.04, y_hl - arc), sh.smoothstep(0.09, 0.08, thickest))
    # (Only over the top of the head: the hairline runs down to the ears at the sides.)
    gone = gone * sh.smoothstep(0.0, 0.05, b) * sh.smoothstep(0.55, 0.45, torch.abs(x) / rx)
    edge = arc + (y_hl + 0.03 - arc) * gone
    d = torch.minimum(d, torch.maximum(torch.abs(x) - prx, y - edge)) + 0.5 * (1.0 - sh.smoothstep(0.0, 0.05, b))
    # ... and what is left narrows upwards along the outline (a block at the temple read as
    # a sideburn stuck on).
    # A younger man's bald style is a shaved head: the patch then reaches past the
    # outline (two tabs of hair left at the temples read as stuck on); an older man's
    # keeps his horseshoe.
    shaved = sh.smoothstep(0.2, 0.8, 1.0 - g["h_cover"]) * (1.0 - sh.smoothstep(0.0, 0.4, g["old"]))
    # (Its sides run close to parallel with the outline, so what is left narrows upwards to
    # an end along it instead of being cut across: a tab with a flat top read as stuck on.)
    t2 = t * t * (1.0 - shaved)
    lower = sh.ellipse(
        x, y, 0.0, cy - 0.30 + 0.22 * t2, rx * (0.84 - 0.08 * t2 + 0.5 * shaved) * t + 1e-3, (0.36 + 0.12 * t2 + 0.2 * shaved) * t + 1e-3
    )
    d = torch.minimum(d, lower + 0.05 * (1.0 - sh.smoothstep(0.0, 0.05, t)))
    # What is left lies close to the head above the ears (no volume standing up beside it,
    # nor a ring of it round the patch): an outline that closes in on the head as the
    # patch grows and widens smoothly below the temples, always cut crisply (a cut that
    # faded in, or ran across a row, left bands of see-through hair).
    widen = 0.08 * sh.smoothstep(cy - 0.04, cy + 0.08, y) + 0.4 * (1.0 - sh.smoothstep(0.02, 0.2, b))
    hug = sh.ellipse(x, y, 0.0, cy, rx + 0.04 + widen, ry + 0.012 + widen)
    # Where the patch's edge meets that outline the hair left ends rounded (a sharp corner
    # there was the top of a rectangular tab stuck on at the temple).
    return sh.smin(d, -hug, TEMPLE_ROUND * sh.smoothstep(0.0, 0.2, b) + 1e-4)


TEMPLE_ROUND = 0.05
"""How round the ends of what thinning leaves at the temples are (drawing units)."""


def mass(g: Geometry, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """What the back and the front hair both draw from, on one grid: the hair's signed
    distance ``d`` and lit ellipse (``hcy``, ``hrx``, ``hry``: `silhouette`), its shaded
    colour ``shaded`` (`colour`) and the bald patch's distance ``bald`` (`bald_d`).

    `FaceRenderer.prepare` computes it once over the back hair's box and hands the front
    hair its crop (the head box lies inside it): the same values, computed once."""
    d, hcy, hrx, hry = silhouette(g, x, y)
    return {
        "d": d, "hcy": hcy, "hrx": hrx, "hry": hry,
        "shaded": colour(g, x, y, hcy, hrx, hry), "bald": bald_d(g, x, y),
    }


def back_hair(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, m: dict[str, Tensor]) -> Tensor:
    """The hair mass behind the head, drawn after the shoulders.

    It is hidden behind the neck and the top (below the jaw, between the shoulders) and
    falls in front of the shoulders beside the neck. Where curtains of longer hair hang
    beside the face it has the front hair's colour (so the front layer, drawn only round
    the head, joins it without a seam); between them, behind the neck, it is in shadow.
    ``m``: `mass` on this grid.
    """
    # (No hair on top is bald_crown's clean shape, not a fainter hair mass.)
    a = sh.fill(m["d"], px) * g["h_density"]
    # Hidden exactly where the neck is (`_neck_edge`), only where the neck shows: below the
    # neckline the top is in front, and the hair falls in front of it.
    ax = torch.abs(x)
    neck_edge = _neck_edge(g, y)
    behind_neck = sh.fill(ax - neck_edge, px) * torch.sigmoid((y - 0.2) / 0.01)
    a = a * (1.0 - behind_neck) * (1.0 - _crisp(m["bald"]))
    behind = sh.soft(ax - curtain_edge(g, x, y), 0.01) * sh.smoothstep(g["eye_y"], g["chin_y"], y)
    behind = torch.maximum(behind, sh.smoothstep(0.55, 0.3, g["h_length"]))
    # Hair in shade, not a black slab: a light shadow (less on grey and white hair, where it
    # reads as a stripe), deepest only in a soft contact shadow along the neck.
    contact = _neck_contact(ax, neck_edge, y)
    shadow = (0.22 - 0.08 * g["grey"]) * behind + 0.14 * contact
    shaded = m["shaded"] * (1.0 - shadow) + 0.03 * behind
    return sh.over(img, shaded, a)


def tail_layer(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float) -> Tensor:
    """A ponytail over the shoulder (`tail`), drawn after the back hair (in `TAIL_BOX`):
    behind the neck from under the jaw down to the shoulders, over the chest and the top
    below them, with a soft shadow on the body beside it."""
    ax = torch.abs(x)
    neck_edge = _neck_edge(g, y)
    neck_shows = sh.fill(ax - neck_edge, px) * torch.sigmoid((y - g["cy"] - 0.3) / 0.01) * torch.sigmoid((0.38 - y) / 0.01)
    td, across, along, half = tail(g, x, y)
    a = sh.fill(td, px) * g["h_density"] * (1.0 - neck_shows)
    # Its shadow falls beside it, away from the light, on the top and the chest (none on the
    # backdrop far behind, nor on the neck in front of it).
    neck_d, top_d = skin.body_d(g, x, y)
    on_body = sh.fill(torch.minimum(neck_d, top_d), px) * (1.0 - neck_shows)
    cast = sh.soft(tail(g, x - 0.012, y - 0.016)[0], 0.012) * on_body * g["h_density"]
    img = img * (1.0 - 0.3 * cast)
    # (Darker along the neck, as the back hair is.)
    return sh.over(img, tail_colour(g, across, along, half) * (1.0 - 0.3 * _neck_contact(ax, neck_edge, y)), a)


def _neck_edge(g: Geometry, y: Tensor) -> Tensor:
    """Where the hair behind the neck meets the neck's outline (its flare included, down to
    the neckline): a margin beyond it left a strip of backdrop between the hair and the neck."""
    return g["neck_w"] + skin.neck_flare(torch.clamp(y, max=0.36)) - 0.004


def _neck_contact(ax: Tensor, neck_edge: Tensor, y: Tensor) -> Tensor:
    """The soft contact shadow of hair along the neck (``ax``: distance from the centre line)."""
    return torch.exp(torch.clamp(ax - neck_edge, min=0.0) / -0.02) * torch.sigmoid((y - 0.2) / 0.02)


def hairline(g: Geometry, x: Tensor) -> Tensor:
    """Height of the front hairline (fringe, parting, recession) at each ``x``; it runs down
    to the top of the ears at the sides."""
    ax = torch.abs(x)
    rx = g["rx"]
    top = g["cy"] - g["ry"]
    # Older men's hairlines recede further whatever the style (a receding style starts as a
    # mild M on a young man).
    rec = torch.clamp(g["h_recede"] + 0.4 * g["old"] * g["masc"], 0.0, 1.0)
    fringe, part, hdir = g["h_fringe"], g["h_part"], g["h_dir"]
    temples = torch.exp(-(((ax - 0.15) / 0.06) ** 2))
    y_hl = top + 0.165 - 0.06 * g["hairline"] + 0.02 * g["child"] - rec * (0.10 + 0.08 * temples)
    sweep = 0.5 + 0.5 * torch.tanh(x * hdir / 0.08)
    wave = 0.007 * torch.sin(x * 48.0)  # the fringe's ends
    y_fr = g["brow_y"] - 0.022 + wave + part * (0.045 * sweep - 0.03)
    # With glasses a fringe ends just above the brows (clear of them as they lift in speech):
    # a hidden brow left the frame's top bar as the only brow-like line, high over the eye.
    clear = eye_layer.brow_top(g) - 0.014 + wave
    y_fr = y_fr + (torch.minimum(y_fr, clear) - y_fr) * eye_layer.on_rim(g)
    # A masculine hairline is squarer, with the temples set back a little.
    y_hl = y_hl - 0.03 * g["masc"] * temples * (1.0 - fringe)
    y_hl = y_hl + (y_fr - y_hl) * fringe
    # A side parting lifts the hairline a little on the side away from the sweep.
    y_hl = y_hl - 0.02 * part * (1.0 - sweep) * (1.0 - fringe)
    side = sh.smoothstep(rx * 0.55, rx * 0.9, ax)
    ear_top = g["eye_y"] - 0.02
    y_line = y_hl + (ear_top - y_hl) * side
    return y_line


def _bare(g: Geometry, x: Tensor, y: Tensor, y_line: Tensor, bald: Tensor) -> Tensor:
    """Signed distance of where no hair is (below the hairline or on the bald patch ``bald``,
    `bald_d`): what is left beside a bald patch ends in a rounded corner where the patch
    meets the hairline at the temples (two crisp cuts crossing drew a block there). (Only
    at the sides: over the forehead the patch's own edge is the hairline's.)"""
    temples = sh.smoothstep(0.45, 0.7, torch.abs(x) / g["rx"])
    return sh.smax(y - y_line, -bald, 2.0 * TEMPLE_ROUND * temples + 1e-4)


def front(
    g: Geometry, x: Tensor, y: Tensor, px: float, full: bool = True, m: dict[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """Coverage of the hair in front of the face (cap, fringe, curtains), with what the
    shading needs. Also used every frame to keep the fringe over the brows (``full=False``).
    ``m``: `mass` on this grid, when the caller has it (then ``full`` is True)."""
    ax = torch.abs(x)
    cy, rx = g["cy"], g["rx"]
    if m is None:
        d, hcy, hrx, hry = silhouette(g, x, y, full)
        bald = bald_d(g, x, y)
    else:
        d, hcy, hrx, hry, bald = m["d"], m["hcy"], m["hrx"], m["hry"], m["bald"]
    y_line = swept(g, x, hairline(g, x))
    inside = sh.fill(d, px)
    cap = inside * torch.sigmoid(_bare(g, x, y, y_line, bald) / -(1.3 * px)) * (1.0 - _crisp(bald))
    # Clipped sides are short hair, drawn opaque in a darker tone over the skin
    # (`front_hair`): a fainter cap there let the skin show through as a grey-green patch.
    # (Thinning hair keeps its sides: a fade there took the horseshoe, leaving a tuft on top.)
    fade = g["h_fade"] * (1.0 - sh.smoothstep(0.25, 0.45, g["h_recede"]))
    clip = g["h_undercut"] * sh.smoothstep(rx * (0.62 - 0.2 * fade), rx * (0.82 - 0.2 * fade), ax)
    clip = clip * sh.smoothstep(cy - 0.2 - 0.12 * fade, cy - 0.1 - 0.12 * fade, y)
    # Curtains of longer hair framing the face: always opaque. Shorter or tucked hair draws
    # them narrower (their inner edge moves out, off the face), never fainter: a faded
    # curtain let the cheek and ear show through the hair.
    tuck = g["h_tuck"]
    tucked = 0.25 * (1.0 - sh.smoothstep(0.15, 0.35, g["h_length"])) + 0.06 * tuck + 0.3 * sh.smoothstep(0.5, 0.9, tuck)
    x_in = curtain_edge(g, x, y) + tucked
    y_end = g["chin_y"] - 0.30 + 0.9 * g["h_length"]
    hangs = inside * torch.sigmoid((y_end - y) / px)
    curtain = sh.fill(x_in - ax, px) * hangs
    a = torch.maximum(cap, curtain) * g["h_density"]
    # (A buzz cut keeps its sheer density: drawn opaque in the clipped tone, its cap read as
    # a bob's to dlib, measured in `benchmarks/results/men_probe.md`.)
    short = clip * (1.0 - curtain)
    # A fade's clipped sides go on down to the skin itself by the ears.
    to_skin = fade * sh.smoothstep(cy - 0.3, g["eye_y"] - 0.06, y)
    # Where hair hangs on past the hairline's height (curtains) its roots are not there.
    past = sh.smoothstep(x_in - 0.02, x_in + 0.01, ax) * hangs
    return {
        "a": a, "y_line": y_line, "hcy": hcy, "hrx": hrx, "hry": hry, "short": short,
        "to_skin": to_skin, "past": past,
    }


def clipped(g: Geometry, shaded: Tensor) -> Tensor:
    """The colour of hair clipped short: opaque, a third the hair's shade over a skin tone
    it darkens (short dark hair over skin). Kept light: a tone as dark as the hair drew the
    sides down to the ears like a bob's, and dlib read more of those men as women."""
    skin = g["skin"]
    return shaded * (0.3 + 0.105 * skin) + 0.595 * skin  # 0.3 s + 0.7 skin (0.85 + 0.15 s)


def swept(g: Geometry, x: Tensor, y_line: Tensor) -> Tensor:
    """The hairline of hair swept from a parting: from the parting it runs down across the
    forehead to the far temple, the hair covering the top corner of the forehead there."""
    rx = g["rx"]
    across = sh.smoothstep(parting_x(g) * g["h_dir"], 0.75 * rx, x * g["h_dir"])
    return y_line + g["h_parting"] * 0.05 * across * (1.0 - sh.smoothstep(0.75 * rx, 0.95 * rx, torch.abs(x)))


def parting(g: Geometry, shaded: Tensor, x: Tensor, y: Tensor, f: dict[str, Tensor]) -> Tensor:
    """A side parting: a fine line of scalp from the hairline back over the head, the hair
    lifting off it in a soft shadow on the side it is swept to. It curves in towards the
    crown as it runs back over the head, as a parting does (a straight line read as drawn on)."""
    back = sh.smoothstep(f["y_line"], f["hcy"] - f["hry"], y)  # 0 at the hairline .. 1 on top
    xp = parting_x(g) * (1.0 - 0.35 * back * back)
    up = sh.smoothstep(f["hcy"] - 0.98 * f["hry"], f["hcy"] - 0.82 * f["hry"], y) * torch.sigmoid((f["y_line"] - y) / 0.004)
    line = torch.exp(-(((x - xp) / 0.0055) ** 2)) * up * g["h_parting"]
    lifted = torch.exp(-(((x - xp - 0.013 * g["h_dir"]) / 0.01) ** 2)) * up * g["h_parting"]
    shaded = shaded * (1.0 - 0.3 * lifted)
    return shaded + (g["skin"] * 0.8 - shaded) * 0.55 * line


def front_hair(
    g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float, face_a: Tensor, m: dict[str, Tensor], f: dict[str, Tensor]
) -> Tensor:
    """Draw the front hair (and its soft shadow on the forehead) over the head layers.
    ``m``: `mass` on this grid; ``f``: `front` of it (``m=m``)."""
    a = f["a"]
    # The roots' shade runs along the hairline where the hair starts; across curtains that
    # hang on below that height it drew a dark crease through the hair at brow level.
    root = torch.exp(torch.abs(f["y_line"] - y) / -0.018) * (1.0 - f["past"])
    shaded = m["shaded"] * (1.0 - 0.18 * root)
    shaded = shaded + (clipped(g, shaded) - shaded) * f["short"]
    shaded = shaded + (img - shaded) * (f["short"] * f["to_skin"])
    shaded = parting(g, shaded, x, y, f)
    # The hair's soft shadow on the forehead, just under the hairline.
    below = torch.exp(torch.clamp(y - f["y_line"], min=0.0) / -0.02) * (y > f["y_line"]).to(x.dtype)
    # No hair above the hairline (a bald crown), no shadow: it drew a thin arc on the scalp.
    # (Nor where a bald patch's rounded corner took the hair above it.)
    y_up = f["y_line"] - 0.012
    bald = bald_d(g, x, y_up)
    rounded = torch.sigmoid(-_bare(g, x, y_up, f["y_line"], bald) / 0.003)
    cut = torch.sigmoid(-torch.maximum(y_up - f["y_line"], -bald) / 0.003)
    below = below * (1.0 - torch.sigmoid(-bald / 0.005)) * (rounded + 1e-6) / (cut + 1e-6)
    img = img * (1.0 - 0.16 * below * face_a * (1.0 - a) * g["h_cover"] * g["h_density"])
    return sh.over(img, shaded, a)
