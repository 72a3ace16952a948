"""`FaceClock` (the push-style driver the Pipecat and LiveKit adapters share) and its helpers."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from fakes import FakeSession

from streamface.adapters.face_clock import FaceClock, fit_frame, pcm_to_mono
from streamface.errors import BadAudioError


def test_pcm_to_mono_averages_channels_and_rejects_bad_chunks() -> None:
    stereo = np.array([1000, 3000, -2000, 0], dtype=np.int16)
    assert np.allclose(pcm_to_mono(stereo.tobytes(), 2), [2000 / 32768, -1000 / 32768])
    with pytest.raises(BadAudioError, match="channels"):
        pcm_to_mono(np.zeros(3, np.int16).tobytes(), 2)
    with pytest.raises(BadAudioError, match="16-bit"):
        pcm_to_mono(np.zeros(4, np.float32))


def test_fit_frame_centres_the_square_face_without_scaling_it() -> None:
    face = np.full((4, 4, 3), 7, np.uint8)
    face[1:3, 1:3] = 200
    out = fit_frame(face, (8, 6))
    assert out.shape == (6, 8, 3)
    assert (out[1:5, 2:6] == face).all()
    assert (out[0] == 7).all() and (out[:, 0] == 7).all()  # the corner colour around it
    assert fit_frame(face, (4, 4)) is face


async def test_paced_audio_reaches_the_session_as_it_plays() -> None:
    session = FakeSession(size=16)
    clock = FaceClock(session, fps=50, paced=True)
    chunk = np.full(1600, 0.2, np.float32)  # 0.1 s at 16 kHz
    for _ in range(5):
        clock.push_audio(chunk, 16000)  # 0.5 s delivered at once
    assert session.speech_seconds == 0.0 and clock.pending_audio_s == pytest.approx(0.5, abs=0.02)
    frames: list[bool] = []

    async def emit(rgb: np.ndarray, fresh: bool) -> None:
        frames.append(fresh)

    runner = asyncio.ensure_future(clock.run(emit))
    await asyncio.sleep(0.25)
    heard_midway = session.speech_seconds
    dropped = clock.clear_pending()  # an interruption
    await asyncio.sleep(0.3)
    clock.stop()
    await runner
    await clock.close()
    assert 0.1 <= heard_midway <= 0.4, heard_midway
    assert dropped >= 1 and session.speech_seconds == pytest.approx(heard_midway + 0.1, abs=0.11)
    assert len(frames) >= 20 and session.closed


async def test_render_once_counts_in_the_stats() -> None:
    session = FakeSession(size=16)
    clock = FaceClock(session, fps=30, size=(20, 16))
    clock.push_audio(np.full(320, 0.2, np.float32), 16000)
    first = await clock.render(0.0)
    clock.push_audio(np.full(320, 0.2, np.float32), 16000)
    started = time.perf_counter()
    second = await clock.render(1 / 30)
    assert time.perf_counter() - started < 1.0
    assert first.shape == second.shape == (16, 20, 3)
    assert clock.stats.frames_rendered == 2 and len(clock.stats.audio_to_frame_ms) == 1
    await clock.close()
    with pytest.raises(ValueError, match="fps"):
        FaceClock(session, fps=0)
