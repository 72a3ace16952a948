"""The ponytail as a person sees it (issue 13): a tail over the shoulder, never a stray lock.

A ponytail drawn as a thin strand that started at the temple and hung beside the cheek and
neck, ending in the air below the jaw, read as a stray lock. From the front a low ponytail
brought forward comes out from behind the neck below the ear and lies over the front of
the shoulder. Each check finds the hair, the skin and the backdrop from pixels: what
changes when only the hair colour, the skin tone or the backdrop changes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import row_of

from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.render.common import pixel_size
from streamface.face.renderer import FaceRenderer

SIZE = 256
_row = functools.partial(row_of, size=SIZE)
PX = pixel_size(SIZE)
FACES = (
    {"masculinity": 0.1, "makeup": 0.3, "age": 0.4, "skin_tone": 0.15, "hair_side": 1.0},
    {"masculinity": 0.05, "makeup": 0.5, "age": 0.3, "skin_tone": 0.85, "hair_side": 0.0, "face_width": 0.2, "jaw_width": 0.1},
    {"masculinity": 0.15, "makeup": 0.2, "age": 0.7, "skin_tone": 0.5, "hair_side": 1.0, "neck_width": 1.0, "face_width": 1.0},
)


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _masks(renderer: FaceRenderer, face: dict[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Where the ponytail face's hair, skin and backdrop are (pixels that change when only
    that colour changes), and the face's geometry."""
    face = {**face, "hair_style": "ponytail", "hair_red": 0.0, "hair_grey": 0.0, "hair_lightness": 0.05, "bg_lightness": 0.7, "bg_hue": 0.1}
    tone = float(face["skin_tone"])  # type: ignore[arg-type]
    variants = [
        face,
        {**face, "hair_lightness": 0.95},
        {**face, "skin_tone": 1.0 - tone if abs(tone - 0.5) > 0.2 else 0.0},
        {**face, "bg_lightness": 0.2, "bg_hue": 0.6},
    ]
    faces = [FaceParams().with_overrides(v) for v in variants]
    params = torch.from_numpy(params_matrix(faces))
    with torch.no_grad():
        img = renderer(params, torch.from_numpy(np.stack([NEUTRAL.to_vector()] * len(faces)))).numpy()
        g = renderer._geometry(params[:1])
    base = img[0]

    def changed(other: np.ndarray) -> np.ndarray:
        d = np.abs(other - base).max(axis=0)
        return d > 0.25 * d.max()

    geo = {k: float(g[k].reshape(-1)[0]) for k in ("h_dir", "jaw_y", "chin_y", "eye_y", "ear_s", "neck_w", "rx")}
    return changed(img[1]), changed(img[2]), changed(img[3]), geo


def _side(mask: np.ndarray, h_dir: float) -> np.ndarray:
    """The half of the frame on the tail's side, from the centre outwards."""
    half = SIZE // 2
    return mask[:, half:] if h_dir > 0 else mask[:, :half][:, ::-1]


@pytest.mark.parametrize("face", FACES)
def test_the_tail_starts_below_the_jaw_not_at_the_temple(renderer: FaceRenderer, face: dict[str, object]) -> None:
    """Between the ear's lobe and the jaw, nothing hangs beside the cheek: the tail comes
    out from behind the jaw and neck, lower down."""
    hair, skin, _, g = _masks(renderer, face)
    hair, skin = _side(hair, g["h_dir"]), _side(skin, g["h_dir"])
    lobe = g["eye_y"] + 0.05 + 0.072 * g["ear_s"]
    for r in range(_row(lobe + 0.01), _row(g["jaw_y"] - 0.03)):
        face_edge = int(np.argmin(skin[r]))  # the cheek's outline (or the ear's)
        beside = hair[r, face_edge + 2 :]
        assert not beside.any(), f"hair beside the cheek in row {r}, {np.flatnonzero(beside)[:5] + 2} px past the face"


@pytest.mark.parametrize("face", FACES)
def test_the_tail_lies_over_the_shoulder_thick_and_tapering(renderer: FaceRenderer, face: dict[str, object]) -> None:
    """Below the chin it is a rope of hair at least as wide as a finger's breadth is on
    this head (never a lock a few pixels wide) reaching down over the top, and
    narrower at its end than where it comes out."""
    hair, _, _, g = _masks(renderer, face)
    hair = _side(hair, g["h_dir"])
    widths = [int(hair[r].sum()) for r in range(_row(g["chin_y"] + 0.04), _row(0.5))]
    thin = min(widths)
    assert thin >= 0.08 / PX, f"the tail is {thin} px wide at its thinnest above y=0.5 (rows {widths})"
    rows = np.flatnonzero(hair.any(axis=1))
    assert rows.max() >= _row(0.65), "the tail ends above the chest"
    assert int(hair[rows.max() - 4].sum()) < max(widths), "the tail does not taper to its end"


@pytest.mark.parametrize("face", FACES)
def test_the_tail_touches_the_body_with_no_air_between(renderer: FaceRenderer, face: dict[str, object]) -> None:
    """Along every row it crosses below the jaw, no backdrop shows between the tail and the
    neck or body: it is behind the neck, then lies on the top."""
    hair, _, backdrop, g = _masks(renderer, face)
    hair, backdrop = _side(hair, g["h_dir"]), _side(backdrop, g["h_dir"])
    checked = 0
    for r in range(_row(g["jaw_y"] + 0.02), SIZE):
        cols = np.flatnonzero(hair[r])
        if cols.size == 0:
            continue
        checked += 1
        gap = backdrop[r, : cols.min()]
        assert not gap.any(), f"backdrop between the neck and the tail at y={r}: columns {np.flatnonzero(gap)[:5]}"
        assert not hair[r, : int(0.8 * g["neck_w"] / PX)].any(), "hair in front of the neck"
    assert checked >= _row(0.6) - _row(g["jaw_y"] + 0.1), f"the tail shows on only {checked} rows below the jaw"


@pytest.mark.parametrize("side", [0.35, 0.5, 0.6])
def test_a_morph_of_the_parting_never_hangs_the_tail_down_the_chest(renderer: FaceRenderer, side: float) -> None:
    """A morph walks ``hair_side`` from one side to the other: the tail draws back behind the
    jaw and grows out over the other shoulder, never down the middle of the chest."""
    face = {**FACES[0], "hair_side": side}
    hair, _, _, g = _masks(renderer, face)
    centre = hair[_row(0.4) :, SIZE // 2 - int(g["neck_w"] / PX) : SIZE // 2 + int(g["neck_w"] / PX)]
    assert not centre.any(), f"hair over the middle of the chest at hair_side={side}"
