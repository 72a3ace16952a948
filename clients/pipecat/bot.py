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
is refused (403) and nothing is analysed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

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
BOTS = web.AppKey("bots", list)
"""The app's running bots: (connection, worker, face) each."""
TASKS = web.AppKey("tasks", set)
SIZE = web.AppKey("size", int)


async def run_bot(connection: SmallWebRTCConnection, worker: PipelineWorker) -> None:
    """Run one bot's pipeline until the call ends, then close its peer connection."""
    from pipecat.workers.runner import WorkerRunner

    runner = WorkerRunner(handle_sigint=False)
    try:
        await runner.add_workers(worker)
        await runner.run()
    finally:
        await connection.disconnect()


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
    entry = (connection, worker, face)
    request.app[BOTS].append(entry)
    task = asyncio.get_running_loop().create_task(run_bot(connection, worker))
    request.app[TASKS].add(task)
    task.add_done_callback(request.app[TASKS].discard)
    return web.json_response(connection.get_answer())


async def _shutdown(app: web.Application) -> None:
    for _, worker, _ in app[BOTS]:
        await worker.cancel()
    tasks = list(app[TASKS])
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)


def make_app(size: int = 256) -> web.Application:
    """The bot's HTTP app: ``POST /api/offer``."""
    app = web.Application(client_max_size=256 * 1024)
    app[BOTS] = []
    app[TASKS] = set()
    app[SIZE] = size
    app.router.add_post("/api/offer", offer)
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
