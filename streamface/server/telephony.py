"""``GET /media-stream``: phone calls as telephony media streams (WebSocket).

A phone platform (Twilio Media Streams and those that share its JSON protocol) opens a
WebSocket per call and sends ``connected``, ``start``, ``media``/``mark``... and ``stop``
(see `streamface.telephony.protocol`). Each track the ``start`` declares ("inbound" is the
caller, "outbound" the agent) is its own speaker: its own live session, listed by
``GET /sessions`` with ``source: "telephony"``, ``stream_sid`` and ``track``, and watchable
over WHEP like any other.

* Consent: nothing is created and no audio is decoded unless
  ``start.customParameters.consent == "granted"``; otherwise the socket closes with 1008.
* Token: on a server with a token, a platform that cannot send ``Authorization: Bearer``
  on the upgrade (Twilio cannot) passes it as ``start.customParameters.token``; a stream
  with neither closes with 1008 before any session exists.
* A stream that breaks the protocol (malformed JSON, bad base64, a wrong media format,
  media before start, ...) is closed with a clear reason and its sessions end; the server
  and every other call go on.
* Liveness (`streamface.server.liveness`): a socket that has not sent ``connected`` and
  ``start`` within ``ServerConfig.handshake_timeout_s`` (5 s) is closed with 1008, and
  one that sends no ``media`` for ``ServerConfig.audio_timeout_s`` (10 s) with 1001,
  whatever WebSocket pings it sends (platforms send silence, so quiet means gone).
* Budgets (`streamface.server.budget`): each track's audio is accepted at most at
  1.25x real time plus a 3 s jitter allowance; the excess is dropped and counted in the
  session's timing (``audio_over_budget_s``), and a caller that keeps flooding (or
  sends hundreds of messages a second) is closed with 1008 and the reason. Accepted
  audio is fed to the session in slices of at most `SLICE_S`, yielding to the event
  loop between slices, so a burst never holds the loop for long.
* Sessions end on ``stop``, on disconnect, on a protocol error or a liveness or budget
  failure. A track
  whose session fails by itself is dropped while the call's other track goes on; with
  no track left the stream closes with 1011 and the reason.
* When ``customParameters.events == "streamface"`` the server sends ``streamface`` JSON
  events back on the socket (a session per track, traits updates, the end); platforms that
  did not ask get nothing they would not understand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from streamface.server.auth import bearer_ok, token_ok
from streamface.server.budget import AudioBudget, FloodError, MessageBudget
from streamface.server.hub import HUB, Call, Hub, HubFullError
from streamface.server.liveness import Liveness, LivenessError
from streamface.telephony.protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_UNSUPPORTED_DATA,
    SAMPLE_RATE,
    FaceEventType,
    Media,
    ProtocolError,
    Start,
    Stop,
    StreamState,
    clip_reason,
    streamface_event,
)

log = logging.getLogger(__name__)

PATH = "/media-stream"
SOURCE = "telephony"
SLICE_S = 0.2
"""Most audio fed to a session between two yields to the event loop (about 2 ms of work)."""
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_WAIT_S = 1.0
"""How long closing waits for the client's close frame before dropping the connection."""
TOKEN_PARAM = "token"
"""``start.customParameters`` key of the server's token, for platforms without headers."""
_EVENT_QUEUE = 64  # events queued per stream before the oldest are dropped


@dataclass
class _Stream:
    """One WebSocket's calls and its outgoing events."""

    ws: web.WebSocketResponse
    hub: Hub
    authenticated: bool = True
    """Whether the upgrade carried the server's bearer token (or none is needed)."""
    calls: dict[str, Call] = field(default_factory=dict)
    listeners: list[tuple[Call, Callable[[dict[str, Any]], None]]] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, AudioBudget] = field(default_factory=dict)
    messages: MessageBudget = field(default_factory=MessageBudget)
    events: asyncio.Queue[str | None] | None = None
    sender: asyncio.Task[None] | None = None

    def queue_event(self, text: str | None) -> None:
        if self.events is None:
            return
        if self.events.full():  # a slow reader loses the oldest events, never grows memory
            self.events.get_nowait()
        self.events.put_nowait(text)


