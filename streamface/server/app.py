"""The live server's aiohttp application: routes, security, start-up and shutdown.

Routes:

* ``GET /``: the web client (``/static/...`` its scripts and styles).
* ``POST /whip``, ``DELETE /whip/{id}``: a caller's session (see `streamface.server.whip`).
* ``POST /whep/{id}``, ``DELETE /whep/{id}/{viewer}``: viewers (see `streamface.server.whep`).
* ``GET /sessions``, ``GET /sessions/{id}``: live sessions as JSON.
* ``GET /sessions/{id}/events``: a WebSocket of the session's JSON events (at most
  ``max_event_subscribers`` per session; more get 503 with the reason).
* ``GET /media-stream``: telephony media streams (see `streamface.server.telephony`).
* ``GET /audiohook``: Genesys Cloud AudioHook sessions (see `streamface.server.audiohook`).
* ``GET /healthz``: liveness.
* ``GET /internal/stats``: process counters for the soak and load benchmarks (asyncio
  tasks, threads, RSS, sessions); answered only to loopback clients (404 otherwise) and
  behind the bearer token when one is set.

Every response carries ``X-StreamFace-Synthetic``; JSON bodies say ``"synthetic": true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from engines.batching import DEFAULT_WINDOW_S, BatchingEngine, is_gpu_engine
from streamface import SYNTHETIC_NOTICE, __version__
from streamface.face.framing import FrameSize
from streamface.face.identity import MAX_LOOK, parse_look
from streamface.server import audiohook, telephony, whep, whip
from streamface.server.audiohook import AudioHookConfig
from streamface.server.auth import (
    ServerConfig,
    add_disclosure,
    error_response,
    host_middleware,
    is_loopback,
    security_middleware,
)
from streamface.server.hub import HUB, Call, Hub, SessionEndedError
from streamface.server.live import SessionFactory
from streamface.server.process import proc_status, rss_bytes

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The web client's files (``clients/web`` in the source tree links here)."""

_EVENT_QUEUE = 64  # events buffered per WebSocket before the oldest are dropped


def create_app(
    config: ServerConfig,
    session_factory: SessionFactory,
    audiohook_config: AudioHookConfig | None = None,
    *,
    hub: Hub | None = None,
    media_routes: Callable[[web.Application], None] | None = None,
) -> web.Application:
    """Build the server application.

    Args:
        config: Address, token and limits; validated here.
        session_factory: Makes one `Session` per call; it should share one engine.
        audiohook_config: The AudioHook API key and client secret (validated here);
            None keeps ``/audiohook`` behind the server's bearer token like other routes.
        hub: Where sessions are created, looked up and listed; by default a `Hub` running
            them in this process (``streamface serve --ray`` passes a `RayHub`).
        media_routes: Registers the WHIP and WHEP endpoints; by default the local ones
            (`streamface.server.whip`, `streamface.server.whep`).

    Raises:
        StreamFaceError: the config is unsafe (non-loopback without a token).
    """
    config.validate()
    if audiohook_config is not None:
        audiohook_config.validate()
    app = web.Application(
        middlewares=[host_middleware(config), security_middleware(config)],
        client_max_size=config.max_body_bytes,
    )
    app[HUB] = hub if hub is not None else Hub(config, session_factory)
    app.on_response_prepare.append(add_disclosure)
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/internal/stats", internal_stats)
    app.router.add_get("/sessions", list_sessions)
    app.router.add_get("/sessions/{session_id}", get_session)
    app.router.add_get("/sessions/{session_id}/events", session_events)
    app.router.add_post("/sessions/{session_id}/look", post_look)
    if media_routes is None:
        whip.add_routes(app)
        whep.add_routes(app)
    else:
        media_routes(app)
    telephony.add_routes(app)
    audiohook.add_routes(app, audiohook_config)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    return app


async def _startup(app: web.Application) -> None:
    await app[HUB].start()


async def _shutdown(app: web.Application) -> None:
    await app[HUB].close_all()


