"""Face 2.0 identity dimensions: enough styles, every one reachable, all skin tones used."""

from __future__ import annotations

import numpy as np

from streamface.face.mapping import params_for_profile
from streamface.face.params import BEARD_STYLES, FEMALE_HAIR_STYLES, HAIR_STYLES, MALE_HAIR_STYLES
from streamface.face.skin_tones import MONK_SKIN_TONES, skin_palette
from streamface.voice.profile import AGE_BANDS, EMBEDDING_DIM, AgeBand, PerceivedSex, VoiceProfile


def _profile(seed: int, p_female: float) -> VoiceProfile:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
    probs = {b: (1.0 if b == "adult" else 0.0) for b in AGE_BANDS}
    return VoiceProfile(5.0, 150.0, None, None, None, -20.0, PerceivedSex(p_female), AgeBand(probs), 0.9,
                        emb / np.linalg.norm(emb))


def test_style_tables_are_large_enough() -> None:
    assert len(MALE_HAIR_STYLES) >= 12 and len(FEMALE_HAIR_STYLES) >= 12
    assert not set(MALE_HAIR_STYLES) & set(FEMALE_HAIR_STYLES)
    assert HAIR_STYLES == MALE_HAIR_STYLES + FEMALE_HAIR_STYLES
    assert len(BEARD_STYLES) >= 5
    assert len(MONK_SKIN_TONES) == len(skin_palette()) == 10


def test_skin_palette_keeps_the_monk_order() -> None:
    lightness = [sum(rgb) for rgb in skin_palette()]
    assert lightness == sorted(lightness, reverse=True)


def test_every_style_is_reachable_and_traits_vary() -> None:
    # Random embeddings share few identity codes per trait family: each face gets its own look seed
    # so that every face is an independent draw.
    women = [params_for_profile(_profile(s, 1.0), look=s) for s in range(400)]
    men = [params_for_profile(_profile(s, 0.0), look=s) for s in range(400)]
    assert {f.hair_style_name for f in women} == set(FEMALE_HAIR_STYLES)
    assert {f.hair_style_name for f in men} == set(MALE_HAIR_STYLES)
    grown = [f for f in men if f.facial_hair > 0.5]
    assert {BEARD_STYLES[int(f.facial_hair_style)] for f in grown} == set(BEARD_STYLES)
    # Freckles need a draw in the top eighth and fair skin (tone below ~0.29): about 2.6 %
    # of uniform draws (`mapping`), so their floor is lower than the others'.
    for name, floor in (("glasses", 0.03), ("freckles", 0.01), ("mole", 0.03)):
        share = np.mean([getattr(f, name) > 0.5 for f in women + men])
        assert floor < share < 0.5, (name, share)
    tones = np.array([f.skin_tone for f in women])
    assert np.histogram(tones, bins=10, range=(0.0, 1.0))[0].min() > 0  # every Monk decile