async def media_stream(request: web.Request) -> web.StreamResponse:
    """The telephony WebSocket: one call (one or two tracks) per connection."""
    hub: Hub = request.app[HUB]
    limit = hub.config.max_ws_message_bytes
    # timeout: how long a close waits for the client's close frame, reading (and
    # discarding) whatever else it sends meanwhile; a flooder is not given 10 s of that.
    ws = web.WebSocketResponse(max_msg_size=limit, heartbeat=20.0, timeout=CLOSE_WAIT_S)
    await ws.prepare(request)
    hub.websockets.add(ws)
    token = hub.config.token
    stream = _Stream(ws, hub, authenticated=not token or bearer_ok(request, token))
    state = StreamState(max_bytes=limit)
    liveness = Liveness(
        handshake_s=hub.config.handshake_timeout_s,
        audio_s=hub.config.audio_timeout_s,
        what="'connected' and 'start'",
    )
    code, reason = CLOSE_NORMAL, "stream stopped"
    try:
        code, reason = await _serve(stream, state, liveness)
    except (ProtocolError, LivenessError) as exc:
        code, reason = exc.close_code, exc.reason
        log.info("media stream %s refused: %s", state.stream_sid or "(no start)", exc.reason)
    except FloodError as exc:
        code, reason = CLOSE_POLICY_VIOLATION, exc.reason
        log.warning("media stream %s closed: %s", state.stream_sid or "(no start)", exc.reason)
    except asyncio.CancelledError:
        code, reason = 1001, "server shutting down"
        raise
    except Exception:
        log.exception("media stream %s failed", state.stream_sid or "(no start)")
        code, reason = CLOSE_INTERNAL_ERROR, "internal error"
    finally:
        await _finish(stream, code, reason)
    return ws


async def _serve(stream: _Stream, state: StreamState, liveness: Liveness) -> tuple[int, str]:
    """Read messages until stop, disconnect or error; returns the close code and reason.

    Raises:
        ProtocolError, LivenessError, FloodError: close with the error's reason.
    """
    ws = stream.ws
    while True:
        # Buffered messages are returned without suspending: yield once per message so
        # that a client sending in a tight loop cannot starve every other session.
        await asyncio.sleep(0)
        msg = await liveness.receive(ws)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return CLOSE_NORMAL, "peer closed"
        if msg.type == WSMsgType.ERROR:
            # aiohttp has closed the socket itself (e.g. 1009 for a too-large message)
            return ws.close_code or CLOSE_INTERNAL_ERROR, "websocket error"
        if msg.type == WSMsgType.BINARY:
            raise ProtocolError("binary frames are not part of the protocol: send JSON text", CLOSE_UNSUPPORTED_DATA)
        if msg.type != WSMsgType.TEXT:
            continue
        stream.messages.admit()  # raises FloodError on a persistent message flood
        event = state.feed(msg.data)
        if isinstance(event, Start):
            await _start_calls(stream, event)
            liveness.opened()
        elif isinstance(event, Media):
            liveness.heard()
            await _push_media(stream, event)
        elif isinstance(event, Stop):
            return CLOSE_NORMAL, "stream stopped"


async def _start_calls(stream: _Stream, start: Start) -> None:
    hub = stream.hub
    if not stream.authenticated:
        given = start.custom_parameters.get(TOKEN_PARAM, "")
        if not (hub.config.token and token_ok(given, hub.config.token)):
            raise ProtocolError(
                "missing or wrong token: send 'Authorization: Bearer <token>' or "
                f"start.customParameters.{TOKEN_PARAM}",
                CLOSE_POLICY_VIOLATION,
            )
    if start.wants_events:
        stream.events = asyncio.Queue(maxsize=_EVENT_QUEUE)
        stream.sender = asyncio.get_running_loop().create_task(_send_events(stream))
    for track in start.tracks:
        try:
            call = await hub.open(SOURCE, stream_sid=start.stream_sid, track=track)
        except HubFullError as exc:
            raise ProtocolError(str(exc), CLOSE_TRY_AGAIN_LATER) from None
        stream.calls[track] = call
        stream.budgets[track] = AudioBudget()
        log.info("media stream %s: %s track is session %s", start.stream_sid, track, call.id)
        if stream.events is not None:
            stream.queue_event(
                streamface_event(
                    FaceEventType.SESSION,
                    stream_sid=start.stream_sid,
                    track=track,
                    session_id=call.id,
                    whep=f"/whep/{call.id}",
                )
            )
            listener = _forwarder(stream, start.stream_sid, track, call.id)
            call.live.add_listener(listener)
            stream.listeners.append((call, listener))


