"""Grey and white beards read as hair, and brows grey with the hair (issue 13, seniors).

A white full beard was a flat white block (its lit side clipped to white) with a crisp
one-pixel edge against the skin: a mask or a bandage. And the brows of a white-haired man
stayed near black. Measured from pixels: the beard layer (drawn over black and over white,
`face_pixels.beard_layer`) and whole frames at rest.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import beard_layer, col_of, row_of

from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import eyes, facial_hair, skin
from streamface.face.renderer import FaceRenderer

SIZE = 384
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
LUMA = np.array([0.299, 0.587, 0.114])
SENIOR = {"masculinity": 1.0, "makeup": 0.0, "age": 0.95, "age_lines": 0.9, "age_sag": 0.8, "glasses": 0.0,
          "hair_lightness": 0.1, "hair_style": "side_part"}
WHITE_BEARD = {**SENIOR, "hair_grey": 0.95, "facial_hair": 0.8, "facial_hair_style": "full"}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _scalars(g: dict[str, torch.Tensor], *names: str) -> dict[str, float]:
    return {k: float(g[k].reshape(-1)[0]) for k in names}


@pytest.mark.parametrize("tone", [0.1, 0.5, 0.9])
def test_white_beard_edge_on_the_cheek_is_soft(renderer: FaceRenderer, tone: float) -> None:
    """Down the middle of the cheek, a white beard comes in over several pixels (hair tips,
    the skin showing through its thin edge), not as a cut-out's step of two or three."""
    through, g, _, _ = beard_layer(renderer, {**WHITE_BEARD, "skin_tone": tone})
    m = _scalars(g, "mouth_w", "rx", "mouth_y")
    x = -(m["mouth_w"] * 1.05 + 0.5 * (m["rx"] * 0.95 - m["mouth_w"] * 1.05))
    cover = (1.0 - through)[: _row(m["mouth_y"]), _col(x)]
    edge = int(((cover > 0.1) & (cover < 0.85)).sum())
    assert edge >= 7, f"tone {tone}: the beard's cheek edge is {edge} px from 10 % to 85 % cover"


def test_white_beard_has_strands_running_down(renderer: FaceRenderer) -> None:
    """Across the chin a white beard's lightness varies from strand to strand (a flat block
    did not vary at all), and much less along the strands, which run down: lines, not a
    per-pixel texture (which reads as dirt). Its lit side is not clipped to white."""
    face = {**WHITE_BEARD, "skin_tone": 0.2}
    through, g, _, _ = beard_layer(renderer, face)
    params = torch.from_numpy(params_matrix([FaceParams().with_overrides(face)]))
    gg = renderer._geometry(params)
    x, y = renderer.xs.expand(1, 1, SIZE, SIZE), renderer.ys.expand(1, 1, SIZE, SIZE)
    with torch.no_grad():
        over_black = facial_hair.beard(gg, torch.zeros(1, 3, SIZE, SIZE), x, y, renderer.px, skin.face_sdf(gg, x, y))
    luma = over_black[0].permute(1, 2, 0).numpy() @ LUMA
    opaque = (1.0 - through) > 0.9
    m = _scalars(g, "chin_y", "mouth_y")
    rows = slice(_row(m["mouth_y"] + 0.06), _row(m["chin_y"] - 0.02))
    cols = slice(_col(-0.08), _col(0.08))
    patch = luma[rows, cols]
    across = np.abs(patch[:, 1:-1] - 0.5 * (patch[:, :-2] + patch[:, 2:])).mean()
    along = np.abs(patch[1:-1] - 0.5 * (patch[:-2] + patch[2:])).mean()
    assert across > 0.002, f"a flat beard: {across:.4f} mean change from pixel to pixel across the chin"
    assert along < 0.5 * across, f"no strands: as much change down them ({along:.4f}) as across ({across:.4f})"
    assert (luma[opaque] / 0.95 > 0.97).mean() < 0.01, "the beard's lit side is clipped white"


def _brow_luma(renderer: FaceRenderer, faces: list[dict[str, object]]) -> np.ndarray:
    """Mean lightness of each face's brow core near its arch, at rest."""
    params = torch.from_numpy(params_matrix([FaceParams().with_overrides(f) for f in faces]))
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * len(faces)))
    with torch.no_grad():
        img = renderer(params, anim).permute(0, 2, 3, 1).numpy() @ LUMA
        g = renderer._geometry(params)
        top = eyes.brow_top(g).reshape(-1).numpy()
    half = 0.5 * g["brow_t"].reshape(-1).numpy()
    x = (g["eye_dx"] + 0.2 * g["eye_w"]).reshape(-1).numpy()
    return np.array([
        img[i, _row(top[i] + 0.5 * half[i]) : _row(top[i] + 1.5 * half[i]) + 1, _col(-x[i]) - 2 : _col(-x[i]) + 3].mean()
        for i in range(len(faces))
    ])


@pytest.mark.parametrize("masculinity", [1.0, 0.0])
def test_brows_grey_with_the_hair(renderer: FaceRenderer, masculinity: float) -> None:
    """On light and medium skin a white-haired face's brows are much lighter than the same
    face's with dark hair (they stayed near black under white hair)."""
    faces = [{**SENIOR, "masculinity": masculinity, "skin_tone": t, "hair_grey": grey} for t in (0.1, 0.45) for grey in (0.0, 0.9)]
    lum = _brow_luma(renderer, faces).reshape(2, 2)
    for (dark, grey), tone in zip(lum, (0.1, 0.45), strict=True):
        assert grey - dark > 0.3, f"tone {tone}: brows {dark:.2f} with dark hair, {grey:.2f} with white"
