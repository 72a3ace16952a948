"""A sample-rate change mid-stream: the ingest, the session and the live driver carry on.

A caller's audio may change rate between chunks (a device switch, a codec renegotiation,
a phone leg joined to a WebRTC one). Nothing may be rejected, the media clock must keep
counting seconds of audio (not samples), speech must keep filling the buffer, and the
mouth must keep following the voice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from fakes import ShapesEngine, fake_mapper
from hypothesis import given, settings
from hypothesis import strategies as st

from streamface.audio import AudioIngest, decode_file, resample_array
from streamface.server.live import LiveSession
from streamface.session import LISTENING, Session

RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)


@pytest.fixture(scope="module")
def voice16k(shared_voices: dict[Path, str]) -> np.ndarray:
    path = next(p for p in shared_voices if p.name == "flite_female_slt.wav")
    return decode_file(path)


def _pcm(x16k: np.ndarray, rate: int) -> np.ndarray:
    x = resample_array(x16k, 16000, rate)
    return np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)


def _chunks(pcm: np.ndarray, rate: int, ms: int = 20) -> list[np.ndarray]:
    step = rate * ms // 1000
    return [pcm[i : i + step] for i in range(0, pcm.size, step)]


async def test_live_session_carries_on_across_rate_changes(voice16k: np.ndarray) -> None:
    session = Session(ShapesEngine(64), mapper=fake_mapper)
    live = LiveSession("rates", session)
    segment = voice16k[: int(1.6 * 16000)]
    pushed_s = 0.0
    speech: list[float] = []
    opened: list[float] = []
    try:
        for rate in (48000, 16000, 8000, 44100, 48000):
            before = session.total_speech_seconds
            for chunk in _chunks(_pcm(segment, rate), rate):
                live.push_audio(chunk.astype(np.float32) / 32768.0, rate)
                pushed_s += chunk.size / rate
                await asyncio.sleep(0)
            # the media clock counts seconds, whatever the rate (resampler delay: ~1 ms)
            assert session.media_time == pytest.approx(pushed_s, abs=0.03)
            speech.append(session.total_speech_seconds - before)
            t = session.media_time
            opened.append(max(session.animation_at(t - k / 30).mouth_open for k in range(30)))
            frame = session.render_frame(t)
            assert frame.shape == (64, 64, 3)
        assert live.stats.audio_rejected == 0 and not live.closed
        assert all(s > 0.5 for s in speech), speech  # VAD finds the speech at every rate
        assert all(o > 0.2 for o in opened), opened  # and the mouth follows it
        for _ in range(100):  # the analyses it started (real analyzer) finish
            if live.stats.analyses and live.stage != LISTENING:
                break
            await asyncio.sleep(0.05)
        assert live.stats.analyses >= 1 and live.stage != LISTENING
    finally:
        await live.close("test")
    assert session.speech_seconds == 0.0  # closing zeroed the buffer


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(
        st.tuples(st.sampled_from(RATES), st.integers(min_value=1, max_value=30)),
        min_size=1,
        max_size=8,
    )
)
def test_any_rate_changes_keep_the_clock_and_frames(segments: list[tuple[int, int]]) -> None:
    """Property: output seconds follow input seconds; every whole 20 ms frame gets a VAD flag."""
    ingest = AudioIngest(buffer_seconds=1.0)
    rng = np.random.default_rng(len(segments))
    seconds_in = 0.0
    out = 0
    flags = 0
    for rate, chunks in segments:
        for _ in range(chunks):
            n = rate // 100  # 10 ms chunks
            result = ingest.push(rng.integers(-8000, 8000, n, dtype=np.int16), rate)
            seconds_in += n / rate
            out += result.audio.size
            flags += result.speech_flags.size
    tail = ingest.flush()
    out += tail.audio.size
    flags += tail.speech_flags.size
    assert ingest.stats.bad_chunks_total == 0
    assert ingest.stats.seconds_in == pytest.approx(seconds_in)
    # each restart of the resampler may shift the count by a few samples, never more
    switches = sum(1 for a, b in zip(segments, segments[1:], strict=False) if a[0] != b[0])
    assert abs(out - seconds_in * 16000) <= 4 * (switches + 1)
    assert flags == ingest.stats.frames
    assert abs(flags - (out // 320)) <= 1
