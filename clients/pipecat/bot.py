"""A Pipecat bot that shows a caller a labelled synthetic face for their own voice.

Pipecat's `SmallWebRTCTransport` carries the call (the caller's microphone in, the face out
as a video track); `streamface.pipecat.StreamFaceProcessor` sits between the transport's
input and output. A real voice agent puts its STT, LLM and TTS services in the same
pipeline; add a second processor with ``voice="bot"`` after the TTS to give the agent's
own voice a face.

Run it (``pip install 'streamface[pipecat]'``)::

    python clients/pipecat/bot.py --port 7860

then POST a WebRTC offer to ``/api/offer`` as JSON ``{"sdp": ..., "type": "offer",
"consent": true}``; the answer comes back as JSON. Without ``"consent": true`` the offer
is refused (403) and nothing is analysed. ``GET /api/stats`` gives each call's timing
(audio-to-mouth latency, frame intervals, first face; no audio, no traits);
``GET /api/health`` is 200 once the engine is loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections import deque
from typing import Any

from aiohttp import web

# --8<-- [start:readme]
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

from streamface.pipecat import StreamFaceProcessor


def face_bot(
    connection: SmallWebRTCConnection, *, consent: bool, size: int = 256
) -> tuple[PipelineWorker, StreamFaceProcessor]:
    """The caller's audio in, a labelled synthetic face for their voice out."""
    transport = SmallWebRTCTransport(
        connection,
        TransportParams(
            audio_in_enabled=True,
            video_out_enabled=True,
            video_out_is_live=True,
            video_out_width=size,
            video_out_height=size,
            video_out_framerate=30,
        ),
    )
    face = StreamFaceProcessor(size=(size, size), fps=30, voice="user", consent=consent)
    worker = PipelineWorker(Pipeline([transport.input(), face, transport.output()]))

    @transport.event_handler("on_client_disconnected")
    async def _disconnected(_transport: object, _client: object) -> None:
        await worker.cancel()

    return worker, face
# --8<-- [end:readme]


log = logging.getLogger("streamface.pipecat.bot")
BOTS = web.AppKey("bots", dict)
"""The app's live calls: peer connection id -> (connection, worker, face)."""
ENDED = web.AppKey("ended", deque)
"""Timing summaries of the last calls that ended (bounded)."""
TASKS = web.AppKey("tasks", set)
SIZE = web.AppKey("size", int)
READY = web.AppKey("ready", asyncio.Event)


def call_summary(pc_id: str, face: StreamFaceProcessor) -> dict[str, Any]:
    """One call's timing (no audio, no traits): stage, latency, frame rate, first face."""
    clock = face.clock
    out: dict[str, Any] = {"pc_id": pc_id, "stage": None if clock is None else clock.session.stage}
    if clock is not None:
        out.update(clock.stats.summary())
    return out


async def run_bot(app: web.Application, connection: SmallWebRTCConnection, worker: PipelineWorker) -> None:
    """Run one call's pipeline until it ends, then close its peer connection."""
    from pipecat.workers.runner import WorkerRunner

    runner = WorkerRunner(handle_sigint=False)
    try:
        await runner.add_workers(worker)
        await runner.run()
    finally:
        await connection.disconnect()
        entry = app[BOTS].pop(connection.pc_id, None)
        if entry is not None:
            app[ENDED].append(call_summary(connection.pc_id, entry[2]))


async def offer(request: web.Request) -> web.Response:
    """``POST /api/offer``: a WebRTC offer (JSON) in, the answer (JSON) out."""
    try:
        body = await request.json()
        sdp, kind = str(body["sdp"]), str(body.get("type", "offer"))
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "expected JSON {sdp, type, consent}"}, status=400)
    if body.get("consent") is not True:
        return web.json_response({"error": "consent required"}, status=403)
    connection = SmallWebRTCConnection()
    await connection.initialize(sdp=sdp, type=kind)
    worker, face = face_bot(connection, consent=True, size=request.app[SIZE])
    request.app[BOTS][connection.pc_id] = (connection, worker, face)
    task = asyncio.get_running_loop().create_task(run_bot(request.app, connection, worker))
    request.app[TASKS].add(task)
    task.add_done_callback(request.app[TASKS].discard)
    return web.json_response(connection.get_answer())


async def stats(request: web.Request) -> web.Response:
    """``GET /api/stats``: timing of the live calls and of the last ones that ended."""
    live = [call_summary(pc_id, entry[2]) for pc_id, entry in request.app[BOTS].items()]
    return web.json_response({"live": live, "ended": list(request.app[ENDED])})


async def health(request: web.Request) -> web.Response:
    """``GET /api/health``: 200 once the engine is loaded, 503 before."""
    ready = request.app[READY].is_set()
    return web.json_response({"ready": ready}, status=200 if ready else 503)


async def _preload(app: web.Application) -> None:
    from streamface.adapters.sessions import shared_session_factory

    async def load() -> None:
        await asyncio.get_running_loop().run_in_executor(None, shared_session_factory, "auto", app[SIZE])
        app[READY].set()

    task = asyncio.get_running_loop().create_task(load())
    app[TASKS].add(task)
    task.add_done_callback(app[TASKS].discard)


async def _shutdown(app: web.Application) -> None:
    for _, worker, _ in list(app[BOTS].values()):
        await worker.cancel()
    tasks = list(app[TASKS])
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)


def make_app(size: int = 256) -> web.Application:
    """The bot's HTTP app: ``POST /api/offer``, ``GET /api/stats``, ``GET /api/health``."""
    app = web.Application(client_max_size=256 * 1024)
    app[BOTS] = {}
    app[ENDED] = deque(maxlen=32)
    app[TASKS] = set()
    app[SIZE] = size
    app[READY] = asyncio.Event()
    app.router.add_post("/api/offer", offer)
    app.router.add_get("/api/stats", stats)
    app.router.add_get("/api/health", health)
    app.on_startup.append(_preload)
    app.on_shutdown.append(_shutdown)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--size", type=int, default=256, help="face video width and height")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    web.run_app(make_app(args.size), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
