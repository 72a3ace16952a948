"""The voice-inferred cues a face shows, smoothed over a speaker's analyses.

A face refines as speech arrives: each analysis pulls it part of the way towards the new
estimate (`IdentityTracker`). What is pulled is the voice's estimate, perceived sex and
age-band probabilities, which is then mapped to a face; pulling the drawn parameters
instead averaged two faces, and the mapping's committed choices came out in between:
a man whose first seconds read female kept a share of a woman's hairstyle (a ponytail's
root as a tuft above his ear) and glasses half drawn, see-through, for the rest of the call.
"""

from __future__ import annotations

import dataclasses

from streamface.voice.profile import AgeBand, PerceivedSex, VoiceProfile


class VoiceCues:
    """The held perceived-sex and age-band estimate of the current speaker."""

    def __init__(self) -> None:
        self._p_female: float | None = None
        self._ages: dict[str, float] = {}

    def pulled(self, profile: VoiceProfile, weight: float) -> VoiceProfile:
        """``profile`` with its cues ``weight`` of the way from the held ones to its own.

        Everything else (the embedding, pitch, formants) is the analysis's own. Before
        anything is held, ``profile`` itself.
        """
        if self._p_female is None:
            return profile
        w = min(max(float(weight), 0.0), 1.0)
        p_female = self._p_female + w * (profile.perceived_sex.p_female - self._p_female)
        bands = set(self._ages) | set(profile.age_band.probs)
        ages = {b: self._ages.get(b, 0.0) + w * (profile.age_band.probs.get(b, 0.0) - self._ages.get(b, 0.0)) for b in bands}
        return dataclasses.replace(profile, perceived_sex=PerceivedSex(p_female), age_band=AgeBand(ages))

    def hold(self, profile: VoiceProfile) -> None:
        """Hold ``profile``'s cues (a first face, a new speaker, or an accepted refinement)."""
        self._p_female = float(profile.perceived_sex.p_female)
        self._ages = {b: float(p) for b, p in profile.age_band.probs.items()}

    def clear(self) -> None:
        """Forget the speaker."""
        self._p_female = None
        self._ages = {}
