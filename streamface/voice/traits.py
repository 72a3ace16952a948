"""Perceived sex and age band from acoustic cues and the speaker embedding.

Perceived sex, when the analyzer passes the GE2E embedding (it always does), comes from a
logistic regression over that embedding (`sex_model.json`, fitted by
scripts/train_sex_model.py on synthetic voices, pitch-crossed synthetic voices and the
*tune* speakers of the real-speech set; see `embedding_logit`), with F0 as a check: when
the two disagree the probability falls back toward 0.5 and confidence drops. Without an
embedding, and for the age band, the model below uses published acoustics only; none of
its constants is fitted to our test voices:

- F0 (Peterson & Barney 1952; Hillenbrand et al. 1995; Traunmüller & Eriksson 1995):
  adult men speak around 85-180 Hz (mean ~120-135), women around 165-255 Hz (mean
  ~210-225), 8-12-year-olds around 230-300 Hz. The male and female distributions cross
  near 165 Hz, so a voice at 155-175 Hz is genuinely ambiguous on F0 alone.
- Formant spacing / vocal-tract length (VTL): Hillenbrand et al.'s (1995) vowel-averaged
  F1-F3 give, through the same spacing regression as `formants.py`, dF ~1029 Hz (17.0 cm)
  for men and ~1181 Hz (14.8 cm) for women (women's formants ~15-18 % higher; Fant 1966;
  Fitch & Giedd 1999: ~12 cm at age ten). The VTL log-odds is the equal-variance Gaussian
  slope, 2.2 cm over (speaker spread ~0.9 cm + LPC error): the LPC error grows with F0
  (widely spaced harmonics pull the poles) and on telephone audio, so formants weigh most
  for low voices, where F0 alone would be most misleading for a low-voiced woman.
- Formants matter to listeners about as much as F0 (F0 "somewhat more"): shifting either
  alone rarely changes a sentence's perceived sex, shifting both usually does
  (Hillenbrand & Clark 2009). So a voice whose F0 and tract disagree is not typical of
  either sex: its probability is pulled toward 0.5 and its confidence drops.
- Age: children have both a high F0 *and* a short vocal tract; that pair separates them
  from adult women. With age, men's F0 rises and women's falls a little, and voices get
  less periodic (lower HNR, more jitter) (Linville 2001; Torre & Barlow 2009). These are
  weak cues, so the adult age bands stay close to their prior.

Perceived sex is a logistic combination of the cues (log-odds add), clipped so that no
single cue can make the model certain, scaled down when little speech was heard, and
mixed with a coin flip as far as the two cues conflict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from streamface.voice.profile import AGE_BANDS, AgeBand, PerceivedSex

# --- perceived sex -------------------------------------------------------------------
F0_MIDPOINT_HZ = 165.0  # male / female F0 distributions cross here
F0_SLOPE = 12.0  # log-odds per natural-log unit of F0: p(150 Hz) ~ 0.24, p(180 Hz) ~ 0.74
F0_CLIP = 6.0
VTL_MALE_CM = 17.0  # Hillenbrand et al. 1995 men's vowel-averaged F1-F3: dF ~1029 Hz
VTL_FEMALE_CM = 14.8  # ... women's: dF ~1181 Hz (formants ~15-18 % higher)
VTL_MIDPOINT_CM = 0.5 * (VTL_MALE_CM + VTL_FEMALE_CM)  # 15.9
VTL_SPEAKER_SD_CM = 0.9  # within-sex spread of speakers' tract length (~6 %)
LPC_SD_CM_AT_120HZ = 0.7  # our LPC estimate's error at F0 120 Hz, wideband ...
LPC_SD_F0_EXPONENT = 1.0  # ... growing with F0: harmonics sample the envelope every F0 Hz
LPC_SD_TELEPHONE = 1.4  # F1-F3 only and F1 cut at 300 Hz: a noisier estimate
VTL_CLIP = 3.0  # tract alone never moves p_female beyond ~0.05 .. 0.95
VTL_DEVIATION_CLIP_CM = 2.0  # beyond ~1 SD past either sex's mean: likely a measurement error
LOGIT_CLIP = 5.0  # p_female stays within [0.007, 0.993]
CONFLICT_SCALE = 3.0  # opposing cues of 1 / 2 / 3 log-odds keep 72 / 51 / 37 % of the call

SEX_MODEL_PATH = Path(__file__).with_name("sex_model.json")
"""Logistic regression over the GE2E embedding, fitted by scripts/train_sex_model.py on the
synthetic voices and the *tune* speakers of the real set (held-out speakers never)."""

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


def vtl_slope(f0_hz: float | None, band_limited: bool = False) -> float:
    """Log-odds per cm of tract length: the equal-variance Gaussian (LDA) slope.

    The sexes' mean tract lengths differ by 2.2 cm; the variance is the speakers' spread
    plus the error of our LPC estimate, which grows with F0 (widely spaced harmonics pull
    the LPC poles) and on telephone audio. So the tract cue weighs most for a low voice.
    """
    f0 = 120.0 if f0_hz is None or not f0_hz > 0 else f0_hz
    lpc_sd = LPC_SD_CM_AT_120HZ * (f0 / 120.0) ** LPC_SD_F0_EXPONENT
    if band_limited:
        lpc_sd *= LPC_SD_TELEPHONE
    variance = VTL_SPEAKER_SD_CM**2 + lpc_sd**2
    return (VTL_MALE_CM - VTL_FEMALE_CM) / variance


def vtl_logit(
    vtl_cm: float | None, band_limited: bool = False, f0_hz: float | None = None
) -> float:
    """Log-odds of a female percept from vocal-tract length alone (0 at 15.9 cm)."""
    if vtl_cm is None or not vtl_cm > 0:
        return 0.0
    deviation = _clip(vtl_cm - VTL_MIDPOINT_CM, -VTL_DEVIATION_CLIP_CM, VTL_DEVIATION_CLIP_CM)
    return _clip(-vtl_slope(f0_hz, band_limited) * deviation, -VTL_CLIP, VTL_CLIP)


def agreement(lf0: float, lvtl: float) -> float:
    """1 when F0 and the tract agree (or one is neutral), falling as they clearly disagree.

    Conflict is as strong as the weaker of two opposing cues: a neutral F0 that formants
    settle is no conflict; a clear F0 against clear formants is (a male F0 with a female
    tract, or the reverse, which listeners do not sex reliably: Hillenbrand & Clark 2009).
    """
    if lf0 * lvtl < 0.0:
        return math.exp(-min(abs(lf0), abs(lvtl)) / CONFLICT_SCALE)
    return 1.0


def support(lf0: float, lvtl: float) -> float:
    """Confidence factor: full when F0 and tract both back the call, 0.85 with only one.

    Listeners need both cues to be sure of a voice's sex (Hillenbrand & Clark 2009), so a
    clear F0 with a tract at the sexes' midpoint counts like a tract that was not measured.
    """
    if lf0 * lvtl < 0.0:
        return agreement(lf0, lvtl)
    return 0.85 + 0.15 * min(1.0, min(abs(lf0), abs(lvtl)))


@lru_cache(maxsize=1)
def _sex_model() -> tuple[np.ndarray, float]:
    model = json.loads(SEX_MODEL_PATH.read_text())
    return np.asarray(model["weights"], dtype=np.float64), float(model["bias"])


def embedding_logit(embedding: np.ndarray) -> float:
    """Log-odds of a female percept from the speaker embedding (the fitted timbre cue).

    The GE2E embedding summarises the whole spectral envelope, so it carries the vocal
    tract (and voice quality) that a single formant-spacing number measures noisily; on
    recorded speech it keeps high-voiced men male where F0 alone reads them as women.
    """
    weights, bias = _sex_model()
    e = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if e.shape != weights.shape or not np.all(np.isfinite(e)):
        raise ValueError(f"embedding must be {weights.size} finite values, got shape {e.shape}")
    return float(e @ weights + bias)


def perceived_sex(
    cues: Cues, embedding: np.ndarray | None = None
) -> tuple[PerceivedSex, float, float]:
    """Probability of a female percept, and the F0 and anatomical log-odds behind it.

    Without an embedding, F0's and the tract's log-odds add (independent evidence). With
    one, the anatomical cue is the fitted embedding model (`embedding_logit`), which on
    real voices outranks formant spacing, and F0 is not added again (the model already
    saw it through the spectrum). Either way the result is mixed with a coin flip in
    proportion to the conflict between F0 and the anatomical cue: a voice whose pitch and
    tract point to different sexes is not typical of either, so the model falls back
    toward 0.5 and `confidence` drops.
    """
    voiced_weight = _clip(cues.voiced_seconds / 0.5, 0.0, 1.0)
    lf0 = f0_logit(cues.f0_median_hz) * voiced_weight
    if embedding is None:
        lvtl = vtl_logit(cues.vtl_cm, cues.band_limited, cues.f0_median_hz)
        logit = lf0 + lvtl
    else:
        lvtl = _clip(embedding_logit(embedding), -LOGIT_CLIP, LOGIT_CLIP)
        logit = lvtl
    logit = _clip(logit, -LOGIT_CLIP, LOGIT_CLIP) * evidence_factor(cues.speech_seconds)
    trust = agreement(lf0, lvtl)
    p_female = trust * _sigmoid(logit) + (1.0 - trust) * 0.5
    return PerceivedSex(p_female=p_female), lf0, lvtl


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


def confidence(cues: Cues, lf0: float, lvtl: float, *, has_embedding: bool = False) -> float:
    """0..1: grows with seconds of speech, falls when cues are missing or disagree."""
    c_time = 1.0 - math.exp(-max(0.0, cues.speech_seconds) / SPEECH_TIME_CONSTANT_S)
    if cues.f0_median_hz is None:
        c_data = 0.3
    else:
        voiced_share = cues.voiced_seconds / max(cues.speech_seconds, 1e-6)
        c_data = _clip(voiced_share / 0.35, 0.3, 1.0)
    c_agree = 0.85 if cues.vtl_cm is None and not has_embedding else support(lf0, lvtl)
    return float(_clip(c_time * c_data * c_agree, 0.0, 1.0))


def infer(cues: Cues, embedding: np.ndarray | None = None) -> Traits:
    """Perceived sex, age band and confidence from acoustic cues (and the speaker embedding).

    `vtl_logit` of the result is the anatomical cue's log-odds: from formant spacing
    without an embedding, from the fitted embedding model with one.
    """
    sex, lf0, lvtl = perceived_sex(cues, embedding)
    age = age_band(cues, sex.p_female)
    return Traits(
        perceived_sex=sex,
        age_band=age,
        confidence=confidence(cues, lf0, lvtl, has_embedding=embedding is not None),
        f0_logit=lf0,
        vtl_logit=lvtl,
    )
