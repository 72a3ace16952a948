"""One participant's face in a LiveKit room: their microphone in, the labelled face out.

`run_face` is the room-free core (audio frames in, frames captured into a ``VideoSource``
at the clock's rate); `publish_participant_face` wires it to a room: it subscribes to the
participant's microphone, publishes the face as a camera track named
``streamface-face-<identity>`` from the worker's participant, and marks that participant
as publishing on the speaker's behalf (attributes ``lk.publish_on_behalf`` and
``streamface.subject``, the convention LiveKit's frontends use for avatar workers).

Consent is the participant's attribute ``streamface.consent = "granted"`` (set by the
client app when the speaker agrees); nothing is subscribed or analysed before it, and
clearing it ends the face and zeroes the session's buffers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator

import numpy as np
from livekit import rtc

from streamface.adapters.face_clock import FaceClock
from streamface.livekit.frames import audio_to_mono, rgb_to_video_frame

log = logging.getLogger(__name__)

CONSENT_ATTRIBUTE = "streamface.consent"
CONSENT_GRANTED = "granted"
AUDIO_RATE = 16000
"""The rate the participant's audio is subscribed at (the session works at 16 kHz)."""


def consent_granted(participant: rtc.Participant) -> bool:
    """Whether the participant's ``streamface.consent`` attribute is ``"granted"``."""
    return dict(participant.attributes or {}).get(CONSENT_ATTRIBUTE) == CONSENT_GRANTED


async def run_face(audio: AsyncIterable[rtc.AudioFrame], source: rtc.VideoSource, clock: FaceClock) -> None:
    """Feed ``audio`` to the face and capture its frames into ``source`` until the audio ends.

    The face session is closed (its buffers zeroed) when this returns or is cancelled.
    """

    async def emit(rgb: np.ndarray, _fresh: bool) -> None:
        source.capture_frame(rgb_to_video_frame(rgb))

    frames = asyncio.get_running_loop().create_task(clock.run(emit))
    try:
        async for frame in audio:
            clock.push_audio(audio_to_mono(frame), frame.sample_rate)
            if frames.done():
                break  # a render failed: no more face
    finally:
        clock.stop()
        await asyncio.gather(frames, return_exceptions=True)
        await clock.close()


async def microphone(participant: rtc.RemoteParticipant) -> AsyncIterator[rtc.AudioFrame]:
    """The participant's microphone as 16 kHz mono frames, until the track ends."""
    stream = rtc.AudioStream.from_participant(
        participant=participant,
        track_source=rtc.TrackSource.SOURCE_MICROPHONE,
        sample_rate=AUDIO_RATE,
        num_channels=1,
    )
    try:
        async for event in stream:
            yield event.frame
    finally:
        await stream.aclose()


async def publish_participant_face(
    room: rtc.Room, participant: rtc.RemoteParticipant, clock: FaceClock, size: tuple[int, int]
) -> None:
    """Publish ``participant``'s face until they leave (or the task is cancelled)."""
    identity = participant.identity
    source = rtc.VideoSource(*size)
    track = rtc.LocalVideoTrack.create_video_track(f"streamface-face-{identity}", source)
    publication = await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    )
    try:
        await room.local_participant.set_attributes(
            {"lk.publish_on_behalf": identity, "streamface.subject": identity, "streamface.synthetic": "true"}
        )
    except Exception as exc:  # noqa: BLE001 - a token without the permission: the track still goes out
        log.warning("could not set the on-behalf attributes (%s)", exc)
    try:
        await run_face(microphone(participant), source, clock)
    finally:
        if room.isconnected():
            await room.local_participant.unpublish_track(publication.sid)
        await source.aclose()
