"""StreamFace for LiveKit Agents: everything that runs without a LiveKit server.

Real LiveKit parts: ``rtc.VideoSource``/``rtc.AudioSource``/``rtc.AVSynchronizer`` (the
native FFI, no room), the agent-side ``QueueAudioOutput`` the avatar reads from, a real
``AgentSession``, LiveKit's ``fake_job_context``, the ``AgentServer`` load hook. Face
sessions are `FakeSession`s except in the one marked slow. What needs a server (joining a
room, subscribing, publishing) is in test_livekit_server_e2e.py (runs with LIVEKIT_URL).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("livekit.agents")

from fakes import FakeSession  # noqa: E402
from livekit import rtc  # noqa: E402
from livekit.agents import AgentSession  # noqa: E402
from livekit.agents.testing import fake_job_context  # noqa: E402
from livekit.agents.voice.avatar import AudioSegmentEnd, QueueAudioOutput  # noqa: E402

from streamface.adapters.face_clock import FaceClock  # noqa: E402
from streamface.livekit import (  # noqa: E402
    FaceLoad,
    StreamFaceAvatar,
    StreamFaceVideoGenerator,
    consent_granted,
    make_server,
    run_face,
)
from streamface.livekit.worker import target_identity, wait_for_consent, watch_consent  # noqa: E402

RATE = 24000
FPS = 30.0


class CountingSession(FakeSession):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audio_s = 0.0
        self.pushes: list[float] = []

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        super().push_audio(samples, sample_rate)
        self.audio_s += samples.size / sample_rate
        self.pushes.append(time.perf_counter())


def tone(seconds: float, rate: int = RATE, chunk_s: float = 0.02) -> list[rtc.AudioFrame]:
    n = int(rate * chunk_s)
    out = []
    for i in range(round(seconds / chunk_s)):
        t = (np.arange(n) + i * n) / rate
        pcm = (0.3 * 32767 * np.sin(2 * np.pi * 200 * t)).astype(np.int16)
        out.append(rtc.AudioFrame(pcm.tobytes(), rate, 1, n))
    return out


async def drive_avatar(
    generator: StreamFaceVideoGenerator, output: QueueAudioOutput, seconds: float, on_tick: Any = None
) -> tuple[list[Any], rtc.AVSynchronizer]:
    """What ``AvatarRunner`` does minus the room: audio output -> generator -> AV sync."""
    audio_source = rtc.AudioSource(RATE, 1, queue_size_ms=100)
    video_source = rtc.VideoSource(64, 64)
    sync = rtc.AVSynchronizer(audio_source=audio_source, video_source=video_source, video_fps=FPS, video_queue_size_ms=100)
    out: list[Any] = []

    async def read_audio() -> None:
        async for frame in output:
            await generator.push_audio(frame)

    async def forward() -> None:
        async for item in generator:
            out.append((time.perf_counter(), item))
            if isinstance(item, AudioSegmentEnd):
                continue
            await sync.push(item)
            if on_tick is not None:
                await on_tick(len(out))

    tasks = [asyncio.ensure_future(read_audio()), asyncio.ensure_future(forward())]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await sync.aclose()
    await audio_source.aclose()
    await video_source.aclose()
    return out, sync


async def test_avatar_generator_paces_face_and_voice_together() -> None:
    session = CountingSession(size=64)
    clock = FaceClock(session, fps=FPS)
    generator = StreamFaceVideoGenerator(clock, fps=FPS, sample_rate=RATE)
    output = QueueAudioOutput(sample_rate=RATE)
    for frame in tone(1.0):  # the TTS delivers 1 s of speech at once, then ends the segment
        await output.capture_frame(frame)
    output.flush()
    out, sync = await drive_avatar(generator, output, seconds=1.6)
    await clock.close()
    videos = [(t, x) for t, x in out if isinstance(x, rtc.VideoFrame)]
    audios = [(t, x) for t, x in out if isinstance(x, rtc.AudioFrame)]
    ends = [i for i, (_, x) in enumerate(out) if isinstance(x, AudioSegmentEnd)]
    span = videos[-1][0] - videos[5][0]
    fps = (len(videos) - 6) / span
    assert 26.0 <= fps <= 33.0, fps  # paced by the AV synchronizer, not as fast as possible
    assert len(audios) == 30  # 1 s of audio in 800-sample frames, each after its video frame
    assert all(a.samples_per_channel == 800 for _, a in audios)
    assert len(ends) == 1 and ends[0] > max(i for i, (_, x) in enumerate(out) if isinstance(x, rtc.AudioFrame))
    assert session.audio_s == pytest.approx(1.0, abs=0.01)
    # the face got its audio as it played (over ~1 s), not when the TTS delivered it
    assert session.pushes[-1] - session.pushes[0] >= 0.8
    assert videos[0][1].width == 64 and videos[0][1].type == rtc.VideoBufferType.RGBA
    assert session.closed


async def test_avatar_interruption_drops_unplayed_audio() -> None:
    session = CountingSession(size=32)
    clock = FaceClock(session, fps=FPS)
    generator = StreamFaceVideoGenerator(clock, fps=FPS, sample_rate=RATE)
    output = QueueAudioOutput(sample_rate=RATE)
    for frame in tone(3.0):
        await output.capture_frame(frame)

    async def interrupt(count: int) -> None:
        if generator.frames == 12 and not generator.cleared:
            output.clear_buffer()  # what the agent does on an interruption
            generator.clear_buffer()  # what AvatarRunner then does

    await drive_avatar(generator, output, seconds=1.0, on_tick=interrupt)
    await clock.close()
    assert generator.cleared == 1
    assert 0.3 <= session.audio_s <= 0.6, session.audio_s  # ~12 frames, not 3 s


def test_generator_refuses_audio_of_the_wrong_format() -> None:
    clock = FaceClock(FakeSession(size=16), fps=FPS)
    generator = StreamFaceVideoGenerator(clock, fps=FPS, sample_rate=RATE)
    with pytest.raises(ValueError, match="16000 Hz"):
        asyncio.run(generator.push_audio(tone(0.02, rate=16000)[0]))
    with pytest.raises(ValueError, match="unpaced"):
        StreamFaceVideoGenerator(FaceClock(FakeSession(size=16), paced=True))


async def realtime(frames: list[rtc.AudioFrame]) -> AsyncIterator[rtc.AudioFrame]:
    for frame in frames:
        yield frame
        await asyncio.sleep(frame.duration)


async def test_participant_face_is_captured_into_a_video_source_at_the_frame_rate() -> None:
    session = CountingSession(size=48)
    clock = FaceClock(session, fps=FPS, size=(64, 48))
    source = rtc.VideoSource(64, 48)
    started = time.perf_counter()
    await run_face(realtime(tone(1.0, rate=16000)), source, clock)
    elapsed = time.perf_counter() - started
    await source.aclose()
    assert session.audio_s == pytest.approx(1.0, abs=0.01)
    assert abs(clock.frames_emitted - elapsed * FPS) <= 3, (clock.frames_emitted, elapsed)
    assert clock.closed and session.closed  # the microphone ended: the face ended, zeroed
    summary = clock.stats.summary()
    assert summary["audio_to_frame_ms_p95"] is not None and summary["frames_rendered"] > 0


class Participant:
    """A stand-in for rtc.Participant (identity and attributes only)."""

    def __init__(self, identity: str, **attributes: str) -> None:
        self.identity = identity
        self.attributes = attributes


async def test_consent_attribute_gates_and_ends_the_face() -> None:
    room = rtc.Room()  # not connected; its events are emitted by hand
    caller = Participant("caller")
    assert not consent_granted(caller)  # type: ignore[arg-type]
    waiting = asyncio.ensure_future(wait_for_consent(room, caller))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not waiting.done()
    room.emit("participant_attributes_changed", {}, Participant("someone-else", **{"streamface.consent": "granted"}))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    caller.attributes["streamface.consent"] = "granted"
    room.emit("participant_attributes_changed", {"streamface.consent": "granted"}, caller)
    await asyncio.wait_for(waiting, 1.0)

    face = asyncio.ensure_future(asyncio.sleep(30))
    watcher = asyncio.ensure_future(watch_consent(room, caller, face))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    caller.attributes["streamface.consent"] = "withdrawn"
    room.emit("participant_attributes_changed", {"streamface.consent": "withdrawn"}, caller)
    await asyncio.wait_for(watcher, 1.0)
    assert face.cancelled()


def test_job_metadata_names_the_participant() -> None:
    assert target_identity('{"participant": "sip_+15551234"}') == "sip_+15551234"
    assert target_identity("") is None and target_identity("not json") is None


def test_load_reported_to_the_dispatcher_is_the_live_session_count() -> None:
    load = FaceLoad(capacity=4)
    assert load.load() == 0.0
    with load.session(), load.session():
        assert load.active == 2 and load.load() == 0.5
    assert load.load() == 0.0
    server = make_server()
    from streamface.livekit import FACE_LOAD

    assert server.load_fnc == FACE_LOAD.load
    with FACE_LOAD.session():
        assert server.load_fnc() == pytest.approx(1 / FACE_LOAD.capacity)  # type: ignore[call-arg]


async def test_avatar_takes_over_the_agents_audio_output_in_a_fake_job() -> None:
    room = rtc.Room()
    agent_session: AgentSession = AgentSession()
    load = FaceLoad(capacity=2)
    session = CountingSession(size=64)
    avatar = StreamFaceAvatar(size=(64, 64), session_factory=lambda: session, load=load, look=12)
    with fake_job_context(room=room):
        await avatar.start(agent_session, room)
        assert agent_session.output.audio is avatar.audio_output
        assert isinstance(avatar.audio_output, QueueAudioOutput)
        assert load.active == 1
        assert session.look == 12  # the agent's kept look, set before its first face
        await avatar.aclose()
    assert load.active == 0
    assert avatar.generator is not None and avatar.generator.clock.closed
    for bad in (-1, 2**31, 1.5, True, "x"):
        with pytest.raises(ValueError, match="look"):
            StreamFaceAvatar(look=bad)  # type: ignore[arg-type]


def mock_room_with_caller(attributes: dict[str, str]) -> Any:
    """LiveKit's own mock room (what its console mode runs jobs in), fresh per test."""
    from livekit.agents.ipc.mock_room import create_mock_room

    room = create_mock_room.__wrapped__()  # uncached: each test gets its own
    (caller,) = room.remote_participants.values()
    caller.attributes = attributes
    return room, caller


