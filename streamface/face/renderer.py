"""`FaceRenderer`: a batched, differentiable 2-D renderer of `FaceParams` rows.

The face is drawn from signed-distance shapes with anti-aliased edges and soft shading
(the head is lit as an ellipsoid; the nose, eye sockets, chin and hair cast soft
shadows), in a canonical frontal, neutral, centred head-and-shoulders framing.

Two stages keep per-frame work small:

* `prepare(params)` draws everything that does not move: background, top, neck, ears,
  face skin and shading, nose, brows, hair, facial hair, age lines. The eye and mouth
  areas are left as bare (shaded) skin.
* `animate(prepared, params, anim)` draws the eyes (blink, gaze) and the mouth (openness,
  viseme) into two small fixed-size patches, pastes them in, then warps the head region
  for yaw, pitch, roll and breathing.

`forward(params, anim) == animate(prepare(params), params, anim)`. Inputs are float32
[B, PARAM_DIM] and [B, ANIM_DIM]; the output is float32 [B, 3, S, S] in 0..1. There is
no Python control flow on tensor values and no data-dependent shape, so the module
exports to ONNX with a dynamic batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from streamface.face import shapes as sh
from streamface.face.animation import ANIM_FIELDS
from streamface.face.params import HAIR_STYLES, PARAM_NAMES

_P = {name: i for i, name in enumerate(PARAM_NAMES)}
_A = {name: i for i, name in enumerate(ANIM_FIELDS)}

# Skin from very light to very dark (sRGB, mid-lit), after the Monk skin tone scale.
_SKIN = (
    (0.97, 0.86, 0.79),
    (0.94, 0.79, 0.69),
    (0.90, 0.73, 0.60),
    (0.83, 0.64, 0.49),
    (0.74, 0.54, 0.38),
    (0.62, 0.43, 0.29),
    (0.50, 0.33, 0.22),
    (0.40, 0.26, 0.18),
    (0.30, 0.20, 0.15),
    (0.25, 0.17, 0.13),
)
# Hair from black to blonde, and the red variant of each.
_HAIR = ((0.06, 0.05, 0.05), (0.16, 0.11, 0.08), (0.30, 0.20, 0.13), (0.47, 0.34, 0.22), (0.66, 0.52, 0.34), (0.86, 0.74, 0.52))
_HAIR_RED = ((0.16, 0.06, 0.04), (0.36, 0.13, 0.07), (0.55, 0.22, 0.10), (0.72, 0.35, 0.15), (0.82, 0.50, 0.25), (0.90, 0.66, 0.40))
# Iris: dark brown, brown, hazel, green, blue, grey.
_IRIS = ((0.20, 0.11, 0.06), (0.38, 0.22, 0.10), (0.50, 0.40, 0.18), (0.32, 0.46, 0.26), (0.30, 0.48, 0.70), (0.52, 0.58, 0.62))

# Hair style table: cover, volume, length, recession, curl, bun, fringe, tail, density, part, sides.
_STYLE_COLS = ("cover", "volume", "length", "recession", "curl", "bun", "fringe", "tail", "density", "part", "sides")
_STYLES = {
    "bald": (0.0, 0.005, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.75, 0.0, 0.8),
    "buzz": (1.0, 0.006, 0.0, 0.15, 0.0, 0.0, 0.0, 0.0, 0.6, 0.0, 1.0),
    "receding": (0.85, 0.02, 0.0, 0.85, 0.0, 0.0, 0.0, 0.0, 0.95, 0.2, 1.0),
    "short": (1.0, 0.03, 0.05, 0.15, 0.0, 0.0, 0.05, 0.0, 1.0, 0.3, 1.0),
    "side_part": (1.0, 0.04, 0.07, 0.12, 0.0, 0.0, 0.12, 0.0, 1.0, 1.0, 1.0),
    "curly": (1.0, 0.06, 0.12, 0.1, 1.0, 0.0, 0.1, 0.0, 1.0, 0.0, 1.0),
    "bob": (1.0, 0.05, 0.52, 0.0, 0.0, 0.0, 0.75, 0.0, 1.0, 0.0, 1.0),
    "ponytail": (1.0, 0.015, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.6, 1.0),
    "bun": (1.0, 0.015, 0.02, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0),
    "long": (1.0, 0.045, 1.0, 0.0, 0.0, 0.0, 0.2, 0.0, 1.0, 0.8, 1.0),
    "long_curly": (1.0, 0.1, 0.9, 0.0, 1.0, 0.0, 0.1, 0.0, 1.0, 0.0, 1.0),
}
assert tuple(_STYLES) == HAIR_STYLES

# Patch boxes in normalised coordinates (x0, x1, y0, y1).
_EYE_BOX = (-0.34, 0.34, -0.25, 0.0)
_MOUTH_BOX = (-0.24, 0.24, 0.04, 0.36)
_WARP_BOX = (-0.58, 0.58, -1.0, 0.46)
_HEAD_BOX = (-0.56, 0.56, -1.0, 0.62)
_BROW_BOX = (-0.34, 0.34, -0.42, -0.12)
_AGE_BOX = (-0.42, 0.42, -0.48, 0.46)  # where age marks can fall (see `_age_marks`)
_BEARD_BOX = (-0.46, 0.46, -0.12, 0.56)  # where facial hair can grow
_PIVOT = (0.0, 0.30)  # head rotates about the top of the neck

_LIGHT = (-0.38, -0.5, 0.78)
_GRAIN_SEED = 0x5F4CE


_AnimGetter = Callable[[str], Tensor]


def _col(*rgb: float) -> Tensor:
    return torch.tensor(rgb, dtype=torch.float32).reshape(1, 3, 1, 1)


def _bilinear(img: Tensor, fx: Tensor, fy: Tensor, width: int, height: int) -> Tensor:
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


def _grain(size: int) -> Tensor:
    """A fixed field of fine skin texture (pores), [1, 1, size, size], mean 0 and std 1.

    Seeded noise, lightly blurred so a pore spans a pixel or two. It is a buffer rather
    than a formula so that every engine (including FP16 ones) sees the same values.
    """
    gen = torch.Generator().manual_seed(_GRAIN_SEED)
    noise = torch.randn(1, 1, size + 8, size + 8, generator=gen)

    def blurred(sigma: float) -> Tensor:
        t = torch.arange(-4, 5, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = k / k.sum()
        field = torch.nn.functional.conv2d(noise, (k[:, None] * k[None, :]).reshape(1, 1, 9, 9))
        return (field - field.mean()) / field.std()

    # Pores (a pixel or two) over a faint mottling a few pixels across.
    field = blurred(0.7) + 0.25 * blurred(2.0)
    return field / field.std()


class FaceRenderer(nn.Module):
    """Renders B faces: params [B, PARAM_DIM] + anim [B, ANIM_DIM] -> [B, 3, S, S] in 0..1.

    Args:
        size: Output width and height in pixels (at least 64).
    """

    xs: Tensor
    ys: Tensor
    skin_pal: Tensor
    hair_pal: Tensor
    hair_red_pal: Tensor
    iris_pal: Tensor
    style_table: Tensor
    warp_col: Tensor
    warp_row: Tensor
    warp_hx: Tensor
    warp_hy: Tensor
    warp_hd: Tensor
    warp_rise: Tensor
    grain: Tensor

    def __init__(self, size: int = 512) -> None:
        super().__init__()
        if size < 64:
            raise ValueError(f"size must be at least 64, got {size}")
        self.size = size
        self.px = 2.0 / size
        coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2.0 - 1.0
        self.register_buffer("xs", coords.reshape(1, 1, 1, size), persistent=False)
        self.register_buffer("ys", coords.reshape(1, 1, size, 1), persistent=False)
        self.register_buffer("skin_pal", torch.tensor(_SKIN), persistent=False)
        self.register_buffer("hair_pal", torch.tensor(_HAIR), persistent=False)
        self.register_buffer("hair_red_pal", torch.tensor(_HAIR_RED), persistent=False)
        self.register_buffer("iris_pal", torch.tensor(_IRIS), persistent=False)
        self.register_buffer("style_table", torch.tensor(list(_STYLES.values())), persistent=False)
        self.register_buffer("grain", _grain(size), persistent=False)
        self.eye_box = self._box(_EYE_BOX)
        self.mouth_box = self._box(_MOUTH_BOX)
        self.warp_box = self._box(_WARP_BOX)
        self.head_box = self._box(_HEAD_BOX)
        self.brow_box = self._box(_BROW_BOX)
        self.age_box = self._box(_AGE_BOX)
        self.beard_box = self._box(_BEARD_BOX)
        self._init_warp()

    # ------------------------------------------------------------------ layout helpers

    def _box(self, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        s = self.size

        def pix(v: float) -> int:
            return int(min(max(round((v + 1.0) / 2.0 * s), 0), s))

        return pix(box[0]), pix(box[1]), pix(box[2]), pix(box[3])

    def _grid(self, box: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
        x0, x1, y0, y1 = box
        return self.xs[..., x0:x1], self.ys[..., y0:y1, :]

    def _init_warp(self) -> None:
        x0, x1, y0, y1 = self.warp_box
        x = self.xs[0, 0, 0, x0:x1].reshape(1, -1).expand(y1 - y0, -1)
        y = self.ys[0, 0, y0:y1, 0].reshape(-1, 1).expand(-1, x1 - x0)
        # Head weight: 1 over the head, fading down the neck and towards the box edges.
        head = torch.sigmoid((0.30 - y) / 0.04) * torch.sigmoid((0.53 - torch.abs(x)) / 0.012)
        head = head * torch.sigmoid((y + 0.97) / 0.02)
        # Depth of the face as an ellipsoid bump: features near the front move most on yaw.
        u = x / 0.40
        v = (y + 0.14) / 0.55
        depth = torch.sqrt(torch.clamp(1.0 - u * u - v * v, min=0.0) + 1e-6)
        # Breathing: the head rises a little; the box edges stay put.
        rise = torch.sigmoid((y + 0.85) / 0.05) * torch.sigmoid((0.38 - y) / 0.02)
        rise = rise * torch.sigmoid((0.53 - torch.abs(x)) / 0.012)
        # The inverse map in the box's pixel units (see `_warp`): each output pixel's own
        # column and row, and the head-weighted offsets from the pivot and face depth.
        px0, py0 = _PIVOT
        cols = torch.arange(x1 - x0, dtype=torch.float32).reshape(1, -1).expand(y1 - y0, -1)
        rows = torch.arange(y1 - y0, dtype=torch.float32).reshape(-1, 1).expand(-1, x1 - x0)
        buffers = {
            "warp_col": cols,
            "warp_row": rows,
            "warp_hx": head * (x - px0) / self.px,
            "warp_hy": head * (y - py0) / self.px,
            "warp_hd": head * depth * 0.20 / self.px,
            "warp_rise": rise * 0.008 / self.px,
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.reshape(1, *value.shape).contiguous(), persistent=False)

    # ------------------------------------------------------------------ parameters

    def _geometry(self, params: Tensor) -> dict[str, Tensor]:
        """Per-face scalars [B, 1, 1, 1] derived from the parameter rows."""

        def p(name: str) -> Tensor:
            return params[:, _P[name]].reshape(-1, 1, 1, 1)

        g: dict[str, Tensor] = {}
        masc = torch.clamp(p("masculinity"), 0.0, 1.0)
        fem = 1.0 - masc
        age = torch.clamp(p("age"), 0.0, 1.0)
        child = torch.clamp((0.3 - age) / 0.3, 0.0, 1.0)
        g["masc"], g["fem"], g["age"], g["child"] = masc, fem, age, child
        g["lines"] = p("age_lines")
        g["sag"] = p("age_sag")
        g["makeup"] = p("makeup")
        # Head: cranium ellipse + jaw superellipse + cheeks, smoothly united.
        g["cy"] = torch.full_like(masc, -0.21)
        g["rx"] = 0.285 + 0.05 * p("face_width") + 0.03 * masc + 0.015 * child
        g["ry"] = 0.40 + 0.04 * p("face_length") - 0.02 * child
        g["jaw_rx"] = g["rx"] * (0.60 + 0.22 * p("jaw_width") + 0.10 * masc - 0.04 * child + 0.05 * g["sag"])
        g["jaw_cy"] = g["cy"] + 0.19
        g["jaw_ry"] = 0.36 + 0.05 * p("chin_length") + 0.02 * p("face_length") + 0.015 * masc - 0.04 * child
        g["jaw_n"] = 2.1 + 1.2 * p("jaw_width") * (0.4 + 0.6 * masc) + 0.6 * masc
        g["cheek"] = p("cheek_fullness") + 0.4 * child
        g["chin_y"] = g["jaw_cy"] + g["jaw_ry"]
        # Features (the face's vertical thirds; a child's features sit lower).
        g["eye_y"] = -0.125 + 0.035 * child + 0.01 * p("face_length")
        g["eye_dx"] = 0.118 + 0.03 * p("eye_spacing") + 0.01 * p("face_width") - 0.006 * masc
        g["eye_w"] = 0.052 + 0.014 * p("eye_size") + 0.008 * fem + 0.008 * child
        # Men's eyes look smaller and deeper set: a narrower opening under a heavier brow.
        g["eye_h"] = g["eye_w"] * (0.46 + 0.14 * fem + 0.08 * child - 0.10 * g["sag"])
        # Older eyes: heavier (hooded) upper lids, a duller, slightly yellowed sclera.
        g["lid_droop"] = 0.22 * g["sag"] + 0.06 * masc
        # The brow ridge shades a man's eye whites more than a woman's.
        g["sclera"] = _col(0.92, 0.89, 0.86).to(masc) * (1.0 - 0.12 * masc) + _col(-0.08, -0.09, -0.14).to(masc) * g["sag"]
        # Darker skin goes with a more pigmented (darker, warmer) conjunctiva.
        g["sclera"] = g["sclera"] * (1.0 - _col(0.16, 0.19, 0.24).to(masc) * p("skin_tone") ** 2)
        # Men's brows sit lower, straighter and heavier; women's higher, thinner, arched.
        g["brow_y"] = g["eye_y"] - 0.068 - 0.03 * p("brow_height") + 0.022 * masc - 0.01 * fem
        g["brow_t"] = 0.011 + 0.016 * p("brow_thickness") + 0.018 * masc
        g["brow_arch"] = 0.004 + 0.02 * p("brow_arch") + 0.008 * fem
        # With old age the nose lengthens, the philtrum too, and the brows and ears drop/grow.
        old = torch.clamp((age - 0.55) / 0.4, 0.0, 1.0)
        g["brow_y"] = g["brow_y"] + 0.008 * old
        g["nose_y"] = g["eye_y"] + 0.175 + 0.05 * p("nose_length") - 0.035 * child + 0.01 * masc + 0.012 * old
        g["nose_w"] = 0.028 + 0.018 * p("nose_width") + 0.006 * masc - 0.006 * child
        g["mouth_y"] = g["nose_y"] + 0.078 + 0.02 * p("chin_length") + 0.01 * masc - 0.015 * child + 0.008 * old
        g["mouth_w"] = 0.078 + 0.03 * p("lip_width") + 0.006 * masc - 0.012 * child
        g["lip_t"] = 0.016 + 0.02 * p("lip_fullness") + 0.015 * fem - 0.011 * g["sag"]
        g["ear_s"] = 0.8 + 0.4 * p("ear_size")
        g["neck_w"] = 0.105 + 0.04 * p("neck_width") + 0.07 * masc - 0.015 * child
        g["shoulder_w"] = 0.66 + 0.16 * masc - 0.1 * child
        g["facial_hair"] = p("facial_hair")
        # Colours.
        tone = p("skin_tone").reshape(-1)
        skin = sh.palette(tone, self.skin_pal)
        under = p("skin_undertone")
        warm = torch.cat([torch.ones_like(under), 0.99 + 0.0 * under, 0.90 + 0.0 * under], dim=1)
        cool = torch.cat([torch.ones_like(under), 0.95 + 0.0 * under, 0.97 + 0.0 * under], dim=1)
        g["skin"] = skin * (cool + (warm - cool) * under)
        # Older skin looks a little duller (less saturated); the tone itself stays.
        g["skin"] = g["skin"] + (g["skin"].mean(dim=1, keepdim=True) - g["skin"]) * (0.22 * p("age_sag"))
        # Natural lip colour: redder and darker than the skin, closer to it on men.
        lum = skin.mean(dim=1, keepdim=True)
        lip_tint = _col(0.86, 0.60, 0.62).to(skin) + (_col(0.94, 0.80, 0.78).to(skin) - _col(0.86, 0.60, 0.62).to(skin)) * (0.8 * masc)
        lip_tint = lip_tint + (1.0 - lip_tint) * (0.4 * g["sag"])  # lips pale with age
        g["lip_natural"] = g["skin"] * lip_tint + _col(0.08, 0.0, 0.01).to(skin) * (1.0 - lum) * (1.0 - 0.5 * masc)
        # A moustache overhangs the lips and its hairs cross them: they show less.
        lip_hair = 0.6 * torch.clamp((p("facial_hair") - 0.3) / 0.5, 0.0, 1.0)
        g["lip_natural"] = g["lip_natural"] + (g["skin"] * 0.6 - g["lip_natural"]) * lip_hair

        g["tone"] = p("skin_tone")
        hl = p("hair_lightness").reshape(-1)
        hair = sh.palette(hl, self.hair_pal)
        hair_red = sh.palette(hl, self.hair_red_pal)
        hair = hair + (hair_red - hair) * p("hair_red")
        grey = torch.clamp(p("hair_grey"), 0.0, 1.0)
        grey_col = 0.42 + 0.38 * grey


        hair = hair + (grey_col - hair) * (grey * (2.0 - grey)) * 0.95
        g["hair"] = hair
        g["iris"] = sh.palette(p("iris_hue").reshape(-1), self.iris_pal) * (0.75 + 0.6 * p("iris_lightness"))
        g["top"] = sh.hsv(p("top_hue"), 0.1 + 0.6 * p("top_saturation"), 0.15 + 0.75 * p("top_lightness"))
        g["bg"] = sh.hsv(p("bg_hue"), 0.08 + 0.22 * (1.0 - p("bg_lightness")), 0.35 + 0.6 * p("bg_lightness"))
        # Hair style: triangle weights over the style table, two styles mixed by hair_mix.
        n_styles = self.style_table.shape[0]
        idx = torch.arange(n_styles, dtype=params.dtype, device=params.device).reshape(1, -1)

        def weights(name: str) -> Tensor:
            pos = torch.clamp(params[:, _P[name]], 0.0, n_styles - 1.0).reshape(-1, 1)
            return torch.relu(1.0 - torch.abs(pos - idx))

        mix = torch.clamp(params[:, _P["hair_mix"]], 0.0, 1.0).reshape(-1, 1)
        w = (1.0 - mix) * weights("hair_style") + mix * weights("hair_style_alt")
        style = w @ self.style_table
        for i, col in enumerate(_STYLE_COLS):
            g["h_" + col] = style[:, i].reshape(-1, 1, 1, 1)
        return g

    # ------------------------------------------------------------------ shapes

    def _face_sdf(self, g: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        cran = sh.ellipse(x, y, 0.0, g["cy"], g["rx"], g["ry"])
        jaw = sh.superellipse(x, y, 0.0, g["jaw_cy"], g["jaw_rx"], g["jaw_ry"], g["jaw_n"])
        d = sh.smin(cran, jaw, 0.06)
        ax = torch.abs(x)
        cheeks = sh.ellipse(ax, y, g["rx"] * 0.55, g["cy"] + 0.25, 0.12 + 0.03 * g["cheek"], 0.12)
        d = sh.smin(d, cheeks + 0.035 - 0.025 * g["cheek"], 0.06)
        # Jowls: with sagging the lower cheeks drop and bulge past the jaw line.
        jowls = sh.ellipse(ax, y, g["jaw_rx"] * 0.78, g["mouth_y"] + 0.085, 0.075, 0.07)
        d = sh.smin(d, jowls + 0.05 - 0.05 * g["sag"], 0.05)
        return d

    def _neck_sdf(self, g: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        flare = 0.22 * sh.smoothstep(0.5, 0.85, y) ** 2
        return torch.maximum(torch.abs(x) - g["neck_w"] - flare, (g["cy"] + 0.35) - y)

    # ------------------------------------------------------------------ prepare

    def prepare(self, params: Tensor) -> Tensor:
        """Static layers of B faces: [B, PARAM_DIM] -> [B, 3, S, S] (eyes and mouth bare)."""
        g = self._geometry(params)
        x, y = self.xs, self.ys
        px = self.px
        b = params.shape[0]
        ax = torch.abs(x)

        # Background: soft vertical gradient and vignette.
        vign = 1.0 - 0.18 * (x * x + 0.6 * (y + 0.2) ** 2)
        img = g["bg"] * (1.06 - 0.12 * (y + 1.0) / 2.0) * vign
        img = img.expand(b, 3, self.size, self.size)
        # Soft shadow of the person on the background.
        shadow = sh.soft(sh.ellipse(x, y, 0.04, 0.25, 0.55, 0.9), 0.12)
        img = img * (1.0 - 0.18 * shadow)

        hair_alpha_back, hair_col_back = self._back_hair(g, x, y)
        img = sh.over(img, hair_col_back, hair_alpha_back)
        skin = g["skin"]
        # Neck, darker under the jaw and at the sides.
        neck_d = self._neck_sdf(g, x, y)
        neck_a = sh.fill(neck_d, px)
        under_jaw = torch.exp(-torch.clamp(y - (g["chin_y"] - 0.03), min=0.0) / 0.07)
        neck_shade = (0.80 - (0.30 + 0.12 * g["masc"]) * under_jaw) * (1.0 - 0.35 * (ax / (g["neck_w"] + 0.2)) ** 2)
        neck_shade = neck_shade + 0.1 * g["masc"] * torch.exp(-((x / 0.02) ** 2 + ((y - g["chin_y"] - 0.09) / 0.025) ** 2))
        img = sh.over(img, skin * neck_shade * self._pores(g, (0, self.size, 0, self.size)), neck_a)

        # Top (shoulders) with a crew neckline.
        sw = g["shoulder_w"]
        body = sh.superellipse(x, y, 0.0, 1.32, sw, 0.70, 2.6)
        neckline = sh.ellipse(x, y, 0.0, 0.64, g["neck_w"] * 1.35, 0.10 + 0.03 * g["fem"])
        top_d = sh.smax(body, -neckline, 0.02)
        top_a = sh.fill(top_d, px)
        fold = 1.0 - 0.25 * sh.smoothstep(0.25, 0.75, ax / sw) - 0.1 * (1.0 - sh.smoothstep(0.0, 0.06, -top_d))
        top_shade = (0.9 + 0.12 * (-x)) * fold
        img = sh.over(img, g["top"] * top_shade, top_a)


        # Long hair falls in front of the shoulders, beside the neck.
        locks = torch.sigmoid((torch.abs(x) - g["neck_w"] - 0.03) / 0.01)
        img = sh.over(img, hair_col_back, hair_alpha_back * locks)

        # Everything else lies on the head: draw it in the head box only.
        head = self._crop(img, self.head_box)
        head = self._head_layers(g, head, *self._grid(self.head_box))
        img = self._paste(img, self.head_box, head)
        return torch.clamp(img, 0.0, 1.0)

    def _head_layers(self, g: dict[str, Tensor], img: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Ears, face skin, facial hair, brows and front hair within the head box."""
        px = self.px
        ax = torch.abs(x)
        skin = g["skin"]
        face_d = self._face_sdf(g, x, y)
        # Ears.
        ear_x = g["rx"] * 0.96
        ear_y = g["eye_y"] + 0.055
        es = g["ear_s"]
        ear_d = sh.ellipse(ax, y, ear_x + 0.015, ear_y, 0.042 * es, 0.085 * es)
        ear_in = sh.ellipse(ax, y, ear_x + 0.022, ear_y + 0.005, 0.022 * es, 0.055 * es)
        ear_shade = 0.82 - 0.25 * sh.soft(ear_in, 0.01)
        img = sh.over(img, skin * ear_shade, sh.fill(ear_d, px))

        # Face skin with ellipsoid shading.
        face_a = sh.fill(face_d, px)
        shade = self._skin_shading(g, x, y, face_d)
        face_col = skin * shade
        face_col = face_col + self._skin_tint(g, x, y)
        face_col = face_col * self._pores(g, self.head_box)
        img = sh.over(img, face_col, face_a)

        # Facial hair, age lines, brows.
        fx0, fx1, fy0, fy1 = self.beard_box
        hx0, _, hy0, _ = self.head_box
        fbox = (fx0 - hx0, fx1 - hx0, fy0 - hy0, fy1 - hy0)
        fxs, fys = self._grid(self.beard_box)
        beard = self._facial_hair(g, self._crop(img, fbox), fxs, fys, self._crop(face_d, fbox), region="all")
        img = self._paste(img, fbox, beard)
        bx0, bx1, by0, by1 = self.brow_box
        hx0, _, hy0, _ = self.head_box
        local = (bx0 - hx0, bx1 - hx0, by0 - hy0, by1 - hy0)
        bx, by = self._grid(self.brow_box)
        img = self._paste(img, local, self._brows(g, self._crop(img, local), bx, by))
        img = self._front_hair(g, img, x, y, face_d)
        return img

    def _pores(self, g: dict[str, Tensor], box: tuple[int, int, int, int]) -> Tensor:
        """Skin texture multiplier over ``box``: coarser on men and older skin, fine on women.

        Real skin is never airbrushed smooth; the visible texture of a man's skin (pores,
        beard follicles) is one of the cues people and classifiers read for sex.
        """
        strength = (0.008 + 0.012 * g["masc"] + 0.010 * g["lines"]) * (1.0 + 0.8 * g["tone"])
        return 1.0 + strength * self._crop(self.grain, box)

    def _skin_shading(self, g: dict[str, Tensor], x: Tensor, y: Tensor, face_d: Tensor) -> Tensor:
        ax = torch.abs(x)
        lx, ly, lz = (v / math.sqrt(sum(c * c for c in _LIGHT)) for v in _LIGHT)
        nx = x / (g["rx"] * 1.12)
        ny = (y - g["cy"] - 0.12) / (g["ry"] + 0.25)
        nz = torch.sqrt(torch.clamp(1.0 - nx * nx - ny * ny, min=0.0) + 0.02)
        diff = torch.clamp(nx * lx + ny * ly + nz * lz, min=0.0)
        shade = 0.50 + 0.14 * g["tone"] + 0.55 * diff
        # Rim: darker near the outline.
        shade = shade * (1.0 - 0.22 * torch.exp(face_d / 0.035))
        ey, edx = g["eye_y"], g["eye_dx"]
        # Eye sockets.
        sock = sh.soft(sh.ellipse(ax, y, edx, ey - 0.006, g["eye_w"] * 1.5, g["eye_w"] * 0.95), 0.025)
        shade = shade * (1.0 - (0.14 + 0.18 * g["masc"] + 0.16 * g["sag"]) * sock)

        # Brow ridge highlight and shadow below it.
        ridge = torch.exp(-(((y - g["brow_y"] + 0.01) / 0.03) ** 2)) * sh.smoothstep(0.2, 0.05, torch.abs(ax - edx) + 0.0)
        shade = shade * (1.0 + (0.06 + 0.12 * g["tone"] * g["masc"]) * ridge)
        # Nose: bridge highlight, shadow on the side away from the light, tip, wings, under.
        ny_ = g["nose_y"]
        nw = g["nose_w"]
        along = sh.smoothstep(ey - 0.02, ey + 0.04, y) * sh.smoothstep(ny_ + 0.01, ny_ - 0.04, y)
        bridge = torch.exp(-((x + 0.006) / 0.012) ** 2) * along
        side = torch.exp(-((x - 0.028 - 0.2 * nw) / 0.016) ** 2) * along
        side_l = torch.exp(-((x + 0.03 + 0.2 * nw) / 0.016) ** 2) * along
        shade = shade * (1.0 + 0.10 * bridge - 0.16 * side - 0.06 * side_l)
        tip = sh.soft(sh.ellipse(x, y, -0.004, ny_ - 0.018, nw * 0.75, 0.026), 0.012)
        wings = sh.soft(sh.ellipse(ax, y, nw * 0.95, ny_ - 0.004, nw * 0.45, 0.022), 0.008)
        under = sh.soft(sh.ellipse(x, y, 0.006, ny_ + 0.012, nw * 1.2, 0.016), 0.012)
        nostril = sh.soft(sh.ellipse(ax, y, nw * 0.52, ny_ + 0.002, nw * 0.33, 0.0075), 0.0035)
        shade = shade * (1.0 + 0.10 * tip) * (1.0 - 0.14 * wings) * (1.0 - 0.22 * under) * (1.0 - 0.55 * nostril)
        # Mouth area: shadow below the lower lip, philtrum, chin highlight.
        my = g["mouth_y"]
        below_lip = sh.soft(sh.ellipse(x, y, 0.0, my + g["lip_t"] * 1.4 + 0.02, g["mouth_w"] * 0.55, 0.015), 0.012)
        chin = sh.soft(sh.ellipse(x, y, -0.01, g["chin_y"] - 0.06, 0.06, 0.04), 0.03)
        shade = shade * (1.0 - 0.12 * below_lip) * (1.0 + 0.06 * chin)
        # A man's jaw is angular: its lower edge turns away from the light in a darker band.
        jaw_edge = torch.exp(torch.clamp(face_d, max=0.0) / 0.03) * sh.smoothstep(my - 0.04, my + 0.06, y)
        shade = shade * (1.0 - 0.3 * g["masc"] * jaw_edge)
        # Cheekbones catch light; hollows below them (less with full cheeks).
        cheekbone = sh.soft(sh.ellipse(ax, y, edx + 0.02, ey + 0.075, 0.07, 0.04), 0.03)
        hollow = sh.soft(sh.ellipse(ax, y, g["rx"] * 0.78, ny_ + 0.03, 0.05, 0.07), 0.04)
        shade = shade * (1.0 + 0.05 * cheekbone) * (1.0 - (0.10 - 0.08 * g["cheek"]) * hollow * (0.5 + g["masc"]))
        # Age marks are computed in their own smaller box (they are 1 outside it).
        ax0, ax1, ay0, ay1 = self.age_box
        hx0, _, hy0, _ = self.head_box
        local = (ax0 - hx0, ax1 - hx0, ay0 - hy0, ay1 - hy0)
        marks = self._age_marks(g, *self._grid(self.age_box))
        return self._paste(shade, local, self._crop(shade, local) * marks)

    def _age_marks(self, g: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        """Shading of an ageing face (a multiplier near 1): folds, lines, bags, jowls.

        Each mark is a dark crease with the lit skin fold beside it, sized to survive
        downscaling (a viewer or a face classifier sees a face at 64 px or less).
        """
        ax = torch.abs(x)
        lines, sag = g["lines"], g["sag"]
        ey, edx, ew, eh = g["eye_y"], g["eye_dx"], g["eye_w"], g["eye_h"]
        ny_, nw, my, mw = g["nose_y"], g["nose_w"], g["mouth_y"], g["mouth_w"]
        # Nasolabial folds: from the nose wings round the mouth corners, a crease with
        # a shadow on the mouth side and the cheek bulging (lit) over it.
        t = torch.clamp((y - (ny_ - 0.03)) / (my - ny_ + 0.05), 0.0, 1.0)
        fold_x = nw * 1.15 + 0.006 + (mw * 1.08 + 0.012 - nw * 1.15 - 0.006) * (1.6 * t - 0.6 * t * t)
        along = sh.smoothstep(ny_ - 0.035, ny_ - 0.01, y) * sh.smoothstep(my + 0.05 + 0.03 * sag, my + 0.0, y)
        du = ax - fold_x
        wid = 0.004 + 0.008 * lines
        crease = torch.exp(-((du / wid) ** 2))
        bulge = torch.exp(-(((du - 3.0 * wid) / (2.5 * wid)) ** 2))
        depth = 0.04 + 0.30 * lines + 0.12 * sag
        m = 1.0 - along * depth * (crease - 0.3 * bulge)
        # Marionette lines down from the mouth corners, and jowls beside the chin.
        mar_x = mw * 1.0 + 0.008 + (y - my) * 0.12
        mar = torch.exp(-(((ax - mar_x) / (0.004 + 0.005 * lines)) ** 2))
        mar = mar * sh.smoothstep(my + 0.005, my + 0.02, y) * sh.smoothstep(my + 0.04 + 0.05 * sag, my + 0.025, y)
        jowl = sh.soft(sh.ellipse(ax, y, g["jaw_rx"] * 0.78, my + 0.085, 0.06, 0.05), 0.03)
        m = m * (1.0 - (0.12 * lines + 0.06 * sag) * mar - 0.16 * sag * jowl)
        # Bags under the eyes: a crescent shadow below a puffy (lit) lower lid.
        ue = (ax - edx) / (ew * 1.25)
        win = torch.clamp(1.0 - ue * ue, 0.0, 1.0)
        bag_y = ey + eh * 0.62 + 0.016 + 0.014 * sag + 0.006 * ue
        dv = y - bag_y
        bw = 0.004 + 0.004 * sag
        bag = torch.exp(-((dv / bw) ** 2)) * win
        puff = torch.exp(-(((dv + 2.2 * bw) / (1.8 * bw)) ** 2)) * win
        m = m * (1.0 - (0.04 + 0.22 * sag + 0.08 * lines) * bag + (0.06 * sag + 0.02 * lines) * puff)
        circles = sh.soft(sh.ellipse(ax, y, edx + 0.005, ey + eh * 0.6 + 0.012, ew * 1.05, 0.022), 0.012)
        hollow = sh.soft(sh.ellipse(ax, y, edx + 0.045, ny_ + 0.01, 0.045, 0.06), 0.03)
        m = m * (1.0 - 0.14 * sag * circles - 0.10 * sag * hollow)
        # Crow's feet: rays fanning out from the outer eye corners.
        cu = ax - (edx + ew * 1.08)
        slope = (y - ey) / (torch.abs(cu) + 0.012)
        rays = torch.relu(torch.cos(slope * 6.0)) ** 4 * sh.smoothstep(0.006, 0.016, cu) * sh.smoothstep(0.05, 0.028, cu)
        rays = rays * sh.smoothstep(0.9, 0.45, torch.abs(slope))
        m = m * (1.0 - 0.16 * sh.smoothstep(0.25, 0.8, lines) * rays)
        # Forehead: a few wavy horizontal lines above the brows; two frown lines between them.
        fy = g["brow_y"] - y - 0.035 + 0.008 * torch.cos(x * 14.0)
        phase = fy * (2.0 * math.pi / 0.042)
        wrinkle = torch.relu(torch.cos(phase)) ** 8
        lit = torch.relu(torch.cos(phase + 1.3)) ** 6
        fwin = sh.smoothstep(-0.005, 0.01, fy) * sh.smoothstep(0.13, 0.09, fy) * sh.smoothstep(0.22, 0.1, ax)
        frown = torch.exp(-(((ax - 0.02) / 0.0045) ** 2)) * sh.smoothstep(0.05, 0.0, torch.abs(y - g["brow_y"] + 0.012))
        fl = sh.smoothstep(0.15, 0.7, lines)
        m = m * (1.0 - fl * (0.26 * wrinkle * fwin - 0.06 * lit * fwin + 0.2 * frown))
        # Older skin is uneven: blotches of pigment (age spots) and a coarser texture.
        blotch = torch.relu(sh.noise(x, y, 40.0, 7.0) - 0.15) + 0.5 * torch.relu(sh.noise(x, y, 95.0, 2.0) - 0.3)
        m = m * (1.0 - (0.10 * sag + 0.06 * lines) * blotch)
        return m


    def _skin_tint(self, g: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        """Additive colour: cheek warmth and a soft specular sheen."""
        ax = torch.abs(x)
        cheeks = sh.soft(sh.ellipse(ax, y, g["eye_dx"] + 0.02, g["nose_y"] - 0.005, 0.07, 0.05), 0.04)
        warmth = (0.01 + 0.06 * g["fem"] + 0.03 * g["makeup"]) * cheeks * (1.0 - 0.6 * g["tone"])
        red = _col(1.0, -0.6, -0.5).to(x) * warmth
        spec_f = sh.soft(sh.ellipse(x, y, -0.06, g["cy"] - 0.12, 0.10, 0.06), 0.05)
        spec_n = sh.soft(sh.ellipse(x, y, -0.008, g["nose_y"] - 0.03, 0.012, 0.02), 0.01)
        spec_c = sh.soft(sh.ellipse(torch.abs(x), y, g["eye_dx"] + 0.01, g["eye_y"] + 0.09, 0.07, 0.035), 0.03)
        spec_c = spec_c * (1.0 - 0.5 * sh.smoothstep(-0.1, 0.1, x))
        # Darker skin shows stronger, tighter highlights (forehead, nose bridge, cheekbones),
        # which keep its structure visible.
        spec = (0.025 + 0.16 * g["tone"]) * (spec_f + spec_n + spec_c * (1.0 - 0.6 * g["masc"]))
        bridge = torch.exp(-((x + 0.008) / 0.009) ** 2) * sh.smoothstep(g["eye_y"], g["eye_y"] + 0.05, y) * sh.smoothstep(g["nose_y"] - 0.01, g["nose_y"] - 0.06, y)
        spec = spec + 0.10 * g["tone"] ** 2 * (bridge + spec_f + 0.6 * spec_c)
        return red + spec

    def _back_hair(self, g: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        vol = g["h_volume"]
        cover = torch.clamp(g["h_cover"], 0.0, 1.0)
        curl = g["h_curl"]
        bumps = curl * 0.018 * torch.sin(x * 55.0) * torch.sin(y * 48.0 + 1.0)
        length = g["h_length"]
        # Short hair lies flat at the sides (its volume is on top) and stops above the ears.
        side_vol = vol * (0.45 + 0.55 * sh.smoothstep(0.1, 0.45, length))
        outer = sh.ellipse(x, y, 0.0, g["cy"] - 0.01, g["rx"] + side_vol + 0.012, g["ry"] + 0.8 * vol + 0.01) + bumps
        y_end = -0.19 + 1.14 * length
        half_w = g["rx"] + side_vol + 0.005 + 0.05 * length + 0.03 * curl * length
        box = sh.superellipse(x, y, 0.0, (y_end - 0.25) * 0.5, half_w, (y_end + 0.25) * 0.5 + 0.001, 4.0) + bumps
        d = sh.smin(outer, box, 0.04)
        # A ponytail falls over one shoulder.
        tail = sh.ellipse(x, y, 0.27, 0.30, 0.07 + 0.0 * x, 0.30) + 0.05 * (1.0 - g["h_tail"]) + bumps
        d = torch.minimum(d, tail + 10.0 * (1.0 - torch.clamp(g["h_tail"] * 4.0, 0.0, 1.0)))
        a = sh.fill(d, self.px) * cover
        # Only the long part shows below the ear line; short hair stays on the head.
        col = g["hair"] * 0.62 * (0.85 + 0.15 * self._strands(g, x, y))
        return a * (0.6 + 0.4 * g["h_density"]), col

    def _strands(self, g: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        """Hair texture in about 0..1: strands from the crown, or curls."""
        xp = 0.12 * g["h_part"]
        yp = g["cy"] - g["ry"] - 0.05
        q = (x - xp) / (torch.abs(y - yp) + 0.12)
        straight = 0.5 + 0.22 * torch.sin(q * 70.0 + 0.6 * torch.sin(y * 21.0)) + 0.14 * torch.sin(q * 151.0 + 1.3) + 0.14 * torch.sin(q * 37.0 + y * 9.0)
        c1 = torch.sin(x * 90.0 + torch.sin(y * 45.0) * 2.0) * torch.sin(y * 85.0 + torch.sin(x * 40.0) * 2.0)
        curly = 0.5 + 0.45 * c1
        c = torch.clamp(g["h_curl"], 0.0, 1.0)
        return straight + (curly - straight) * c

    def _front_hair(self, g: dict[str, Tensor], img: Tensor, x: Tensor, y: Tensor, face_d: Tensor) -> Tensor:
        ax = torch.abs(x)
        vol = g["h_volume"]
        curl = g["h_curl"]
        rx, ry, cy = g["rx"], g["ry"], g["cy"]
        bumps = curl * 0.018 * torch.sin(x * 55.0) * torch.sin(y * 48.0 + 1.0)
        side_vol = vol * (0.45 + 0.55 * sh.smoothstep(0.1, 0.45, g["h_length"]))
        outer = sh.ellipse(x, y, 0.0, cy - 0.01, rx + side_vol + 0.012, ry + 0.8 * vol + 0.01) + bumps
        # Hairline: lowered by a fringe, raised (M-shape) by recession, down to the ears at the sides.
        rec = g["h_recession"]
        fringe = g["h_fringe"]
        top = cy - ry
        y_hl = top + 0.20 + 0.04 * g["child"] - 0.20 * rec * rec + fringe * (g["brow_y"] - 0.045 - (top + 0.20))
        y_hl = y_hl + fringe * 0.012 * torch.sin(x * 60.0)
        temples = torch.exp(-(((ax - 0.17) / 0.07) ** 2)) * (0.03 + 0.10 * rec) * (1.0 - fringe)
        y_hl = y_hl - temples
        # Side part: the fringe sweeps lower on one side.
        y_hl = y_hl + g["h_part"] * 0.03 * sh.smoothstep(-0.2, 0.2, x) * (1.0 - fringe)
        side = sh.smoothstep(rx * 0.62, rx * 0.92, ax)
        ear_top = g["eye_y"] - 0.035 * sh.smoothstep(0.3, 0.05, g["h_length"])
        y_line = y_hl + (ear_top - y_hl) * side
        below = (y - y_line) / 0.008
        cap = sh.fill(outer, self.px) * torch.sigmoid(-below)
        # Baldness: the top clears, the sides (horseshoe) stay.
        cover = torch.clamp(g["h_cover"], 0.0, 1.0)
        cap = cap * (cover + (1.0 - cover) * g["h_sides"] * sh.smoothstep(rx * 0.55, rx * 0.85, ax) * sh.smoothstep(cy - 0.15, cy - 0.02, y))
        # Bun on top.
        # A partial style weight gives a smaller bun (not a see-through one).
        hb = torch.clamp(g["h_bun"], 0.0, 1.0)
        bun = sh.ellipse(x, y, 0.0, top - 0.07 * hb, 0.12 * hb + 1e-3, 0.095 * hb + 1e-3)
        bun_a = sh.fill(bun, self.px) * torch.clamp(hb * 10.0, 0.0, 1.0)
        a = torch.clamp(cap + bun_a, 0.0, 1.0) * g["h_density"]
        # Short styles are cut close at the sides (skin shows through above the ears).
        short = sh.smoothstep(0.3, 0.08, g["h_length"])
        a = a * (1.0 - 0.45 * short * side * sh.smoothstep(top + 0.2, g["eye_y"], y))
        # Shading: strands, darker at the roots / hairline edge, a sheen band, a shadow on the forehead.
        tex = self._strands(g, x, y)
        sheen = torch.exp(-(((y - (top + 0.13)) / 0.05) ** 2)) * sh.smoothstep(0.25, -0.1, x) * (1.0 - 0.5 * curl)
        light = 0.55 + 0.45 * (0.5 - 0.5 * (x / (rx + 0.05)))
        shade = (0.72 + 0.35 * tex) * light * (1.0 - 0.25 * torch.exp(-torch.clamp(-below, min=0.0) / 3.0)) + 0.35 * sheen
        hair_col = g["hair"] * shade + 0.05 * sheen
        # Buzz / stubble-like density: show skin through a fine texture.
        dens = g["h_density"]
        speck = 0.5 + 0.5 * sh.noise(x, y, 110.0, 1.0)
        a = a * (dens + (1.0 - dens) * speck)
        # Shadow the hair casts on the forehead just below the hairline.
        fshadow = torch.exp(-torch.clamp(below, min=0.0) / 2.5) * (1.0 - sh.fill(outer, self.px) * 0.0) * cover * dens
        img = img * (1.0 - 0.22 * fshadow * sh.fill(face_d, self.px) * (1.0 - a))
        return sh.over(img, hair_col, a)

    def _brows(self, g: dict[str, Tensor], img: Tensor, x: Tensor, y: Tensor) -> Tensor:
        ax = torch.abs(x)
        u = ax - g["eye_dx"]  # 0 above the eye centre, positive outward
        u0, u1 = -0.075, 0.080
        t = (u - u0) / (u1 - u0)
        peak = 0.62
        arch = g["brow_arch"] * (1.0 - ((t - peak) / (1.0 - peak + 0.0)) ** 2 * (t > peak).to(x.dtype) - ((t - peak) / peak) ** 2 * (t <= peak).to(x.dtype))
        yb = g["brow_y"] - arch + 0.01 * (t - 0.5) * g["masc"]
        thick = g["brow_t"] * (1.1 - 0.55 * torch.clamp(t, 0.0, 1.0) ** 1.5)
        d = torch.maximum(torch.abs(y - yb) - thick * 0.5, torch.maximum(u0 - u, u - u1) * 0.5)
        hairs = 0.75 + 0.25 * torch.sin(u * 400.0 + (y - yb) * 260.0)
        # Thick (men's) brows are dense; thin ones let the skin show between the hairs.
        dense = 0.55 + 0.25 * g["masc"]
        a = sh.fill(d, self.px * 1.6) * (dense + (0.9 - dense) * hairs) * (1.0 - 0.35 * sh.smoothstep(0.3, 0.0, t))

        col = g["hair"] * 0.55 + (0.06 - 0.03 * g["tone"])
        # Grey hair greys the brows less.
        return sh.over(img, col, a * 0.95)

    def _facial_hair(self, g: dict[str, Tensor], img: Tensor, x: Tensor, y: Tensor, face_d: Tensor, region: str) -> Tensor:
        fh = g["facial_hair"]
        ax = torch.abs(x)
        my, ny_ = g["mouth_y"], g["nose_y"]
        mw = g["mouth_w"]
        # Beard area: below a line from the sideburns to the mouth corners, plus the moustache.
        line = (ny_ - 0.01) + (g["eye_y"] + 0.06 - ny_ + 0.01) * sh.smoothstep(mw * 0.9, g["rx"] * 0.95, ax)
        cheek_line = line + 0.06 * sh.smoothstep(mw * 1.2, mw * 2.2, ax) * (1.0 - sh.smoothstep(g["rx"] * 0.7, g["rx"] * 0.95, ax))
        area = torch.sigmoid((y - cheek_line) / 0.012)
        # Clear band between the nose and the moustache edge, and the lips stay clear.
        beard_grow = sh.smoothstep(0.45, 0.9, fh)
        stub = sh.smoothstep(0.05, 0.35, fh)
        ext = 0.012 + 0.035 * beard_grow
        shape = sh.fill(face_d - ext * sh.smoothstep(my, g["chin_y"], y), self.px * 1.2)
        a = area * shape
        low = torch.sigmoid((y - cheek_line - 0.035) / 0.015)  # the jaw, below the cheekbones
        speck = 0.5 + 0.5 * sh.noise(x, y, 120.0, 3.0)
        # A beard is short, crinkled hair (not long strands), lit as a volume round the jaw.
        # Beard hairs grow downwards: fine vertical strokes, broken up by noise.
        strokes = 0.5 + 0.5 * torch.sin(x * 310.0 + 2.5 * sh.noise(x, y, 45.0, 5.0))
        crinkle = 0.4 * speck + 0.6 * strokes
        # Lit as a volume: darker towards the jaw outline and under the chin, so the jaw
        # line and chin stay readable through it.
        rim = torch.exp(torch.clamp(face_d, max=0.0) / 0.035)
        lit = (1.0 - 0.3 * sh.smoothstep(-0.25, 0.3, x)) * (1.0 - 0.3 * sh.smoothstep(my, g["chin_y"] + 0.06, y)) * (1.0 - 0.35 * rim)
        # Beard hair is finer than scalp hair and catches the light: lighter than the hair
        # colour, with the skin showing through it towards its edges.
        col = (g["hair"] * (0.85 + 0.3 * crinkle) + 0.04 + 0.08 * g["skin"]) * lit
        a_stub = a * (0.4 + 0.6 * low) * stub * (0.25 + 0.35 * speck)
        # A grown beard lets some skin show through, with a soft edge along the cheek line
        # (a hard one hid the jaw from face detectors), and a moustache over the upper lip
        # set off by a shadow under it.
        edge = torch.sigmoid((y - cheek_line - 0.03) / 0.014)
        a_beard = a * edge * beard_grow * (0.45 + 0.3 * crinkle)
        must = sh.soft(sh.ellipse(x, y, 0.0, my - g["lip_t"] - 0.004, mw * 1.05, 0.022), 0.006) * beard_grow
        col = col * (1.0 + 0.18 * must * sh.smoothstep(my - g["lip_t"] + 0.01, my - g["lip_t"] - 0.03, y))
        a_beard = torch.maximum(a_beard, must * (0.9 + 0.08 * crinkle))

        # Shaving shadow: the skin over the beard area greys and cools (less with fair hair).
        hair = g["hair"]
        dark = 1.0 - 0.7 * (hair[:, 0:1] + hair[:, 1:2] + hair[:, 2:3]) / 3.0
        shaven = a * low * sh.smoothstep(0.02, 0.16, fh)  # where beard grows, even shaven
        img = img * (1.0 - shaven * dark * (0.85 + 0.15 * speck) * _col(0.16, 0.13, 0.08).to(x))
        # Beard follicles: a coarser skin texture there.
        follicles = shaven * (0.045 + 0.035 * g["tone"])
        img = img * (1.0 + follicles * self._crop(self.grain, self.beard_box))
        out = sh.over(img, g["hair"] * 0.7, a_stub * 0.8)
        return sh.over(out, col, a_beard)

    # ------------------------------------------------------------------ animate

    def animate(self, prepared: Tensor, params: Tensor, anim: Tensor) -> Tensor:
        """Draw eyes and mouth of one frame onto prepared faces and turn the head.

        Args:
            prepared: [B, 3, S, S] from `prepare`.
            params: [B, PARAM_DIM], the rows given to `prepare`.
            anim: [B, ANIM_DIM] rows of `FaceAnimation.to_vector()`.

        Returns:
            [B, 3, S, S] float32 in 0..1.
        """
        g = self._geometry(params)

        def a(name: str) -> Tensor:
            return anim[:, _A[name]].reshape(-1, 1, 1, 1)

        # Work inside the head (warp) box only: paste the patches there, warp it, paste it back.
        region = self._crop(prepared, self.warp_box)
        eye_local, mouth_local = self._local(self.eye_box), self._local(self.mouth_box)
        eyes = self._eyes(g, self._crop(region, eye_local), a)
        mouth = self._mouth(g, self._crop(region, mouth_local), a)
        region = self._paste_all(region, ((eye_local, eyes), (mouth_local, mouth)))
        return self._paste(prepared, self.warp_box, self._warp(region, a))

    def _local(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A box in pixel coordinates of the warp box."""
        wx0, _, wy0, _ = self.warp_box
        return box[0] - wx0, box[1] - wx0, box[2] - wy0, box[3] - wy0

    def forward(self, params: Tensor, anim: Tensor) -> Tensor:
        """Full frames: [B, PARAM_DIM], [B, ANIM_DIM] -> [B, 3, S, S]."""
        return self.animate(self.prepare(params), params, anim)

    @staticmethod
    def _crop(img: Tensor, box: tuple[int, int, int, int]) -> Tensor:
        x0, x1, y0, y1 = box
        return img[:, :, y0:y1, x0:x1]

    @staticmethod
    def _paste(img: Tensor, box: tuple[int, int, int, int], patch: Tensor) -> Tensor:
        x0, x1, y0, y1 = box
        mid = torch.cat([img[:, :, y0:y1, :x0], patch, img[:, :, y0:y1, x1:]], dim=3)
        return torch.cat([img[:, :, :y0], mid, img[:, :, y1:]], dim=2)

    @classmethod
    def _paste_all(cls, img: Tensor, patches: tuple[tuple[tuple[int, int, int, int], Tensor], ...]) -> Tensor:
        """`_paste` of several patches, in one copy of ``img`` when their rows do not overlap."""
        order = sorted(patches, key=lambda item: item[0][2])
        if any(a[0][3] > b[0][2] for a, b in zip(order, order[1:], strict=False)):
            for box, patch in patches:
                img = cls._paste(img, box, patch)
            return img
        bands: list[Tensor] = []
        row = 0
        for (x0, x1, y0, y1), patch in order:
            bands.append(img[:, :, row:y0])
            bands.append(torch.cat([img[:, :, y0:y1, :x0], patch, img[:, :, y0:y1, x1:]], dim=3))
            row = y1
        bands.append(img[:, :, row:])
        return torch.cat(bands, dim=2)

    def _eyes(self, g: dict[str, Tensor], base: Tensor, a: _AnimGetter) -> Tensor:
        x, y = self._grid(self.eye_box)
        px = self.px
        sign = torch.sign(x)
        u = torch.abs(x) - g["eye_dx"]  # positive towards the outer corner
        w, h = g["eye_w"], g["eye_h"]
        tilt = 0.10 - 0.05 * g["sag"]
        v = y - g["eye_y"] + tilt * u
        s = torch.clamp(1.0 - (u / w) ** 2, 0.0, 1.0)
        # Upper lid peaks slightly towards the inner corner.
        skew = 1.0 - 0.18 * (u / w)
        v_up_open = -h * torch.sqrt(s + 1e-6) * skew
        v_low = h * 0.62 * s ** 0.75
        blink = torch.clamp(a("blink"), 0.0, 1.0)
        droop = g["lid_droop"]
        v_up = v_up_open + (v_low - v_up_open) * torch.clamp(blink + droop, 0.0, 1.0)
        inside = torch.sigmoid((v - v_up) / (px * 0.6)) * torch.sigmoid((v_low - v) / (px * 0.6)) * (s > 0).to(x.dtype)
        # Sclera with lid shadow and darker corners.
        sclera = g["sclera"] * (0.78 + 0.22 * torch.sqrt(s + 1e-6))
        lid_sh = torch.exp(-torch.clamp(v - v_up, min=0.0) / 0.006)
        sclera = sclera * (1.0 - 0.25 * lid_sh)
        # Iris, pupil and highlight follow the gaze.
        ri = w * 0.43
        gy = a("gaze_y") * h * 0.35
        ix = x - sign * g["eye_dx"] - a("gaze_x") * w * 0.38
        iy = y - g["eye_y"] - gy + 0.1 * h
        r = torch.sqrt(ix * ix + iy * iy + 1e-9)
        iris_a = sh.fill(r - ri, px)
        rim = sh.smoothstep(ri * 0.6, ri, r)
        streak = 0.9 + 0.1 * torch.sin(ix / (r + 1e-3) * 14.0) * torch.sin(iy / (r + 1e-3) * 11.0)
        iris = g["iris"] * (1.0 - 0.55 * rim ** 2) * streak * (1.0 - 0.3 * lid_sh)
        pupil_a = sh.fill(r - ri * 0.40, px)
        hl = sh.fill(sh.ellipse(ix, iy, -ri * 0.35, -ri * 0.38, ri * 0.16, ri * 0.16), px)
        eye = sh.over(sclera, iris, iris_a)
        eye = sh.over(eye, _col(0.03, 0.02, 0.02).to(x), pupil_a)
        eye = sh.over(eye, _col(1.0, 1.0, 1.0).to(x), hl * 0.9)
        out = sh.over(base, eye, inside)
        # Lid crease above the eye, eyeshadow with makeup.
        crease_v = v_up_open - 0.016 - 0.006 * g["fem"]
        crease = torch.exp(-(((v - crease_v) / 0.005) ** 2)) * torch.sqrt(s + 1e-6)
        lid_zone = torch.sigmoid((v - crease_v) / 0.004) * torch.sigmoid((v_up - v) / 0.003) * torch.sqrt(s + 1e-6)
        out = out * (1.0 - 0.22 * crease) * (1.0 - 0.12 * lid_zone * (1.0 + g["makeup"]))
        # Lash line / eyeliner along the upper lid (with a wing for makeup), lower lid line.
        lash_t = 0.0035 + 0.008 * g["fem"] + 0.006 * g["makeup"]
        wing = g["makeup"] * sh.smoothstep(0.6, 1.1, u / w) * sh.smoothstep(1.35, 1.1, u / w)
        lash_band = torch.exp(-(((v - v_up + lash_t * 0.3) / lash_t) ** 2)) * torch.clamp(s * 3.0, 0.0, 1.0)
        lash_band = torch.maximum(lash_band, wing * torch.exp(-(((v + (u - w) * 0.5 - v_up_open * 0.0) / 0.004) ** 2)))
        out = sh.over(out, _col(0.05, 0.035, 0.03).to(x), lash_band * 0.9)
        low_line = torch.exp(-(((v - v_low - 0.002) / 0.0035) ** 2)) * torch.sqrt(s + 1e-6)
        out = out * (1.0 - 0.25 * low_line * (1.0 - blink))
        # Bags under the eyes with age.
        bag_v = v_low + 0.02
        bag = torch.exp(-(((v - bag_v) / 0.006) ** 2)) * torch.clamp(1.0 - (u / (w * 1.1)) ** 2, 0.0, 1.0)
        out = out * (1.0 - (0.05 + 0.2 * g["sag"] + 0.1 * g["lines"]) * bag)
        return out

    def _mouth(self, g: dict[str, Tensor], base: Tensor, a: _AnimGetter) -> Tensor:
        x, y = self._grid(self.mouth_box)
        px = self.px
        ax = torch.abs(x)
        opn = torch.clamp(a("mouth_open"), 0.0, 1.0)
        va, vei, vou, vmbp, vrest = a("v_a"), a("v_ei"), a("v_ou"), a("v_mbp"), a("v_rest")
        wsum = va + vei + vou + vmbp + vrest + 1e-6
        va, vei, vou, vmbp, vrest = va / wsum, vei / wsum, vou / wsum, vmbp / wsum, vrest / wsum
        width = g["mouth_w"] * (1.0 + 0.18 * vei - 0.30 * vou - 0.03 * vmbp + 0.05 * va)
        gap = opn * (0.075 * va + 0.035 * vei + 0.05 * vou + 0.025 * vrest) * (1.0 - vmbp)
        lt = g["lip_t"] * (1.0 - 0.35 * vmbp + 0.25 * vou)
        my = g["mouth_y"]
        t = x / width
        s = torch.clamp(1.0 - t * t, 0.0, 1.0)
        roundness = 0.5 - 0.25 * vou
        sr = s ** roundness
        # Opening (lens) and lips around it; corners droop with sagging.
        droop = (0.004 + 0.012 * g["sag"]) * (1.0 - s)
        v = y - my - droop
        gap_top = -gap * 0.35 * sr
        gap_bot = gap * 0.65 * sr
        bow = 1.0 - 0.35 * torch.exp(-((x / (width * 0.12)) ** 2))
        up_edge = gap_top - lt * 0.85 * s ** 0.45 * (0.75 + 0.25 * bow) - 0.004 * sr
        low_edge = gap_bot + lt * 1.15 * s ** 0.55
        lips = torch.sigmoid((v - up_edge) / (px * 0.8)) * torch.sigmoid((low_edge - v) / (px * 0.8)) * (s > 0).to(x.dtype)
        inner = torch.sigmoid((v - gap_top) / (px * 0.6)) * torch.sigmoid((gap_bot - v) / (px * 0.6)) * (s > 0).to(x.dtype)
        # Lip colour from the skin, redder and darker; lipstick with makeup.
        skin = g["skin"]
        lum = (skin[:, 0:1] + skin[:, 1:2] + skin[:, 2:3]) / 3.0
        natural = g["lip_natural"]
        lipstick = _col(0.66, 0.13, 0.20).to(x) * (0.7 + 0.3 * lum)
        lip_col = natural + (lipstick - natural) * (0.75 * g["makeup"])
        upper = (v < gap_top).to(x.dtype)
        lshade = 0.82 + 0.18 * (1.0 - upper)  # upper lip faces down, darker
        hl = torch.exp(-(((v - (gap_bot + lt * 0.45)) / (lt * 0.3 + 1e-4)) ** 2)) * (1.0 - upper) * torch.exp(-((x + 0.01) / (width * 0.5)) ** 2)
        lip_img = lip_col * lshade * (0.88 + 0.12 * s) + 0.10 * hl
        out = sh.over(base, lip_img, lips)
        # Mouth line when closed.
        line = torch.exp(-(((v - (gap_top + gap_bot) * 0.5) / 0.0035) ** 2)) * sr * (1.0 - sh.smoothstep(0.004, 0.015, gap))
        out = out * (1.0 - 0.55 * line)
        # Interior: dark mouth, upper teeth, tongue.
        teeth_h = 0.012 + 0.3 * gap * 0.35
        teeth = torch.sigmoid((gap_top + teeth_h - v) / (px * 0.7)) * sh.smoothstep(0.95, 0.55, ax / width)
        tongue = sh.soft(sh.ellipse(x, v, 0.0, gap_bot + 0.006, width * 0.55, gap * 0.45 + 0.004), 0.004)
        mouth_in = _col(0.22, 0.07, 0.07).to(x) * (0.5 + 0.5 * sh.smoothstep(0.0, gap + 1e-3, v - gap_top))
        mouth_in = sh.over(mouth_in, _col(0.62, 0.28, 0.28).to(x), tongue * 0.8)
        mouth_in = sh.over(mouth_in, _col(0.92, 0.90, 0.84).to(x) * (0.75 + 0.25 * s), teeth)
        out = sh.over(out, mouth_in, inner)
        # Moustache in front of the upper lip (the rest of the beard is in the prepared layer).
        fh = g["facial_hair"]
        must = torch.sigmoid((up_edge + 0.006 - v) / 0.004) * (1.0 - upper * 0.0) * lips * sh.smoothstep(0.45, 0.9, fh)
        out = sh.over(out, g["hair"] * 0.7, must * 0.9)
        return out

    def _warp(self, region: Tensor, a: _AnimGetter) -> Tensor:
        """Turn the head: resample the warp-box `region` (sampling stays inside it)."""
        deg = math.pi / 180.0
        yaw = torch.clamp(a("yaw"), -10.0, 10.0).reshape(-1, 1, 1) * deg
        pitch = torch.clamp(a("pitch"), -10.0, 10.0).reshape(-1, 1, 1) * deg
        roll = torch.clamp(a("roll"), -10.0, 10.0).reshape(-1, 1, 1) * deg
        breath = torch.clamp(a("breath"), 0.0, 1.0).reshape(-1, 1, 1)
        # Inverse map, in the box's pixel units: where each output pixel samples from. The
        # head (weighted by its mask) rolls about the pivot and shifts with its depth for
        # yaw and pitch; breathing lifts it a little.
        c1, s = torch.cos(roll) - 1.0, torch.sin(roll)
        hx, hy, hd = self.warp_hx, self.warp_hy, self.warp_hd
        fx = self.warp_col + c1 * hx + s * hy - torch.sin(yaw) * hd
        fy = self.warp_row - s * hx + c1 * hy - torch.sin(pitch) * hd + breath * self.warp_rise
        x0, x1, y0, y1 = self.warp_box
        return _bilinear(region, fx, fy, x1 - x0, y1 - y0)
