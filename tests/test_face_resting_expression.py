"""The resting face reads pleasant, from the pixels: no frown drawn by a moustache, no raised
brow line drawn by a frame (issue #13, face-api read faces sad, surprised or fearful).

A moustache whose ends drooped past the hidden mouth corners drew an arch over the mouth
(face-api read grey-bearded seniors sad); a tall frame put its top bar, the only line over
an eye under a fringe, high above the eye (it read surprised or fearful).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import col_of, row_of

from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.renderer import FaceRenderer

SIZE = 512
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
MAN = {"masculinity": 0.9, "makeup": 0.0, "age": 0.45, "hair_style": "crew", "skin_tone": 0.1, "hair_lightness": 0.1}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _render(renderer: FaceRenderer, *overrides: dict[str, object]) -> tuple[np.ndarray, dict]:
    """[N, S, S, 3] float frames at rest, and the geometry of the faces."""
    faces = [FaceParams().with_overrides(o) for o in overrides]
    params = torch.from_numpy(params_matrix(faces))
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * len(faces)))
    with torch.no_grad():
        out = renderer(params, anim)
        g = renderer._geometry(params)
    return out.permute(0, 2, 3, 1).numpy(), g


@pytest.mark.parametrize("style", ["moustache", "circle", "goatee"])
def test_moustache_ends_do_not_droop_past_the_mouth_corners(renderer: FaceRenderer, style: str) -> None:
    # The moustache's lower edge (where the drawn hair ends above the lips) sits higher near
    # its ends than at the centre, as the resting upper lip does.
    base = {**MAN, "facial_hair_style": style}
    img, g = _render(renderer, {**base, "facial_hair": 0.9}, {**base, "facial_hair": 0.0})
    hair = np.abs(img[0] - img[1]).max(axis=-1) > 0.3
    my, mw = float(g["mouth_y"][0, 0]), float(g["mouth_w"][0, 0])
    rows = slice(_row(my - 0.06), _row(my + 0.004))  # over the lips, above any chin patch

    def lower_edge(x: float) -> int:
        drawn = np.flatnonzero(hair[rows, _col(x)])
        assert len(drawn) > 3, f"no moustache at x={x:.3f}"
        return int(drawn[-1])

    centre = lower_edge(0.0)
    for end in (-0.95 * mw, 0.95 * mw):
        assert lower_edge(end) <= centre - 2, f"moustache end at row {lower_edge(end)}, centre at {centre}"


def test_glasses_bottom_bar_sits_close_under_the_eye(renderer: FaceRenderer) -> None:
    # Down the column through the eye's centre, the frame's bottom bar is nearer the eye's
    # centre than its top bar is (a deep frame outlined a wide-open eye).
    face = {"masculinity": 0.0, "age": 0.35, "hair_style": "long", "skin_tone": 0.15, "glasses": 1.0,
            "glasses_tint": 0.0, "glasses_shape": 1.0}
    img, g = _render(renderer, face)
    eye_y, eye_h = float(g["eye_y"][0, 0]), float(g["eye_h"][0, 0])
    lum = img[0].mean(axis=-1)[:, _col(float(g["eye_dx"][0, 0]))]
    skin = float(lum[_row(eye_y + eye_h + 0.12)])
    dark = lum < skin - 0.3
    above = np.flatnonzero(dark[_row(eye_y - eye_h - 0.07) : _row(eye_y - eye_h - 0.012)])
    below = np.flatnonzero(dark[_row(eye_y + eye_h + 0.004) : _row(eye_y + eye_h + 0.07)])
    assert len(above) and len(below), "no frame found above and below the eye"
    top_inner = _row(eye_y - eye_h - 0.07) + int(above[-1])
    bottom_inner = _row(eye_y + eye_h + 0.004) + int(below[0])
    centre = _row(eye_y)
    assert bottom_inner - centre < centre - top_inner - 2, (top_inner, centre, bottom_inner)
