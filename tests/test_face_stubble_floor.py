"""No grown man is drawn smooth-faced: the least facial hair is light stubble (issue 13).

A shaving shadow alone (`facial_hair` 0.17-0.24, where about a third of men sat, young men
most) was an even, faint tint over the whole lower face that read as shading: the face was
smooth, and both judges read more of those men as women (`benchmarks.men_probe`,
stubble_floor_30; the men31 report).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.face_quality import render_faces
from streamface.face.mapping import LATENTS, face_from_latents
from streamface.face.params import params_matrix
from streamface.face.renderer import FaceRenderer
from streamface.voice.profile import AGE_BANDS, AgeBand, PerceivedSex, VoiceProfile
from tests.face_pixels import col_of, row_of

SIZE = 256
CLEAN_SHAVEN = (0.0, 0.15, 0.3)
"""`beard` draws of men with no grown beard (a grown beard starts past 0.6)."""


def _profile(band: str, p_female: float = 0.05) -> VoiceProfile:
    probs = {b: (0.85 if b == band else 0.05) for b in AGE_BANDS}
    return VoiceProfile(
        speech_seconds=5.0, f0_median_hz=120.0, f0_range_hz=None, formants_hz=None, vtl_cm=None,
        loudness_dbfs=-20.0, perceived_sex=PerceivedSex(p_female), age_band=AgeBand(probs),
        confidence=0.9, embedding=np.zeros(256, np.float32),
    )


def _man(band: str, beard: float) -> dict[str, float]:
    u = dict.fromkeys(LATENTS, 0.5)
    return {**u, "beard": beard, "skin_tone": 0.25, "hair_lightness": 0.2, "glasses": 0.9}


@pytest.mark.parametrize("band", ["young_adult", "adult", "senior"])
@pytest.mark.parametrize("beard", CLEAN_SHAVEN)
def test_every_grown_man_shows_at_least_light_stubble(band: str, beard: float) -> None:
    face = face_from_latents(_profile(band), _man(band, beard))
    assert face.facial_hair >= 0.28  # main: 0.17 for a young man, 0.24 for an adult


def test_children_and_women_stay_smooth() -> None:
    assert face_from_latents(_profile("child"), _man("child", 0.0)).facial_hair < 0.05
    assert face_from_latents(_profile("adult", 0.95), _man("adult", 0.0)).facial_hair == 0.0


def test_a_clean_shaven_young_mans_chin_is_visibly_darker_than_his_bare_skin() -> None:
    """Measured from pixels: the chin under the lower lip against the same face drawn with
    no facial hair. Main's shaving shadow darkened it by 16 %, as evenly as the whole lower
    face; light stubble by 32 %."""
    face = face_from_latents(_profile("young_adult"), _man("young_adult", 0.0))
    images = render_faces([face, face.with_overrides({"facial_hair": 0.0})], SIZE).astype(float)
    g = FaceRenderer(SIZE)._geometry(torch.from_numpy(params_matrix([face])))
    below_lip = float(g["mouth_y"] + g["lip_t"]) + 0.02
    x0, x1 = col_of(-0.03, SIZE), col_of(0.03, SIZE)
    y0, y1 = row_of(below_lip, SIZE), row_of(float(g["chin_y"]) - 0.03, SIZE)
    stubble, bare = (im[y0:y1, x0:x1].mean() for im in images)
    assert 1.0 - stubble / bare > 0.24  # main: 0.16, now 0.32
