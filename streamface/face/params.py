"""`FaceParams`: the named, bounded description of one synthetic face.

Every parameter is a float with a range and a default (`PARAM_SPECS`). Most are in 0..1;
`hair_style` is an index over `HAIR_STYLES` (13 masculine then 13 feminine styles) whose
fractional values blend two neighbouring styles, so the whole description stays continuous (and differentiable in
the renderer); `hair_style_alt` and `hair_mix` blend in a second, unrelated style, so an
in-between face can show hair between two chosen styles rather than the styles that
happen to sit between them in the table. A face travels between components as a float32 row of `PARAM_DIM` values
in `PARAM_NAMES` order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

import numpy as np

from streamface.errors import StreamFaceError


class ParamSpec(NamedTuple):
    """One face parameter: its name, range, default and meaning."""

    name: str
    low: float
    high: float
    default: float
    doc: str


MALE_HAIR_STYLES: tuple[str, ...] = (
    "bald",
    "buzz",
    "receding",
    "crew",
    "side_part",
    "quiff",
    "undercut",
    "slick_back",
    "curly_top",
    "short_afro",
    "french_crop",
    "high_fade",
    "textured",
)
"""Hair styles typical of a masculine presentation (13)."""

FEMALE_HAIR_STYLES: tuple[str, ...] = (
    "pixie",
    "bob",
    "bob_bangs",
    "lob_waves",
    "long",
    "long_bangs",
    "long_waves",
    "side_swept",
    "ponytail",
    "bun",
    "curly_shoulder",
    "afro",
    "afro_puff",
)
"""Hair styles typical of a feminine presentation (13)."""

HAIR_STYLES: tuple[str, ...] = MALE_HAIR_STYLES + FEMALE_HAIR_STYLES
"""All hair styles in `hair_style` index order; a fractional index blends two neighbours."""

BEARD_STYLES: tuple[str, ...] = ("full", "short_boxed", "goatee", "circle", "moustache", "chin_strap", "horseshoe")
"""Facial hair styles in `facial_hair_style` index order (how much grows is `facial_hair`)."""

PARAM_SPECS: tuple[ParamSpec, ...] = (
    # Face shape
    ParamSpec("face_width", 0.0, 1.0, 0.5, "head width: narrow .. wide"),
    ParamSpec("face_length", 0.0, 1.0, 0.5, "head height: short .. long"),
    ParamSpec("jaw_width", 0.0, 1.0, 0.5, "jaw: narrow and tapered .. wide and square"),
    ParamSpec("chin_length", 0.0, 1.0, 0.5, "chin: short .. long"),
    ParamSpec("cheek_fullness", 0.0, 1.0, 0.5, "cheeks: hollow .. full"),
    ParamSpec("chin_width", 0.0, 1.0, 0.5, "chin: pointed .. broad"),
    # Brows
    ParamSpec("brow_thickness", 0.0, 1.0, 0.5, "eyebrows: thin .. thick"),
    ParamSpec("brow_height", 0.0, 1.0, 0.5, "eyebrows: low .. high above the eyes"),
    ParamSpec("brow_arch", 0.0, 1.0, 0.5, "eyebrows: flat .. arched"),
    # Eyes
    ParamSpec("eye_size", 0.0, 1.0, 0.5, "eyes: small .. large"),
    ParamSpec("eye_spacing", 0.0, 1.0, 0.5, "eyes: close-set .. wide-set"),
    ParamSpec("eye_shape", 0.0, 1.0, 0.5, "eye opening: narrow almond .. round"),
    ParamSpec("eye_tilt", 0.0, 1.0, 0.5, "outer eye corners: down-turned .. up-turned"),
    ParamSpec("lid_fold", 0.0, 1.0, 0.5, "upper lid: monolid (no crease) .. deep double fold"),
    ParamSpec("iris_hue", 0.0, 1.0, 0.15, "iris colour: dark brown .. brown .. hazel .. green .. blue .. grey"),
    ParamSpec("iris_lightness", 0.0, 1.0, 0.4, "iris: dark .. light"),
    # Nose
    ParamSpec("nose_length", 0.0, 1.0, 0.5, "nose: short .. long"),
    ParamSpec("nose_width", 0.0, 1.0, 0.5, "nose: narrow .. wide"),
    ParamSpec("nose_tip", 0.0, 1.0, 0.5, "nose tip: small and pointed .. round button"),
    # Lips
    ParamSpec("lip_fullness", 0.0, 1.0, 0.5, "lips: thin .. full"),
    ParamSpec("lip_width", 0.0, 1.0, 0.5, "mouth: narrow .. wide"),
    # Ears
    ParamSpec("ear_size", 0.0, 1.0, 0.5, "ears: small .. large"),
    # Skin
    ParamSpec("skin_tone", 0.0, 1.0, 0.4, "skin: very light .. very dark (full range of human skin tones)"),
    ParamSpec("skin_undertone", 0.0, 1.0, 0.5, "skin undertone: cool/pink .. warm/golden-olive"),
    ParamSpec("freckles", 0.0, 1.0, 0.0, "freckles over nose and cheeks: none .. many"),
    ParamSpec("mole", 0.0, 1.0, 0.0, "a beauty mark: none .. clearly visible"),
    ParamSpec("mole_pos", 0.0, 1.0, 0.5, "where the beauty mark sits (one of several spots on the face)"),
    # Hair
    ParamSpec("hair_style", 0.0, float(len(HAIR_STYLES) - 1), 4.0, "index over HAIR_STYLES (fractions blend neighbours)"),
    ParamSpec("hair_style_alt", 0.0, float(len(HAIR_STYLES) - 1), 4.0, "a second style, blended in by hair_mix"),
    ParamSpec("hair_mix", 0.0, 1.0, 0.0, "share of hair_style_alt: 0 hair_style alone .. 1 hair_style_alt alone"),
    ParamSpec("hair_side", 0.0, 1.0, 1.0, "side of the parting / sweep: left .. right"),
    ParamSpec("hairline", 0.0, 1.0, 0.5, "hairline: low .. high forehead"),
    ParamSpec("hair_thinning", 0.0, 1.0, 0.0, "age-related recession and thinning on top: none .. bald on top"),
    ParamSpec("hair_lightness", 0.0, 1.0, 0.25, "hair colour: black .. brown .. blonde"),
    ParamSpec("hair_red", 0.0, 1.0, 0.1, "hair colour: no red .. auburn/ginger"),
    ParamSpec("hair_grey", 0.0, 1.0, 0.0, "hair greying: none .. white"),
    ParamSpec("facial_hair", 0.0, 1.0, 0.0, "facial hair: none .. shaving shadow (~0.15) .. stubble (~0.35) .. grown (> 0.5)"),
    ParamSpec("facial_hair_style", 0.0, float(len(BEARD_STYLES) - 1), 0.0, "index over BEARD_STYLES: what grows"),
    ParamSpec("glasses", 0.0, 1.0, 0.0, "glasses: none (0) .. worn (1)"),
    ParamSpec("glasses_shape", 0.0, 1.0, 0.5, "glasses frames: round .. rectangular"),
    ParamSpec("glasses_tint", 0.0, 1.0, 0.2, "glasses frames: black .. tortoise .. light metal"),
    # Age and sex-linked shape cues
    ParamSpec("age", 0.0, 1.0, 0.45, "age proportions: child (0) .. young adult .. adult .. senior (1)"),
    ParamSpec("age_lines", 0.0, 1.0, 0.1, "wrinkles: smooth .. deep lines"),
    ParamSpec("age_sag", 0.0, 1.0, 0.1, "sagging: firm .. jowls, heavy lids, eye bags"),
    ParamSpec("masculinity", 0.0, 1.0, 0.5, "shape cues: feminine .. masculine (jaw, brow ridge, neck, shoulders)"),
    ParamSpec("makeup", 0.0, 1.0, 0.1, "lip tint, eyeliner and lashes: none .. noticeable"),
    # Neck, clothes, background
    ParamSpec("neck_width", 0.0, 1.0, 0.5, "neck: slim .. thick"),
    ParamSpec("top_hue", 0.0, 1.0, 0.6, "hue of the plain top"),
    ParamSpec("top_saturation", 0.0, 1.0, 0.35, "colourfulness of the top"),
    ParamSpec("top_lightness", 0.0, 1.0, 0.4, "lightness of the top"),
    ParamSpec("bg_hue", 0.0, 1.0, 0.58, "hue of the background"),
    ParamSpec("bg_lightness", 0.0, 1.0, 0.8, "lightness of the background"),
)
"""Every face parameter in row order."""

PARAM_NAMES: tuple[str, ...] = tuple(spec.name for spec in PARAM_SPECS)
PARAM_DIM = len(PARAM_SPECS)
SPECS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAM_SPECS}
PARAM_LOW = np.array([s.low for s in PARAM_SPECS], dtype=np.float32)
PARAM_HIGH = np.array([s.high for s in PARAM_SPECS], dtype=np.float32)
PARAM_DEFAULT = np.array([s.default for s in PARAM_SPECS], dtype=np.float32)


@dataclass(frozen=True)
class FaceParams:
    """One face: named floats, each within its `PARAM_SPECS` range.

    Build one with `FaceParams()` (all defaults), `neutral_params()`,
    `FaceParams.from_vector(row)` or `mapping.params_for_profile(profile)`; change it with
    `with_overrides({"hair_style": 9})`.
    """

    face_width: float = 0.5
    face_length: float = 0.5
    jaw_width: float = 0.5
    chin_length: float = 0.5
    cheek_fullness: float = 0.5
    chin_width: float = 0.5
    brow_thickness: float = 0.5
    brow_height: float = 0.5
    brow_arch: float = 0.5
    eye_size: float = 0.5
    eye_spacing: float = 0.5
    eye_shape: float = 0.5
    eye_tilt: float = 0.5
    lid_fold: float = 0.5
    iris_hue: float = 0.15
    iris_lightness: float = 0.4
    nose_length: float = 0.5
    nose_width: float = 0.5
    nose_tip: float = 0.5
    lip_fullness: float = 0.5
    lip_width: float = 0.5
    ear_size: float = 0.5
    skin_tone: float = 0.4
    skin_undertone: float = 0.5
    freckles: float = 0.0
    mole: float = 0.0
    mole_pos: float = 0.5
    hair_style: float = 4.0
    hair_style_alt: float = 4.0
    hair_mix: float = 0.0
    hair_side: float = 1.0
    hairline: float = 0.5
    hair_thinning: float = 0.0
    hair_lightness: float = 0.25
    hair_red: float = 0.1
    hair_grey: float = 0.0
    facial_hair: float = 0.0
    facial_hair_style: float = 0.0
    glasses: float = 0.0
    glasses_shape: float = 0.5
    glasses_tint: float = 0.2
    age: float = 0.45
    age_lines: float = 0.1
    age_sag: float = 0.1
    masculinity: float = 0.5
    makeup: float = 0.1
    neck_width: float = 0.5
    top_hue: float = 0.6
    top_saturation: float = 0.35
    top_lightness: float = 0.4
    bg_hue: float = 0.58
    bg_lightness: float = 0.8

    def to_vector(self) -> np.ndarray:
        """The renderer's input row: float32 of length `PARAM_DIM` in `PARAM_NAMES` order."""
        return np.array([getattr(self, name) for name in PARAM_NAMES], dtype=np.float32)

    @classmethod
    def from_vector(cls, vec: np.ndarray | list[float]) -> FaceParams:
        """Inverse of `to_vector`; values are clamped into range.

        Raises:
            StreamFaceError: when the row does not hold `PARAM_DIM` finite values.
        """
        arr = np.asarray(vec, dtype=np.float64).reshape(-1)
        if arr.shape[0] != PARAM_DIM:
            raise StreamFaceError(f"face parameter row has {arr.shape[0]} values, expected {PARAM_DIM}")
        if not np.all(np.isfinite(arr)):
            raise StreamFaceError("face parameter row holds NaN or infinite values")
        arr = np.clip(arr, PARAM_LOW, PARAM_HIGH)
        return cls(**{name: float(v) for name, v in zip(PARAM_NAMES, arr, strict=True)})

    def clamp(self) -> FaceParams:
        """A copy with every value clipped into its range."""
        values = {s.name: min(max(float(getattr(self, s.name)), s.low), s.high) for s in PARAM_SPECS}
        return FaceParams(**values)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> FaceParams:
        """A copy with some values replaced.

        `hair_style` and `hair_style_alt` also accept a style name from `HAIR_STYLES`,
        `facial_hair_style` one from `BEARD_STYLES`. Setting
        `hair_style` alone also sets `hair_mix` to 0, so the face shows that style.

        Raises:
            StreamFaceError: on an unknown name, a non-number, or a value out of range.
        """
        if not overrides:
            return self
        changes: dict[str, float] = {}
        for name, raw in overrides.items():
            spec = SPECS_BY_NAME.get(name)
            if spec is None:
                raise StreamFaceError(
                    f"unknown face parameter {name!r}; known: {', '.join(PARAM_NAMES)}"
                )
            value = _parse_value(name, raw)
            if not spec.low <= value <= spec.high:
                raise StreamFaceError(
                    f"face parameter {name}={value:g} is out of range [{spec.low:g}, {spec.high:g}]"
                )
            changes[name] = value
        if "hair_style" in changes and not {"hair_style_alt", "hair_mix"} & changes.keys():
            changes["hair_mix"] = 0.0
        return replace(self, **changes)

    def to_dict(self) -> dict[str, float]:
        """Name -> value, rounded for JSON."""
        return {k: round(float(v), 4) for k, v in asdict(self).items()}

    @property
    def hair_style_name(self) -> str:
        """The nearest named hair style (of the two blended, the one with the larger share)."""
        style = self.hair_style_alt if self.hair_mix > 0.5 else self.hair_style
        return HAIR_STYLES[int(round(min(max(style, 0.0), len(HAIR_STYLES) - 1)))]


