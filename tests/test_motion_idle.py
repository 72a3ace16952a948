"""Idle life: blinks every 2-6 s lasting 100-150 ms, small smooth head motion, breathing."""

from __future__ import annotations

import numpy as np

from streamface.motion.idle import HEAD_LIMIT_DEG, IdleMotion

FPS = 30


def test_blinks_in_range_for_many_seeds() -> None:
    for seed in range(10):
        motion = IdleMotion(seed)
        blinks = motion.blink_times(120.0)
        starts = np.array([s for s, _ in blinks])
        durations = np.array([d for _, d in blinks])
        assert len(blinks) >= 120 / 6 - 1
        gaps = np.diff(starts)
        assert gaps.min() >= 2.0 and gaps.max() <= 6.0
        assert durations.min() >= 0.10 and durations.max() <= 0.15
        # The lids really close during a blink, and stay open outside blinks.
        for start, dur in blinks[:5]:
            assert motion.blink_at(start + 0.4 * dur) > 0.95
            assert motion.blink_at(start - 0.05) == 0.0
            assert motion.blink_at(start + dur + 0.01) == 0.0


def test_blinks_seen_at_frame_rate() -> None:
    motion = IdleMotion(7)
    closed = np.array([motion.blink_at(k / FPS) for k in range(60 * FPS)]) > 0.5
    starts = np.flatnonzero(closed[1:] & ~closed[:-1])
    assert 10 <= len(starts) <= 30  # one per 2-6 s over a minute
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, closed.astype(int), 0])))[::2]
    assert runs.max() <= 0.15 * FPS + 1  # never more than one blink long


def test_head_motion_small_and_smooth() -> None:
    for seed in range(5):
        motion = IdleMotion(seed)
        head = np.array([motion.head_at(k / FPS) for k in range(120 * FPS)])
        assert np.abs(head).max() <= HEAD_LIMIT_DEG
        assert (np.abs(head) < 3.0).mean() > 0.9  # mostly under 3 degrees
        assert head.std(axis=0).max() > 0.3  # but it moves
        assert np.abs(np.diff(head, axis=0)).max() < 0.5  # no jerks between frames


def test_breathing_and_gaze_ranges() -> None:
    motion = IdleMotion(3)
    breath = np.array([motion.breath_at(k / FPS) for k in range(30 * FPS)])
    assert breath.min() >= 0.0 and breath.max() <= 1.0 and breath.std() > 0.2
    gaze = np.array([motion.gaze_at(k / FPS) for k in range(30 * FPS)])
    assert np.abs(gaze).max() <= 1.0 and gaze.std() > 0.01


def test_deterministic_for_a_seed_and_order_independent() -> None:
    times = np.random.default_rng(0).uniform(0, 100, 200)
    a, b, c = IdleMotion(42), IdleMotion(42), IdleMotion(43)
    forward = [a.at(t) for t in sorted(times)]
    shuffled = {t: b.at(t) for t in times}
    assert forward == [shuffled[t] for t in sorted(times)]
    assert forward != [c.at(t) for t in sorted(times)]


def test_head_is_each_axis_sum_of_sines() -> None:
    """The three axes computed together give each axis's own sum of seeded sines, exactly."""
    motion = IdleMotion(seed=5)
    for t in np.random.default_rng(0).uniform(-2.0, 3600.0, 500).tolist():
        want = []
        for axis in ("yaw", "pitch", "roll"):
            freqs, phases, amps = motion._head[axis]
            v = float(np.sum(amps * np.sin(2.0 * np.pi * freqs * t + phases)))
            want.append(max(-HEAD_LIMIT_DEG, min(HEAD_LIMIT_DEG, v)))
        assert motion.head_at(t) == tuple(want)
