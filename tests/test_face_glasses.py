"""Brows and glasses from the pixels: a feminine brow rests on the top rim, and a fringe does not hide it.

A thin arched brow high over the frame (a second raised line over the eye) or a brow hidden
by a fringe (the frame's top bar the only brow-like line) made face-api read faces with
glasses surprised or fearful (issue #13).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import col_of, row_of

from streamface.face import shapes as sh
from streamface.face.animation import FaceAnimation
from streamface.face.params import HAIR_STYLES, FaceParams, params_matrix
from streamface.face.render import eyes, hair
from streamface.face.renderer import FaceRenderer

SIZE = 256
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _face(style: str, **kw: float) -> FaceParams:
    """A young woman with dark brows and a dark frame on light skin (high, arched brows)."""
    base: dict[str, float] = dict(
        masculinity=0.0, hair_style=float(HAIR_STYLES.index(style)), glasses=1.0, glasses_tint=0.0,
        glasses_shape=0.5, skin_tone=0.15, hair_lightness=0.15, brow_arch=1.0, brow_height=1.0, age=0.35,
    )
    base.update(kw)
    return FaceParams(**base)




def _render(renderer: FaceRenderer, face: FaceParams, **anim: float) -> tuple[torch.Tensor, torch.Tensor, dict]:
    params = torch.from_numpy(params_matrix([face]))
    vec = torch.from_numpy(FaceAnimation(**anim).to_vector()[None])
    with torch.no_grad():
        prepared = renderer.prepare(params)
        return prepared[0], renderer.animate(prepared, params, vec)[0], renderer._geometry(params)


def _drawn_outside_frame(renderer: FaceRenderer, face: FaceParams, **anim: float) -> tuple[torch.Tensor, dict]:
    """Eye-box pixels that animate draws above the lens centre and clear of the frame (the brows)."""
    prepared, frame, g = _render(renderer, face, **anim)
    lw, lh, ly = eyes.lens(g)
    x0, x1, y0, y1 = renderer.eye_box
    xs = renderer.xs[0, 0, 0, x0:x1].reshape(1, -1)
    ys = renderer.ys[0, 0, y0:y1, 0].reshape(-1, 1)
    n = 2.0 + 2.5 * g["glasses_shape"][0, 0]
    d = sh.superellipse(xs.abs(), ys, g["eye_dx"][0, 0], ly[0, 0], lw[0, 0], lh[0, 0], n)
    drawn = (frame - prepared).abs().sum(0)[y0:y1, x0:x1] > 0.1
    return drawn & (d > 0.012) & (ys < ly[0, 0]), g


def _brow_pixels_outside_frame(renderer: FaceRenderer, face: FaceParams, **anim: float) -> int:
    return int(_drawn_outside_frame(renderer, face, **anim)[0].sum())


def test_feminine_brow_rests_on_the_top_rim(renderer: FaceRenderer) -> None:
    # Down the column through the brow's peak, from well above the frame to the top bar's
    # lower edge: brow and bar are one dark run, with no skin between them (a doubled line).
    _, frame, g = _render(renderer, _face("long"))
    _, lh, ly = eyes.lens(g)
    top = float(ly - lh)
    peak_x = float(g["eye_dx"] + 0.35 * g["eye_w"])  # where the brow's arch is highest
    lum = frame.mean(0)[:, _col(peak_x)].numpy()
    skin = float(lum[_row(float(ly + lh) + 0.03)])  # the cheek under the frame
    dark = lum[_row(top - 0.10) : _row(top + 0.009)] < skin - 0.15
    runs = int(dark[0]) + int(np.sum(dark[1:] & ~dark[:-1]))
    assert dark.any()
    assert runs == 1, f"brow and rim are {runs} separate lines: {''.join('#' if v else '.' for v in dark)}"


def test_fringe_does_not_hide_the_brows_over_glasses(renderer: FaceRenderer) -> None:
    # The same brows under a full fringe show (almost) as much as with the forehead bare.
    bare = _brow_pixels_outside_frame(renderer, _face("long"))
    fringe = _brow_pixels_outside_frame(renderer, _face("bob_bangs"))
    assert bare > 50
    assert fringe >= 0.9 * bare, (fringe, bare)


def test_brows_lifting_with_speech_stay_under_the_fringe(renderer: FaceRenderer) -> None:
    # Open vowels lift the brows; they slide under the fringe, never drawn over the hair.
    face = _face("bob_bangs")
    brows, g = _drawn_outside_frame(renderer, face, mouth_open=1.0, v_rest=0.0, v_a=1.0)
    x0, x1, y0, y1 = renderer.eye_box
    cover = hair.front(g, renderer.xs[..., x0:x1], renderer.ys[..., y0:y1, :], renderer.px, full=False)["a"][0, 0]
    assert int(brows.sum()) > 50
    assert int((brows & (cover > 0.99)).sum()) == 0


def test_masculine_brows_keep_their_place_over_glasses() -> None:
    # Only feminine brows move onto the rim (masculine ones read angry there).
    g_with = FaceRenderer(64)._geometry(torch.from_numpy(params_matrix([_face("crew", masculinity=1.0)])))
    assert torch.allclose(eyes.brow_line(g_with), g_with["brow_y"])
