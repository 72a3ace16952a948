"""FaceParams: vector round trip, bounds, overrides."""

from __future__ import annotations

import numpy as np
import pytest

from streamface.errors import StreamFaceError
from streamface.face.params import (
    HAIR_STYLES,
    PARAM_DIM,
    PARAM_NAMES,
    PARAM_SPECS,
    FaceParams,
    neutral_params,
)


def test_specs_cover_required_parameters() -> None:
    assert len(PARAM_NAMES) == PARAM_DIM == len(set(PARAM_NAMES))
    assert len(HAIR_STYLES) >= 8
    for spec in PARAM_SPECS:
        assert spec.low < spec.high and spec.low <= spec.default <= spec.high and spec.doc


def test_vector_round_trip() -> None:
    face = neutral_params().with_overrides({"skin_tone": 0.9, "hair_style": "bun"})
    vec = face.to_vector()
    assert vec.dtype == np.float32 and vec.shape == (PARAM_DIM,)
    assert FaceParams.from_vector(vec) == FaceParams.from_vector(vec.tolist())
    assert FaceParams.from_vector(vec).hair_style_name == "bun"


def test_from_vector_clamps_and_rejects_bad_rows() -> None:
    vec = np.full(PARAM_DIM, 99.0, dtype=np.float32)
    clamped = FaceParams.from_vector(vec)
    assert all(getattr(clamped, s.name) == pytest.approx(s.high) for s in PARAM_SPECS)
    with pytest.raises(StreamFaceError):
        FaceParams.from_vector(np.zeros(PARAM_DIM - 1))
    with pytest.raises(StreamFaceError):
        FaceParams.from_vector(np.full(PARAM_DIM, np.nan))


def test_overrides_are_validated() -> None:
    face = FaceParams()
    assert face.with_overrides({"masculinity": 0.9}).masculinity == 0.9
    with pytest.raises(StreamFaceError, match="unknown face parameter"):
        face.with_overrides({"nose_colour": 0.2})
    with pytest.raises(StreamFaceError, match="out of range"):
        face.with_overrides({"skin_tone": 1.5})
    with pytest.raises(StreamFaceError, match="must be a number"):
        face.with_overrides({"age": "old"})


def test_clamp_keeps_in_range_values() -> None:
    face = FaceParams(skin_tone=0.3)
    assert face.clamp() == face
    assert FaceParams(skin_tone=3.0).clamp().skin_tone == 1.0
