"""The perceived-trait model: published acoustics, calibrated uncertainty, progressive confidence."""

from __future__ import annotations

import numpy as np
import pytest

from streamface.voice.profile import AGE_BANDS
from streamface.voice.traits import Cues, infer


def cues(
    f0: float | None,
    vtl: float | None = None,
    seconds: float = 5.0,
    *,
    voiced: float | None = None,
    hnr_db: float | None = None,
    jitter: float | None = None,
) -> Cues:
    return Cues(
        speech_seconds=seconds,
        voiced_seconds=seconds * 0.6 if voiced is None else voiced,
        f0_median_hz=f0,
        vtl_cm=vtl,
        hnr_db=hnr_db,
        jitter=jitter,
    )


@pytest.mark.parametrize("f0", [85.0, 100.0, 120.0, 135.0, 145.0])
def test_typical_male_f0_is_male(f0: float) -> None:
    assert infer(cues(f0)).perceived_sex.p_female < 0.25


@pytest.mark.parametrize("f0", [190.0, 210.0, 230.0, 255.0])
def test_typical_female_f0_is_female(f0: float) -> None:
    assert infer(cues(f0)).perceived_sex.p_female > 0.8


def test_p_female_rises_with_f0() -> None:
    ps = [infer(cues(f)).perceived_sex.p_female for f in range(80, 320, 10)]
    assert all(b >= a for a, b in zip(ps, ps[1:], strict=False))


@pytest.mark.parametrize("f0", [155.0, 165.0, 175.0])
def test_ambiguous_f0_alone_stays_near_half(f0: float) -> None:
    assert 0.25 < infer(cues(f0)).perceived_sex.p_female < 0.75


def test_formants_disambiguate_an_ambiguous_f0() -> None:
    short_tract = infer(cues(165.0, vtl=14.3)).perceived_sex.p_female
    long_tract = infer(cues(165.0, vtl=17.3)).perceived_sex.p_female
    assert short_tract > 0.7
    assert long_tract < 0.3


def test_vtl_alone_never_overrides_a_clear_f0() -> None:
    assert infer(cues(210.0, vtl=18.5)).perceived_sex.p_female > 0.6
    assert infer(cues(110.0, vtl=13.5)).perceived_sex.p_female < 0.4


def test_probabilities_stay_honest() -> None:
    for f0 in (60.0, 90.0, 300.0, 480.0):
        p = infer(cues(f0, vtl=15.0)).perceived_sex.p_female
        assert 0.005 < p < 0.995


def test_no_f0_and_no_formants_is_a_coin_flip_with_low_confidence() -> None:
    t = infer(cues(None, None, voiced=0.0))
    assert t.perceived_sex.p_female == pytest.approx(0.5)
    assert t.confidence < 0.35


def test_short_speech_is_less_certain() -> None:
    short = infer(cues(120.0, 17.0, seconds=1.0))
    full = infer(cues(120.0, 17.0, seconds=5.0))
    assert short.perceived_sex.label == full.perceived_sex.label == "male"
    assert short.perceived_sex.p_female > full.perceived_sex.p_female
    assert short.confidence < full.confidence


