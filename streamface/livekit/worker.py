"""The LiveKit Agents worker: on dispatch, one participant's face, published on their behalf.

``python -m streamface.livekit start`` (or ``dev``) registers with the LiveKit server at
``$LIVEKIT_URL`` (``$LIVEKIT_API_KEY``/``$LIVEKIT_API_SECRET``). Each dispatched job joins
its room subscribed to audio only, waits for its participant (the job metadata's
``{"participant": "<identity>"}``, else the first SIP or WebRTC participant to join), waits
for their consent attribute, and publishes their face until they leave or withdraw
consent. Jobs run as threads of one process, so they share one loaded engine, and the
load reported to the dispatcher is the live face sessions / capacity (`FACE_LOAD`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os

from livekit import rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, JobExecutorType

from streamface.adapters.face_clock import FaceClock
from streamface.adapters.sessions import shared_session_factory
from streamface.livekit.load import FACE_LOAD
from streamface.livekit.publisher import consent_granted, publish_participant_face

log = logging.getLogger(__name__)

FACE_SIZE = int(os.environ.get("STREAMFACE_FACE_SIZE", "256"))
ENGINE = os.environ.get("STREAMFACE_ENGINE", "auto")
FPS = 30.0


def target_identity(metadata: str) -> str | None:
    """The participant a job is for, from its metadata (JSON ``{"participant": ...}``)."""
    try:
        value = json.loads(metadata or "{}").get("participant")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


async def wait_for_consent(room: rtc.Room, participant: rtc.Participant) -> None:
    """Return once the participant's consent attribute is granted."""
    granted = asyncio.Event()

    def changed(_changed: dict[str, str], who: rtc.Participant) -> None:
        if who.identity == participant.identity and consent_granted(who):
            granted.set()

    room.on("participant_attributes_changed", changed)
    try:
        if not consent_granted(participant):
            log.info("waiting for %s to grant consent", participant.identity)
            await granted.wait()
    finally:
        room.off("participant_attributes_changed", changed)


async def watch_consent(room: rtc.Room, participant: rtc.Participant, task: asyncio.Task[None]) -> None:
    """Cancel ``task`` when the participant withdraws consent or leaves."""
    ended = asyncio.Event()

    def changed(_changed: dict[str, str], who: rtc.Participant) -> None:
        if who.identity == participant.identity and not consent_granted(who):
            log.info("%s withdrew consent: the face ends", participant.identity)
            ended.set()

    def left(who: rtc.RemoteParticipant) -> None:
        if who.identity == participant.identity:
            ended.set()

    room.on("participant_attributes_changed", changed)
    room.on("participant_disconnected", left)
    try:
        waiter = asyncio.ensure_future(ended.wait())
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not task.done():
            task.cancel()
    finally:
        room.off("participant_attributes_changed", changed)
        room.off("participant_disconnected", left)


async def entrypoint(ctx: JobContext) -> None:
    """One dispatched job: its participant's face, for as long as they stay and consent."""
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    participant = await ctx.wait_for_participant(identity=target_identity(ctx.job.metadata))
    await wait_for_consent(ctx.room, participant)
    loop = asyncio.get_running_loop()
    factory = await loop.run_in_executor(None, shared_session_factory, ENGINE, FACE_SIZE)
    session = await loop.run_in_executor(None, factory)
    clock = FaceClock(session, fps=FPS, size=(FACE_SIZE, FACE_SIZE))
    with FACE_LOAD.session():
        task = asyncio.ensure_future(publish_participant_face(ctx.room, participant, clock, (FACE_SIZE, FACE_SIZE)))
        await watch_consent(ctx.room, participant, task)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await clock.close()
    log.info("face of %s ended: %s", participant.identity, clock.stats.summary())


def prewarm(_proc: object) -> None:
    """Load the engine and voice models before the first job."""
    shared_session_factory(ENGINE, FACE_SIZE)


def make_server(**kwargs: object) -> AgentServer:
    """The worker: `entrypoint` for every job, threads sharing one engine, load from `FACE_LOAD`.

    Args:
        **kwargs: Passed to ``AgentServer`` (e.g. ``ws_url``, ``api_key``, ``api_secret``).
    """
    options: dict[str, object] = {
        "job_executor_type": JobExecutorType.THREAD,
        "load_fnc": FACE_LOAD.load,
        "load_threshold": 0.99,
        "setup_fnc": prewarm,
    }
    options.update(kwargs)
    server = AgentServer(**options)  # type: ignore[arg-type]
    server.rtc_session(entrypoint, agent_name=os.environ.get("STREAMFACE_AGENT_NAME", "streamface"))
    return server
