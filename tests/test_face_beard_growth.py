"""Men's faces at 100 % (issue 13, "Face 2.0"): a beard that has just grown past stubble is
opaque, and what thinning leaves at the temples ends in rounded corners.

A beard fading in over the stubble (`facial_hair` 0.42-0.45) showed the skin through it as a
patchy veil; it now grows in size instead. The hair left at the temples was a tab cut square
where the hairline runs out above the ear.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from face_pixels import beard_layer

from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import facial_hair, hair
from streamface.face.renderer import FaceRenderer

SIZE = 256
SENIOR = {"masculinity": 1.0, "makeup": 0.0, "age": 0.9, "skin_tone": 0.8, "hair_grey": 0.9, "glasses": 0.0}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _through(renderer: FaceRenderer, face: dict[str, object]) -> np.ndarray:
    """How much of what lies under the facial hair layer shows through it, per pixel."""
    return beard_layer(renderer, face)[0]


@pytest.mark.parametrize("style", ["full", "short_boxed", "goatee", "circle", "chin_strap", "horseshoe"])
@pytest.mark.parametrize("growth", [0.44, 0.445])
def test_just_grown_beard_is_opaque_not_a_veil(renderer: FaceRenderer, style: str, growth: float) -> None:
    """Just past stubble a beard is a smaller opaque shape: more of it is fully drawn than is
    half drawn (only its anti-aliased edge). Fading in, all of it was half see-through."""
    face = {**SENIOR, "facial_hair_style": style}
    bare = _through(renderer, {**face, "facial_hair": 0.41})  # stubble only
    cover = (1.0 - _through(renderer, {**face, "facial_hair": growth}) / np.maximum(bare, 1e-6)) / 0.95
    cover = np.where(bare > 0.1, cover, 0.0)
    opaque, half = int((cover >= 0.85).sum()), int(((cover > 0.15) & (cover < 0.85)).sum())
    assert opaque > 30, f"{style} at {growth}: {opaque} opaque beard pixels ({half} half see-through)"
    assert opaque > 0.25 * half, f"{style} at {growth}: {half} half see-through pixels against {opaque} opaque"


def test_no_beard_below_its_threshold(renderer: FaceRenderer) -> None:
    """Below `GROWS` (stubble) nothing of a grown beard is drawn, not even its soft edge."""
    face = {**SENIOR, "facial_hair_style": "full"}
    stubble = _through(renderer, {**face, "facial_hair": 0.41})
    just = _through(renderer, {**face, "facial_hair": facial_hair.GROWS + 2e-4})
    assert float(np.abs(stubble - just).max()) < 0.01


@pytest.mark.parametrize("style", ["crew", "slick_back", "curly_top", "side_part", "textured"])
@pytest.mark.parametrize("thinning", [0.7, 0.85])
def test_temple_hair_ends_rounded(style: str, thinning: float) -> None:
    """The hair thinning leaves at a temple narrows into its lower end (a rounded corner where
    the bald patch meets the hairline): its last row is well under its usual width. Cut square
    there it ended in a full-width row, the bottom of a tab stuck on."""
    size = 512
    r = FaceRenderer(size)
    face = {"masculinity": 1.0, "age": 0.9, "hair_style": style, "hair_thinning": thinning, "glasses": 0.0}
    g = r._geometry(torch.from_numpy(params_matrix([FaceParams().with_overrides(face)])))
    x, y = r.xs.expand(1, 1, size, size), r.ys.expand(1, 1, size, size)
    with torch.no_grad():
        a = hair.front(g, x, y, r.px)["a"][0, 0].numpy()
    widths = (a[:, : size // 2] > 0.5).sum(axis=1)
    rows = np.nonzero(widths)[0]
    last = widths[rows.max()] / np.median(widths[rows.min() : rows.max() + 1])
    assert last < 0.48, f"{style} at thinning {thinning}: its last row is {last:.2f} of its width (cut square)"
