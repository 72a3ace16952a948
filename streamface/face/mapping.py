"""From a `VoiceProfile` to `FaceParams`: a statistical portrait, not a person.

Two sources feed the face:

* Perceived traits (probability of a female-sounding voice, age-band probabilities) move
  the sex- and age-linked parameters continuously, never by a coin flip. Age follows
  its band probabilities in proportion; the presentation follows the probability of a
  female-sounding voice through `presentation`, which commits to the likelier sex
  outside the middle (0.25-0.75) and is in-between only for a voice that really is
  ambiguous: a man's voice read at 0.3 gets a man's face, not 30 % of a woman's hair
  blended into it (recorded men's voices mostly read 0.1-0.45). The hairstyle commits
  further still (`hair_mix_for`): it blends only in a narrow middle.
* What a voice cannot tell (skin tone, hair and eye colour, face shape and style within
  the typical range, clothes, background) is drawn from uniform variables hashed from a
  noise-robust code of the speaker embedding and a look seed (`face.identity`): one
  code, one set of draws, statistically independent of language, accent and channel.
  Skin tone is drawn across the full range and never from traits, accent or language.

Users can override any parameter by name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamface.face.clothes import top_lightness_apart
from streamface.face.identity import IdentityCode, identity_code, identity_latents
from streamface.face.params import (
    BEARD_STYLES,
    FEMALE_HAIR_STYLES,
    HAIR_STYLES,
    MALE_HAIR_STYLES,
    FaceParams,
)
from streamface.voice.profile import VoiceProfile

logger = logging.getLogger(__name__)

LATENTS: tuple[str, ...] = (
    "skin_tone", "skin_undertone", "hair_lightness", "hair_red", "iris_hue", "iris_lightness",
    "face_width", "face_length", "jaw_width", "chin_length", "cheek_fullness",
    "brow_thickness", "brow_height", "brow_arch", "eye_size", "eye_spacing",
    "nose_length", "nose_width", "lip_fullness", "lip_width", "ear_size", "neck_width",
    "style_f", "style_m", "beard", "makeup", "grey", "top_hue", "top_saturation",
    "top_lightness", "bg_hue", "bg_lightness",
    "chin_width", "eye_shape", "eye_tilt", "lid_fold", "nose_tip", "freckles", "mole", "mole_pos",
    "hair_side", "hairline", "balding", "beard_style", "glasses", "glasses_shape", "glasses_tint",
)
"""The identity draws the mapping uses (uniform in (0, 1), from `identity.identity_latents`)."""

# Every style of each presentation is equally likely (13 each, see params.py).
_FEMALE_STYLES = FEMALE_HAIR_STYLES
_MALE_STYLES = MALE_HAIR_STYLES


def _pick(u: float, styles: tuple[str, ...]) -> float:
    i = min(int(u * len(styles)), len(styles) - 1)
    return float(HAIR_STYLES.index(styles[i]))


PRESENTATION_EDGES = (0.25, 0.75)
"""Perceived-sex probabilities below / above which the face is fully masculine / feminine."""


def presentation(p_female: float) -> float:
    """How feminine the face is drawn (0..1) for a probability of a female-sounding voice.

    A smoothstep over `PRESENTATION_EDGES`: continuous (a refining estimate morphs the
    face), committed outside the middle. Drawing the probability itself made every
    voice short of certainty a blend: hair styles mixed into hybrids no one wears, and
    recorded men's voices (read 0.1-0.45) got faces both judges read as women's
    (`benchmarks/results/voice_faces.md`).
    """
    return _smoothstep(p_female, *PRESENTATION_EDGES)


HAIR_EDGES = (0.4, 0.6)
"""Presentations below / above which the hair is wholly the masculine / feminine pick."""


def hair_mix_for(pf: float) -> float:
    """The share of the feminine hairstyle pick (`FaceParams.hair_mix`) for a presentation.

    Hair is the one trait with no in-between: a share of a woman's style blended into a
    man's is a style nobody wears (a ponytail's root as a tuft above the ear, or a lock
    hanging by the cheek, on men whose voices read 0.25-0.45). So the hair commits to one
    pick over most of the range and blends only in a narrow middle (a voice read about
    0.47-0.53, and the frames of a morph), while jaw, brows, lips and facial hair still
    follow the presentation itself.
    """
    return _smoothstep(pf, *HAIR_EDGES)


STUBBLE_FLOOR = 0.33
"""The least `facial_hair` of a man's face, fading out towards a child's voice (about 0.30 at
a confident grown-up age band): light stubble. A shaving shadow alone (0.17-0.24, where a
third of the men sat, young men most) was an even, faint tint over the whole lower face that
read as shading, not as a beard's: a smooth face. Paired on 195 benchmark men
(`benchmarks.stubble_ab --judge`): face-api reads 173 -> 178 as men, dlib 176 -> 175."""


def _smoothstep(v: float, lo: float, hi: float) -> float:
    t = float(np.clip((v - lo) / (hi - lo), 0.0, 1.0))
    return t * t * (3.0 - 2.0 * t)


def _mid(u: float, lo: float = 0.02, hi: float = 0.98) -> float:
    return lo + (hi - lo) * u


def params_for_profile(
    profile: VoiceProfile,
    overrides: Mapping[str, Any] | None = None,
    *,
    identity: IdentityCode | None = None,
    look: int = 0,
) -> FaceParams:
    """The representative face for a voice profile.

    Args:
        profile: The voice analysis (perceived sex, age band, speaker embedding).
        overrides: Parameter name -> value applied last (validated).
        identity: The code whose draws choose what the voice cannot tell; None: the
            code of ``profile.embedding`` (a session passes the code it holds).
        look: Seed that rerolls what the voice cannot tell (0: the voice's own look).

    Returns:
        The face parameters.

    Raises:
        StreamFaceError: when an override names an unknown parameter or is out of range.
    """
    code = identity_code(profile.embedding) if identity is None else identity
    return face_from_latents(profile, identity_latents(code, LATENTS, look)).with_overrides(overrides)


def face_from_latents(profile: VoiceProfile, u: Mapping[str, float]) -> FaceParams:
    """The face for a voice profile and given identity draws (one per name in `LATENTS`).

    `params_for_profile` passes the draws hashed from the identity code; probes
    (`benchmarks/descriptor_sensitivity.py`) pass chosen ones to move one trait alone.
    """
    pf = presentation(float(np.clip(profile.perceived_sex.p_female, 0.0, 1.0)))
    pm = 1.0 - pf
    probs = {k: max(0.0, float(v)) for k, v in profile.age_band.probs.items()}
    total = sum(probs.values()) or 1.0
    child = probs.get("child", 0.0) / total
    young = probs.get("young_adult", 0.0) / total
    adult = probs.get("adult", 0.0) / total
    senior = probs.get("senior", 0.0) / total
    if child + young + adult + senior == 0.0:
        young = adult = 0.5
    grown = young * 0.7 + adult + senior

    tone = 0.02 + 0.96 * u["skin_tone"]
    top_saturation = _mid(u["top_saturation"], 0.05, 0.7)
    # Lighter hair and eyes are common only with lighter skin; all from the embedding.
    hair_light = u["hair_lightness"] * (1.0 - 0.85 * tone) * (1.0 - 0.5 * child) + 0.1 * child * (1 - tone)
    hair_red = max(0.0, (u["hair_red"] - 0.82) / 0.18) * (1.0 - tone)
    iris_hue = u["iris_hue"] * (1.0 - tone) ** 1.5
    grey = senior * (0.72 + 0.28 * u["grey"]) + adult * 0.12 * u["grey"]

    style_f = _pick(u["style_f"], _FEMALE_STYLES)
    style_m = _pick(u["style_m"], _MALE_STYLES)
    # Hair thins and recedes with age, more on men; continuous in the probabilities, so
    # a refining age estimate moves it smoothly rather than switching styles.
    # Most older men show it: a higher hairline on nearly all, thin on top or bald on some.
    balding = float(np.clip((u["balding"] - 0.15) / 0.85, 0.0, 1.0))
    thinning = (senior + 0.25 * adult) * pm * (0.3 + 0.7 * balding) * min(1.0, u["balding"] / 0.15)

    # No grown man's face is drawn smooth: the least is light stubble (`STUBBLE_FLOOR`), more
    # stubble on some, a grown beard in one of the styles on the rest. Continuous in the
    # latent: a third (young men: nearly half) show the light stubble, the rest more or a beard.
    b = u["beard"]
    beard = 0.24 + 0.1 * min(b, 0.35) / 0.35
    beard += 0.2 * float(np.clip((b - 0.35) / 0.25, 0.0, 1.0)) + 1.6 * max(0.0, b - 0.6)
    facial_hair = pm**2 * max(grown * beard, STUBBLE_FLOOR * (1.0 - child) ** 2)

    face = FaceParams(
        face_width=_mid(u["face_width"]),
        face_length=_mid(u["face_length"]),
        jaw_width=_mid(u["jaw_width"], 0.1, 0.8) * (0.6 + 0.4 * pm) + 0.2 * pm,
        chin_length=_mid(u["chin_length"]),
        cheek_fullness=_mid(u["cheek_fullness"]) + 0.1 * child,
        chin_width=_mid(u["chin_width"], 0.05, 0.95),
        brow_thickness=_mid(u["brow_thickness"], 0.1, 0.7) * (0.6 + 0.4 * pm) + 0.25 * pm,
        brow_height=_mid(u["brow_height"]) * (0.7 + 0.3 * pf) + 0.1 * pf,
        brow_arch=_mid(u["brow_arch"], 0.1, 0.6) + 0.35 * pf,
        eye_size=_mid(u["eye_size"], 0.2, 0.8),
        eye_spacing=_mid(u["eye_spacing"]),
        eye_shape=_mid(u["eye_shape"], 0.0, 1.0),
        eye_tilt=_mid(u["eye_tilt"], 0.1, 0.9),
        lid_fold=_mid(u["lid_fold"], 0.0, 1.0),
        iris_hue=float(np.clip(iris_hue, 0.0, 1.0)),
        iris_lightness=_mid(u["iris_lightness"], 0.2, 0.8),
        nose_length=_mid(u["nose_length"]) * (1.0 - 0.3 * child),
        nose_width=_mid(u["nose_width"], 0.1, 0.9),
        nose_tip=_mid(u["nose_tip"], 0.0, 1.0),
        lip_fullness=_mid(u["lip_fullness"], 0.1, 0.7) + 0.25 * pf,
        lip_width=_mid(u["lip_width"]),
        ear_size=_mid(u["ear_size"]) + 0.1 * senior,
        skin_tone=tone,
        skin_undertone=_mid(u["skin_undertone"], 0.1, 0.9),
        # Freckles are common only on fair skin; a beauty mark on about one face in four.
        freckles=float(np.clip((u["freckles"] - 0.8) / 0.15, 0.0, 1.0)) * (1.0 - tone) ** 2,
        mole=float(np.clip((u["mole"] - 0.72) / 0.08, 0.0, 1.0)),
        mole_pos=u["mole_pos"],
        # The two picks are blended (not averaged as indices, which would land on whatever
        # style sits between them in the table), and only in a narrow middle.
        hair_style=float(np.clip(style_m, 0.0, len(HAIR_STYLES) - 1)),
        hair_style_alt=float(np.clip(style_f, 0.0, len(HAIR_STYLES) - 1)),
        hair_mix=hair_mix_for(pf),
        hair_side=float(u["hair_side"] >= 0.5),
        hairline=_mid(u["hairline"], 0.1, 0.9),
        hair_thinning=float(np.clip(thinning, 0.0, 1.0)),
        hair_lightness=float(np.clip(hair_light, 0.0, 1.0)),
        hair_red=float(np.clip(hair_red, 0.0, 1.0)),
        hair_grey=float(np.clip(grey, 0.0, 1.0)),
        facial_hair=float(np.clip(facial_hair, 0.0, 1.0)),
        facial_hair_style=float(min(int(u["beard_style"] * len(BEARD_STYLES)), len(BEARD_STYLES) - 1)),
        # About one face in five wears glasses, rising to four in ten seniors (most people
        # past 60 need them). Worn or not: a ramp between left about one settled face in
        # thirty with half-drawn, see-through frames. A refining age estimate that puts them
        # on still fades them in, through the session's morph.
        glasses=float(u["glasses"] < 0.2 + 0.05 * adult + 0.25 * senior),
        glasses_shape=u["glasses_shape"],
        glasses_tint=u["glasses_tint"],
        age=float(np.clip(0.04 * child + 0.33 * young + 0.62 * adult + 0.95 * senior, 0.0, 1.0)),
        age_lines=float(np.clip(0.18 * adult + 1.05 * senior, 0.0, 1.0)),
        age_sag=float(np.clip(0.15 * adult + 1.0 * senior, 0.0, 1.0)),
        masculinity=pm,
        makeup=float(np.clip(pf * (1.0 - child) * (1.0 - 0.1 * senior) * (0.25 + 0.55 * u["makeup"]), 0.0, 1.0)),
        neck_width=_mid(u["neck_width"]),
        top_hue=u["top_hue"],
        top_saturation=top_saturation,
        top_lightness=top_lightness_apart(tone, u["top_hue"], top_saturation, _mid(u["top_lightness"], 0.1, 0.85)),
        bg_hue=u["bg_hue"],
        bg_lightness=_mid(u["bg_lightness"], 0.55, 0.92),
    ).clamp()
    return face
