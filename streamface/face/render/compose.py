"""`FaceRenderer`: composes the layers into a batched, differentiable, ONNX-exportable module.

Two stages keep per-frame work small:

* `prepare(params)` draws everything that does not move: background, back hair, a ponytail, shoulders,
  neck, ears, skin and shading, nose, age lines, freckles, beauty mark, facial hair, front
  hair and the arms of glasses. The eye/brow and mouth areas are left as bare skin.
* `animate(prepared, params, anim)` draws the eyes and brows (blink, gaze, brows that lift
  with open vowels), glasses and the mouth (viseme, openness, teeth, tongue) into two
  small fixed patches, pastes them, and warps the head box for yaw, pitch, roll and
  breathing.

`part(prepared, params, anim, name)` draws only one of those patches ("eyes" or "mouth") as it
appears in the frame at zero pose (where the head warp is the identity): the frame's
pixels in `part_box(name)` without drawing the rest (`face.sprites` caches them).

`forward(params, anim) == animate(prepare(params), params, anim)`. Inputs are float32
[B, PARAM_DIM] and [B, ANIM_DIM]; the output is float32 [B, 3, S, S] in 0..1. No Python
control flow on tensor values and no data-dependent shape: the module exports to ONNX
with a dynamic batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from streamface.face import shapes as sh
from streamface.face.animation import ANIM_FIELDS
from streamface.face.render import eyes as eye_layer
from streamface.face.render import facial_hair, hair, skin
from streamface.face.render.common import (
    BACK_BOX,
    BEARD_BOX,
    BODY_BOX,
    CENTRE,
    EYE_BOX,
    FACE_BOX,
    HAIR,
    HAIR_RED,
    HEAD_BOX,
    IRIS,
    MOUTH_BOX,
    PIVOT,
    TAIL_BOX,
    WARP_BOX,
    ZOOM,
    AnimGetter,
    Box,
    Geometry,
    bilinear,
    concat,
    crop,
    frame_coords,
    inner,
    paste,
    paste_all,
    pixel_size,
)
from streamface.face.render.geometry import geometry
from streamface.face.render.mouth import mouth
from streamface.face.skin_tones import skin_palette

_A = {name: i for i, name in enumerate(ANIM_FIELDS)}


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
    hair_styles: Tensor
    beard_styles: Tensor
    freckle_dots: Tensor
    warp_col: Tensor
    warp_row: Tensor
    warp_hx: Tensor
    warp_hy: Tensor
    warp_hd: Tensor
    warp_rise: Tensor

    def __init__(self, size: int = 512) -> None:
        super().__init__()
        if size < 64:
            raise ValueError(f"size must be at least 64, got {size}")
        self.size = size
        self.px = pixel_size(size)
        fx, fy = frame_coords(size)
        buffers = {
            "xs": torch.tensor(fx, dtype=torch.float32).reshape(1, 1, 1, size),
            "ys": torch.tensor(fy, dtype=torch.float32).reshape(1, 1, size, 1),
            "skin_pal": torch.tensor(skin_palette()),
            "hair_pal": torch.tensor(HAIR),
            "hair_red_pal": torch.tensor(HAIR_RED),
            "iris_pal": torch.tensor(IRIS),
            "hair_styles": torch.tensor(list(hair.STYLES.values())),
            "beard_styles": torch.tensor(list(facial_hair.BEARD_ROWS.values())),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)
        self.eye_box = self._box(EYE_BOX)
        self.mouth_box = self._box(MOUTH_BOX)
        self.warp_box = self._box(WARP_BOX)
        self.head_box = self._box(HEAD_BOX)
        self.face_box = self._box(FACE_BOX)
        self.beard_box = self._box(BEARD_BOX)
        self.back_box = self._box(BACK_BOX)
        self.tail_box = self._box(TAIL_BOX)
        self.body_box = self._box(BODY_BOX)
        self.freckle_box = self._box(skin.FRECKLE_BOX)
        # `_layers` draws these into the back hair's box, and the body across the frame (true
        # at every size).
        assert self.body_box[:2] == (0, size)
        for box in (self.tail_box, self.head_box, self.warp_box):
            x0, x1, y0, y1 = inner(box, self.back_box)
            assert min(x0, y0) >= 0 and x1 <= self.back_box[1] - self.back_box[0] and y1 <= self.back_box[3] - self.back_box[2]
        self.register_buffer("freckle_dots", skin.freckle_field(size, self.freckle_box), persistent=False)
        self._init_warp()

    # ------------------------------------------------------------------ layout

    def _box(self, box: tuple[float, float, float, float]) -> Box:
        s = self.size

        def pix(v: float, centre: float) -> int:
            return int(min(max(round(((v - centre) / ZOOM + 1.0) / 2.0 * s), 0), s))

        cx, cy = CENTRE
        return pix(box[0], cx), pix(box[1], cx), pix(box[2], cy), pix(box[3], cy)

    def _grid(self, box: Box) -> tuple[Tensor, Tensor]:
        x0, x1, y0, y1 = box
        return self.xs[..., x0:x1], self.ys[..., y0:y1, :]

    def _geometry(self, params: Tensor) -> Geometry:
        bufs = {
            "skin_pal": self.skin_pal,
            "hair_pal": self.hair_pal,
            "hair_red_pal": self.hair_red_pal,
            "iris_pal": self.iris_pal,
            "hair_styles": self.hair_styles,
            "beard_styles": self.beard_styles,
        }
        return geometry(params, bufs)

    def _init_warp(self) -> None:
        x0, x1, y0, y1 = self.warp_box
        x = self.xs[0, 0, 0, x0:x1].reshape(1, -1).expand(y1 - y0, -1)
        y = self.ys[0, 0, y0:y1, 0].reshape(-1, 1).expand(-1, x1 - x0)
        # Head weight: 1 over the head, fading down the neck and towards the box edges.
        head = torch.sigmoid((0.30 - y) / 0.04) * torch.sigmoid((0.58 - torch.abs(x)) / 0.012)
        head = head * torch.sigmoid((y + 0.97) / 0.02)
        # Depth of the face as an ellipsoid bump: features near the front move most on yaw.
        u = x / 0.40
        v = (y + 0.14) / 0.55
        depth = torch.sqrt(torch.clamp(1.0 - u * u - v * v, min=0.0) + 1e-6)
        # Breathing: the head rises a little; the box edges stay put.
        rise = torch.sigmoid((y + 0.85) / 0.05) * torch.sigmoid((0.40 - y) / 0.02)
        rise = rise * torch.sigmoid((0.58 - torch.abs(x)) / 0.012)
        px0, py0 = PIVOT
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

    # ------------------------------------------------------------------ prepare

    def prepare(self, params: Tensor) -> Tensor:
        """Static layers of B faces: [B, PARAM_DIM] -> [B, 3, S, S] (eyes, brows and mouth bare)."""
        img, strip, _ = self._layers(self._geometry(params))
        return torch.clamp(paste(img, self.back_box, strip), 0.0, 1.0)

    def _layers(self, g: Geometry) -> tuple[Tensor, Tensor, Tensor]:
        """`prepare`'s layers, unclamped: the backdrop and body over the whole frame, what the
        back hair's box holds after every layer drawn in it (the hair, the ponytail and the
        head's layers, whose boxes lie inside it: drawn into it, not into the whole frame,
        which is put together once), and the front hair's coverage over the head box (a
        whole frame keeps the fringe over the eyes with its crop, `forward`)."""
        px = self.px
        # Each layer works in the box it can reach, which keeps the full frame cheap. (The
        # backdrop is made in bands above, behind and below the body: its light is a
        # constant, cropped for free, where cropping a drawn frame copies it.)
        light = skin.backdrop(self.xs, self.ys)
        _, _, y0, y1 = self.body_box
        body = skin.body(g, g["bg"] * light[:, :, y0:y1], *self._grid(self.body_box), px)
        img = concat([g["bg"] * light[:, :, :y0], body, g["bg"] * light[:, :, y1:]], dim=2)
        # The hair's shape and colour once over the back hair's box; the front hair's head
        # box lies inside it and draws from its crop.
        back_grid = self._grid(self.back_box)
        m = hair.mass(g, *back_grid)
        strip = hair.back_hair(g, crop(img, self.back_box), *back_grid, px, m)
        tail_local = inner(self.tail_box, self.back_box)
        tail = hair.tail_layer(g, crop(strip, tail_local), *self._grid(self.tail_box), px)
        strip = paste(strip, tail_local, tail)
        head_local = inner(self.head_box, self.back_box)
        front = {k: crop(v, head_local) if v.shape[-1] > 1 else v for k, v in m.items()}
        head, cover = self._head_layers(g, crop(strip, head_local), *self._grid(self.head_box), front)
        return img, paste(strip, head_local, head), cover

    def _head_layers(
        self, g: Geometry, img: Tensor, x: Tensor, y: Tensor, m: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Ears, face and front hair over the head box; and the front hair's coverage."""
        px = self.px
        img = skin.ears(g, img, x, y, px)
        face_local = inner(self.face_box, self.head_box)
        fx, fy = self._grid(self.face_box)
        face_d = skin.face_sdf(g, x, y)
        face_a = sh.fill(face_d, px)
        face_img = self._face(g, crop(img, face_local), fx, fy, crop(face_d, face_local))
        img = paste(img, face_local, face_img)
        f = hair.front(g, x, y, px, m=m)
        return hair.front_hair(g, img, x, y, px, face_a, m, f), f["a"]

    def _face(self, g: Geometry, img: Tensor, x: Tensor, y: Tensor, face_d: Tensor) -> Tensor:
        """Skin, shading, lines, marks, facial hair and glasses arms within the face box."""
        px = self.px
        face = skin.age_lines(g, skin.shading(g, x, y, face_d), x, y)
        img = sh.over(img, face, sh.fill(face_d, px))
        fbox = inner(self.freckle_box, self.face_box)
        img = paste(img, fbox, skin.marks(g, crop(img, fbox), *self._grid(self.freckle_box), px, self.freckle_dots))
        bbox = inner(self.beard_box, self.face_box)
        bx, by = self._grid(self.beard_box)
        beard = facial_hair.beard(g, crop(img, bbox), bx, by, px, crop(face_d, bbox))
        img = paste(img, bbox, beard)
        return eye_layer.glasses_arms(g, img, x, y, px)

    # ------------------------------------------------------------------ animate

    def animate(self, prepared: Tensor, params: Tensor, anim: Tensor) -> Tensor:
        """Draw eyes, brows, glasses and mouth of one frame onto prepared faces and turn the head.

        Args:
            prepared: [B, 3, S, S] from `prepare`.
            params: [B, PARAM_DIM], the rows given to `prepare`.
            anim: [B, ANIM_DIM] rows of `FaceAnimation.to_vector()`.

        Returns:
            [B, 3, S, S] float32 in 0..1.
        """
        g = self._geometry(params)
        return paste(prepared, self.warp_box, self._turn(g, crop(prepared, self.warp_box), anim))

    def _turn(self, g: Geometry, region: Tensor, anim: Tensor, cover: Tensor | None = None) -> Tensor:
        """`animate`'s warp box: eyes, brows, glasses and mouth drawn onto ``region`` (the warp
        box of a prepared frame), head turned. ``cover``: the fringe's coverage over the eye
        box, when known (`_eyes`)."""

        def a(name: str) -> Tensor:
            return anim[:, _A[name]].reshape(-1, 1, 1, 1)

        eye_local, mouth_local = inner(self.eye_box, self.warp_box), inner(self.mouth_box, self.warp_box)
        eyes = self._eyes(g, crop(region, eye_local), a, cover)
        lips = mouth(g, crop(region, mouth_local), *self._grid(self.mouth_box), self.px, a)
        region = paste_all(region, ((eye_local, eyes), (mouth_local, lips)))
        return self._warp(region, a)

    PARTS: tuple[str, ...] = ("eyes", "mouth")
    """The patches `part` draws."""

    def part_box(self, name: str) -> Box:
        """Pixel box of a part in the frame."""
        if name not in self.PARTS:
            raise ValueError(f"unknown part {name!r}; one of {self.PARTS}")
        return self.eye_box if name == "eyes" else self.mouth_box

    def part(self, prepared: Tensor, params: Tensor, anim: Tensor, name: str) -> Tensor:
        """One animated patch of B frames at zero pose: `animate`'s pixels in `part_box`.

        The pose fields of ``anim`` are ignored (the patch is drawn before the head warp,
        which is the identity at zero pose). Returns [B, 3, h, w] float32.
        """
        g = self._geometry(params)

        def a(field: str) -> Tensor:
            return anim[:, _A[field]].reshape(-1, 1, 1, 1)

        box = self.part_box(name)
        if name == "eyes":
            return self._eyes(g, crop(prepared, box), a)
        return mouth(g, crop(prepared, box), *self._grid(box), self.px, a)

    def _eyes(self, g: Geometry, base: Tensor, a: AnimGetter, cover: Tensor | None = None) -> Tensor:
        x, y = self._grid(self.eye_box)
        px = self.px
        out = eye_layer.eyes(g, base, x, y, px, a)
        out = eye_layer.brows(g, out, x, y, px, eye_layer.brow_lift(g, a))
        # Hair in front (a fringe, curtains) stays in front of the brows and eyes. (A whole
        # frame has its coverage from `_layers`: the same values, the bun never reaches here.)
        if cover is None:
            cover = hair.front(g, x, y, px, full=False)["a"]
        out = out + (base - out) * cover
        return eye_layer.glasses(g, out, x, y, px)

    def forward(self, params: Tensor, anim: Tensor) -> Tensor:
        """Full frames: [B, PARAM_DIM], [B, ANIM_DIM] -> [B, 3, S, S]: `animate` of `prepare`."""
        # (Put together from `_layers`' parts: the same pixels as pasting the back hair's box
        # into the frame, clamping, cropping the warp box and pasting it back, without
        # copying the whole frame for each.)
        g = self._geometry(params)
        img, strip, cover = self._layers(g)
        strip = torch.clamp(strip, 0.0, 1.0)
        warp_local = inner(self.warp_box, self.back_box)
        turned = self._turn(g, crop(strip, warp_local), anim, crop(cover, inner(self.eye_box, self.head_box)))
        return paste(torch.clamp(img, 0.0, 1.0), self.back_box, paste(strip, warp_local, turned))

    def _warp(self, region: Tensor, a: AnimGetter) -> Tensor:
        """Turn the head: resample the warp-box `region` (sampling stays inside it)."""
        deg = math.pi / 180.0
        yaw = torch.clamp(a("yaw"), -10.0, 10.0).reshape(-1, 1, 1) * deg
        pitch = torch.clamp(a("pitch"), -10.0, 10.0).reshape(-1, 1, 1) * deg
        roll = torch.clamp(a("roll"), -10.0, 10.0).reshape(-1, 1, 1) * deg
        breath = torch.clamp(a("breath"), 0.0, 1.0).reshape(-1, 1, 1)
        # Inverse map, in the box's pixel units: the head (weighted by its mask) rolls about
        # the pivot and shifts with its depth for yaw and pitch; breathing lifts it a little.
        c1, s = torch.cos(roll) - 1.0, torch.sin(roll)
        hx, hy, hd = self.warp_hx, self.warp_hy, self.warp_hd
        fx = self.warp_col + c1 * hx + s * hy - torch.sin(yaw) * hd
        fy = self.warp_row - s * hx + c1 * hy - torch.sin(pitch) * hd + breath * self.warp_rise
        x0, x1, y0, y1 = self.warp_box
        return bilinear(region, fx, fy, x1 - x0, y1 - y0)
