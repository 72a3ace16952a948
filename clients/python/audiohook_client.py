#!/usr/bin/env python3
"""Stream WAV files to StreamFace's ``/audiohook`` the way Genesys Cloud AudioHook does.

Written from the AudioHook protocol specification, not from the server's code:

* the upgrade carries ``Audiohook-Organization-Id``, ``Audiohook-Correlation-Id``,
  ``Audiohook-Session-Id`` and ``X-API-KEY``, and with ``--secret`` an RFC 9421 HTTP
  message signature (``Signature-Input``/``Signature``, HMAC-SHA256 keyed with the
  base64-decoded client secret);
* ``open`` offers PCMU 8 kHz stereo (external, internal) and mono, with
  ``customConfig.consent``; audio goes only after ``opened``, as binary frames of 100 ms,
  stereo interleaved with the external party (customer) on the left;
* ``ping`` every few seconds, then ``close`` (reason ``end``) and the server's ``closed``;
  a server ``disconnect`` is answered with ``close`` (reason ``disconnect``).

Examples::

    python clients/python/audiohook_client.py --consent granted customer.wav agent.wav
    python clients/python/audiohook_client.py --key KEY --secret SECRET --fast customer.wav

One file streams mono (the external channel); two stream stereo.

Exit codes: 0 the session closed normally, 1 the server disconnected it or closed with
another code (printed with its reason), 2 bad arguments, an unreadable file or no server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

sys.path.insert(0, str(Path(__file__).resolve().parent))

from telephony_client import ClientError, encode_mulaw, read_wav, to_phone_audio  # noqa: E402

RATE = 8000
FRAME_MS = 100
DEFAULT_URL = "ws://127.0.0.1:8080/audiohook"
PING_EVERY_S = 5.0
SIGNED_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


# --- the signature (RFC 9421) -----------------------------------------------------------


def sign_headers(url: str, headers: Mapping[str, str], secret: str, *, created: int | None = None,
                 nonce: str | None = None) -> dict[str, str]:
    """``Signature-Input`` and ``Signature`` for an upgrade to ``url`` with ``headers``.

    The key is the base64-decoded client secret; ``keyid`` is the API key.
    """
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lower = {k.lower(): v for k, v in headers.items()}
    created = int(time.time()) if created is None else created
    nonce = nonce or secrets.token_urlsafe(16)
    params = (
        "(" + " ".join(f'"{c}"' for c in SIGNED_COMPONENTS) + ")"
        + f';keyid="{lower["x-api-key"]}";nonce="{nonce}";alg="hmac-sha256"'
        + f";created={created};expires={created + 60}"
    )
    values = {"@request-target": target, "@authority": parts.netloc.lower()}
    lines = [f'"{c}": {values[c] if c.startswith("@") else lower[c]}' for c in SIGNED_COMPONENTS]
    lines.append(f'"@signature-params": {params}')
    key = base64.b64decode(secret)
    digest = hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).digest()
    return {"Signature-Input": f"sig1={params}", "Signature": f"sig1=:{base64.b64encode(digest).decode()}:"}


# --- messages ---------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """An ISO 8601 duration (``PT1.25S``)."""
    return f"PT{seconds:.3f}".rstrip("0").rstrip(".") + "S"


@dataclass
class Client:
    """The client side of one AudioHook session: its counters and what the server sent."""

    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int = 0
    server_seq: int = 0
    position_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)

    def message(self, kind: str, parameters: Mapping[str, Any] | None = None) -> str:
        self.seq += 1
        return json.dumps({
            "version": "2",
            "id": self.session_id,
            "type": kind,
            "seq": self.seq,
            "serverseq": self.server_seq,
            "position": duration(self.position_s),
            "parameters": dict(parameters or {}),
        })

    def got(self, text: str | bytes) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(text)
        self.server_seq = int(message.get("seq", self.server_seq))
        self.received.append(message)
        return message


def open_parameters(conversation_id: str, stereo: bool, custom: Mapping[str, Any]) -> dict[str, Any]:
    """``open.parameters``: stereo is offered first when there are two parties."""
    offers = [{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": RATE}]
    if stereo:
        offers.insert(0, {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": RATE})
    return {
        "organizationId": str(uuid.uuid4()),
        "conversationId": conversation_id,
        "participant": {"id": str(uuid.uuid4()), "ani": "tel:+10000000000", "aniName": "", "dnis": "tel:+10000000001"},
        "media": offers,
        "language": "en-US",
        "customConfig": dict(custom),
    }


def frames(channels: Sequence[np.ndarray], frame_ms: int = FRAME_MS) -> list[bytes]:
    """Interleaved PCMU frames of ``frame_ms`` (external first), padded to one length."""
    n = max(len(c) for c in channels)
    padded = [np.pad(c, (0, n - len(c))) for c in channels]
    interleaved = np.stack(padded, axis=1).reshape(-1)
    step = RATE * frame_ms // 1000 * len(channels)
    data = encode_mulaw(interleaved)
    return [data[i : i + step] for i in range(0, len(data), step)]


# --- the session ------------------------------------------------------------------------


@dataclass
class Result:
    """How a session went."""

    opened: dict[str, Any] | None = None
    disconnect: dict[str, Any] | None = None
    closed: bool = False
    close_code: int | None = None
    close_reason: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)


async def run_session(
    url: str,
    channels: Sequence[np.ndarray],
    *,
    api_key: str | None = None,
    secret: str | None = None,
    custom: Mapping[str, Any] | None = None,
    conversation_id: str | None = None,
    realtime: bool = True,
    before_close: Callable[[], Awaitable[None]] | None = None,
) -> Result:
    """Run one AudioHook session: open, stream ``channels`` (int16 at 8 kHz), close.

    Args:
        url: The server's ``/audiohook`` WebSocket URL.
        channels: One (mono, external) or two (stereo: external, internal) signals.
        api_key: Sent as ``X-API-KEY``.
        secret: The client secret (base64); signs the upgrade when given.
        custom: ``customConfig`` (StreamFace wants ``{"consent": "granted"}``).
        conversation_id: The conversation's id (a fresh UUID by default).
        realtime: Pace frames in real time (else as fast as the socket takes them).
        before_close: Awaited after the last frame, before ``close``.

    Raises:
        ClientError: the server is unreachable or refused the upgrade.
    """
    client = Client()
    headers = {
        "Audiohook-Organization-Id": str(uuid.uuid4()),
        "Audiohook-Correlation-Id": str(uuid.uuid4()),
        "Audiohook-Session-Id": client.session_id,
    }
    if api_key is not None:
        headers["X-API-KEY"] = api_key
        if secret is not None:
            headers.update(sign_headers(url, headers, secret))
    result = Result(messages=client.received)
    try:
        ws = await connect(url, additional_headers=headers, max_size=2**20)
    except InvalidStatus as exc:
        raise ClientError(f"the server refused the upgrade: HTTP {exc.response.status_code} "
                          f"{exc.response.body.decode(errors='replace')[:200] if exc.response.body else ''}") from None
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise ClientError(f"cannot reach {url}: {exc}") from None
    try:
        await _session(ws, client, result, channels, custom or {}, conversation_id or str(uuid.uuid4()),
                       realtime, before_close)
    except ConnectionClosed:
        pass
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await ws.close()
        result.close_code, result.close_reason = ws.close_code, ws.close_reason or ""
    return result


async def _session(ws: ClientConnection, client: Client, result: Result, channels: Sequence[np.ndarray],
                   custom: Mapping[str, Any], conversation_id: str, realtime: bool,
                   before_close: Callable[[], Awaitable[None]] | None) -> None:
    await ws.send(client.message("open", open_parameters(conversation_id, len(channels) == 2, custom)))
    reply = client.got(await ws.recv())
    while reply["type"] == "error":  # the server reports a fault, then disconnects
        reply = client.got(await ws.recv())
    if reply["type"] == "disconnect":
        await _answer_disconnect(ws, client, result, reply)
        return
    if reply["type"] != "opened":
        raise ClientError(f"expected opened, got {reply['type']}")
    result.opened = reply["parameters"]
    media = reply["parameters"].get("media") or []  # none: the server wants no audio (a probe)
    send = [] if not media else [channels[0]] if len(media[0]["channels"]) == 1 else list(channels)
    reader = asyncio.ensure_future(_read(ws, client))
    try:
        last_ping = time.monotonic()
        start = time.monotonic()
        for frame in frames(send) if send else []:
            if reader.done():
                break
            await ws.send(frame)
            client.position_s += len(frame) / len(send) / RATE
            if realtime:
                await asyncio.sleep(max(0.0, start + client.position_s - time.monotonic()))
            if time.monotonic() - last_ping >= PING_EVERY_S:
                await ws.send(client.message("ping"))
                last_ping = time.monotonic()
        if before_close is not None and not reader.done():
            await before_close()
        if not reader.done():
            await ws.send(client.message("close", {"reason": "end"}))
        async with asyncio.timeout(10):
            disconnect = await reader
    finally:
        reader.cancel()
    if disconnect is not None:
        await _answer_disconnect(ws, client, result, disconnect)
    else:
        result.closed = True


async def _read(ws: ClientConnection, client: Client) -> dict[str, Any] | None:
    """Read server messages until ``closed`` (None) or ``disconnect`` (returned)."""
    async for text in ws:
        message = client.got(text)
        if message["type"] == "closed":
            return None
        if message["type"] == "disconnect":
            return message
    raise ConnectionClosed(None, None)


async def _answer_disconnect(ws: ClientConnection, client: Client, result: Result,
                             message: dict[str, Any]) -> None:
    result.disconnect = message["parameters"]
    await ws.send(client.message("close", {"reason": "disconnect"}))
    async with asyncio.timeout(5):
        async for text in ws:
            if client.got(text)["type"] == "closed":
                result.closed = True
                return


# --- command line -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav", nargs="+", help="external (customer) WAV, then optionally internal (agent) WAV")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server WebSocket URL (default: {DEFAULT_URL})")
    parser.add_argument("--key", default=None, help="API key sent as X-API-KEY")
    parser.add_argument("--secret", default=None, help="client secret (base64) to sign the upgrade with")
    parser.add_argument("--consent", default=None, help='customConfig.consent ("granted" to be analysed)')
    parser.add_argument("--fast", action="store_true", help="send as fast as possible, not in real time")
    args = parser.parse_args(argv)
    if len(args.wav) > 2:
        print("audiohook_client: give one or two WAV files", file=sys.stderr)
        return 2
    if args.secret is not None and args.key is None:
        print("audiohook_client: --secret needs --key", file=sys.stderr)
        return 2
    try:
        channels = [to_phone_audio(*read_wav(path)) for path in args.wav]
        custom = {"consent": args.consent} if args.consent is not None else {}
        result = asyncio.run(run_session(args.url, channels, api_key=args.key, secret=args.secret,
                                         custom=custom, realtime=not args.fast))
    except ClientError as exc:
        print(f"audiohook_client: {exc}", file=sys.stderr)
        return 2
    for message in result.messages:
        print(json.dumps(message))
    if result.disconnect is not None:
        print(f"disconnected: {result.disconnect.get('reason')}: {result.disconnect.get('info')}")
        return 1
    print(f"closed: {result.close_code} {result.close_reason}")
    return 0 if result.closed and result.close_code == 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
