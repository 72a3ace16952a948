"""`VoiceProfile`: what a voice can plausibly tell about appearance.

A profile is a value object computed from the speech buffer. It never names a person:
it holds acoustic measurements, probabilistic perceived traits, a confidence, and the
speaker embedding used only to keep one voice's face stable (never persisted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

AGE_BANDS: tuple[str, ...] = ("child", "young_adult", "adult", "senior")
"""Age bands in order; `AgeBand.probs` has exactly these keys."""

EMBEDDING_DIM = 256


@dataclass(frozen=True)
class PerceivedSex:
    """Perceived sex of a voice as a probability, not a fact about the speaker."""

    p_female: float

    @property
    def label(self) -> str:
        """The more likely label, "female" or "male"."""
        return "female" if self.p_female >= 0.5 else "male"


@dataclass(frozen=True)
class AgeBand:
    """Perceived age band as probabilities over `AGE_BANDS`."""

    probs: dict[str, float]

    @property
    def label(self) -> str:
        """The most likely band."""
        return max(AGE_BANDS, key=lambda band: self.probs.get(band, 0.0))


@dataclass(frozen=True)
class VoiceProfile:
    """The analysis of one speaker's recent speech.

    Attributes:
        speech_seconds: Seconds of speech the profile was computed from.
        f0_median_hz: Median fundamental frequency, None when no voiced frames.
        f0_range_hz: 10th and 90th percentile of F0, None when no voiced frames.
        formants_hz: Median F1..F4 estimates in Hz, None when not measurable.
        vtl_cm: Vocal-tract length estimated from formant spacing, None when unknown.
        loudness_dbfs: RMS level of the speech in dB full scale.
        perceived_sex: Probability that listeners perceive the voice as female.
        age_band: Probabilities over `AGE_BANDS`.
        confidence: 0..1, grows with seconds of speech and agreement of cues.
        embedding: L2-normalised 256-d GE2E speaker embedding (float32).
    """

    speech_seconds: float
    f0_median_hz: float | None
    f0_range_hz: tuple[float, float] | None
    formants_hz: tuple[float, ...] | None
    vtl_cm: float | None
    loudness_dbfs: float | None
    perceived_sex: PerceivedSex
    age_band: AgeBand
    confidence: float
    embedding: np.ndarray = field(repr=False)

    def to_json(self, *, include_embedding: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (the `streamface analyze --json` schema)."""
        out: dict[str, Any] = {
            "speech_seconds": round(float(self.speech_seconds), 3),
            "f0_median_hz": _opt(self.f0_median_hz),
            "f0_range_hz": None if self.f0_range_hz is None else [_opt(v) for v in self.f0_range_hz],
            "formants_hz": None if self.formants_hz is None else [_opt(v) for v in self.formants_hz],
            "vtl_cm": _opt(self.vtl_cm),
            "loudness_dbfs": _opt(self.loudness_dbfs),
            "perceived_sex": {
                "label": self.perceived_sex.label,
                "p_female": round(float(self.perceived_sex.p_female), 4),
            },
            "age_band": {
                "label": self.age_band.label,
                "probs": {k: round(float(self.age_band.probs.get(k, 0.0)), 4) for k in AGE_BANDS},
            },
            "confidence": round(float(self.confidence), 4),
        }
        if include_embedding:
            out["embedding"] = [round(float(v), 6) for v in self.embedding]
        return out

    def traits_json(self) -> dict[str, Any]:
        """Only the inferred traits and confidence (what live clients are shown)."""
        return self.to_json(include_embedding=False)


def _opt(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)
