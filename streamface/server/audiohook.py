"""``GET /audiohook``: Genesys Cloud AudioHook Monitor sessions (WebSocket).

Genesys Cloud opens one WebSocket per conversation participant session and speaks the
AudioHook protocol (see `streamface.telephony.audiohook`). Each channel of the chosen
format is its own speaker: in stereo the external party (customer, left) and the internal
party (agent, right) each get a live session, listed by ``GET /sessions`` with
``source: "audiohook"``, ``conversation_id`` and ``channel``, watchable over WHEP and on
the dashboard.

* Authentication, before the upgrade (refused with 401, no audio read): the ``X-API-KEY``
  header must equal the configured key (``--audiohook-key``); with a client secret
  configured (``--audiohook-secret``) the request's RFC 9421 HMAC-SHA256 signature must
  verify too. Without a key, the server's bearer token applies as on every other route.
* Consent: ``open`` must carry ``customConfig.consent = "granted"``; otherwise the server
  answers ``disconnect`` (reason ``unauthorized``) and no session is created.
* Faults (malformed JSON, a wrong ``seq``, audio before ``open``, an unsupported format, an
  oversized frame, silence for `IDLE_TIMEOUT_S`) get ``error`` (``code`` 400, 408, 409, 413,
  415, 500 or 503 and a ``message``) then ``disconnect`` with reason ``error`` and the same
  text in ``info``; after the client's ``close`` the server answers
  ``closed`` and closes the socket (or closes with the fault's code if the client does
  not). The server and every other session go on.

Audio enters in one place, `_accept_audio`, where the connection's audio budget
(`streamface.server.budget`: 1.25x real time plus a jitter allowance) drops and counts
the excess and closes a persistent flood with error 429; silence is detected in one
place, `_receive`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field

import numpy as np
from aiohttp import WSMsgType, web

from streamface.errors import StreamFaceError
from streamface.server.auth import bearer_ok, error_response, token_ok
from streamface.server.budget import AudioBudget, FloodError
from streamface.server.hub import HUB, Call, Hub, HubFullError
from streamface.telephony.audiohook import (
    SAMPLE_RATE,
    AudioHookError,
    AudioHookState,
    DisconnectReason,
    ErrorCode,
    OpenParameters,
    Phase,
)
from streamface.telephony.protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    clip_reason,
)
from streamface.telephony.signature import (
    NonceCache,
    Request,
    SignatureError,
    decode_secret,
    verify_request,
)

log = logging.getLogger(__name__)

PATH = "/audiohook"
SOURCE = "audiohook"
KEY_ENV = "STREAMFACE_AUDIOHOOK_KEY"
SECRET_ENV = "STREAMFACE_AUDIOHOOK_SECRET"
IDLE_TIMEOUT_S = 10.0
"""A session with no message for this long is taken as gone (Genesys streams audio and pings)."""
CLOSE_WAIT_S = 2.0
"""How long the server waits for the client's ``close`` after its ``disconnect``."""
CLOSE_GOING_AWAY = 1001


@dataclass(frozen=True)
class AudioHookConfig:
    """How ``/audiohook`` authenticates clients.

    Attributes:
        api_key: The integration's API key, sent by the client as ``X-API-KEY``.
        client_secret: The integration's client secret (base64); when set, the upgrade's
            HTTP message signature must verify with it.
    """

    api_key: str | None = None
    client_secret: str | None = None

    def with_env(self) -> AudioHookConfig:
        """This config with unset values taken from the environment."""
        return AudioHookConfig(
            api_key=self.api_key or os.environ.get(KEY_ENV) or None,
            client_secret=self.client_secret or os.environ.get(SECRET_ENV) or None,
        )

    def validate(self) -> None:
        """Refuse a config that cannot work.

        Raises:
            StreamFaceError: a short key, a secret without a key, a secret not in base64.
        """
        if self.api_key is not None and len(self.api_key) < 8:
            raise StreamFaceError("the AudioHook API key is too short: use at least 8 characters")
        if self.client_secret is not None:
            if self.api_key is None:
                raise StreamFaceError("an AudioHook client secret needs the API key too (--audiohook-key)")
            decode_secret(self.client_secret)

    @property
    def hmac_key(self) -> bytes | None:
        return None if self.client_secret is None else decode_secret(self.client_secret)


AUDIOHOOK: web.AppKey[AudioHookConfig] = web.AppKey("streamface_audiohook", AudioHookConfig)
_NONCES: web.AppKey[NonceCache] = web.AppKey("streamface_audiohook_nonces", NonceCache)


