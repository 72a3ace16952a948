"""What the voice cannot tell: chosen by hashing a noise-robust code of the speaker embedding.

Skin tone, hairstyle, eye colour, face shape and the rest of what a voice carries no
information about must not follow from a *smooth* function of the GE2E embedding:
embeddings cluster by language, accent and recording channel, so a smooth projection
gives one family of recordings one kind of face. Instead:

1. `identity_code`: the embedding is reduced to a small, noise-robust code: the signs of
   its first `CODE_BITS` = 10 linear discriminants (between-voice over within-voice
   scatter, the within-voice part including the first second of speech, other texts,
   languages and a phone channel; fitted on 18 espeak-ng voices in 8 languages and the
   recorded *tune* speakers, `benchmarks/identity_code.py`; each domain and sex centred
   on its own mean, and every axis orthogonal to the direction the perceived-sex model
   reads, so no bit tells synthetic from recorded speech or women from men), each
   against the recorded voices' median, so every bit splits callers, and the callers of
   each presentation, in half.
2. `identity_latents`: each latent belongs to a trait family (`FAMILIES`: skin,
   hairstyle, colouring, face shape, extras, eyes and brows, nose and lips, clothes), and
   its draw is BLAKE2b of (its family's 3 code bits, the user's ``look`` seed, its name):
   an independent uniform in (0, 1), stratified over the family's 8 sub-codes. Whatever
   the bits correlate with, the draws do not. A bit flipped by the embedding's noise
   (the usual difference between two calls of one speaker) rerolls only the two or three
   families that use it, so the face changes partly instead of entirely; different
   speakers differ in about half of the bits and share few families (numbers in `benchmarks/results/identity_code.md` and docs/DESIGN.md).

The code is a coarse summary of a voice, not an identifier: a handful of bits that many
speakers share. It is never stored or logged by StreamFace.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CODE_BITS = 10
"""Bits of the identity code: the signs of the first 10 discriminants."""

FAMILIES: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    # family: (the code bits its draws depend on, its latent names). Bit 0 is the most
    # discriminative axis on the fitted voices. Every bit serves two or three families and
    # two families share at most one bit, so one flipped bit (the usual noise between two
    # calls of one speaker) changes at most three families, and the most visible families
    # (skin, hairstyle, colouring) sit on the first bits.
    "skin": ((0, 1, 2), ("skin_tone", "skin_undertone", "freckles", "mole", "mole_pos")),
    "hairstyle": ((0, 3, 4), ("style_f", "style_m", "hair_side", "hairline", "balding")),
    "colouring": ((1, 3, 5), ("hair_lightness", "hair_red", "grey", "iris_hue", "iris_lightness")),
    "face_shape": ((2, 4, 6), ("face_width", "face_length", "jaw_width", "chin_length", "chin_width",
                               "cheek_fullness", "neck_width", "ear_size")),
    "extras": ((5, 6, 7), ("beard", "beard_style", "glasses", "glasses_shape", "glasses_tint", "makeup")),
    "eyes_brows": ((7, 8, 9), ("eye_size", "eye_spacing", "eye_shape", "eye_tilt", "lid_fold",
                               "brow_thickness", "brow_height", "brow_arch")),
    "nose_lips": ((0, 5, 8), ("nose_length", "nose_width", "nose_tip", "lip_fullness", "lip_width")),
    "clothes": ((1, 6, 9), ("top_hue", "top_saturation", "top_lightness", "bg_hue", "bg_lightness")),
}
"""Trait families: each draws from its own 3 bits of the code (graceful degradation).

A latent name in no family gets one by a hash of its name (`family_of`), so a new latent
works without an entry here; list it to choose its family."""

_FAMILY_OF = {name: family for family, (_, names) in FAMILIES.items() for name in names}

BASIS_PATH = Path(__file__).with_name("identity_basis.json")
_HASH_KEY = b"streamface-identity-v2"


@dataclass(frozen=True, order=True)
class IdentityCode:
    """A noise-robust code of a speaker embedding (hashable, small).

    Attributes:
        value: The code, ``0 .. 2**bits - 1``.
        bits: How many bits it has.
    """

    value: int
    bits: int = CODE_BITS

    def __post_init__(self) -> None:
        if not 0 < self.bits <= 64 or not 0 <= self.value < 1 << self.bits:
            raise ValueError(f"identity code {self.value} does not fit in {self.bits} bits")

    def __str__(self) -> str:
        return f"{self.value:0{self.bits}b}"


@functools.lru_cache(maxsize=1)
def load_basis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped basis: centre [256], axes [k, 256], thresholds [k] (float64)."""
    data = json.loads(BASIS_PATH.read_text(encoding="utf-8"))
    return (
        np.asarray(data["centre"], np.float64),
        np.asarray(data["axes"], np.float64),
        np.asarray(data["thresholds"], np.float64),
    )


def save_basis(centre: np.ndarray, axes: np.ndarray, thresholds: np.ndarray) -> Path:
    """Write a fitted basis to `BASIS_PATH` (used by `benchmarks/identity_code.py --fit`)."""
    data = {
        "about": "Identity-code basis: regularised LDA of GE2E embeddings of 18 espeak-ng voices "
        "in 8 languages and the recorded tune speakers of tests/data/real_speakers.json, whole "
        "clips and their first second, two channels; domain and sex kept out of every axis "
        "(benchmarks/identity_code.py).",
        "centre": [round(float(v), 7) for v in centre],
        "axes": [[round(float(v), 7) for v in row] for row in axes],
        "thresholds": [round(float(v), 7) for v in thresholds],
    }
    BASIS_PATH.write_text(json.dumps(data) + "\n", encoding="utf-8")
    return BASIS_PATH


