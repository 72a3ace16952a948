"""A goatee's chin beard follows the jaw (issue: "the goatee's chin patch reads as a pebble").

It was a rounded oval inside the chin, lit with a sheen: at 100 % a pale pebble stuck on an
older man's chin, and under a closed mouth a grey oval face-api read as a down-turned mouth
(sad). A grown chin beard covers the chin: its lower edge is the chin's outline across the
chin's width, and it is wider there than under the lip. Measured from the beard layer's
pixels (drawn over black and over white) and the face outline's signed distance.
"""

from __future__ import annotations

import numpy as np
import pytest
from face_pixels import beard_layer

from streamface.face.renderer import FaceRenderer

SIZE = 512
LOOKS = {
    "dark skin, white hair": {"skin_tone": 0.8, "hair_grey": 0.9, "hair_lightness": 0.2},
    "light skin, dark hair": {"skin_tone": 0.15, "hair_grey": 0.0, "hair_lightness": 0.1},
    "medium skin, grey hair": {"skin_tone": 0.5, "hair_grey": 0.6, "hair_lightness": 0.3},
}
MAN = {"masculinity": 1.0, "makeup": 0.0, "age": 0.9, "glasses": 0.0, "facial_hair": 0.7}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _chin_beard(renderer: FaceRenderer, face: dict[str, object]) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The beard's coverage below the mouth (bool [H, W]), the face outline's signed distance
    and the face's mouth, chin and pixel measures."""
    through, g, y, face_d = beard_layer(renderer, face)
    cover = 1.0 - through
    m = {k: float(g[k]) for k in ("mouth_y", "mouth_w", "lip_t", "chin_y", "chin_w")}
    below_mouth = y[0, 0].numpy() > m["mouth_y"] + m["lip_t"] + 0.005
    return (cover > 0.5) & below_mouth, face_d[0, 0].numpy(), m


def _col(renderer: FaceRenderer, xv: float) -> int:
    return int(np.argmin(np.abs(renderer.xs.reshape(-1).numpy() - xv)))


def _row(renderer: FaceRenderer, yv: float) -> int:
    return int(np.argmin(np.abs(renderer.ys.reshape(-1).numpy() - yv)))


@pytest.mark.parametrize("style", ["goatee", "circle"])
@pytest.mark.parametrize("look", list(LOOKS))
def test_chin_beard_lower_edge_is_the_chin_outline(renderer: FaceRenderer, style: str, look: str) -> None:
    """Across most of the chin's width the beard reaches down to the outline (or grows a
    little past it); the oval ended well inside it a little off the middle."""
    patch, face_d, m = _chin_beard(renderer, {**MAN, **LOOKS[look], "facial_hair_style": style})
    gaps = []
    for xv in np.linspace(-0.8 * m["chin_w"], 0.8 * m["chin_w"], 9):
        c = _col(renderer, float(xv))
        beard_rows = np.nonzero(patch[:, c])[0]
        outline = int(np.nonzero(face_d[:, c] < 0.0)[0].max())
        gaps.append(outline - int(beard_rows.max()) if len(beard_rows) else SIZE)
    # At most 2 px (of 512) inside the outline; past it only by the beard's length (~4 px).
    assert max(gaps) <= 2 and min(gaps) >= -8, f"{style}, {look}: outline minus beard bottom per column {gaps} px"


@pytest.mark.parametrize("look", list(LOOKS))
def test_goatee_is_wider_at_the_chin_than_under_the_lip(renderer: FaceRenderer, look: str) -> None:
    """A goatee's chin beard spans the chin (about its flat and more) and widens from under
    the lip down to it; the oval was half the chin's width and rounded in at its bottom."""
    patch, _, m = _chin_beard(renderer, {**MAN, **LOOKS[look], "facial_hair_style": "goatee"})
    xs = renderer.xs.reshape(-1).numpy()

    def width(yv: float) -> float:
        cols = np.nonzero(patch[_row(renderer, yv)])[0]
        return float(xs[cols.max()] - xs[cols.min()]) if len(cols) else 0.0

    under_lip = width(m["mouth_y"] + m["lip_t"] + 0.025)
    at_chin = width(m["chin_y"] - 0.015)
    assert at_chin >= 1.6 * m["chin_w"], f"{look}: {at_chin:.3f} wide at the chin, its flat {2 * m['chin_w']:.3f}"
    assert at_chin > 1.1 * under_lip, f"{look}: {at_chin:.3f} wide at the chin, {under_lip:.3f} under the lip"