def _forwarder(stream: _Stream, sid: str, track: str, session_id: str) -> Callable[[dict[str, Any]], None]:
    def forward(event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "traits":
            traits = dict(event.get("traits") or {})
            traits.setdefault("speech_seconds", event.get("speech_seconds"))
            traits.setdefault("stage", event.get("stage"))
            stream.queue_event(
                streamface_event(FaceEventType.TRAITS, stream_sid=sid, track=track, session_id=session_id, traits=traits)
            )
        elif kind == "end":
            stream.queue_event(
                streamface_event(FaceEventType.ENDED, stream_sid=sid, track=track, session_id=session_id)
            )

    return forward


async def _push_media(stream: _Stream, media: Media) -> None:
    """Feed a media chunk within its track's budget, a slice at a time.

    Raises:
        FloodError: the track has been over its audio budget for too long.
        ProtocolError: every track's session has ended.
    """
    call = stream.calls.get(media.track)
    if call is None:
        return
    if call.live.closed:
        # The track's session ended by itself (a render or analysis failure): that track's
        # audio is dropped from now on; the call's other track goes on. With none left,
        # the stream closes with the reason.
        if not stream.dropped.get(media.track):
            stream.dropped[media.track] = call.live.close_reason or "closed"
            log.warning("media stream %s: %s track's session ended (%s); dropping its audio",
                        media.stream_sid, media.track, stream.dropped[media.track])
        if all(c.live.closed for c in stream.calls.values()):
            raise ProtocolError(
                f"the {media.track} track's session ended: {call.live.close_reason or 'closed'}",
                CLOSE_INTERNAL_ERROR,
            )
        return
    duration = media.duration_s
    budget = stream.budgets[media.track]
    granted = budget.admit(duration)
    if granted < duration:
        call.live.count_over_budget(duration - granted)
    budget.check()  # a persistent flood closes the stream
    keep = int(round(granted * SAMPLE_RATE))
    if keep <= 0:
        return
    samples = media.samples()[:keep].astype(np.float32) / 32768.0
    await call.live.feed_audio(samples, SAMPLE_RATE, SLICE_S)


async def _send_events(stream: _Stream) -> None:
    """Send queued events in order until the end marker (None) or a closed socket."""
    assert stream.events is not None
    while not stream.ws.closed:
        text = await stream.events.get()
        if text is None:
            return
        try:
            await stream.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return


async def _finish(stream: _Stream, code: int, reason: str) -> None:
    """End the stream's sessions, flush last events, close the socket with the reason."""
    ws, hub = stream.ws, stream.hub
    try:
        await asyncio.gather(
            *(hub.end(call.id, f"telephony: {reason}") for call in stream.calls.values()),
            return_exceptions=True,
        )
        if stream.sender is not None and stream.events is not None:
            # let the queued events ("ended" last) go out before the close frame
            stream.queue_event(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(stream.sender), timeout=0.5)
    finally:
        for call, listener in stream.listeners:
            call.live.remove_listener(listener)
        stream.calls.clear()
        if stream.sender is not None:
            stream.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream.sender
        hub.websockets.discard(ws)
        if not ws.closed:
            await ws.close(code=code, message=clip_reason(reason).encode("utf-8"))


def add_routes(app: web.Application) -> None:
    """Register ``GET /media-stream`` (the telephony WebSocket)."""
    app.router.add_get(PATH, media_stream)
