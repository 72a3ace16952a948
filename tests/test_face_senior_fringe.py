"""An older woman's fringe as a person sees it at 100 % (issue 13, "Face 2.0").

A blunt fringe down to the brows on an older woman read as a wig: it hid the brows' arch
(grey brows on darker skin merging into the grey fringe) and left her eyes under a flat
grey bar; dlib read 4 of 11 such senior women as men. Hers is cut shorter and ends well
clear of the brows; a young woman's still reaches down to them.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import col_of, row_of

from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import eyes
from streamface.face.renderer import FaceRenderer

SIZE = 256
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
WOMAN = {"masculinity": 0.0, "glasses": 0.0, "hair_grey": 0.0, "hair_mix": 0.0, "hair_thinning": 0.0}
SENIOR = {**WOMAN, "age": 0.92, "age_lines": 1.0, "age_sag": 1.0}
YOUNG = {**WOMAN, "age": 0.33, "age_lines": 0.0, "age_sag": 0.0}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _fringe_gap(renderer: FaceRenderer, face: dict[str, object]) -> float:
    """Normalised height of bare forehead between the fringe's lower edge and the brows'
    peak, over the middle of the forehead (negative: the fringe hangs over the brows).

    Hair is where the frame changes with the hair's colour (drawn near black and near
    blonde); the fringe's edge is the lowest hair row above the eyes, per column."""
    faces = [FaceParams().with_overrides({**face, "hair_lightness": v}) for v in (0.05, 0.9)]
    params = torch.from_numpy(params_matrix(faces))
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * 2))
    with torch.no_grad():
        img = renderer(params, anim).permute(0, 2, 3, 1).numpy()
        g = renderer._geometry(params[:1])
    top = float(eyes.brow_top(g).flatten()[0])
    eye_y = float(g["eye_y"].flatten()[0])
    hair = np.abs(img[0] - img[1]).max(axis=-1) > 0.2
    rows = np.arange(SIZE)
    above_eyes = rows < _row(eye_y)
    edges = [rows[hair[:, c] & above_eyes].max() for c in range(_col(-0.06), _col(0.06) + 1)]
    # Back from pixels to normalised units (one pixel is a fixed step of the frame).
    step = 1.0 / (_row(1.0) - _row(0.0))
    return (_row(top) - max(edges)) * step


@pytest.mark.parametrize("tone", [0.2, 0.9])
@pytest.mark.parametrize("style", ["bob_bangs", "long_bangs"])
def test_an_older_womans_fringe_ends_clear_of_her_brows(renderer: FaceRenderer, style: str, tone: float) -> None:
    """Bare forehead shows between an older woman's fringe and her brows (at least 0.05 of
    the frame, about the brows' own height over the eye; the fringe hung over the brows'
    arch before)."""
    gap = _fringe_gap(renderer, {**SENIOR, "hair_style": style, "hair_style_alt": style, "skin_tone": tone})
    assert gap > 0.05, f"{style} on tone {tone}: the fringe ends {gap:.3f} above the brows"


@pytest.mark.parametrize("style", ["bob_bangs", "long_bangs"])
def test_a_young_womans_fringe_still_reaches_her_brows(renderer: FaceRenderer, style: str) -> None:
    """The style itself is kept: a young woman's blunt fringe ends at her brows."""
    gap = _fringe_gap(renderer, {**YOUNG, "hair_style": style, "hair_style_alt": style, "skin_tone": 0.5})
    assert gap < 0.02, f"{style}: a young woman's fringe ends {gap:.3f} above her brows"
