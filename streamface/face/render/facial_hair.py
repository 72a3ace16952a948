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
from the mouth corners) and how long it is. A style's areas are all or nothing (a fraction
only while one style turns into another): a weight of 0.2 or 0.7 drew that area as a
see-through film (the horseshoe's chin, the chin strap's chin patch)."""

BEARD_ROWS: dict[str, tuple[float, ...]] = {
    "full": (1.0, 1.0, 1.0, 1.0, 0.0, 0.8),
    "short_boxed": (1.0, 1.0, 1.0, 1.0, 0.0, 0.3),
    "goatee": (0.0, 0.5, 1.0, 0.0, 0.0, 0.35),
    "circle": (0.0, 1.0, 1.0, 0.0, 0.0, 0.3),
    "moustache": (0.0, 1.0, 0.0, 0.0, 0.0, 0.25),
    "chin_strap": (0.0, 0.0, 1.0, 1.0, 0.0, 0.25),
    "horseshoe": (0.0, 1.0, 0.0, 0.0, 1.0, 0.3),
}
assert tuple(BEARD_ROWS) == BEARD_STYLES, "BEARD_ROWS != params.BEARD_STYLES"


GROWS = 0.42
"""`facial_hair` past which a grown beard is drawn (below it: shadow and stubble only)."""


def grown(g: Geometry) -> tuple[Tensor, Tensor]:
    """Whether a grown beard is drawn at all (0 or 1) and how long it is (0 short .. 1 full).

    It is never drawn see-through: past stubble it comes in as opaque shapes that grow in
    size (`shrink`), then in length and colour. A see-through grey beard over dark skin
    read as a pale film (dirt or shaving foam), and one fading in over stubble (as it did
    between 0.42 and 0.45) showed the skin through it as a patchy veil.
    """
    fh = g["facial_hair"]
    return (fh > GROWS).to(fh.dtype), sh.smoothstep(GROWS, 0.72, fh)


def coverage(g: Geometry) -> Tensor:
    """How much of its full size a just-grown beard has: 0 at `GROWS` .. 1 from 0.03 above."""
    return sh.smoothstep(GROWS, GROWS + 0.03, g["facial_hair"])


def shrink(g: Geometry, px: float, depth: float | Tensor) -> Tensor:
    """How far a just-grown beard shape's edges are moved in (added to its signed distance):
    past its ``depth`` (the most it can lose) at `GROWS`, nothing once grown (`coverage`).
    Each shape grows from its middle, its edge clean and opaque at every size."""
    short = 1.0 - coverage(g)
    # (Some pixels past it at the very start, so that nothing of its soft edge shows.)
    return short * depth + short**4 * 6.0 * px


def tone(g: Geometry, colour: Tensor, length: Tensor) -> Tensor:
    """A grown beard's colour: short hair is the hair's shade over the skin colour (as
    clipped hair is, `hair.clipped`), the hair's own colour once it is full."""
    k = 0.45 + 0.55 * length
    return colour * k + g["skin"] * (1.0 - k) * (0.8 + 0.2 * colour)


def greyness(g: Geometry) -> Tensor:
    """How far a beard is drawn as grey hair (0 with little grey .. 1 from mid grey): softer,
    slightly tufted edges, deeper shading and strands (`strands`). A white beard drawn like a
    dark one was a flat white block with a hard edge (a mask or a bandage)."""
    return sh.smoothstep(0.15, 0.5, g["grey"])


def hairiness(g: Geometry) -> Tensor:
    """How far a grown beard of any colour is drawn as hair (soft, tufted edges and shading
    under the jaw): fully for grey and white (`greyness`), less for dark and mid colours
    (where a soft edge against light skin reads as a blur) and less again on dark skin (where
    it blurred a dark chin beard into the skin). A dark beard drawn as a flat block with a
    hard edge read as a dark mask over the face. Strands and the shading round the mouth stay
    a grey beard's: on brown and black beards they cost face-api's sex read of three or four
    of 64 young and adult men."""
    w = greyness(g)
    return w + (1.0 - w) * 0.6 * (1.0 - 0.5 * g["deep"])