def test_confidence_grows_with_speech_and_is_bounded() -> None:
    values = [infer(cues(210.0, 14.8, seconds=s)).confidence for s in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert 0.25 < values[0] < 0.5
    assert 0.8 < values[-1] <= 1.0


def test_disagreeing_cues_lower_confidence() -> None:
    agree = infer(cues(150.0, vtl=17.5)).confidence
    disagree = infer(cues(150.0, vtl=13.8)).confidence
    assert disagree < agree


def test_age_bands_are_a_distribution() -> None:
    for f0, vtl in ((110.0, 17.2), (215.0, 14.8), (280.0, 12.0), (None, None)):
        probs = infer(cues(f0, vtl)).age_band.probs
        assert set(probs) == set(AGE_BANDS)
        assert sum(probs.values()) == pytest.approx(1.0)
        assert all(0.0 <= p <= 1.0 for p in probs.values())


def test_child_needs_high_f0_and_short_tract() -> None:
    child = infer(cues(280.0, vtl=11.8)).age_band
    woman = infer(cues(225.0, vtl=14.8)).age_band
    man = infer(cues(115.0, vtl=17.2)).age_band
    assert child.label == "child"
    assert woman.probs["child"] < 0.05
    assert man.probs["child"] < 0.01


def test_adult_bands_stay_near_their_prior() -> None:
    band = infer(cues(120.0, vtl=17.0)).age_band
    assert band.label == "adult"
    assert max(band.probs.values()) < 0.6  # weak cues: no overconfident age


def test_older_voice_cues_raise_senior() -> None:
    young = infer(cues(115.0, 17.0, hnr_db=18.0, jitter=0.004)).age_band.probs["senior"]
    old = infer(cues(145.0, 17.0, hnr_db=4.0, jitter=0.03)).age_band.probs["senior"]
    assert old > young


def test_low_f0_with_a_female_tract_is_not_confidently_male() -> None:
    # A low-voiced woman: F0 in the male range, formants ~15 % above men's (14.3 cm).
    low_woman = infer(cues(120.0, vtl=14.3))
    man = infer(cues(120.0, vtl=17.2))
    assert 0.3 < low_woman.perceived_sex.p_female < 0.7
    assert man.perceived_sex.p_female < 0.1
    assert low_woman.confidence < 0.6 < man.confidence


def test_high_f0_with_a_male_tract_moves_toward_the_middle() -> None:
    mixed = infer(cues(200.0, vtl=17.5)).perceived_sex.p_female
    woman = infer(cues(200.0, vtl=14.6)).perceived_sex.p_female
    assert 0.4 < mixed < woman
    assert woman > 0.9


def test_confidence_falls_as_cues_disagree_more() -> None:
    values = [infer(cues(125.0, vtl=v)).confidence for v in (17.2, 15.9, 15.0, 14.3)]
    assert all(b < a for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < 0.6 * values[0]


def test_formants_weigh_more_for_a_low_voice() -> None:
    from streamface.voice.traits import vtl_slope

    assert vtl_slope(110.0) > vtl_slope(165.0) > vtl_slope(230.0)
    assert vtl_slope(165.0, band_limited=True) < vtl_slope(165.0)


def test_an_implausible_tract_length_counts_no_more_than_a_long_one() -> None:
    long = infer(cues(165.0, vtl=18.0)).vtl_logit
    absurd = infer(cues(165.0, vtl=24.0)).vtl_logit
    assert absurd == pytest.approx(long)


def test_adult_women_with_high_f0_stay_adult() -> None:
    for f0, vtl in ((240.0, 14.8), (260.0, 14.0), (255.0, 13.6)):
        assert infer(cues(f0, vtl)).age_band.label != "child"


# --- fusion with the fitted embedding cue (sex_model.json) ------------------------------


def _embedding_with_logit(target: float) -> np.ndarray:
    """A 256-d vector whose fitted-model log-odds is `target` (along the weight vector)."""
    from streamface.voice import traits

    weights, bias = traits._sex_model()
    return weights * ((target - bias) / float(weights @ weights))


def test_embedding_logit_is_the_fitted_linear_model() -> None:
    from streamface.voice.traits import embedding_logit

    for target in (-3.0, 0.0, 2.5):
        assert embedding_logit(_embedding_with_logit(target)) == pytest.approx(target, abs=1e-9)
    with pytest.raises(ValueError):
        embedding_logit(_embedding_with_logit(1.0)[:10])


def test_the_anatomical_cue_outweighs_a_high_f0() -> None:
    # A man who speaks high: F0 190 Hz reads female on its own, the timbre reads male.
    male_timbre = _embedding_with_logit(-3.0)
    high_man = infer(cues(190.0, vtl=16.2), male_timbre)
    assert high_man.perceived_sex.p_female < 0.4
    assert infer(cues(190.0, vtl=16.2)).perceived_sex.p_female > 0.5  # F0 + formants alone


def test_pitch_against_anatomy_is_flagged_as_ambiguous() -> None:
    male_timbre = _embedding_with_logit(-3.0)
    agreeing = infer(cues(110.0), male_timbre)
    disagreeing = infer(cues(230.0), male_timbre)
    assert disagreeing.confidence < agreeing.confidence - 0.2
    assert abs(disagreeing.perceived_sex.p_female - 0.5) < abs(
        agreeing.perceived_sex.p_female - 0.5
    )
    assert disagreeing.vtl_logit == pytest.approx(-3.0) and disagreeing.f0_logit > 0


def test_clear_voices_stay_clear_with_the_embedding() -> None:
    assert infer(cues(110.0), _embedding_with_logit(-4.0)).perceived_sex.p_female < 0.1
    assert infer(cues(220.0), _embedding_with_logit(4.0)).perceived_sex.p_female > 0.9