def _parse_value(name: str, raw: Any) -> float:
    if name in ("hair_style", "hair_style_alt") and isinstance(raw, str) and raw in HAIR_STYLES:
        return float(HAIR_STYLES.index(raw))
    if name == "facial_hair_style" and isinstance(raw, str) and raw in BEARD_STYLES:
        return float(BEARD_STYLES.index(raw))
    if isinstance(raw, bool):
        raise StreamFaceError(f"face parameter {name} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise StreamFaceError(f"face parameter {name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise StreamFaceError(f"face parameter {name} must be finite, got {raw!r}")
    return value


def neutral_params() -> FaceParams:
    """The placeholder face shown while listening: in-between sex and age cues, mid tones."""
    return FaceParams(
        skin_tone=0.45,
        skin_undertone=0.5,
        hair_style=float(HAIR_STYLES.index("pixie")),
        hair_lightness=0.2,
        hair_red=0.05,
        masculinity=0.5,
        makeup=0.1,
        facial_hair=0.0,
        age=0.45,
        top_hue=0.6,
        top_saturation=0.15,
        top_lightness=0.45,
        bg_hue=0.58,
        bg_lightness=0.82,
    )


def params_matrix(faces: list[FaceParams]) -> np.ndarray:
    """Stack faces into the renderer's [B, PARAM_DIM] float32 input."""
    if not faces:
        return np.zeros((0, PARAM_DIM), dtype=np.float32)
    return np.stack([f.to_vector() for f in faces]).astype(np.float32)


assert [f.name for f in fields(FaceParams)] == list(PARAM_NAMES), "FaceParams fields != PARAM_SPECS"
assert all(
    getattr(FaceParams(), s.name) == s.default for s in PARAM_SPECS
), "FaceParams defaults != PARAM_SPECS defaults"