def code_bits(embedding: np.ndarray, centre: np.ndarray, axes: np.ndarray, thresholds: np.ndarray) -> int:
    """The signs of ``(embedding - centre) @ axes.T - thresholds`` as an integer (bit 0 first)."""
    e = np.asarray(embedding, np.float64).reshape(-1)
    above = (e - centre) @ axes.T > thresholds
    return int(sum(1 << i for i, flag in enumerate(above) if flag))


def identity_code(embedding: np.ndarray, bits: int = CODE_BITS) -> IdentityCode:
    """The noise-robust code of a speaker embedding.

    Args:
        embedding: The 256-d GE2E embedding (any scale). A malformed, zero or
            non-finite one gives code 0 rather than an error.
        bits: Code length (at most the basis's size).
    """
    centre, axes, thresholds = load_basis()
    if not 0 < bits <= len(axes):
        raise ValueError(f"bits must be 1..{len(axes)}, got {bits}")
    e = np.asarray(embedding, np.float64).reshape(-1)
    norm = float(np.linalg.norm(e)) if e.shape == centre.shape and np.all(np.isfinite(e)) else 0.0
    if norm <= 1e-9:
        return IdentityCode(0, bits)
    return IdentityCode(code_bits(e / norm, centre, axes[:bits], thresholds[:bits]), bits)


def family_of(name: str) -> str:
    """The trait family of a latent name (listed in `FAMILIES`, else chosen by a hash of it)."""
    family = _FAMILY_OF.get(name)
    if family is None:
        digest = hashlib.blake2b(name.encode(), key=_HASH_KEY, digest_size=2).digest()
        family = list(FAMILIES)[int.from_bytes(digest, "big") % len(FAMILIES)]
    return family


def family_key(code: IdentityCode, name: str) -> tuple[str, int]:
    """What ``name``'s draw depends on besides the look: its family and that family's bits."""
    family = family_of(name)
    bits = FAMILIES[family][0]
    return family, sum(((code.value >> b) & 1) << i for i, b in enumerate(bits) if b < code.bits)


def _hash_unit(message: str) -> float:
    digest = hashlib.blake2b(message.encode(), key=_HASH_KEY, digest_size=8).digest()
    return ((int.from_bytes(digest, "big") >> 11) + 0.5) / float(1 << 53)


@functools.lru_cache(maxsize=4096)
def _strata(family: str, look: int, name: str) -> tuple[int, ...]:
    """A keyed random permutation: the stratum of each of a family's sub-codes."""
    n = 1 << len(FAMILIES[family][0])
    order = sorted(range(n), key=lambda sub: _hash_unit(f"{family}:{sub}:{look}:{name}:order"))
    strata = [0] * n
    for rank, sub in enumerate(order):
        strata[sub] = rank
    return tuple(strata)


def uniform(code: IdentityCode, name: str, look: int = 0) -> float:
    """One uniform draw in (0, 1) for ``name``, keyed by its family's bits and the look seed.

    Stratified: the 8 sub-codes of a family fall one in each eighth of (0, 1), in an order
    hashed from (family, look, name), at a hashed place within it. Over codes and looks
    the draw is uniform and independent of everything but the hash key, as a plain hash
    would be, and the 8 faces a family can take per look are spread over the whole range
    (8 plain draws leave the darkest fifth of skin tones empty one time in six).
    """
    family, sub = family_key(code, name)
    look = int(look)
    strata = _strata(family, look, name)
    return (strata[sub] + _hash_unit(f"{family}:{sub}:{look}:{name}")) / len(strata)


MAX_LOOK = 2**31 - 1
"""The largest look seed (looks are 0 .. MAX_LOOK; 0 is the voice's own look)."""


def parse_look(value: object) -> int | None:
    """A look seed from a query, JSON or keyword value, or None when it is not a whole
    number in 0 .. `MAX_LOOK` (booleans and fractional floats are refused)."""
    if isinstance(value, bool):
        return None
    try:
        look = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    if isinstance(value, float) and value != look:
        return None
    return look if 0 <= look <= MAX_LOOK else None


def require_look(value: object) -> int:
    """`parse_look` for a keyword argument: the seed, or ValueError naming the range."""
    look = parse_look(value)
    if look is None:
        raise ValueError(f"look must be a whole number from 0 to {MAX_LOOK}, got {value!r}")
    return look


def look_code(voice: IdentityCode, look: int) -> IdentityCode:
    """The code whose draws a face uses: the voice's own for look 0, a fixed one otherwise.

    A chosen look is a face the user keeps: its draws must not follow the voice's code,
    which the embedding's noise changes between two calls of one speaker (two calls keep
    about 0.4 of the trait families, `benchmarks/results/identity_code.md`). Pinned to one
    code, the look seed alone chooses what the voice cannot tell, so the same look is the
    same face in every call; the voice still sets perceived sex and age.
    """
    return voice if int(look) == 0 else IdentityCode(0, voice.bits)


def identity_latents(code: IdentityCode, names: Iterable[str], look: int = 0) -> dict[str, float]:
    """Uniform (0, 1) draws, one per name, for a code and a look seed.

    Each draw depends only on its own name, the look and the 3 code bits of its trait
    family (`FAMILIES`): draws of different names are independent, and a flipped code
    bit rerolls only the families that use it.

    Args:
        code: The speaker's identity code.
        names: Latent names (adding a name never changes the others).
        look: A user's seed: another value rerolls every draw ("another look").
    """
    return {name: uniform(code, name, look) for name in names}
