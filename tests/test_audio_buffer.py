"""SpeechBuffer semantics: speech-only accumulation, wrap-around, zeroing, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from streamface.audio import SpeechBuffer


def ramp(start: int, n: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float32)


def test_accumulates_until_full() -> None:
    buf = SpeechBuffer(seconds=1.0, sample_rate=100)
    assert buf.capacity == 100
    assert buf.speech_seconds == 0.0
    assert buf.snapshot().size == 0
    buf.append(ramp(0, 30))
    buf.append(ramp(30, 40))
    assert buf.speech_seconds == pytest.approx(0.7)
    assert buf.total_speech_seconds == pytest.approx(0.7)
    np.testing.assert_array_equal(buf.snapshot(), ramp(0, 70))
    assert not buf.full


def test_wraps_around_keeping_the_most_recent_speech() -> None:
    buf = SpeechBuffer(seconds=1.0, sample_rate=100)
    start = 0
    for n in (30, 45, 60, 7, 99, 1, 13):  # wraps several times, at odd offsets
        buf.append(ramp(start, n))
        start += n
        held = min(start, 100)
        np.testing.assert_array_equal(buf.snapshot(), ramp(start - held, held))
    assert buf.full
    assert buf.speech_seconds == pytest.approx(1.0)
    assert buf.total_speech_seconds == pytest.approx(start / 100)


def test_append_longer_than_capacity_keeps_the_tail() -> None:
    buf = SpeechBuffer(seconds=0.5, sample_rate=100)
    buf.append(ramp(0, 20))
    buf.append(ramp(20, 170))
    np.testing.assert_array_equal(buf.snapshot(), ramp(140, 50))
    assert buf.total_samples == 190


def test_snapshot_is_a_copy() -> None:
    buf = SpeechBuffer(seconds=1.0, sample_rate=100)
    buf.append(np.ones(50, np.float32))
    snap = buf.snapshot()
    snap[:] = 7
    assert np.all(buf.snapshot() == 1)


def test_clear_overwrites_the_memory() -> None:
    buf = SpeechBuffer(seconds=1.0, sample_rate=100)
    buf.append(np.full(150, 0.5, np.float32))
    storage = buf._data  # the ring itself: clear must zero it, not swap it out
    buf.clear()
    assert buf._data is storage
    assert not storage.any()
    assert buf.speech_seconds == 0.0
    assert buf.snapshot().size == 0
    assert buf.total_speech_seconds == pytest.approx(1.5)  # lifetime counter kept
    buf.append(ramp(0, 10))
    np.testing.assert_array_equal(buf.snapshot(), ramp(0, 10))


def test_default_is_five_seconds_at_16k() -> None:
    buf = SpeechBuffer()
    assert buf.capacity == 80000
    assert buf.seconds == 5.0


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
def test_rejects_bad_length(seconds: float) -> None:
    with pytest.raises(ValueError):
        SpeechBuffer(seconds=seconds)


def test_snapshot_while_appending_from_another_thread() -> None:
    buf = SpeechBuffer(seconds=0.5, sample_rate=1000)
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        k = 0
        while not stop.is_set():
            buf.append(ramp(k, 37))
            k += 37

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(2000):
            snap = buf.snapshot()
            # A consistent snapshot is a run of consecutive values.
            if snap.size > 1 and not np.all(np.diff(snap) == 1):
                errors.append(f"torn snapshot of {snap.size}")
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
