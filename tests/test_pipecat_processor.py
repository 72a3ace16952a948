"""`StreamFaceProcessor` in Pipecat's own test harness (`pipecat.tests.utils.run_test`).

Sessions are `FakeSession`s here (the real session runs in test_pipecat_webrtc_e2e.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pipecat")

from fakes import FakeSession  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    InputAudioRawFrame,
    InterruptionFrame,
    OutputImageRawFrame,
    TextFrame,
    TTSAudioRawFrame,
)
from pipecat.tests.utils import SleepFrame, run_test  # noqa: E402

from streamface.pipecat import StreamFaceProcessor  # noqa: E402

RATE = 16000
CHUNK_S = 0.02


def tone_chunks(seconds: float, amplitude: float = 0.3, cls: type[Any] = InputAudioRawFrame) -> list[Any]:
    """20 ms 16-bit chunks of a 220 Hz tone (loud enough to count as speech)."""
    n = int(RATE * CHUNK_S)
    out = []
    for i in range(int(seconds / CHUNK_S)):
        t = (np.arange(n) + i * n) / RATE
        pcm = (amplitude * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
        out.append(cls(audio=pcm.tobytes(), sample_rate=RATE, num_channels=1))
    return out


class RecordingSession(FakeSession):
    """A `FakeSession` that records how much audio it got and when."""

    def __init__(self, *, render_delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.render_delay = render_delay
        self.audio_s = 0.0
        self.pushes: list[float] = []

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        super().push_audio(samples, sample_rate)
        self.audio_s += samples.size / sample_rate
        self.pushes.append(time.perf_counter())

    def render_frame(self, t: float) -> np.ndarray:
        if self.render_delay:
            time.sleep(self.render_delay)
        return super().render_frame(t)


def make(session: FakeSession, **kwargs: Any) -> StreamFaceProcessor:
    kwargs.setdefault("consent", True)
    return StreamFaceProcessor(session_factory=lambda: session, **kwargs)


async def test_user_audio_becomes_labelled_frames_and_everything_passes_through() -> None:
    session = RecordingSession(size=64)
    processor = make(session, size=(96, 64), fps=30, voice="user")
    audio = tone_chunks(1.2)
    text = TextFrame(text="hello")
    sent: list[Any] = [text]
    for i, chunk in enumerate(audio):
        sent.append(chunk)
        if i % 5 == 4:
            sent.append(SleepFrame(sleep=0.1))
    down, up = await run_test(processor, frames_to_send=sent)
    passed = [f for f in down if not isinstance(f, OutputImageRawFrame)]
    # the same objects, untouched; audio (system frames) in order, the text (a data frame)
    # after them, as Pipecat orders its queues
    assert [f for f in passed if f is not text] == audio
    assert sum(f is text for f in passed) == 1
    images = [f for f in down if isinstance(f, OutputImageRawFrame)]
    # about 1.2 s of audio fed over ~1.2 s of sleeps: ~36 frames at 30 fps
    assert len(images) >= 25, len(images)
    for image in images:
        assert image.size == (96, 64) and image.format == "RGB"
        assert len(image.image) == 96 * 64 * 3
    pixels = np.frombuffer(images[-1].image, np.uint8).reshape(64, 96, 3)
    assert (pixels[:, :16] == pixels[0, 0]).all()  # the square face is centred on the canvas
    assert session.audio_s == pytest.approx(1.2, abs=0.03)
    assert session.analyses >= 1
    assert session.closed  # EndFrame zeroed the session
    assert up == []
    stats = processor.clock.stats if processor.clock else None
    assert stats is not None and stats.audio_to_frame_ms and stats.first_face is not None


async def test_without_consent_nothing_is_analysed_and_no_image_is_pushed() -> None:
    made: list[FakeSession] = []

    def factory() -> FakeSession:
        made.append(FakeSession(size=32))
        return made[-1]

    processor = StreamFaceProcessor(size=(32, 32), consent=False, session_factory=factory)
    audio = tone_chunks(0.5)
    down, _ = await run_test(processor, frames_to_send=[*audio, SleepFrame(sleep=0.3)])
    assert down == audio
    assert made == [] and processor.clock is None


def test_consent_must_be_given_explicitly() -> None:
    with pytest.raises(TypeError):
        StreamFaceProcessor(size=(64, 64))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="voice"):
        StreamFaceProcessor(size=(64, 64), consent=True, voice="caller", session_factory=FakeSession)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        StreamFaceProcessor(size=(0, 64), consent=True, session_factory=FakeSession)
    for bad in (-1, 2**31, 1.5, True, "x"):
        with pytest.raises(ValueError, match="look"):
            StreamFaceProcessor(size=(64, 64), consent=True, look=bad, session_factory=FakeSession)  # type: ignore[arg-type]


async def test_a_kept_look_reaches_the_session_before_its_first_face() -> None:
    session = RecordingSession(size=32)
    processor = make(session, size=(32, 32), voice="bot", look=77)
    await run_test(processor, frames_to_send=[SleepFrame(sleep=0.2)])
    assert session.look == 77


async def test_bot_voice_is_fed_as_it_plays_and_an_interruption_drops_the_rest() -> None:
    session = RecordingSession(size=32)
    processor = make(session, size=(32, 32), voice="bot")
    burst = tone_chunks(2.0, cls=TTSAudioRawFrame)  # TTS: 2 s of audio at once
    user_audio = tone_chunks(0.2)  # the caller's audio is not this processor's voice
    sent: list[Any] = [SleepFrame(sleep=0.3), *burst, *user_audio, SleepFrame(sleep=0.5), InterruptionFrame(), SleepFrame(sleep=0.3)]
    down, _ = await run_test(processor, frames_to_send=sent)
    assert [f for f in down if isinstance(f, TTSAudioRawFrame)] == burst
    assert sum(isinstance(f, InputAudioRawFrame) for f in down) == len(user_audio)
    # only what "played" before the interruption reached the face: ~0.5 s of the 2 s
    assert 0.3 <= session.audio_s <= 0.9, session.audio_s
    spread = session.pushes[-1] - session.pushes[0]
    assert spread >= 0.3  # paced over time, not all at once


async def test_late_renders_repeat_the_last_frame_and_never_stall_the_pipeline() -> None:
    session = RecordingSession(size=32, render_delay=0.07)  # 70 ms renders at 30 fps
    processor = make(session, size=(32, 32), fps=30)
    audio = tone_chunks(0.6)
    sent: list[Any] = []
    for i, chunk in enumerate(audio):
        sent.append(chunk)
        if i % 5 == 4:
            sent.append(SleepFrame(sleep=0.1))
    started = time.perf_counter()
    down, _ = await run_test(processor, frames_to_send=sent)
    elapsed = time.perf_counter() - started
    images = [f for f in down if isinstance(f, OutputImageRawFrame)]
    assert processor.clock is not None
    stats = processor.clock.stats
    assert stats.frames_resent > 0 and stats.frames_rendered > 0
    # the clock kept its rate although each render took two frame periods
    assert len(images) >= 0.6 * 30 * 0.6, (len(images), elapsed)
    assert session.frames < len(images)


async def test_cancel_frame_stops_the_face_and_zeroes_the_session() -> None:
    from pipecat.frames.frames import CancelFrame

    session = RecordingSession(size=32)
    processor = make(session, size=(32, 32))
    down, _ = await run_test(
        processor,
        frames_to_send=[*tone_chunks(0.4), SleepFrame(sleep=0.3), CancelFrame()],
        send_end_frame=False,
    )
    assert any(isinstance(f, CancelFrame) for f in down)  # passed on
    assert session.closed and processor.clock is not None and processor.clock.closed


async def test_withdrawn_consent_stops_analysis_mid_call() -> None:
    session = RecordingSession(size=32)
    processor = make(session, size=(32, 32))
    audio_before, audio_after = tone_chunks(0.6), tone_chunks(0.6)

    async def withdraw_later() -> None:
        await asyncio.sleep(0.5)
        await processor.withdraw_consent()

    task = asyncio.ensure_future(withdraw_later())
    down, _ = await run_test(
        processor, frames_to_send=[*audio_before, SleepFrame(sleep=0.8), *audio_after, SleepFrame(sleep=0.3)]
    )
    await task
    assert session.closed and not processor.consent
    assert session.audio_s == pytest.approx(0.6, abs=0.03)  # nothing after the withdrawal
    assert [f for f in down if isinstance(f, InputAudioRawFrame)] == audio_before + audio_after


def test_the_core_never_imports_pipecat_or_livekit() -> None:
    import subprocess
    import sys

    code = (
        "import sys, streamface, streamface.session, streamface.cli, streamface.server.app, "
        "streamface.adapters.face_clock\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pipecat', 'livekit'))\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
