#!/usr/bin/env python3
"""Stream a WAV file to StreamFace's ``/media-stream`` the way a phone platform would.

It speaks the telephony media-stream protocol (Twilio-style): ``connected``, ``start``
(a streamSid, the tracks, 8 kHz mono mu-law, ``customParameters``), 20 ms ``media``
chunks in real time (or as fast as possible with ``--fast``), a ``mark`` every second,
and ``stop``. It prints the ``streamface`` events the server sends back (a session per
track, inferred traits with confidence, the end) and the server's close code and reason.

Examples::

    python clients/python/telephony_client.py --consent granted caller.wav
    python clients/python/telephony_client.py --consent granted --tracks inbound,outbound \\
        caller.wav agent.wav --fast

Without ``--consent granted`` the server refuses the stream (close code 1008).

Exit codes: 0 the server closed normally (1000), 1 it closed the stream with another
code (printed with its reason), 2 bad arguments, an unreadable file or no server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import secrets
import sys
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

RATE = 8000
CHUNK_MS = 20
CHUNK_SAMPLES = RATE * CHUNK_MS // 1000
DEFAULT_URL = "ws://127.0.0.1:8080/media-stream"
TRACK_NAMES = ("inbound", "outbound")


class ClientError(Exception):
    """A problem the user can fix (bad file, bad arguments, no server)."""


# --- audio ------------------------------------------------------------------------------


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A PCM WAV file as mono float32 in [-1, 1] and its sample rate."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise ClientError(f"cannot read {path}: {exc} (a PCM WAV file is needed)") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = (np.where(ints >= 1 << 23, ints - (1 << 24), ints)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise ClientError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    if data.size == 0:
        raise ClientError(f"{path} holds no audio")
    return data, rate


def to_phone_audio(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float audio at any rate as 8 kHz int16, what a phone line carries."""
    x = np.asarray(samples, dtype=np.float64)
    if rate != RATE:
        from math import gcd

        g = gcd(rate, RATE)
        x = resample_poly(x, RATE // g, rate // g)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _mulaw_table() -> np.ndarray:
    """G.711 mu-law code of every int16 value (indexed by the value's uint16 bits)."""
    pcm = np.arange(65536, dtype=np.int32)
    pcm = np.where(pcm >= 32768, pcm - 65536, pcm) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + 33
    seg_end = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    seg = np.searchsorted(seg_end, mag, side="left")
    code = (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


_MULAW = _mulaw_table()


def encode_mulaw(samples: np.ndarray) -> bytes:
    """int16 samples as G.711 mu-law bytes."""
    return _MULAW[np.asarray(samples, dtype=np.int16).view(np.uint16)].tobytes()


# --- protocol messages ------------------------------------------------------------------


def new_stream_sid() -> str:
    """A fresh stream id in the platform's style (MZ + 32 hex digits)."""
    return "MZ" + secrets.token_hex(16)


def connected_message() -> dict[str, Any]:
    return {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def start_message(
    stream_sid: str, tracks: Sequence[str], params: Mapping[str, str], sequence: int = 1
) -> dict[str, Any]:
    return {
        "event": "start",
        "sequenceNumber": str(sequence),
        "streamSid": stream_sid,
        "start": {
            "streamSid": stream_sid,
            "accountSid": "AC" + "0" * 32,
            "callSid": "CA" + stream_sid[2:],
            "tracks": list(tracks),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
            "customParameters": dict(params),
        },
    }


def media_message(stream_sid: str, track: str, chunk: int, payload: bytes, sequence: int) -> dict[str, Any]:
    return {
        "event": "media",
        "sequenceNumber": str(sequence),
        "streamSid": stream_sid,
        "media": {
            "track": track,
            "chunk": str(chunk),
            "timestamp": str((chunk - 1) * CHUNK_MS),
            "payload": base64.b64encode(payload).decode("ascii"),
        },
    }


def mark_message(stream_sid: str, name: str, sequence: int) -> dict[str, Any]:
    return {"event": "mark", "sequenceNumber": str(sequence), "streamSid": stream_sid, "mark": {"name": name}}


def stop_message(stream_sid: str, sequence: int) -> dict[str, Any]:
    return {
        "event": "stop",
        "sequenceNumber": str(sequence),
        "streamSid": stream_sid,
        "stop": {"accountSid": "AC" + "0" * 32, "callSid": "CA" + stream_sid[2:]},
    }


# --- the call ---------------------------------------------------------------------------


@dataclass
class CallResult:
    """What happened to one streamed call."""

    stream_sid: str
    close_code: int | None
    close_reason: str
    events: list[dict[str, Any]] = field(default_factory=list)
    chunks_sent: int = 0

    @property
    def sessions(self) -> dict[str, str]:
        """Track → session id, from the server's ``session`` events."""
        return {e["track"]: e["session_id"] for e in self.events if e.get("type") == "session"}


EventCallback = Callable[[dict[str, Any]], None]


async def stream_call(
    url: str,
    tracks: Mapping[str, np.ndarray],
    *,
    params: Mapping[str, str] | None = None,
    realtime: bool = True,
    stream_sid: str | None = None,
    mark_every_s: float = 1.0,
    token: str | None = None,
    on_event: EventCallback | None = None,
    on_start: Callable[[str], Any] | None = None,
    close_timeout: float = 10.0,
) -> CallResult:
    """Stream one call: each track's 8 kHz int16 audio, chunked into 20 ms media messages.

    Args:
        url: The server's ``ws://.../media-stream`` URL.
        tracks: Track name ("inbound", "outbound") → 8 kHz int16 audio.
        params: ``start.customParameters`` (put ``consent: granted`` here).
        realtime: Pace chunks at 20 ms (a real call); False sends as fast as possible.
        stream_sid: The stream's id (a fresh one when None).
        mark_every_s: Seconds between ``mark`` messages (0: none).
        token: Bearer token, when the server needs one.
        on_event: Called with every JSON message the server sends.
        on_start: Called with the stream id once ``start`` is sent (e.g. to look the call up).
        close_timeout: Seconds to wait for the server to close after ``stop``.

    Returns:
        The server's close code and reason, and the events it sent.
    """
    sid = stream_sid or new_stream_sid()
    names = list(tracks)
    for name in names:
        if name not in TRACK_NAMES:
            raise ClientError(f"unknown track {name!r}: use inbound and/or outbound")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    result = CallResult(sid, None, "")
    try:
        async with connect(url, additional_headers=headers, max_size=2**20, open_timeout=10) as ws:
            reader = asyncio.ensure_future(_read_events(ws, result, on_event))
            try:
                await _send_call(ws, sid, tracks, params or {}, realtime, mark_every_s, result, on_start)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(reader), timeout=close_timeout)
            finally:
                if not reader.done():
                    reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            await ws.close()
            result.close_code = ws.close_code
            result.close_reason = ws.close_reason or ""
    except InvalidStatus as exc:
        status = exc.response.status_code
        hint = " (wrong or missing --token)" if status == 401 else ""
        raise ClientError(f"{url} refused the stream: HTTP {status}{hint}") from None
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise ClientError(f"cannot reach {url}: {exc}") from None
    return result


async def _send_call(
    ws: ClientConnection,
    sid: str,
    tracks: Mapping[str, np.ndarray],
    params: Mapping[str, str],
    realtime: bool,
    mark_every_s: float,
    result: CallResult,
    on_start: Callable[[str], Any] | None,
) -> None:
    loop = asyncio.get_running_loop()
    sequence = 1
    try:
        await ws.send(json.dumps(connected_message()))
        await ws.send(json.dumps(start_message(sid, list(tracks), params, sequence)))
        if on_start is not None:
            on_start(sid)
        n_chunks = max((len(a) + CHUNK_SAMPLES - 1) // CHUNK_SAMPLES for a in tracks.values())
        marks_every = int(round(mark_every_s * 1000 / CHUNK_MS)) if mark_every_s > 0 else 0
        t0 = loop.time()
        for i in range(n_chunks):
            for name, audio in tracks.items():
                piece = audio[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES]
                if piece.size < CHUNK_SAMPLES:  # pad the last chunk (or a shorter track) with silence
                    piece = np.pad(piece, (0, CHUNK_SAMPLES - piece.size))
                sequence += 1
                await ws.send(json.dumps(media_message(sid, name, i + 1, encode_mulaw(piece), sequence)))
                result.chunks_sent += 1
            if marks_every and (i + 1) % marks_every == 0:
                sequence += 1
                await ws.send(json.dumps(mark_message(sid, f"{(i + 1) * CHUNK_MS // 1000}s", sequence)))
            if realtime:
                delay = t0 + (i + 1) * CHUNK_MS / 1000 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 50 == 49:
                await asyncio.sleep(0)  # let the reader run
        sequence += 1
        await ws.send(json.dumps(stop_message(sid, sequence)))
    except ConnectionClosed:
        return  # the server closed the stream; the reader has its code and reason


async def _read_events(ws: ClientConnection, result: CallResult, on_event: EventCallback | None) -> None:
    try:
        async for message in ws:
            try:
                event = json.loads(message)
            except (TypeError, ValueError):
                continue
            if not isinstance(event, dict):
                continue
            result.events.append(event)
            if on_event is not None:
                on_event(event)
    except ConnectionClosed:
        pass


# --- the command line -------------------------------------------------------------------


def describe(event: Mapping[str, Any]) -> str:
    """One human line for a server event."""
    head = f"[{event.get('track', '?')}]"
    kind = event.get("type")
    if kind == "session":
        return f"{head} session {event.get('session_id')} (watch: {event.get('whep')}); {event.get('synthetic', '')}"
    if kind == "traits":
        traits = event.get("traits") or {}
        parts = []
        sex = traits.get("perceived_sex")
        if isinstance(sex, Mapping):
            parts.append(f"perceived sex {sex.get('label', '?')} (p_female {sex.get('p_female')})")
        age = traits.get("age_band")
        if isinstance(age, Mapping):
            parts.append(f"age band {age.get('label', '?')}")
        if "confidence" in traits:
            parts.append(f"confidence {traits['confidence']}")
        if traits.get("speech_seconds") is not None:
            parts.append(f"{traits['speech_seconds']} s speech")
        return f"{head} traits: " + (", ".join(parts) or json.dumps(traits))
    if kind == "ended":
        return f"{head} session {event.get('session_id')} ended"
    return f"{head} {json.dumps(event)}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telephony_client",
        description="Stream WAV files to StreamFace's /media-stream as a phone platform would.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE.wav", help="one WAV per track, in --tracks order")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the server's media-stream URL (default {DEFAULT_URL})")
    parser.add_argument(
        "--consent",
        default=None,
        help='sent as customParameters.consent; the server processes the call only with "granted"',
    )
    parser.add_argument("--tracks", default="inbound", help="comma-separated tracks: inbound, outbound (default inbound)")
    parser.add_argument("--fast", action="store_true", help="send as fast as possible instead of in real time")
    parser.add_argument("--stream-sid", default=None, help="the stream id (default: a fresh MZ... id)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="an extra custom parameter (repeatable)"
    )
    parser.add_argument("--no-events", action="store_true", help="do not ask the server for streamface events")
    parser.add_argument("--mark-every", type=float, default=1.0, metavar="S", help="seconds between marks (0: none)")
    parser.add_argument("--token", default=None, help="bearer token, when the server is not on loopback")
    parser.add_argument("--json", action="store_true", help="print the server's events as JSON lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    track_names = [t.strip() for t in args.tracks.split(",") if t.strip()]
    try:
        if not track_names or len(set(track_names)) != len(track_names) or any(t not in TRACK_NAMES for t in track_names):
            raise ClientError("--tracks takes inbound, outbound or inbound,outbound")
        if len(args.files) != len(track_names):
            raise ClientError(f"{len(track_names)} track(s) need {len(track_names)} file(s), got {len(args.files)}")
        params: dict[str, str] = {}
        if args.consent is not None:
            params["consent"] = args.consent
        if not args.no_events:
            params["events"] = "streamface"
        for item in args.param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ClientError(f"--param needs KEY=VALUE, got {item!r}")
            params[key] = value
        tracks = {name: to_phone_audio(*read_wav(path)) for name, path in zip(track_names, args.files, strict=True)}

        def show(event: dict[str, Any]) -> None:
            print(json.dumps(event) if args.json else describe(event), flush=True)

        result = asyncio.run(
            stream_call(
                args.url,
                tracks,
                params=params,
                realtime=not args.fast,
                stream_sid=args.stream_sid,
                mark_every_s=args.mark_every,
                token=args.token,
                on_event=show,
            )
        )
    except ClientError as exc:
        print(f"telephony_client: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("telephony_client: interrupted", file=sys.stderr)
        return 130
    summary = f"stream {result.stream_sid}: {result.chunks_sent} chunks sent; server closed with {result.close_code}"
    if result.close_reason:
        summary += f": {result.close_reason}"
    if result.close_code == 1000:
        print(summary, file=sys.stderr)
        return 0
    print(f"telephony_client: {summary}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
