"""Older men's hair and beards as a person sees them at 100 % (issue 13, "Face 2.0").

Thinning hair shows from the front as skin at the top of the head, a flatter top and a
higher hairline, never as a hole in the hair (a skin-coloured speck inside a quiff or a
slick-back read as a wound or a bindi). A short grown beard is opaque with a clear edge:
a see-through grey beard over dark skin read as a pale film (dirt or shaving foam).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import col_of, row_of

from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import facial_hair, hair
from streamface.face.renderer import FaceRenderer

SIZE = 256
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
SENIOR = {"masculinity": 1.0, "makeup": 0.0, "age": 0.9, "skin_tone": 0.7, "hair_grey": 0.0, "glasses": 0.0}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _render(renderer: FaceRenderer, faces: list[dict[str, object]]) -> np.ndarray:
    """[N, S, S, 3] float frames at rest."""
    params = torch.from_numpy(params_matrix([FaceParams().with_overrides(f) for f in faces]))
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * params.shape[0]))
    with torch.no_grad():
        return renderer(params, anim).permute(0, 2, 3, 1).numpy()


def _islands(labels: np.ndarray) -> int:
    """Columns (top to bottom) where a run of skin lies between two runs of hair."""
    found = 0
    for column in labels.T:
        runs = [v for i, v in enumerate(column) if v and (i == 0 or v != column[i - 1])]
        runs = [v for i, v in enumerate(runs) if i == 0 or v != runs[i - 1]]
        found += any(runs[i : i + 3] == ["hair", "skin", "hair"] for i in range(len(runs) - 2))
    return found


THINNING = [0.46, 0.48, 0.5, 0.52, 0.53, 0.54, 0.55, 0.56, 0.58, 0.6]


@pytest.mark.parametrize("style", ["slick_back", "quiff", "crew", "curly_top", "textured"])
def test_thinning_is_never_a_hole_in_the_hair(renderer: FaceRenderer, style: str) -> None:
    """Over the top of the head no column runs hair, then skin, then hair again: a bald
    patch opens from the top of the outline (or from the forehead), never inside the hair."""
    faces = [{**SENIOR, "hair_style": style, "hair_thinning": t} for t in THINNING]
    dark = _render(renderer, [{**f, "hair_lightness": 0.05} for f in faces])
    light = _render(renderer, [{**f, "hair_lightness": 0.9} for f in faces])
    other_bg = _render(renderer, [{**f, "hair_lightness": 0.05, "bg_lightness": 0.0, "bg_hue": 0.6} for f in faces])
    rows = slice(_row(-0.75), _row(-0.35))
    cols = slice(_col(-0.12), _col(0.12))
    for i, thin in enumerate(THINNING):
        hair_change = np.abs(dark[i] - light[i]).max(axis=-1)[rows, cols]
        bg_change = np.abs(dark[i] - other_bg[i]).max(axis=-1)[rows, cols]
        labels = np.full(hair_change.shape, "", dtype=object)
        labels[hair_change > 0.25] = "hair"
        labels[(hair_change < 0.02) & (bg_change < 0.02)] = "skin"
        assert _islands(labels) == 0, f"{style} at thinning {thin}: skin inside the hair in {_islands(labels)} columns"


def _luma(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114])


@pytest.mark.parametrize("growth", [0.5, 0.55, 0.6])
def test_short_grey_goatee_on_dark_skin_is_opaque_hair(renderer: FaceRenderer, growth: float) -> None:
    """A short grey goatee on dark skin is a clear shape: its middle stands well apart from
    the skin beside it (a see-through one was a faint film over the skin)."""
    face = {**SENIOR, "skin_tone": 0.9, "hair_grey": 0.9, "facial_hair_style": "goatee", "facial_hair": growth}
    g = renderer._geometry(torch.from_numpy(params_matrix([FaceParams().with_overrides(face)])))
    chin_y, mouth_w = float(g["chin_y"].reshape(-1)[0]), float(g["mouth_w"].reshape(-1)[0])
    img = _luma(_render(renderer, [face])[0])
    row = _row(chin_y - 0.05)
    inside = img[row - 1 : row + 2, _col(-0.01) : _col(0.01) + 1].mean()
    beside = img[row - 1 : row + 2, _col(mouth_w + 0.04) : _col(mouth_w + 0.06) + 1].mean()
    assert inside - beside > 0.12, f"goatee at {growth}: {inside:.3f} vs skin {beside:.3f}: a faint film"



def test_goatee_moustache_is_narrower_not_fainter(renderer: FaceRenderer) -> None:
    """The goatee's lighter moustache is a shape of hair like a full one (a circle beard's),
    only narrower and shorter: at half opacity it was a pale film. Down a column beside the
    parting its coverage peaks above 0.75 at the live 256 px (now 0.80, a full one's 0.97; a grey
    one's soft edge keeps a band this thin from quite 1). Coverage, not colour: each
    moustache is shaded from its own top."""
    face = {**SENIOR, "skin_tone": 0.9, "hair_grey": 0.9, "facial_hair": 0.7}
    x, y = renderer.xs.expand(1, 1, SIZE, SIZE), renderer.ys.expand(1, 1, SIZE, SIZE)
    cover = {}
    for style in ("goatee", "circle"):
        params = params_matrix([FaceParams().with_overrides({**face, "facial_hair_style": style})])
        g = renderer._geometry(torch.from_numpy(params))
        with torch.no_grad():
            cover[style] = facial_hair.moustache_cover(g, x, y, renderer.px)[0, 0].numpy()
    nose_y, mouth_y = float(g["nose_y"].reshape(-1)[0]), float(g["mouth_y"].reshape(-1)[0])
    rows, col = slice(_row(nose_y), _row(mouth_y) + 1), _col(0.025)
    assert cover["goatee"][rows, col].max() > 0.75, "the goatee's moustache is a see-through film"
    assert cover["circle"][rows, col].max() > 0.95
    row = _row(mouth_y - 0.01)
    assert (cover["goatee"][row] > 0.5).sum() < (cover["circle"][row] > 0.5).sum(), "the goatee's moustache is not narrower"


@pytest.mark.parametrize(
    "face",
    [
        {"hair_style": "afro", "masculinity": 0.0},
        {"hair_style": "bun", "masculinity": 0.0},
        {"hair_style": "quiff", "masculinity": 1.0, "age": 0.3},
        {"hair_style": "high_fade", "masculinity": 1.0, "age": 0.9, "hair_thinning": 0.4},
    ],
)
def test_no_bald_patch_without_thinning(renderer: FaceRenderer, face: dict[str, object]) -> None:
    """Open upwards, a bald patch that had not started would cut the top of tall hair (a
    notch in an afro, a bun or a quiff): with no thinning it covers no hair at all."""
    g = renderer._geometry(torch.from_numpy(params_matrix([FaceParams().with_overrides(face)])))
    x, y = renderer.xs.expand(1, 1, SIZE, SIZE), renderer.ys.expand(1, 1, SIZE, SIZE)
    in_hair = hair.silhouette(g, x, y)[0] < -0.005
    assert float(hair.bald_crown(g, x, y)[in_hair].max()) < 0.01