@dataclass
class _Connection:
    """One AudioHook WebSocket: its protocol state and the sessions of its channels."""

    ws: web.WebSocketResponse
    hub: Hub
    state: AudioHookState
    calls: dict[str, Call] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    budget: AudioBudget = field(default_factory=AudioBudget)


def authenticate(request: web.Request) -> str | None:
    """Why this upgrade is refused, or None when it may proceed."""
    config = request.app.get(AUDIOHOOK) or AudioHookConfig()
    hub = request.app[HUB]
    if config.api_key is None:
        token = hub.config.token
        if token and not bearer_ok(request, token):
            return "missing or wrong bearer token (or configure an AudioHook API key)"
        return None
    given = request.headers.get("X-API-KEY", "")
    if not token_ok(given, config.api_key):
        return "missing or wrong X-API-KEY"
    key = config.hmac_key
    if key is None:
        return None
    try:
        verify_request(_signed_request(request), key, api_key=config.api_key, nonces=request.app[_NONCES])
    except SignatureError as exc:
        return f"signature refused: {exc}"
    return None


def _signed_request(request: web.Request) -> Request:
    path, _, query = request.raw_path.partition("?")
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return Request(
        method=request.method,
        scheme=request.scheme,
        authority=request.host,
        path=path,
        query=query,
        headers=headers,
    )


async def audiohook(request: web.Request) -> web.StreamResponse:
    """The AudioHook WebSocket: one AudioHook session (one or two channels) per connection."""
    refusal = authenticate(request)
    if refusal is not None:
        log.info("audiohook upgrade refused: %s", refusal)
        return error_response(401, refusal)
    hub = request.app[HUB]
    ws = web.WebSocketResponse(max_msg_size=hub.config.max_ws_message_bytes, heartbeat=20.0)
    await ws.prepare(request)
    hub.websockets.add(ws)
    state = AudioHookState(session_id=request.headers.get("Audiohook-Session-Id") or None)
    conn = _Connection(ws, hub, state)
    code, reason = CLOSE_NORMAL, "closed"
    try:
        code, reason = await _serve(conn)
    except AudioHookError as exc:
        log.info("audiohook session %s: %s", state.session_id or "(no open)", exc.info)
        code, reason = await _disconnect(conn, exc)
    except asyncio.CancelledError:
        code, reason = CLOSE_GOING_AWAY, "server shutting down"
        raise
    except ConnectionResetError:
        code, reason = CLOSE_GOING_AWAY, "peer gone"
    except Exception:
        log.exception("audiohook session %s failed", state.session_id or "(no open)")
        code, reason = await _disconnect(conn, AudioHookError("internal error", ErrorCode.INTERNAL,
                                                               close_code=CLOSE_INTERNAL_ERROR))
    finally:
        await _finish(conn, code, reason)
    return ws


async def _receive(conn: _Connection, wait_s: float | None = None) -> tuple[str, str | bytes] | None:
    """The next text or binary message; None when the peer closed.

    This is where silence is detected: no message for ``wait_s`` seconds (default
    `IDLE_TIMEOUT_S`) raises.

    Raises:
        AudioHookError: nothing arrived in time (code 408).
    """
    ws = conn.ws
    wait_s = IDLE_TIMEOUT_S if wait_s is None else wait_s
    while True:
        try:
            msg = await ws.receive(timeout=wait_s)
        except TimeoutError:
            raise AudioHookError(
                f"no message for {wait_s:g} s", ErrorCode.REQUEST_TIMEOUT, close_code=CLOSE_GOING_AWAY
            ) from None
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        if msg.type == WSMsgType.TEXT:
            return "text", msg.data
        if msg.type == WSMsgType.BINARY:
            return "binary", msg.data


async def _serve(conn: _Connection) -> tuple[int, str]:
    """Read messages until close, disconnect or a fault; returns the close code and reason."""
    state = conn.state
    while True:
        received = await _receive(conn)
        if received is None:
            return CLOSE_NORMAL, "peer closed"
        kind, data = received
        if kind == "binary":
            assert isinstance(data, bytes)
            _accept_audio(conn, data)
            continue
        message = state.receive(data)
        if message.type == "open":
            assert isinstance(message.parameters, OpenParameters)
            await _open(conn, message.parameters)
        elif message.type == "ping":
            await conn.ws.send_str(state.pong())
        elif message.type == "close":
            await conn.ws.send_str(state.closed())
            return CLOSE_NORMAL, "session closed"
        elif message.type == "error":
            log.info("audiohook session %s: client error %s", state.session_id, message.parameters)


