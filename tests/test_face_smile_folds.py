"""Smile folds curve round the mouth like parentheses (issue 13: age as a few clean lines).

Seen at 100 %: where the mouth is about as wide as the nose's wings, a smile fold ran
straight down beside the mouth corner, and the two folds with the nose's underside drew a
box round the mouth. Such an upright fold now bows out from the line between its ends
(`skin.FOLD_BOW`); one that slants out past a wide mouth's corner is left as it was
(`skin.FOLD_SLANT`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import skin
from streamface.face.renderer import FaceRenderer
from tests.face_pixels import col_of, row_of

SIZE = 512
FACES = {
    "narrow mouth, wide nose": {"lip_width": 0.0, "nose_width": 1.0},
    "mouth as wide as the nose's wings": {"lip_width": 0.2, "nose_width": 0.8},
}
"""Faces whose folds run upright (their ends within a pixel of each other across)."""
BASE = {"masculinity": 1.0, "age": 0.8, "age_lines": 0.8, "facial_hair": 0.0}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    torch.set_num_threads(1)
    return FaceRenderer(SIZE)


def _fold_path(renderer: FaceRenderer, face: dict[str, float]) -> np.ndarray:
    """Per row between the nose and the mouth, the column where the left smile fold darkens
    a white face most (-1 where it does not reach)."""
    g = renderer._geometry(torch.from_numpy(params_matrix([FaceParams().with_overrides({**BASE, **face})])))
    x, y = renderer.xs.expand(1, 1, SIZE, SIZE), renderer.ys.expand(1, 1, SIZE, SIZE)
    with torch.no_grad():
        dark = 1.0 - skin.age_lines(g, torch.ones(1, 3, SIZE, SIZE), x, y)[0].mean(dim=0).numpy()
    ny, my, mw = (float(g[k].flatten()[0]) for k in ("nose_y", "mouth_y", "mouth_w"))
    c0, c1 = col_of(-(mw * 1.15 + 0.06), SIZE), col_of(-0.01, SIZE)
    band = dark[row_of(ny, SIZE) : row_of(my, SIZE) + 1, c0:c1]
    return np.where(band.max(axis=1) > 0.03, c0 + band.argmax(axis=1), -1)


@pytest.mark.parametrize("name", list(FACES))
def test_an_upright_smile_fold_bows_out_between_its_ends(renderer: FaceRenderer, name: str) -> None:
    """At its middle row the fold lies at least 1.2 px further out (left) than the straight
    line between its first and last rows (now 1.5-2.0 px; straight, 0.0-0.1 px)."""
    path = _fold_path(renderer, FACES[name])
    rows = np.flatnonzero(path >= 0)
    assert rows.size >= 8, f"{name}: the fold spans {rows.size} rows"
    first, last = rows[0], rows[-1]
    mid = rows[rows.size // 2]
    line = path[first] + (path[last] - path[first]) * (mid - first) / (last - first)
    assert line - path[mid] >= 1.2, f"{name}: fold {line - path[mid]:.1f} px out from its chord"
