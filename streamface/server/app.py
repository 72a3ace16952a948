"""The live server's aiohttp application: routes, security, start-up and shutdown.

Routes:

* ``GET /``: the web client (``/static/...`` its scripts and styles).
* ``POST /whip``, ``DELETE /whip/{id}``: a caller's session (see `streamface.server.whip`).
* ``POST /whep/{id}``, ``DELETE /whep/{id}/{viewer}``: viewers (see `streamface.server.whep`).
* ``GET /sessions``, ``GET /sessions/{id}``: live sessions as JSON.
* ``GET /sessions/{id}/events``: a WebSocket of the session's JSON events.
* ``GET /media-stream``: telephony media streams (see `streamface.server.telephony`).
* ``GET /healthz``: liveness.

Every response carries ``X-StreamFace-Synthetic``; JSON bodies say ``"synthetic": true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from streamface import SYNTHETIC_NOTICE, __version__
from streamface.server import telephony, whep, whip
from streamface.server.auth import ServerConfig, add_disclosure, error_response, security_middleware
from streamface.server.hub import HUB, Hub
from streamface.server.live import SessionFactory

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The web client's files (``clients/web`` in the source tree links here)."""

_EVENT_QUEUE = 64  # events buffered per WebSocket before the oldest are dropped


def create_app(config: ServerConfig, session_factory: SessionFactory) -> web.Application:
    """Build the server application.

    Args:
        config: Address, token and limits; validated here.
        session_factory: Makes one `Session` per call; it should share one engine.

    Raises:
        StreamFaceError: the config is unsafe (non-loopback without a token).
    """
    config.validate()
    app = web.Application(
        middlewares=[security_middleware(config)], client_max_size=config.max_body_bytes
    )
    app[HUB] = Hub(config, session_factory)
    app.on_response_prepare.append(add_disclosure)
    app.on_shutdown.append(_shutdown)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/sessions", list_sessions)
    app.router.add_get("/sessions/{session_id}", get_session)
    app.router.add_get("/sessions/{session_id}/events", session_events)
    whip.add_routes(app)
    whep.add_routes(app)
    telephony.add_routes(app)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    return app


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


async def list_sessions(request: web.Request) -> web.StreamResponse:
    """Every live session: id, source, seconds of speech, traits with confidence."""
    return web.json_response(request.app[HUB].snapshot())


async def get_session(request: web.Request) -> web.StreamResponse:
    """One live session."""
    call = request.app[HUB].get(request.match_info["session_id"])
    if call is None:
        return error_response(404, "no such session")
    return web.json_response(call.snapshot())


async def session_events(request: web.Request) -> web.StreamResponse:
    """A WebSocket carrying the session's JSON events until it ends."""
    hub = request.app[HUB]
    call = hub.get(request.match_info["session_id"])
    if call is None:
        return error_response(404, "no such session")
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
            await ws.send_json(event)
            if event.get("type") == "end":
                break
    finally:
        call.live.remove_listener(listener)
        hub.websockets.discard(ws)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends until it closes; too-large messages close it."""
    async for msg in ws:
        if msg.type == WSMsgType.ERROR:
            break


LIVE_SIZE = 256
"""Default live frame size: small enough for several 30 fps sessions on two CPU cores."""


def default_session_factory(engine_name: str = "auto", size: int = LIVE_SIZE) -> SessionFactory:
    """One engine for the whole server, one real `Session` per call.

    Raises:
        StreamFaceError: the engine cannot load here (its message has the install hint).
    """
    from engines.select import load_engine
    from streamface.session import Session

    engine = load_engine(engine_name, size)
    # Load the shared voice models and warm the engine now, not on the first caller's loop.
    warm = Session(engine)
    warm.render_frame(0.0)
    warm.close()
    log.info("engine %s loaded for the live server", getattr(engine, "name", engine_name))
    return lambda: Session(engine)