async def _open(conn: _Connection, params: OpenParameters) -> None:
    state = conn.state
    if not params.probe:
        for channel in state.channels:
            try:
                call = await conn.hub.open(
                    SOURCE,
                    conversation_id=params.conversationId,
                    channel=channel,
                    audiohook_session=state.session_id,
                )
            except HubFullError as exc:
                raise AudioHookError(str(exc), ErrorCode.UNAVAILABLE, close_code=1013) from None
            conn.calls[channel] = call
            log.info("audiohook %s: %s channel is session %s", params.conversationId, channel, call.id)
    await conn.ws.send_str(state.opened())


def _accept_audio(conn: _Connection, frame: bytes) -> None:
    """Where every audio frame enters: checked, decoded, split per channel, pushed.

    Raises:
        AudioHookError: audio before ``open``, an oversized or misaligned frame, or every
            channel's session has ended by itself.
    """
    samples = conn.state.audio(frame)
    if samples is None or not conn.calls:
        return
    # One budget per connection: the channels of a frame are the same stretch of time.
    duration = samples.shape[1] / SAMPLE_RATE
    granted = conn.budget.admit(duration)
    if granted < duration:
        for each in conn.calls.values():
            each.live.count_over_budget(duration - granted)
    try:
        conn.budget.check()
    except FloodError as exc:
        raise AudioHookError(
            exc.reason, ErrorCode.TOO_MANY_REQUESTS, close_code=CLOSE_POLICY_VIOLATION
        ) from None
    samples = samples[:, : int(round(granted * SAMPLE_RATE))]
    if samples.shape[1] == 0:
        return
    for index, channel in enumerate(conn.state.channels):
        call = conn.calls.get(channel)
        if call is None:
            continue
        if call.live.closed:
            # That channel's session ended by itself (a render or analysis failure): its
            # audio is dropped; the other channel goes on. With none left, disconnect.
            if channel not in conn.dropped:
                conn.dropped.add(channel)
                log.warning("audiohook %s: %s channel's session ended (%s)", conn.state.session_id,
                            channel, call.live.close_reason or "closed")
            if all(c.live.closed for c in conn.calls.values()):
                raise AudioHookError(
                    f"the {channel} channel's session ended: {call.live.close_reason or 'closed'}",
                    ErrorCode.INTERNAL,
                    close_code=CLOSE_INTERNAL_ERROR,
                )
            continue
        call.live.push_audio(samples[index].astype(np.float32) / 32768.0, SAMPLE_RATE)


async def _disconnect(conn: _Connection, exc: AudioHookError) -> tuple[int, str]:
    """Send ``disconnect``, wait for the client's ``close``, answer ``closed``.

    Returns:
        The close code and reason: 1000 after a clean close handshake, else the fault's code.
    """
    ws, state = conn.ws, conn.state
    if ws.closed:
        return exc.close_code, exc.info
    with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError, AudioHookError):
        if exc.reason is DisconnectReason.ERROR:
            await ws.send_str(state.error(exc.code, exc.info))
        await ws.send_str(state.disconnect(exc.reason, exc.info))
        async with asyncio.timeout(CLOSE_WAIT_S):
            while (received := await _receive(conn, CLOSE_WAIT_S)) is not None:
                kind, data = received
                if kind != "text":
                    continue  # audio in flight before the client saw the disconnect
                if state.receive(data).type == "close":
                    await ws.send_str(state.closed())
                    return CLOSE_NORMAL, exc.info
    return exc.close_code, exc.info


async def _finish(conn: _Connection, code: int, reason: str) -> None:
    """End the connection's sessions and close the socket with the reason."""
    ws, hub = conn.ws, conn.hub
    try:
        await asyncio.gather(
            *(hub.end(call.id, f"audiohook: {reason}") for call in conn.calls.values()),
            return_exceptions=True,
        )
    finally:
        conn.calls.clear()
        hub.websockets.discard(ws)
        if conn.state.phase is not Phase.CLOSED:
            conn.state.phase = Phase.CLOSED
        if not ws.closed:
            await ws.close(code=code, message=clip_reason(reason).encode("utf-8"))


def add_routes(app: web.Application, config: AudioHookConfig | None = None) -> None:
    """Register ``GET /audiohook`` with its authentication config."""
    app[AUDIOHOOK] = config or AudioHookConfig()
    app[_NONCES] = NonceCache()
    app.router.add_get(PATH, audiohook)