async def index(request: web.Request) -> web.StreamResponse:
    """The web client page."""
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def healthz(request: web.Request) -> web.StreamResponse:
    """Liveness and a count of live sessions."""
    hub = request.app[HUB]
    return web.json_response(
        {
            "ok": not hub.closed,
            "version": __version__,
            "sessions": len(hub.calls),
            "synthetic": True,
            "notice": SYNTHETIC_NOTICE,
        }
    )


async def internal_stats(request: web.Request) -> web.StreamResponse:
    """Process counters (loopback clients only): tasks, threads, RSS, sessions.

    ``tasks`` counts the event loop's unfinished asyncio tasks (this request's included),
    ``threads`` the Python threads and ``os_threads`` every thread of the process (native
    ones too: ONNX Runtime, OpenMP, codecs); ``rss_bytes`` is the resident set size.
    With ``?intervals=N`` (at most 4096) each session's last N frame intervals (ms) and
    audio-to-frame latencies (ms), with its counts of frames handed out, resent and late
    and of audio arrivals drawn, come too, for measuring a window of time (`Hub.live_stats`;
    a session in a Ray actor adds its process's id, CPU seconds and RSS).
    ``batching`` has, per batching engine, its engine calls (``batches``), the ``animate``
    calls they answered, the mean and largest batch and how many closed on their deadline.
    """
    if not is_loopback(request.remote or ""):
        return error_response(404, "not found")
    hub = request.app[HUB]
    try:
        intervals = max(0, min(4096, int(request.query.get("intervals", "0"))))
    except ValueError:
        return error_response(400, "intervals must be a whole number")
    status = proc_status()
    live = await hub.live_stats(intervals) if intervals else []
    return web.json_response(
        {
            "live": live,
            "tasks": len(asyncio.all_tasks()),
            "threads": threading.active_count(),
            "os_threads": int(status["Threads"]) if "Threads" in status else None,
            "rss_bytes": rss_bytes(status),
            "sessions": len(hub.calls),
            "websockets": len(hub.websockets),
            "background_tasks": len(hub.tasks),
            "batching": hub.batching_stats(),
            "collections": hub.collections,
            "last_collect_ms": None
            if hub.last_collect_ms is None
            else round(hub.last_collect_ms, 2),
            "synthetic": True,
        }
    )


async def list_sessions(request: web.Request) -> web.StreamResponse:
    """Every live session: id, source, seconds of speech, traits with confidence."""
    return web.json_response(request.app[HUB].snapshot())


async def get_session(request: web.Request) -> web.StreamResponse:
    """One live session."""
    call = request.app[HUB].get(request.match_info["session_id"])
    if call is None:
        return error_response(404, "no such session")
    return web.json_response(call.snapshot())


async def post_look(request: web.Request) -> web.StreamResponse:
    """Change a live session's look: JSON ``{"look": N}``, or no body for a random new one.

    The face morphs to the same voice's other look (what the voice cannot tell is drawn
    anew; perceived sex and age stay). Answers the session's state.
    """
    hub = request.app[HUB]
    call = hub.get(request.match_info["session_id"])
    if call is None:
        return error_response(404, "no such session")
    look: int | None = secrets.randbelow(MAX_LOOK) + 1
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "the body must be JSON like {\"look\": 3}")
        if not isinstance(body, dict):
            return error_response(400, "the body must be a JSON object like {\"look\": 3}")
        if "look" in body:
            look = parse_look(body["look"])
    if look is None:
        return error_response(400, f"look must be a whole number from 0 to {MAX_LOOK}")
    try:
        now, changed = await hub.set_look(call, look)
    except SessionEndedError:
        return error_response(404, "no such session")
    return web.json_response({**call.snapshot(), "look": now, "changed": changed})


async def session_events(request: web.Request) -> web.StreamResponse:
    """A WebSocket carrying the session's JSON events until it ends."""
    hub = request.app[HUB]
    call = hub.get(request.match_info["session_id"])
    if call is None:
        return error_response(404, "no such session")
    if call.subscribers >= hub.config.max_event_subscribers:
        return error_response(
            503,
            f"this session has its limit of {hub.config.max_event_subscribers} event "
            "subscribers; close one first",
        )
    call.subscribers += 1
    try:
        return await _serve_events(request, hub, call)
    finally:
        call.subscribers -= 1


