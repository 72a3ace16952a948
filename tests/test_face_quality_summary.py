"""face_quality's summaries from given verdicts (no classifier needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is no package dep
from benchmarks.face_quality import Case, Verdict, summarise  # noqa: E402


def _case(sex: str, band: str, seed: int, tone: float) -> Case:
    return Case(sex, band, seed, tone, np.zeros((4, 4, 3), np.uint8))


def test_expression_and_distinct_pair_summaries() -> None:
    cases = [
        _case("female", "adult", 1, 0.1),
        _case("female", "adult", 2, 0.5),
        _case("female", "adult", 3, 0.9),
        _case("male", "adult", 1, 0.2),
    ]
    near, far = (0.0,) * 128, (0.0,) * 127 + (0.7,)
    verdicts = [
        Verdict(True, 0.9, 30.0, "neutral", near),
        Verdict(True, 0.8, 31.0, "surprised", far),
        Verdict(True, 0.2, 32.0, "happy", (0.0,) * 127 + (0.1,)),
        Verdict(False, None, None),
    ]
    s = summarise(cases, verdicts)
    assert s["pleasant_expression_fraction"] == round(2 / 3, 3)
    assert s["expressions"] == {"happy": 1, "neutral": 1, "surprised": 1}
    # Pairs only within one sex and band, between different speakers: (1,2) 0.7, (1,3) 0.1, (2,3) 0.6.
    assert s["distinct_pairs"] == 3
    assert s["distinct_pairs_fraction"] == round(2 / 3, 3)
    assert s["descriptor_distance_median"] == 0.6
    assert s["sex_agreement_worst_tone_fraction"] == 0.0  # the dark-skinned woman read as a man
