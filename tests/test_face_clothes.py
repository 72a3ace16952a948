"""Clothes read as clothes: the top is never drawn in the colour of the skin.

Measured on the renderer's own colours (`FaceRenderer._geometry`: the lit top and the lit
skin), for the faces the mapping draws for many looks of a man's and a woman's voice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is no package dep

from benchmarks.face_quality import synthetic_profile  # noqa: E402
from streamface.face.clothes import (  # noqa: E402
    MIN_TOP_SKIN_DELTA_E,
    srgb_to_lab,
    top_lightness_apart,
    top_skin_delta_e,
)
from streamface.face.mapping import params_for_profile  # noqa: E402
from streamface.face.params import FaceParams, params_matrix  # noqa: E402
from streamface.face.render.compose import FaceRenderer  # noqa: E402


def _top_and_skin(faces: list[FaceParams]) -> tuple[np.ndarray, np.ndarray]:
    g = FaceRenderer(64)._geometry(torch.from_numpy(params_matrix(faces)))
    return g["top"].reshape(-1, 3).numpy(), g["skin"].reshape(-1, 3).numpy()


def test_no_drawn_top_is_the_colour_of_the_skin() -> None:
    faces = [params_for_profile(synthetic_profile(p, band, 1), look=k)
             for p, band in ((0.05, "adult"), (0.95, "young_adult"), (0.05, "senior")) for k in range(1, 161)]
    top, skin = _top_and_skin(faces)
    de = np.linalg.norm(srgb_to_lab(top) - srgb_to_lab(skin), axis=-1)
    # The renderer lifts the lit side of dark skin a little above the palette the mapping
    # reads (up to 12 %): a few units of slack.
    assert de.min() >= MIN_TOP_SKIN_DELTA_E - 5.0, f"a top {de.min():.1f} from the skin"
    tones = np.array([f.skin_tone for f in faces])
    assert (tones > 0.67).sum() >= 60  # the darkest third, where most near misses were


def test_a_top_apart_from_the_skin_keeps_its_draw_and_a_near_one_moves_least() -> None:
    tan = (0.8286, 0.0501, 0.6207)  # skin tone, top hue and saturation of a tan top on tan skin
    assert top_skin_delta_e(*tan, 0.4962) < 10.0
    moved = top_lightness_apart(*tan, 0.4962)
    assert top_skin_delta_e(*tan, moved) >= MIN_TOP_SKIN_DELTA_E
    # the nearest lightness that is apart: no step of 0.01 closer to the draw is
    for step in (-0.01, 0.01):
        nearer = moved - step if moved > 0.4962 else moved + step
        if abs(nearer - 0.4962) < abs(moved - 0.4962):
            assert top_skin_delta_e(*tan, nearer) < MIN_TOP_SKIN_DELTA_E
    assert top_lightness_apart(0.1, 0.6, 0.5, 0.3) == 0.3  # a blue top on light skin stays
