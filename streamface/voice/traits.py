"""Perceived sex and age band from acoustic cues: a small, published-acoustics model.

Nothing here is fitted to our test voices; every constant comes from the literature on
adult and child speech, and accuracy is meant to carry over to real voices:

- F0 (Peterson & Barney 1952; Hillenbrand et al. 1995; Traunmüller & Eriksson 1995):
  adult men speak around 85-180 Hz (mean ~120-135), women around 165-255 Hz (mean
  ~210-225), 8-12-year-olds around 230-300 Hz. The male and female distributions cross
  near 165 Hz, so a voice at 155-175 Hz is genuinely ambiguous on F0 alone.
- Formant spacing / vocal-tract length (Fitch & Giedd 1999; Pisanski et al. 2014): ~17 cm
  (dF ~1000 Hz) for men, ~14.5-15 cm for women, ~12 cm for ten-year-olds. Our LPC
  estimate is noisier than F0 (vowel mix, telephone band), so it gets less weight.
- Age: children have both a high F0 *and* a short vocal tract; that pair separates them
  from adult women. With age, men's F0 rises and women's falls a little, and voices get
  less periodic (lower HNR, more jitter) (Linville 2001; Torre & Barlow 2009). These are
  weak cues, so the adult age bands stay close to their prior.

Perceived sex is a logistic combination of the cues (log-odds add), clipped so that no
single cue can make the model certain, and scaled down when little speech was heard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streamface.voice.profile import AGE_BANDS, AgeBand, PerceivedSex

# --- perceived sex -------------------------------------------------------------------
F0_MIDPOINT_HZ = 165.0  # male / female F0 distributions cross here
F0_SLOPE = 12.0  # log-odds per natural-log unit of F0: p(150 Hz) ~ 0.24, p(180 Hz) ~ 0.74
F0_CLIP = 6.0
VTL_MIDPOINT_CM = 15.9  # between ~17 cm (men) and ~14.8 cm (women)
VTL_SLOPE = 1.0  # log-odds per cm (wideband); discounted from LDA's ~1.6 for LPC noise
VTL_SLOPE_TELEPHONE = 0.7  # F1-F3 only, F1 cut at 300 Hz
VTL_CLIP = 1.5  # VTL alone never moves p_female beyond ~0.18 .. 0.82
LOGIT_CLIP = 5.0  # p_female stays within [0.007, 0.993]

# --- age ------------------------------------------------------------------------------
CHILD_PRIOR = 0.05
CHILD_F0_HZ = 235.0
CHILD_F0_SLOPE = 8.0
CHILD_VTL_CM = 13.4
CHILD_VTL_SLOPE = 1.2
ADULT_PRIORS = {"young_adult": 0.32, "adult": 0.48, "senior": 0.20}

# --- confidence -----------------------------------------------------------------------
SPEECH_TIME_CONSTANT_S = 2.2  # confidence from speech time: 1 s -> 0.37, 5 s -> 0.90


@dataclass(frozen=True)
class Cues:
    """Acoustic measurements the trait model uses.

    Attributes:
        speech_seconds: Seconds of speech analysed.
        voiced_seconds: Seconds of voiced (periodic) speech.
        f0_median_hz: Median F0, None when no voicing was found.
        vtl_cm: Vocal-tract length estimate, None when formants were not measurable.
        band_limited: True for telephone-band audio (VTL from F1-F3 only).
        hnr_db: Median harmonics-to-noise ratio of voiced frames.
        jitter: Median relative F0 change between consecutive voiced frames.
    """

    speech_seconds: float
    voiced_seconds: float
    f0_median_hz: float | None
    vtl_cm: float | None
    band_limited: bool = False
    hnr_db: float | None = None
    jitter: float | None = None


@dataclass(frozen=True)
class Traits:
    """What the model infers, with the per-cue log-odds for inspection."""

    perceived_sex: PerceivedSex
    age_band: AgeBand
    confidence: float
    f0_logit: float
    vtl_logit: float


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def evidence_factor(speech_seconds: float) -> float:
    """Scale for log-odds: 0.6 at 1 s of speech, rising linearly to 1.0 at 5 s."""
    return 0.6 + 0.4 * _clip((speech_seconds - 1.0) / 4.0, 0.0, 1.0)


def f0_logit(f0_hz: float | None) -> float:
    """Log-odds of a female percept from median F0 alone (0 at 165 Hz)."""
    if f0_hz is None or not f0_hz > 0:
        return 0.0
    return _clip(F0_SLOPE * math.log(f0_hz / F0_MIDPOINT_HZ), -F0_CLIP, F0_CLIP)


def vtl_logit(vtl_cm: float | None, band_limited: bool = False) -> float:
    """Log-odds of a female percept from vocal-tract length alone (0 at 15.9 cm)."""
    if vtl_cm is None or not vtl_cm > 0:
        return 0.0
    slope = VTL_SLOPE_TELEPHONE if band_limited else VTL_SLOPE
    return _clip(-slope * (vtl_cm - VTL_MIDPOINT_CM), -VTL_CLIP, VTL_CLIP)


def perceived_sex(cues: Cues) -> tuple[PerceivedSex, float, float]:
    """Probability of a female percept, and the F0 and VTL log-odds behind it."""
    voiced_weight = _clip(cues.voiced_seconds / 0.5, 0.0, 1.0)
    lf0 = f0_logit(cues.f0_median_hz) * voiced_weight
    lvtl = vtl_logit(cues.vtl_cm, cues.band_limited)
    logit = _clip(lf0 + lvtl, -LOGIT_CLIP, LOGIT_CLIP) * evidence_factor(cues.speech_seconds)
    return PerceivedSex(p_female=_sigmoid(logit)), lf0, lvtl


def age_band(cues: Cues, p_female: float) -> AgeBand:
    """Probabilities over child / young_adult / adult / senior."""
    ev = evidence_factor(cues.speech_seconds)
    # Child versus adult: needs a high F0 and a short vocal tract together.
    child = math.log(CHILD_PRIOR / (1.0 - CHILD_PRIOR))
    if cues.f0_median_hz is not None and cues.f0_median_hz > 0:
        child += ev * _clip(CHILD_F0_SLOPE * math.log(cues.f0_median_hz / CHILD_F0_HZ), -4.0, 2.0)
    if cues.vtl_cm is not None:
        slope = CHILD_VTL_SLOPE * (0.7 if cues.band_limited else 1.0)
        child += ev * _clip(-slope * (cues.vtl_cm - CHILD_VTL_CM), -4.0, 2.5)
    p_child = _sigmoid(child)

    # Among adults: weak, sex-specific F0 drift with age, and voice quality.
    drift = 0.0
    if cues.f0_median_hz is not None and cues.f0_median_hz > 0:
        f0 = cues.f0_median_hz
        male_drift = _clip(3.0 * math.log(f0 / 125.0), -0.5, 0.8)  # men's F0 rises
        female_drift = _clip(-3.0 * math.log(f0 / 210.0), -0.5, 0.8)  # women's falls
        drift = (1.0 - p_female) * male_drift + p_female * female_drift
    quality = 0.0
    if cues.hnr_db is not None:
        quality += _clip((10.0 - cues.hnr_db) / 10.0, -0.4, 0.6)
    if cues.jitter is not None:
        quality += _clip((cues.jitter - 0.01) / 0.02, -0.2, 0.4)
    older = ev * (drift + quality)
    scores = {
        "young_adult": math.log(ADULT_PRIORS["young_adult"]) - 0.5 * older,
        "adult": math.log(ADULT_PRIORS["adult"]),
        "senior": math.log(ADULT_PRIORS["senior"]) + older,
    }
    top = max(scores.values())
    weights = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(weights.values())
    probs = {"child": p_child}
    for band, w in weights.items():
        probs[band] = (1.0 - p_child) * w / total
    return AgeBand(probs={band: float(probs[band]) for band in AGE_BANDS})


def confidence(cues: Cues, lf0: float, lvtl: float) -> float:
    """0..1: grows with seconds of speech, falls when cues are missing or disagree."""
    c_time = 1.0 - math.exp(-max(0.0, cues.speech_seconds) / SPEECH_TIME_CONSTANT_S)
    if cues.f0_median_hz is None:
        c_data = 0.3
    else:
        voiced_share = cues.voiced_seconds / max(cues.speech_seconds, 1e-6)
        c_data = _clip(voiced_share / 0.35, 0.3, 1.0)
    if cues.vtl_cm is None:
        c_agree = 0.85
    elif (lf0 > 0) == (lvtl > 0):
        c_agree = 1.0
    else:
        # Conflict is as strong as the weaker of the two opposing cues: a neutral F0 that
        # formants settle is no conflict; a clear F0 against clear formants is.
        conflict = min(abs(lf0), abs(lvtl)) / VTL_CLIP
        c_agree = 1.0 - 0.25 * min(1.0, conflict)
    return float(_clip(c_time * c_data * c_agree, 0.0, 1.0))


def infer(cues: Cues) -> Traits:
    """Perceived sex, age band and confidence from acoustic cues."""
    sex, lf0, lvtl = perceived_sex(cues)
    age = age_band(cues, sex.p_female)
    return Traits(
        perceived_sex=sex,
        age_band=age,
        confidence=confidence(cues, lf0, lvtl),
        f0_logit=lf0,
        vtl_logit=lvtl,
    )
