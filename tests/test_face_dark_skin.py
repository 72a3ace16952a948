"""Features that must stay visible, in a colour that works, on the darkest skin tones (issue 13).

On dark skin a feature drawn in a fixed colour or a fixed step of lightness can vanish or
turn grey: a mid-grey brow matched a dark skin and the brows went away; a flat white gloss
on a dark lip was a pale grey stripe. Measured from the pixels of the torch module at a
small size (no ONNX export).
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

SIZE = 320
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
DARK_TONES = (0.8, 0.9, 1.0)
PLAIN = {"glasses": 0.0, "facial_hair": 0.0, "makeup": 0.0, "freckles": 0.0, "mole": 0.0, "age_lines": 0.0}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _render(renderer: FaceRenderer, faces: list[dict[str, object]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """[N, S, S, 3] float frames at rest and the per-face scalars of their geometry."""
    params = torch.from_numpy(params_matrix([FaceParams().with_overrides({**PLAIN, **f}) for f in faces]))
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * params.shape[0]))
    with torch.no_grad():
        img = renderer(params, anim).permute(0, 2, 3, 1).numpy()
        g = renderer._geometry(params)
    return img, {k: v.reshape(v.shape[0], -1).numpy() for k, v in g.items()}


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _saturation(rgb: np.ndarray) -> float:
    return float((rgb.max() - rgb.min()) / max(float(rgb.max()), 1e-6))


@pytest.mark.parametrize("masculinity", [0.0, 1.0])
def test_grey_brows_stand_off_dark_skin(renderer: FaceRenderer, masculinity: float) -> None:
    """Grey and white brows on dark skin are clearly lighter or clearly darker than the
    forehead above them: the grey that keeps brows darker than light skin matched a dark
    skin and left grey-haired faces without brows."""
    style = "buzz" if masculinity else "ponytail"
    faces = [
        {"masculinity": masculinity, "age": 0.9, "skin_tone": t, "hair_grey": grey, "hair_lightness": 0.1, "hair_style": style}
        for t in DARK_TONES
        for grey in (0.5, 0.65, 0.8, 1.0)
    ]
    img, g = _render(renderer, faces)
    for i, face in enumerate(faces):
        x = float(g["eye_dx"][i, 0]) + 0.2 * float(g["eye_w"][i, 0])
        top = float(g["brow_y"][i, 0]) - float(g["brow_arch"][i, 0])
        half = 0.5 * float(g["brow_t"][i, 0])
        brow = _luma(img[i, _row(top - 0.3 * half) : _row(top + 0.6 * half) + 1, _col(x)])
        skin = _luma(img[i, _row(top - half - 0.03), _col(x)])
        ratio = brow[np.argmax(np.abs(brow - skin))] / skin
        assert ratio < 0.7 or ratio > 1.2, f"{face}: brow {ratio:.2f} x the forehead"


@pytest.mark.parametrize("masculinity", [0.0, 0.5])
def test_lip_gloss_is_the_lips_own_colour_on_dark_skin(renderer: FaceRenderer, masculinity: float) -> None:
    """The lower lip's gloss is a lighter tone of the lip, not a grey film: where it is
    brightest the lip is lighter than its colour and about as colourful (a flat white step
    over a dark lip drew a pale, grey stripe along it). (A man's thinner lip puts the gloss
    within a pixel or two of the seam at this size.)"""
    faces = [{"masculinity": masculinity, "age": 0.3, "skin_tone": t, "lip_fullness": 1.0, "hair_style": "buzz"} for t in DARK_TONES]
    img, g = _render(renderer, faces)
    for i, face in enumerate(faces):
        lip = g["lip"][i]
        my, lt = float(g["mouth_y"][i, 0]), float(g["lip_t"][i, 0])
        peak = img[i, _row(my + 0.45 * lt), _col(-0.012)]
        assert _luma(peak) > 1.03 * _luma(lip), f"{face}: no gloss ({peak} on a lip of {lip})"
        assert _saturation(peak) > 0.93 * _saturation(lip), f"{face}: grey gloss {peak} on a lip of {lip}"


@pytest.mark.parametrize("masculinity", [0.0, 1.0])
def test_a_closed_mouth_shows_its_seam_not_a_line_of_teeth(renderer: FaceRenderer, masculinity: float) -> None:
    """A closed mouth's seam is darker than both lips beside it: with no gap the mouth's
    inside (its band of upper teeth) was still drawn at a quarter along the seam, a pale
    grey-lavender line on dark skin where the lips meet."""
    faces = [{"masculinity": masculinity, "skin_tone": t, "lip_fullness": 0.6} for t in DARK_TONES]
    img, g = _render(renderer, faces)
    for i, face in enumerate(img):
        seam = _row(float(g["mouth_y"][i, 0]))
        c = SIZE // 2
        lum = _luma(face[:, c])
        lips = min(lum[seam - 3], lum[seam + 3])
        assert lum[seam - 1 : seam + 1].mean() < lips, (faces[i], lum[seam - 4 : seam + 5].round(3))
