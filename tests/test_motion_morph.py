"""Face changes morph smoothly; one speaker's face settles; a new speaker gets a new face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamface.motion.identity import SPEAKER_CHANGE_DISTANCE, IdentityTracker, cosine_distance
from streamface.motion.morph import MIN_MORPH_S, ParamMorph, max_step

FPS = 30


def _frames(morph: ParamMorph, seconds: float) -> np.ndarray:
    return np.array([morph.at(k / FPS)[0] for k in range(int(seconds * FPS))])


def test_morph_eases_in_and_out_without_pops() -> None:
    morph = ParamMorph(np.zeros(3))
    morph.set_target(np.array([1.0, -1.0, 0.5]), t=1.0, duration_s=0.6)
    v = _frames(morph, 3.0)
    assert np.all(v[:FPS] == 0.0)  # nothing moves before the morph starts
    np.testing.assert_allclose(v[-1], [1.0, -1.0, 0.5])
    steps = np.abs(np.diff(v, axis=0))
    assert np.all(steps <= max_step([1.0, 2.0, 0.5], 0.6, FPS) + 1e-6)
    # Eased: the first and last steps are much smaller than the middle ones.
    moving = steps[:, 0][steps[:, 0] > 0]
    assert moving[0] < 0.3 * moving.max() and moving[-1] < 0.3 * moving.max()
    assert morph.at(1.59)[1] is False and morph.at(1.61)[1] is True


def test_morph_never_shorter_than_minimum() -> None:
    morph = ParamMorph(np.zeros(1))
    morph.set_target(np.ones(1), t=0.0, duration_s=0.01)
    assert morph.at(MIN_MORPH_S * 0.9)[0][0] < 1.0
    steps = np.abs(np.diff(_frames(morph, 1.0)[:, 0]))
    assert steps.max() <= 1.0 / 6.0 + 1e-6  # full range over 0.3 s at 30 fps: 1.5 / 9


def test_retarget_mid_morph_continues_from_where_it_is() -> None:
    morph = ParamMorph(np.zeros(2))
    morph.set_target(np.ones(2), t=0.0, duration_s=1.0)
    morph.set_target(-np.ones(2), t=0.5, duration_s=0.5)
    v = _frames(morph, 1.5)
    steps = np.abs(np.diff(v, axis=0))
    assert steps.max() <= max_step(1.5, 0.5, FPS) + 1e-6  # |0.5 - (-1)| over 0.5 s
    np.testing.assert_allclose(v[-1], [-1.0, -1.0])


def test_identity_first_refine_settle() -> None:
    tracker = IdentityTracker()
    emb = np.ones(8, np.float32) / np.sqrt(8)
    first = tracker.update(np.zeros(4), emb, 1.0)
    assert first is not None and first.reason == "first"
    # Filling: estimates pull the face most of the way.
    refine = tracker.update(np.ones(4), emb, 1.75)
    assert refine is not None and refine.reason == "refine"
    assert 0.5 < refine.params[0] < 0.7
    # Full buffer: small noise around the estimate settles into silence (no morphs).
    rng = np.random.default_rng(0)
    base = np.full(4, 0.8, np.float32)
    changes = []
    for i in range(40):
        noisy = base + rng.normal(0, 0.01, 4).astype(np.float32)
        out = tracker.update(noisy, emb, 6.0 + i)
        changes.append(out)
    assert all(c is None for c in changes[-20:])
    assert tracker.settled(46.0) and tracker.speakers == 1


def test_identity_new_speaker_needs_confirmation() -> None:
    tracker = IdentityTracker()
    a = np.zeros(8, np.float32)
    a[0] = 1.0
    b = np.zeros(8, np.float32)
    b[:2] = (0.85, np.sqrt(1 - 0.85**2))  # cosine distance 0.15: over 0.12, under 0.18
    tracker.update(np.zeros(4), a, 1.0)
    tracker.update(np.zeros(4), a, 6.0)
    assert tracker.update(np.ones(4), b, 7.0) is None  # one analysis is not enough
    out = tracker.update(np.ones(4), b, 8.0)
    assert out is not None and out.reason == "new_speaker" and tracker.speakers == 2
    np.testing.assert_allclose(out.params, np.ones(4))
    far = np.zeros(8, np.float32)
    far[5] = 1.0
    tracker.update(np.ones(4), b, 14.0)
    out = tracker.update(np.zeros(4), far, 15.0)  # far beyond the threshold: at once
    assert out is not None and out.reason == "new_speaker"


@pytest.mark.slow
def test_threshold_separates_shared_voices(shared_voices: dict[Path, str]) -> None:
    """Same speaker below the threshold, other-sex speakers above it (analyzer embeddings).

    Also: sliding 5 s buffers over two recordings of one speaker stay below it (no false
    speaker change), and a buffer that is mostly a new speaker crosses it.
    """
    from streamface.voice.analyzer import default_analyzer, speech_of_file

    analyzer = default_analyzer()
    meta = json.loads((next(iter(shared_voices)).parent / "voices.json").read_text())["voices"]
    speech = {path.name: speech_of_file(path) for path in shared_voices}

    def embed(x: np.ndarray) -> np.ndarray:
        return analyzer.analyze(x[-5 * 16000 :]).embedding

    emb = {name: embed(x) for name, x in speech.items()}
    names = sorted(emb)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            d = cosine_distance(emb[a], emb[b])
            speaker = meta[a].get("speaker")
            if speaker is not None and speaker == meta[b].get("speaker"):
                assert d < SPEAKER_CHANGE_DISTANCE, (a, b, d)
            elif meta[a]["sex"] != meta[b]["sex"]:
                assert d > SPEAKER_CHANGE_DISTANCE, (a, b, d)
    if {"flite_female_slt.wav", "flite_female_slt_2.wav", "flite_male_rms.wav"} <= set(speech):
        same = np.concatenate([speech["flite_female_slt.wav"], speech["flite_female_slt_2.wav"]])
        anchor = embed(same[: 5 * 16000])
        for start in range(8000, same.size - 5 * 16000, 8000):
            window = same[start : start + 5 * 16000]
            assert cosine_distance(embed(window), anchor) < SPEAKER_CHANGE_DISTANCE, start
        mixed = np.concatenate([same[-16000:], speech["flite_male_rms.wav"][: 4 * 16000]])
        assert cosine_distance(embed(mixed), emb["flite_female_slt_2.wav"]) > SPEAKER_CHANGE_DISTANCE


def test_stepped_morph_keeps_the_bound_and_updates_less_often() -> None:
    morph = ParamMorph(np.zeros(1), step_s=2 / FPS)
    morph.set_target(np.ones(1), t=0.0, duration_s=0.6)
    v = _frames(morph, 1.0)[:, 0]
    changes = np.count_nonzero(np.diff(v))
    assert changes <= 0.6 * FPS / 2  # one update per step, not per frame
    assert np.abs(np.diff(v)).max() <= 1.5 / (MIN_MORPH_S * FPS) + 1e-6
    assert v[-1] == 1.0


def test_keyframes_cross_fade_continuously_between_cached_ends() -> None:
    morph = ParamMorph(np.zeros(2))
    morph.set_target(np.array([0.5, -0.2]), t=1.0, duration_s=0.6)
    frames = [morph.keyframes(1.0 + k / FPS, spacing=0.1, min_gap_s=2 / FPS) for k in range(-3, 25)]
    ends = {f.a.tobytes() for f in frames} | {f.b.tobytes() for f in frames}
    assert len(ends) == 6  # ceil(0.5 / 0.1) = 5 segments: 6 keyframes, the same arrays each frame
    for f in frames:
        np.testing.assert_allclose(f.value, f.a + f.weight * (f.b - f.a), atol=1e-6)
        assert 0.0 <= f.weight < 1.0
    np.testing.assert_array_equal(frames[0].value, [0.0, 0.0])  # before the morph
    np.testing.assert_array_equal(frames[-1].a, morph.target)  # settled: exactly the target
    # The value is the continuous morph (no steps), within the usual bound.
    values = np.array([f.value for f in frames])
    assert np.count_nonzero(np.abs(np.diff(values[:, 0])) > 0) >= 17
    assert np.abs(np.diff(values, axis=0)).max() <= max_step(0.5, 0.6, FPS).max() + 1e-6


def test_keyframes_are_few_for_small_changes_and_never_too_close() -> None:
    morph = ParamMorph(np.zeros(1))
    morph.set_target(np.full(1, 0.05), t=0.0, duration_s=0.6)
    small = {morph.keyframes(k / FPS, 0.1, 3 / FPS).b.tobytes() for k in range(1, 20)}
    assert len(small) == 1  # one segment: the target is the only new face
    morph.set_target(np.ones(1), t=1.0, duration_s=0.6)
    scale = np.full(1, 0.5)  # a change over twice the range
    big = [morph.keyframes(1.0 + k / FPS, 0.01, 3 / FPS, scale) for k in range(1, 20)]
    assert len({f.b.tobytes() for f in big}) == 4  # capped: 0.6 s / (1.5 * 0.1 s)


def test_a_new_or_reset_morph_is_settled_from_the_start() -> None:
    morph = ParamMorph(np.full(2, 0.5, np.float32))
    for t in (0.0, 0.1, 0.29):
        value, settled = morph.at(t)
        assert settled and np.array_equal(value, [0.5, 0.5])
        keys = morph.keyframes(t, 0.1, 0.1)
        assert keys.weight == 0.0 and np.array_equal(keys.a, keys.b)
    morph.set_target(np.ones(2), t=1.0, duration_s=0.6)
    assert not morph.at(1.1)[1]
    morph.reset(np.zeros(2))
    assert morph.at(0.0)[1] and morph.at(1.1)[1] and np.array_equal(morph.at(0.0)[0], [0.0, 0.0])


def test_a_discrete_choice_switches_once_half_way_never_through_the_choices_between() -> None:
    # A hairstyle index: every value between two styles is a third style.
    morph = ParamMorph(np.array([13.0, 0.2], np.float32), discrete=[0])
    morph.set_target(np.array([23.0, 0.8], np.float32), t=1.0, duration_s=0.6)
    frames = [morph.keyframes(1.0 + k / FPS, spacing=0.1, min_gap_s=2 / FPS) for k in range(-3, 25)]
    seen = {float(v) for f in frames for v in (f.a[0], f.b[0], f.value[0])}
    assert seen == {13.0, 23.0}, seen
    switches = [f for f in frames if f.a[0] != f.b[0]]
    assert switches and all(f.a[0] == 13.0 and f.b[0] == 23.0 for f in switches)  # one dissolve
    # The other parameter still walks, and the value is the continuous morph's, bit for bit
    # (a new target set mid-morph starts from the picture shown).
    assert len({float(f.value[1]) for f in frames}) > 10
    for k in range(0, 22):
        t = 1.0 + k / FPS
        assert morph.keyframes(t, 0.1, 2 / FPS).value.tobytes() == morph.at(t)[0].tobytes()


def test_a_switch_alone_is_one_dissolve() -> None:
    morph = ParamMorph(np.array([4.0, 0.5], np.float32), discrete=[0])
    morph.set_target(np.array([17.0, 0.5], np.float32), t=0.0, duration_s=0.6)
    mid = morph.keyframes(0.3, spacing=0.1, min_gap_s=2 / FPS)
    assert (mid.a[0], mid.b[0]) == (4.0, 17.0) and 0.0 < mid.weight < 1.0