async def _serve_events(request: web.Request, hub: Hub, call: Call) -> web.StreamResponse:
    ws = web.WebSocketResponse(max_msg_size=hub.config.max_ws_message_bytes, heartbeat=20.0)
    await ws.prepare(request)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_EVENT_QUEUE)

    def listener(event: dict[str, Any]) -> None:
        if queue.full():  # a slow reader loses the oldest events, never grows memory
            queue.get_nowait()
        queue.put_nowait(event)

    hub.websockets.add(ws)
    call.live.add_listener(listener)
    reader = asyncio.ensure_future(_drain(ws))
    try:
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                break
            event = getter.result()
            try:
                await ws.send_json(event)
            except (ConnectionError, RuntimeError):  # the subscriber left mid-stream
                break
            if event.get("type") == "end":
                break
    finally:
        call.live.remove_listener(listener)
        hub.websockets.discard(ws)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends until it closes; too-large messages close it."""
    async for msg in ws:
        if msg.type == WSMsgType.ERROR:
            break


LIVE_SIZE = 256
"""Default live frame size: small enough for several 30 fps sessions on two CPU cores."""


BATCH_MODES: tuple[str, ...] = ("auto", "on", "off")
"""What ``serve --batch`` accepts: ``auto`` batches on GPU engines only."""


def default_session_factory(
    engine_name: str = "auto",
    size: int | FrameSize = LIVE_SIZE,
    look: int = 0,
    *,
    batch: str = "off",
    batch_window_ms: float = DEFAULT_WINDOW_S * 1000.0,
) -> SessionFactory:
    """One engine for the whole server, one real `Session` per call.

    Args:
        engine_name: The engine to load.
        size: Frame size: an int for a square, or a `FrameSize` (wide: a call-tile framing).
        look: The sessions' look unless a call asks for another (``?look=``).
        batch: ``on`` renders the sessions' frames of each tick with one engine call
            (`engines.batching.BatchingEngine`), ``off`` each on its own, ``auto`` batches
            when the engine runs on a GPU (on the CPU batching costs more than it saves).
        batch_window_ms: How long a tick's batch waits for a late session.

    Raises:
        StreamFaceError: the engine cannot load here (its message has the install hint).
        ValueError: ``batch`` is not one of `BATCH_MODES`.
    """
    from engines.select import load_engine
    from streamface.face.sprites import layout as sprites_layout
    from streamface.session import Session

    if batch not in BATCH_MODES:
        raise ValueError(f"batch must be one of {', '.join(BATCH_MODES)}, got {batch!r}")
    frame = FrameSize(size, size) if isinstance(size, int) else size
    engine = load_engine(engine_name, frame.face)
    # Batched engine calls are then the per-frame path: composing settled frames from
    # cached patches (`Session(sprites=True)`, the CPU's cheap path) would bypass them.
    sprites = True
    if batch == "on" or (batch == "auto" and is_gpu_engine(engine)):
        engine = BatchingEngine(engine, window_s=batch_window_ms / 1000.0)
        sprites = False
        log.info("batched rendering on (window %.1f ms)", batch_window_ms)
    if sprites and engine.face_layout:  # the compositor's layout, before the server is up
        sprites_layout(engine.size)
    # Load the shared voice models and warm the engine now, not on the first caller's loop.
    warm = Session(engine, frame_size=frame)
    warm.render_frame(0.0)
    warm.close()
    # Everything loaded so far lives as long as the server: keep it out of the cyclic
    # collector's scans, so the collection after each call ends (see Hub) stays cheap.
    gc.collect()
    gc.freeze()
    log.info("engine %s loaded for the live server", getattr(engine, "name", engine_name))
    return lambda: Session(engine, frame_size=frame, look=look, sprites=sprites)
