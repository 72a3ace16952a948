"""Grown beards of every colour read as hair, not as a dark mask (issue 13).

A black or brown full beard was a flat block with a one-pixel edge against the cheek and
the neck: at 100 % a dark mask over the lower face. Measured from the beard layer
(`face_pixels.beard_layer`, drawn over black and over white) and from the beard drawn over
black.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import beard_layer, col_of, row_of

from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import facial_hair, skin
from streamface.face.renderer import FaceRenderer

SIZE = 384
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
LUMA = np.array([0.299, 0.587, 0.114])
MAN = {"masculinity": 1.0, "makeup": 0.0, "age": 0.45, "glasses": 0.0, "hair_grey": 0.0,
       "hair_style": "side_part", "facial_hair": 0.8, "facial_hair_style": "full"}
BEARDS = [("black", 0.1, 0.03, 0.1), ("brown", 0.4, 0.25, 0.1), ("blond", 0.15, 0.75, 0.05), ("red", 0.1, 0.55, 0.9)]
"""(name, skin tone, hair lightness, hair red) of each bearded man, light to medium skin."""


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _scalars(g: dict[str, torch.Tensor], *names: str) -> dict[str, float]:
    return {k: float(g[k].reshape(-1)[0]) for k in names}


def _face(tone: float, lightness: float, red: float) -> dict[str, object]:
    return {**MAN, "skin_tone": tone, "hair_lightness": lightness, "hair_red": red}


@pytest.mark.parametrize(("name", "tone", "lightness", "red"), BEARDS)
def test_beard_edge_on_the_cheek_is_soft(renderer: FaceRenderer, name: str, tone: float, lightness: float, red: float) -> None:
    """Down the middle of the cheek a grown beard of any colour comes in over several pixels
    (hair tips, the skin showing through its thin edge), not as a cut-out's step of two."""
    through, g, _, _ = beard_layer(renderer, _face(tone, lightness, red))
    m = _scalars(g, "mouth_w", "rx", "mouth_y")
    x = -(m["mouth_w"] * 1.05 + 0.5 * (m["rx"] * 0.95 - m["mouth_w"] * 1.05))
    cover = (1.0 - through)[: _row(m["mouth_y"]), _col(x)]
    edge = int(((cover > 0.1) & (cover < 0.85)).sum())
    assert edge >= 6, f"{name}: the beard's cheek edge is {edge} px from 10 % to 85 % cover"


@pytest.mark.parametrize(("name", "tone", "lightness", "red"), BEARDS)
def test_beard_edge_over_the_neck_is_soft(renderer: FaceRenderer, name: str, tone: float, lightness: float, red: float) -> None:
    """Under the chin, over the neck, the beard's lower edge comes in over several pixels."""
    through, g, _, _ = beard_layer(renderer, _face(tone, lightness, red))
    m = _scalars(g, "chin_y")
    cover = (1.0 - through)[_row(m["chin_y"]) :, _col(0.0)]
    edge = int(((cover > 0.1) & (cover < 0.85)).sum())
    assert edge >= 4, f"{name}: the beard's edge over the neck is {edge} px from 10 % to 85 % cover"


@pytest.mark.parametrize(("name", "tone", "lightness", "red"), BEARDS)
def test_beard_is_darker_under_the_jaw(renderer: FaceRenderer, name: str, tone: float, lightness: float, red: float) -> None:
    """A grown beard's own colour (the layer over black divided by its cover) is clearly
    darker just under the jaw, past the face's outline, than on the cheek above the jaw in
    the same columns (a flat block was lit only from above, about 0.8 as light there)."""
    face = _face(tone, lightness, red)
    through, _, _, _ = beard_layer(renderer, face)
    g = renderer._geometry(torch.from_numpy(params_matrix([FaceParams().with_overrides(face)])))
    x, y = renderer.xs.expand(1, 1, SIZE, SIZE), renderer.ys.expand(1, 1, SIZE, SIZE)
    face_d = skin.face_sdf(g, x, y)
    with torch.no_grad():
        over_black = facial_hair.beard(g, torch.zeros(1, 3, SIZE, SIZE), x, y, renderer.px, face_d)
    cover = 1.0 - through
    luma = (over_black[0].permute(1, 2, 0).numpy() @ LUMA) / np.maximum(cover, 1e-3)
    d = face_d[0, 0].numpy()
    inside = np.zeros_like(d, dtype=bool)
    inside[:, _col(-0.12) : _col(-0.04)] = True
    inside &= cover > 0.5
    under = luma[inside & (d > 0.0) & (d < 0.03)].mean()
    above = luma[inside & (d < -0.03) & (d > -0.08)].mean()
    assert under < 0.76 * above, f"{name}: under the jaw {under:.3f}, on the cheek above it {above:.3f}"