def grown_in(g: Geometry) -> Tensor:
    """How grown in a beard is for soft edges: 0 just past stubble .. 1 (short hair has crisp
    edges; soft, a thin just-grown shape was a see-through veil)."""
    return sh.smoothstep(0.0, 0.4, grown(g)[1])


def soft_edges(g: Geometry) -> Tensor:
    """How soft and tufted a grown beard's edges are: `hairiness`, none just past stubble
    (`grown_in`)."""
    return hairiness(g) * grown_in(g)


def strands(g: Geometry, q: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Darker and lighter strands of a grey beard (each 0..1), along lines of constant ``q``:
    thin strokes of varied length, a few pixels apart (not a per-pixel texture, which reads
    as dirt). Darker strands are the hair's own colour showing through (salt and pepper),
    most at mid grey and a few still in a white beard."""
    wave = q + 0.004 * torch.sin(y * 40.0 + q * 90.0)
    dash = sh.smoothstep(-0.2, 0.7, torch.sin(y * 48.0 + 9.0 * torch.sin(wave * 61.0)))
    dark = sh.power(torch.relu(torch.cos(wave * 150.0)), 8) * dash
    light = sh.power(torch.relu(-torch.cos(wave * 150.0 + 0.6)), 6) * (1.0 - 0.6 * dash)
    pepper = torch.clamp(0.2 + 3.2 * g["grey"] * (1.0 - g["grey"]), 0.0, 1.0)
    return dark * pepper, light


def grey_hair(g: Geometry, colour: Tensor, dark: Tensor, light: Tensor, w: Tensor) -> Tensor:
    """``colour`` with a grey beard's strands drawn in (``w``: `greyness`)."""
    pepper = g["hair_dark"] * 0.8 + 0.04
    colour = colour + (pepper - colour) * (0.4 * w * dark)
    return colour + (0.97 - colour) * (0.22 * w * light)


def moustache_colour(g: Geometry, x: Tensor, y: Tensor, length: Tensor) -> Tensor:
    """The moustache's shaded colour (shared with the mouth layer, which redraws it): a
    rounded volume lit from the upper left (a soft sheen on its lit side, in the nose's
    shadow under it, darker towards the tips), parted over the philtrum, with strands
    running down and out from the parting (the same colour in the static beard and the
    moustache drawn each frame; a flat grey one over a white beard read as a grey patch
    over the mouth). A grey one is a little darker towards the lip."""
    w = greyness(g)
    my, top = g["mouth_y"], moustache_top(g)
    h = my - top
    shade = 1.0 - 0.30 * sh.smoothstep(-0.2, 0.3, x)
    shade = shade * (1.0 - 0.10 * w * sh.smoothstep(my - g["lip_t"] - 0.03, my, y))
    # The nose's shadow on its top, the parting over the philtrum, the tips darker.
    shade = shade * (1.0 - 0.12 * sh.smoothstep(top + 0.3 * h, top, y))
    shade = shade * (1.0 - 0.25 * torch.exp(-((x / 0.004) ** 2)) * sh.smoothstep(top + 0.6 * h, top, y))
    shade = shade * (1.0 - 0.15 * sh.smoothstep(0.6, 1.1, torch.abs(x) / g["mouth_w"]))
    colour = tone(g, g["hair"] * (0.9 + 0.08 * w) + 0.03 * (1.0 - w), length) * shade
    sheen = sh.soft(sh.ellipse(x, y, -0.3 * g["mouth_w"], top + 0.45 * h, 0.45 * g["mouth_w"], 0.22 * h), 0.012)
    colour = colour + 0.07 * sheen * (1.0 - 0.5 * w)
    # Strands fan out from above the parting: down over the philtrum, out towards the tips.
    q = x * 0.06 / torch.clamp(y - top + 0.04, min=0.01)
    dark, light = strands(g, q, y)
    return grey_hair(g, colour, dark, light, w + (1.0 - w) * MOUSTACHE_STRANDS)


MOUSTACHE_STRANDS = 0.35
"""How much of a grey moustache's strands a dark or brown one shows."""


def goatee(g: Geometry) -> Tensor:
    """How much a style's moustache is a goatee's, lighter one: 1 at the goatee's moustache
    weight (0.5) and below, 0 for a full moustache. A goatee's moustache lifts its ends
    further (`moustache_d`); its chin beard starts narrower under the lip, apart from the
    moustache (`chin_beard_d`)."""
    return torch.clamp(2.0 - 2.0 * g["b_moustache"], 0.0, 1.0)


def moustache_top(g: Geometry) -> Tensor:
    """Where the moustache's top edge is at the centre: `MOUSTACHE_TOP` of the way down from
    under the nose to the upper lip; a goatee's lighter one `GOATEE_TOP`."""
    top = g["nose_y"] + MOUSTACHE_NOSE_GAP
    return top + (MOUSTACHE_TOP + (GOATEE_TOP - MOUSTACHE_TOP) * goatee(g)) * (g["mouth_y"] - g["lip_t"] - top)


def moustache_d(g: Geometry, x: Tensor, y: Tensor, gap: float = 0.0) -> Tensor:
    """Signed distance of the moustache (shared with the mouth layer, which redraws it).

    A chevron from the philtrum down to the upper lip, tallest at the centre (its top
    `moustache_top`, parted by a small dip) and sloping down and out past the nose's wings
    to thin, rounded ends beside the mouth corners (a flat-cut bar reads as a sticker; a
    thin lens on the mouth line read as dark lips or an open mouth slot). Strands and
    shading: `moustache_colour`. Its lower edge follows the resting upper lip, the ends
    lifting a little with the corners (about half the resting smile, `mouth.SMILE`); only
    a horseshoe's ends turn down into its bars. Ends drooping past the hidden corners drew
    an arch over the mouth that face-api read as a frown (so, in a full or short boxed
    beard, did ends running on down or out into the cheeks' beard: they stop beside the
    corners, where the beard comes up to them).
    A goatee's narrower moustache lifts its ends further, to just above the corners: with
    half the smile's lift its ends came down into the corners, below where they rest, and
    hid their lift (a lens over a flat mouth; on 38 older men's goatees face-api read sad
    8 -> 6, mean sad 0.21 -> 0.17).
    `gap` raises the lower edge alone (the drawn moustache, `moustache_cover`, stops
    `MOUSTACHE_GAP` above it; the stubble's denser zone over the lip keeps the full band).
    """
    my, mw = g["mouth_y"], g["mouth_w"]
    half = mw * 1.12
    t = torch.clamp(x / half, -1.0, 1.0)
    t2 = t * t
    shoe = g["b_horseshoe"]
    narrow = goatee(g)
    turn = 0.03 * shoe * t2
    lift = (0.015 + 0.02 * narrow) * (1.0 - shoe) * t2
    bottom = my - 0.004 - gap + turn - lift
    # Its top: level over the philtrum (`moustache_top`, with a small dip where the hair
    # parts), then running down and out past the nose's wings to thin ends.
    top_c = moustache_top(g) + 0.005 * torch.exp(-((x / 0.012) ** 2))
    # (A goatee's, starting lower, keeps fuller ends: tapered as far, they were two pixels.)
    end = my - g["lip_t"] - 0.006 - 0.014 * narrow - lift + turn
    u = torch.clamp((torch.abs(t) - 0.2) / 0.8, 0.0, 1.0)
    top = top_c + (end - top_c) * u * u * (1.8 - 0.8 * u)
    # (Vertical distances over a steep edge, scaled to about the true distance.)
    slope = (end - top_c) * u * (3.6 - 2.4 * u) / (0.8 * half)
    d = torch.maximum((top - y) / torch.sqrt(1.0 + slope * slope), y - bottom)
    return sh.smax(d, torch.abs(x) - half, 0.012)


GOATEE_TOP = 0.6
"""How far down the philtrum a goatee's lighter moustache starts: a narrow band, whose grey
form's soft edge keeps it just short of opaque at the live 256 px (coverage 0.80 beside the
parting; a full moustache's 0.97). Halfway down it was a little fuller, and on the 432-face
grid one more resting face read sad or surprised (pleasant 95.1 -> 94.9 %)."""

MOUSTACHE_NOSE_GAP = 0.016
"""How far under the nose's centre line (`nose_y`) the philtrum starts: about a pixel under
the nostrils' lower edge (at 512 px)."""

MOUSTACHE_TOP = 0.4
"""How far down the philtrum (from `MOUSTACHE_NOSE_GAP` under the nose to the upper lip) a
moustache's top starts at the centre: a few pixels of skin show under the nose (the old
lens started about 0.6 of the way down). Up to the nose, the tall dark mass read as an open
mouth to face-api: on 93 benchmark men with a grown moustache (31 seeds x 3 bands, read
while the shape was tuned) neutral or happy 92 -> 79 (surprised on circle beards, sad on
short boxed ones), about 84 at 0.2, 88 at 0.3, 92 at 0.4; dlib's sex read 89 -> 84 at 0.2,
87 at 0.3 and 0.4. On the 432-face grid, 0.3 against 0.4: face-api's sex read 98.4 / 97.9 %
(the lens: 96.8 %; its dark-skinned third 93.1 / 92.0 %, the lens 88.2 %), resting faces
neutral or happy 94.9 / 95.6 % (the lens 95.8 %)."""


def chin_patch_d(g: Geometry, x: Tensor, y: Tensor, ext: Tensor, below: Tensor) -> Tensor:
    """Signed distance of the chin patch (``ext``: how far the beard grows past the outline,
    ``below``: the outline grown out by it): a chin beard's (`chin_beard_d`) or, joined to a
    chin strap (or under a full beard's cheeks), a rounded patch under the lower lip."""
    my, mw = g["mouth_y"], g["mouth_w"]
    strap_patch = sh.smax(
        sh.ellipse(x, y, 0.0, g["chin_y"] - 0.035 + 0.5 * ext, mw * 0.85, 0.075 + ext),
        my + g["lip_t"] + 0.006 - y,
        0.012,
    )
    beard_d = chin_beard_d(g, x, y, below)
    return beard_d + (strap_patch - beard_d) * g["b_strap"]


def chin_beard_d(g: Geometry, x: Tensor, y: Tensor, below: Tensor) -> Tensor:
    """Signed distance of a goatee's or circle beard's chin beard (``below``: the outline
    grown out by the beard).

    It follows the jaw, as a grown chin beard does: its lower edge is the chin's outline
    (grown out by its length), its top a shallow curve under the lower lip, and its sides
    slant out as it goes down, so it is wider at the chin than under the lip and runs out
    into points along the jaw line. A goatee's starts narrow under the lip, apart from its
    moustache; a full moustache's (circle, full beard) rises beside the mouth corners to
    join it. A rounded oval inside the chin read as a pale pebble stuck on it, and the grey
    oval under a closed mouth as a down-turned mouth (face-api: sad).
    """
    my, mw, ax = g["mouth_y"], g["mouth_w"], torch.abs(x)
    narrow = goatee(g)
    ring = torch.clamp(2.0 * g["b_moustache"] - 1.0, 0.0, 1.0)
    # Under the lower lip its top follows the lip's curve, rising towards the mouth corners.
    lip_line = my + g["lip_t"] + 0.014 - (g["lip_t"] + 0.008) * torch.clamp(ax / mw, max=1.0) ** 2
    # Beside the mouth a full moustache's chin beard comes up to the moustache's ends.
    lip_line = lip_line - ring * (lip_line - my + 0.025) * sh.smoothstep(mw * 0.98, mw * 1.1, ax)
    # Its sides: from under the lip (goatee) or the moustache's ends out to beside the chin's
    # corners, widening fast at first and then running down with the jaw (a rounded U, not
    # a trapezoid's straight sides).
    w_top = mw * (1.2 - 0.35 * narrow)
    w_bottom = g["chin_w"] + 0.03 - 0.02 * narrow
    h = g["chin_y"] - my
    t = torch.clamp((y - my) / h, 0.0, 1.0)
    width = w_top + (w_bottom - w_top) * t * (2.0 - t)
    slope = (w_bottom - w_top) * 2.0 * (1.0 - t) / h
    sides = (ax - width) / torch.sqrt(1.0 + slope * slope)
    d = sh.smax(sides, lip_line - y, 0.015)
    return sh.smax(d, below, 0.025)


MOUSTACHE_GAP = 0.005
"""How far the drawn moustache's lower edge stops above the band of `moustache_d` (about a
pixel at 512 px): a sliver of the upper lip shows between the hair and the mouth line. Down
to the line, a short dark moustache on light skin was one dark band with the lips' seam and
read as an open mouth slot (benchmark face male/young_adult/126). Paired on 36 benchmark men
(12 seeds x 3 bands): dlib 31 -> 31 read as men, face-api 30 -> 32, pleasant 34 -> 35.
Thinning its top as well (less dark mass) cost face-api four men."""


def moustache_cover(g: Geometry, x: Tensor, y: Tensor, px: float) -> Tensor:
    """Coverage of the moustache: a style with a lighter one (a goatee's) draws it narrower,
    and a just-grown one is thinner (`shrink`), never fainter (a half-opaque grey moustache
    was a pale film over the lip)."""
    light = 1.0 - torch.clamp(g["b_moustache"], 0.0, 1.0)
    depth = 0.5 * (g["mouth_y"] - moustache_top(g))
    d = moustache_d(g, x, y, MOUSTACHE_GAP) + 0.012 * light + shrink(g, px, depth)
    # Its lower edge is hair tips, a little uneven across the lip (not a clean cut).
    low = sh.smoothstep(g["mouth_y"] - g["lip_t"] - 0.02, g["mouth_y"] - 0.006, y)
    d = d + 0.0025 * low * torch.relu(torch.cos(x * 140.0 + 2.0 * torch.sin(x * 31.0))) ** 2
    # A grey one's edge is a little softer (hair tips, not a cut-out); a darker one's stays
    # crisp (softened, its ends' lift above the corners was lost and it drooped).
    soft = greyness(g) * grown_in(g)
    return sh.fill(d, px + 0.004 * soft) * sh.smoothstep(0.0, 0.3, g["b_moustache"])


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
    side = sh.smoothstep(mw * 1.0, rx * 0.95, ax)
    line = (ny_ + 0.01) + (g["eye_y"] + 0.05 - ny_ - 0.01) * side
    line = line + 0.05 * sh.smoothstep(mw * 1.2, mw * 2.0, ax) * (1.0 - sh.smoothstep(rx * 0.7, rx * 0.95, ax))
    # A grown beard's cheek line: one clean curve from the sideburn down to the
    # moustache's end, bowing a little down across the cheek.
    u = torch.clamp((ax - mw * 1.05) / (rx * 0.95 - mw * 1.05), 0.0, 1.0)
    y_corner = my - g["lip_t"] - 0.012
    cheek_line = y_corner + (g["eye_y"] + 0.095 - y_corner) * u * (0.55 + 0.45 * u)
    inside = sh.fill(face_d, px)
    lips = sh.soft(sh.ellipse(x, y, 0.0, my + 0.002, mw * 0.95, g["lip_t"] * 0.8), 0.003)
    drawn, grown_ = grown(g)
    # Under a grown beard with cheeks the shadow starts at the beard's own edge (above
    # it, a feathered tint read as a blur at the cheek line).
    full = grown_ * g["b_cheek"]
    area_line = line + 0.015 + (cheek_line - line - 0.015) * full
    area = torch.sigmoid((y - area_line) / (0.02 - 0.014 * full)) * inside * (1.0 - lips)
    # Shaving shadow and stubble: one clean, soft-edged tint in a cool dark shade of the
    # hair colour (no single hairs, which read as dirt at call-tile sizes). The shadow is
    # light and feathered (fairer hair shows less); stubble is denser over the lip and on
    # the chin and has a crisper edge up the cheeks.
    hair = g["hair"]
    hair_dark = 1.0 - 0.75 * hair.mean(dim=1, keepdim=True)
    tint = (hair * 0.55 + g["skin_shadow"] * 0.25) * col(0.94, 0.98, 1.06, like=x)
    # Grey and white stubble: never lighter than the skin under it in any channel (a lighter
    # tint read as a pale patch, on dark skin most), and only a shade darker (a dark ring
    # round the mouth of a white-haired man read sad or angry).
    tint = torch.minimum(tint, img * torch.clamp(0.85 + 0.2 * g["grey"], max=1.0))
    # On darker skin the tint is deeper and cooler (up to about half as light, a little
    # blue): in the hair colour's shade it was within a few levels of the skin there and a
    # dark man's stubble or shaving shadow was not seen at all.
    tint = tint * (1.0 - 0.48 * g["deep"]) * (1.0 + g["deep"] * col(-0.096, -0.032, 0.128, like=x))
    edge = torch.sigmoid((y - line - 0.03) / 0.008) * inside * (1.0 - lips)
    must_zone = sh.soft(moustache_d(g, x, y), 0.006)
    chin_zone = sh.soft(sh.ellipse(x, y, 0.0, g["chin_y"] - 0.03, mw * 0.95, 0.06), 0.02)
    dense = 0.55 + 0.25 * torch.maximum(must_zone, chin_zone) + 0.2 * sh.smoothstep(line + 0.03, line + 0.12, y)
    shadow = area * sh.smoothstep(0.03, 0.18, fh) * 0.24 * (0.5 + 0.5 * hair_dark)
    # White stubble shows less (on light skin a pale tint reads as a texture, not as hair).
    stub = edge * dense * sh.smoothstep(0.2, 0.42, fh) * (1.0 - sh.smoothstep(0.6, 0.8, fh)) * 0.55 * (1.0 - 0.4 * g["grey"])
    img = img + (tint - img) * torch.clamp(shadow + stub, 0.0, 0.8)
    # A grown beard in the style's areas: clean anti-aliased shapes that follow the jaw
    # (the outline grown out by the beard's length, most at the chin).
    ext = (0.004 + 0.035 * g["b_length"]) * grown_
    below = face_d - ext * sh.smoothstep(my, g["chin_y"], y)
    # A grown beard's edges are soft (a gradient over a few pixels, the skin showing through
    # its thin edge) and slightly irregular (tufts of hair tips), a grey one's most; a
    # just-grown one's stay crisp (`soft_edges`).
    w, ws, wh = greyness(g), soft_edges(g), hairiness(g)
    # (Softest over the neck's skin; against the background beside the jaw a wide soft edge
    # read as out of focus.)
    feather = px + ws * (0.004 + 0.007 * sh.smoothstep(g["neck_w"] * 1.1, g["neck_w"] * 0.8, ax))
    tufts = 0.005 * ws * torch.relu(torch.cos(x * 85.0 + 1.5 * torch.sin(x * 23.0))) ** 2
    shape = sh.fill(below - tufts, feather)
    # Just grown, each shape is smaller, never fainter (`shrink`): the cheeks' edge comes up
    # from the chin, the chin patch and the moustache from their middles, a chin strap up the
    # jaw from the chin and a horseshoe's bars down from the moustache's ends (a strap or bar
    # grown in width was a faint line).
    cheek_line = cheek_line + shrink(g, px, g["chin_y"] + ext - cheek_line)
    cheek_d = cheek_line - y
    cheek = g["b_cheek"] * sh.fill(cheek_d - tufts, 1.5 * px + 0.011 * ws)
    chin_fill = sh.fill(chin_patch_d(g, x, y, ext, below) + shrink(g, px, 0.08), px)
    strap_top = my - 0.06 + shrink(g, px, g["chin_y"] + ext - my + 0.06)
    fade = sh.smoothstep(strap_top, strap_top + 0.06 * coverage(g) + 1e-3, y)
    strap = sh.fill(-face_d - 0.03 - 0.02 * g["b_length"], px) * fade
    strap = g["b_strap"] * strap * sh.fill(strap_top - y, px)
    # Horseshoe: two bars from the moustache's ends down beside the chin, following the
    # jaw's taper, with rounded ends.
    shoe_x = mw * 1.08 - 0.12 * torch.relu(y - my - 0.04)
    shoe_end = y - (my + 0.38) + shrink(g, px, 0.4)
    shoe_d = sh.smax(sh.smax(torch.abs(ax - shoe_x) - 0.015, my - 0.02 - y, 0.01), shoe_end, 0.01)
    shoe = g["b_horseshoe"] * sh.fill(shoe_d, px)
    must = moustache_cover(g, x, y, px)
    zone = torch.maximum(torch.maximum(cheek, g["b_chin"] * chin_fill), torch.maximum(strap, shoe))
    a = torch.maximum(zone * shape * (1.0 - lips), must) * drawn * sh.fill(face_d - ext - 0.02 - 0.012 * ws, feather)
    # Shading: a rounded volume, lit from the upper left, darker under the chin and on the
    # shadow side, a soft sheen on the lit cheek and chin, a little darker along its edges.
    lit = (1.0 - 0.30 * sh.smoothstep(-0.2, 0.3, x)) * (1.0 - 0.25 * sh.smoothstep(my, g["chin_y"] + ext, y))
    rim = torch.exp(torch.clamp(face_d - ext, max=0.0) / 0.02)
    top_rim = torch.exp(torch.clamp(y - cheek_line, min=0.0) / -0.012) * g["b_cheek"]
    # (No sheen on a chin beard alone, a goatee's or circle's: it lit it as a ball.)
    chin_alone = g["b_chin"] * (1.0 - g["b_strap"])
    sheen = sh.soft(sh.ellipse(x, y, -0.06, g["chin_y"] - 0.02, 0.07, 0.03), 0.03) * (1.0 - chin_alone)
    sheen = sheen + 0.6 * sh.soft(sh.ellipse(x, y, -rx * 0.62, my - 0.01, 0.05, 0.04), 0.03) * g["b_cheek"]
    colour = tone(g, hair * 1.05 + 0.05, grown_) * lit * (1.0 - 0.2 * rim) * (1.0 - 0.12 * top_rim) + 0.06 * sheen
    # Any grown beard is deeper under the jaw (`hairiness`). A grey or white one: below
    # white (a white one was clipped flat), deeper round the mouth, with darker and lighter
    # strands that run down and in towards the chin. Its thin top edge lets the skin show
    # through a little (`soft_edges`).
    under = sh.smoothstep(-0.01, 0.03, face_d) * (1.0 - 0.5 * chin_alone)
    near = sh.soft(sh.ellipse(x, y, 0.0, my + 0.012, mw * 1.3, 0.05), 0.02)
    deep = (1.0 - 0.04 * w) * (1.0 - (0.25 - 0.1 * w) * wh * under) * (1.0 - 0.10 * w * near)
    q = x * (1.0 - 0.5 * sh.smoothstep(my - 0.08, g["chin_y"] + ext, y))
    dark, light = strands(g, q, y)
    light = light * (1.0 - 0.30 * sh.smoothstep(-0.2, 0.3, x))
    colour = grey_hair(g, colour * deep, dark, light, w)
    colour = colour + (moustache_colour(g, x, y, grown_) - colour) * (must * w)
    return sh.over(img, colour, a * (0.95 - 0.25 * ws * top_rim))
