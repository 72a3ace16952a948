"""End to end against a real LiveKit server: runs only when LIVEKIT_URL is set.

Needs ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` (e.g. ``livekit-server
--dev``: ws://127.0.0.1:7880, devkey, secret). A caller joins a fresh room with the consent
attribute and publishes a shared test voice as its microphone; the worker's `entrypoint`
runs in-process in LiveKit's fake job context on its own connection; the caller receives
the face track at the frame rate; withdrawing consent ends the job. Not run on the
project's machines (no LiveKit server there): see README, "LiveKit Agents".
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("LIVEKIT_URL"), reason="LIVEKIT_URL is not set (no LiveKit server)"),
]

pytest.importorskip("livekit.agents")

from conftest import SHARED_VOICES  # noqa: E402
from livekit import api, rtc  # noqa: E402
from livekit.agents.testing import fake_job_context  # noqa: E402

from streamface.audio.decode import decode_file  # noqa: E402
from streamface.livekit import entrypoint  # noqa: E402

VOICE = SHARED_VOICES / "flite_female_slt.wav"


def token(room: str, identity: str, attributes: dict[str, str] | None = None) -> str:
    grant = api.VideoGrants(room_join=True, room=room, can_update_own_metadata=True)
    t = api.AccessToken(os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"])
    t = t.with_identity(identity).with_grants(grant)
    if attributes:
        t = t.with_attributes(attributes)
    return t.to_jwt()


async def speak(source: rtc.AudioSource, seconds: float) -> None:
    pcm = (np.clip(decode_file(VOICE), -1, 1) * 32767).astype(np.int16)
    n = 160  # 10 ms at 16 kHz
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        chunk = pcm[(i * n) % (len(pcm) - n) :][:n]
        await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), 16000, 1, n))
        i += 1


async def test_worker_publishes_the_callers_face_in_a_real_room() -> None:
    url = os.environ["LIVEKIT_URL"]
    name = f"streamface-test-{secrets.token_hex(4)}"
    caller, agent = rtc.Room(), rtc.Room()
    face_track: asyncio.Future[rtc.Track] = asyncio.get_running_loop().create_future()

    @caller.on("track_subscribed")
    def on_track(track: rtc.Track, _pub: object, participant: rtc.RemoteParticipant) -> None:
        if track.kind == rtc.TrackKind.KIND_VIDEO and not face_track.done():
            face_track.set_result(track)

    await caller.connect(url, token(name, "caller", {"streamface.consent": "granted"}))
    mic = rtc.AudioSource(16000, 1)
    await caller.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("mic", mic),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
    )
    speaking = asyncio.ensure_future(speak(mic, 20.0))
    await agent.connect(url, token(name, "streamface-agent"))
    with fake_job_context(room=agent, job_metadata='{"participant": "caller"}') as ctx:
        job = asyncio.ensure_future(entrypoint(ctx))
        try:
            track = await asyncio.wait_for(face_track, 20.0)
            stream = rtc.VideoStream(track)
            arrivals: list[float] = []
            async with asyncio.timeout(20.0):
                async for event in stream:
                    arrivals.append(time.monotonic())
                    assert event.frame.width == 256
                    if len(arrivals) >= 150:
                        break
            await stream.aclose()
            window = np.array(arrivals[30:])
            fps = (len(window) - 1) / (window[-1] - window[0])
            assert fps >= 25.0, fps
            face_owner = agent.local_participant.attributes.get("lk.publish_on_behalf")
            assert face_owner in (None, "caller")  # set when the token allows attributes
            await caller.local_participant.set_attributes({"streamface.consent": "withdrawn"})
            await asyncio.wait_for(job, 10.0)  # consent withdrawn: the job's face ends
        finally:
            job.cancel()
            speaking.cancel()
            await asyncio.gather(job, speaking, return_exceptions=True)
            await agent.disconnect()
            await caller.disconnect()