class SpyClock(FaceClock):
    made: list[FaceClock] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        SpyClock.made.append(self)


async def test_worker_job_publishes_the_consenting_callers_face_in_the_mock_room(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's real `entrypoint` in LiveKit's mock room and fake job context: only the
    microphone is a stand-in (a voice in real time; a mock participant has no audio track)."""
    from streamface.livekit import FACE_LOAD, publisher, worker

    room, caller = mock_room_with_caller({"streamface.consent": "granted"})
    monkeypatch.setattr(worker, "shared_session_factory", lambda *_: lambda: CountingSession(size=32))
    monkeypatch.setattr(worker, "FACE_SIZE", 32)
    monkeypatch.setattr(worker, "FaceClock", SpyClock)
    loads: list[float] = []

    async def microphone(participant: Any) -> AsyncIterator[rtc.AudioFrame]:
        assert participant is caller
        async for frame in realtime(tone(1.0, rate=16000)):
            loads.append(FACE_LOAD.load())
            yield frame

    monkeypatch.setattr(publisher, "microphone", microphone)
    SpyClock.made.clear()
    with fake_job_context(room=room, job_metadata='{"participant": "mock_user"}') as ctx:
        await asyncio.wait_for(worker.entrypoint(ctx), 10.0)
    (clock,) = SpyClock.made
    assert clock.closed and clock.session.closed  # the microphone ended: zeroed
    assert clock.frames_emitted >= 25 and clock.session.speech_seconds >= 0.9
    assert loads and min(loads) == pytest.approx(1 / FACE_LOAD.capacity)  # counted while live
    assert FACE_LOAD.active == 0
    local = room.local_participant
    track, options = local.publish_track.await_args.args
    assert isinstance(track, rtc.LocalVideoTrack) and track.name == "streamface-face-mock_user"
    assert options.source == rtc.TrackSource.SOURCE_CAMERA
    attributes = local.set_attributes.await_args.args[0]
    assert attributes["lk.publish_on_behalf"] == "mock_user" and attributes["streamface.synthetic"] == "true"
    local.unpublish_track.assert_awaited_once()


async def test_worker_job_without_consent_subscribes_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamface.livekit import publisher, worker

    room, _ = mock_room_with_caller({})
    made: list[Any] = []
    monkeypatch.setattr(worker, "shared_session_factory", lambda *_: made.append(1) or (lambda: FakeSession(size=32)))

    async def microphone(participant: Any) -> AsyncIterator[rtc.AudioFrame]:
        made.append(participant)
        yield tone(0.02, rate=16000)[0]

    monkeypatch.setattr(publisher, "microphone", microphone)
    with fake_job_context(room=room, job_metadata='{"participant": "mock_user"}') as ctx:
        job = asyncio.ensure_future(worker.entrypoint(ctx))
        await asyncio.sleep(0.3)
        assert not job.done()  # waiting for consent
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
    assert made == []
    room.local_participant.publish_track.assert_not_awaited()
