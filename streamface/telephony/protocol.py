"""The telephony media-stream protocol: strict parsing and the per-stream state machine.

Phone platforms (Twilio Media Streams and the many that copy its shape) send a call's
audio over a WebSocket as JSON text messages:

``connected``
    ``{"event": "connected", "protocol": "Call", "version": "1.0.0"}``
``start``
    ``{"event": "start", "sequenceNumber": "1", "streamSid": "MZ...", "start": {"streamSid":
    "MZ...", "accountSid": "AC...", "callSid": "CA...", "tracks": ["inbound"],
    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    "customParameters": {"consent": "granted"}}}``
``media``
    ``{"event": "media", "sequenceNumber": "2", "streamSid": "MZ...", "media": {"track":
    "inbound", "chunk": "1", "timestamp": "5", "payload": "<base64 mu-law>"}}``
``mark``
    ``{"event": "mark", "sequenceNumber": "3", "streamSid": "MZ...", "mark": {"name": "x"}}``
``dtmf``
    ``{"event": "dtmf", "streamSid": "MZ...", "dtmf": {"track": "inbound_track", "digit": "1"}}``
``stop``
    ``{"event": "stop", "sequenceNumber": "9", "streamSid": "MZ...", "stop": {...}}``

`parse_message` turns one message into a typed event or raises `ProtocolError`;
`StreamState` enforces the order (connected → start → media/mark/dtmf* → stop), the
stream id, the declared tracks, increasing chunk numbers and sequence numbers, and
consent: a stream is processed only when ``start.customParameters.consent`` is
``"granted"``. Every failure is a `ProtocolError` whose ``reason`` is a one-line close
reason (at most 123 UTF-8 bytes, what a WebSocket close frame carries) and whose
``close_code`` is the WebSocket close code to send.

Server → client messages (`streamface_event`) are opt-in: the platform asks for them with
``customParameters.events = "streamface"``; phone platforms that do not expect unknown
messages never receive any.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamface import SYNTHETIC_NOTICE
from streamface.audio.mulaw import decode_mulaw
from streamface.errors import ConsentRequiredError, StreamFaceError

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest accepted message. A 20 ms chunk is 160 bytes (216 in base64); platforms that
batch send at most a few hundred ms, so 64 KiB (about 6 s of audio) is generous."""

ENCODING = "audio/x-mulaw"
SAMPLE_RATE = 8000
CHANNELS = 1
TRACKS: tuple[str, ...] = ("inbound", "outbound")
CONSENT_GRANTED = "granted"
EVENTS_PARAM = "events"
EVENTS_STREAMFACE = "streamface"

MAX_ID_CHARS = 128
MAX_CUSTOM_PARAMETERS = 32
MAX_PARAM_CHARS = 512
MAX_NAME_CHARS = 256
MAX_REASON_BYTES = 123
"""A WebSocket close frame carries at most 125 payload bytes, two of them the code."""

# WebSocket close codes (RFC 6455 section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011


def clip_reason(reason: str) -> str:
    """``reason`` on one line and cut to fit a WebSocket close frame (123 UTF-8 bytes)."""
    line = " ".join(str(reason).split())
    data = line.encode("utf-8")
    if len(data) <= MAX_REASON_BYTES:
        return line
    return data[: MAX_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


class ProtocolError(StreamFaceError):
    """A message or stream that breaks the protocol; the stream is closed with ``reason``.

    Attributes:
        reason: One line that says what was wrong, fit for a WebSocket close frame.
        close_code: The WebSocket close code to send.
    """

    def __init__(self, reason: str, close_code: int = CLOSE_PROTOCOL_ERROR) -> None:
        self.reason = clip_reason(reason)
        self.close_code = close_code
        super().__init__(self.reason)


class TelephonyConsentError(ProtocolError, ConsentRequiredError):
    """The stream's ``start`` did not carry ``customParameters.consent = "granted"``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, CLOSE_POLICY_VIOLATION)


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    """The platform's greeting, the first message of every stream."""

    protocol: str
    version: str


@dataclass(frozen=True)
class MediaFormat:
    """How the audio of a stream is encoded (only 8 kHz mono mu-law is accepted)."""

    encoding: str = ENCODING
    sample_rate: int = SAMPLE_RATE
    channels: int = CHANNELS


@dataclass(frozen=True)
class Start:
    """The stream's metadata: ids, the tracks it will carry, format and custom parameters."""

    stream_sid: str
    tracks: tuple[str, ...]
    media_format: MediaFormat
    custom_parameters: Mapping[str, str] = field(default_factory=dict)
    account_sid: str | None = None
    call_sid: str | None = None
    sequence_number: int | None = None

    @property
    def consent(self) -> bool:
        """Whether the call flow recorded the caller's consent."""
        return self.custom_parameters.get("consent") == CONSENT_GRANTED

    @property
    def wants_events(self) -> bool:
        """Whether the platform asked for ``streamface`` events back on the socket."""
        return self.custom_parameters.get(EVENTS_PARAM) == EVENTS_STREAMFACE


@dataclass(frozen=True)
class Media:
    """One chunk of one track's audio."""

    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes = field(repr=False)
    sequence_number: int | None = None

    def samples(self) -> np.ndarray:
        """The chunk's audio as int16 samples at 8 kHz."""
        return decode_mulaw(self.payload)

    @property
    def duration_s(self) -> float:
        """Seconds of audio in the chunk (one mu-law byte per sample)."""
        return len(self.payload) / SAMPLE_RATE


@dataclass(frozen=True)
class Mark:
    """A named point in the stream (the platform echoes marks the server sent)."""

    stream_sid: str
    name: str
    sequence_number: int | None = None


@dataclass(frozen=True)
class Dtmf:
    """A key the caller pressed (ignored by StreamFace, accepted as part of the protocol)."""

    stream_sid: str
    track: str
    digit: str
    sequence_number: int | None = None


@dataclass(frozen=True)
class Stop:
    """The end of the stream."""

    stream_sid: str
    account_sid: str | None = None
    call_sid: str | None = None
    sequence_number: int | None = None


Event = Connected | Start | Media | Mark | Dtmf | Stop


# --- field readers ----------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _obj(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: '{key}' must be an object", CLOSE_INVALID_PAYLOAD)
    return value


def _str(
    parent: Mapping[str, Any], key: str, where: str, *, required: bool = True, limit: int = MAX_ID_CHARS
) -> str | None:
    value = parent.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{where}: '{key}' must be a non-empty string", CLOSE_INVALID_PAYLOAD)
    if len(value) > limit:
        raise ProtocolError(f"{where}: '{key}' is longer than {limit} characters", CLOSE_INVALID_PAYLOAD)
    return value


def _req_str(parent: Mapping[str, Any], key: str, where: str, *, limit: int = MAX_ID_CHARS) -> str:
    value = _str(parent, key, where, limit=limit)
    assert value is not None
    return value


def _int(parent: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> int | None:
    """A non-negative integer, given as a JSON number or a decimal string (Twilio sends strings)."""
    value = parent.get(key)
    if value is None and not required:
        return None
    bad = ProtocolError(f"{where}: '{key}' must be a non-negative integer", CLOSE_INVALID_PAYLOAD)
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= 18 and value.isascii() and value.isdecimal():
        number = int(value)
    else:
        raise bad
    if number < 0 or number >= 2**63:
        raise bad
    return number


def _req_int(parent: Mapping[str, Any], key: str, where: str) -> int:
    value = _int(parent, key, where)
    assert value is not None
    return value


def _track(value: Any, where: str) -> str:
    # Twilio names tracks "inbound"/"outbound" in start.tracks and media.track, and
    # "inbound_track" in some events; both spellings are one track.
    if isinstance(value, str):
        name = value.removesuffix("_track")
        if name in TRACKS:
            return name
    raise ProtocolError(
        f"{where}: track must be one of {', '.join(TRACKS)}, got {_short(value)}", CLOSE_INVALID_PAYLOAD
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _stream_sid(message: Mapping[str, Any], where: str) -> str:
    return _req_str(message, "streamSid", where)


# --- parsing ----------------------------------------------------------------------------


def decode_json(raw: str | bytes | bytearray, *, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """Decode one message to a JSON object, or raise `ProtocolError`.

    Refuses messages over ``max_bytes``, text that is not UTF-8, anything but an object,
    duplicate keys, NaN/Infinity and absurd nesting.
    """
    if isinstance(raw, bytes | bytearray):
        size = len(raw)
        if size > max_bytes:
            raise ProtocolError(f"message of {size} bytes is over the {max_bytes}-byte limit", CLOSE_MESSAGE_TOO_BIG)
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("message is not UTF-8 text", CLOSE_INVALID_PAYLOAD) from None
    elif isinstance(raw, str):
        text = raw
        if len(text) > max_bytes or len(text.encode("utf-8", errors="surrogatepass")) > max_bytes:
            raise ProtocolError(f"message is over the {max_bytes}-byte limit", CLOSE_MESSAGE_TOO_BIG)
    else:
        raise ProtocolError("message must be text", CLOSE_UNSUPPORTED_DATA)
    try:
        message = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProtocolError(f"malformed JSON: {detail}", CLOSE_INVALID_PAYLOAD) from None
    if not isinstance(message, dict):
        raise ProtocolError("message must be a JSON object", CLOSE_INVALID_PAYLOAD)
    return message


def parse_message(raw: str | bytes | bytearray, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Event:
    """Parse and validate one protocol message (without regard to stream order).

    Args:
        raw: The WebSocket message, text (or UTF-8 bytes).
        max_bytes: Size limit; larger messages are refused with close code 1009.

    Returns:
        The typed event.

    Raises:
        ProtocolError: anything that is not a valid message, with a one-line reason.
    """
    return parse_object(decode_json(raw, max_bytes=max_bytes))


def parse_object(message: Mapping[str, Any]) -> Event:
    """Validate an already decoded JSON object as a protocol event."""
    kind = message.get("event")
    if not isinstance(kind, str):
        raise ProtocolError("message has no 'event' string", CLOSE_INVALID_PAYLOAD)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError(f"unknown event {_short(kind)}", CLOSE_INVALID_PAYLOAD)
    return parser(message)


def _parse_connected(message: Mapping[str, Any]) -> Connected:
    protocol = _str(message, "protocol", "connected", required=False) or "Call"
    version = _str(message, "version", "connected", required=False) or ""
    return Connected(protocol=protocol, version=version)


def _parse_media_format(start: Mapping[str, Any]) -> MediaFormat:
    fmt = _obj(start, "mediaFormat", "start")
    encoding = fmt.get("encoding")
    rate = fmt.get("sampleRate")
    channels = fmt.get("channels")
    if encoding != ENCODING:
        raise ProtocolError(
            f"unsupported encoding {_short(encoding)}: only {ENCODING} is accepted", CLOSE_UNSUPPORTED_DATA
        )
    if isinstance(rate, bool) or rate != SAMPLE_RATE:
        raise ProtocolError(
            f"unsupported sample rate {_short(rate)}: only {SAMPLE_RATE} Hz is accepted", CLOSE_UNSUPPORTED_DATA
        )
    if isinstance(channels, bool) or channels != CHANNELS:
        raise ProtocolError(
            f"unsupported channel count {_short(channels)}: only mono is accepted", CLOSE_UNSUPPORTED_DATA
        )
    return MediaFormat()


def _parse_custom_parameters(start: Mapping[str, Any]) -> dict[str, str]:
    params = start.get("customParameters", {})
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ProtocolError("start: 'customParameters' must be an object", CLOSE_INVALID_PAYLOAD)
    if len(params) > MAX_CUSTOM_PARAMETERS:
        raise ProtocolError(f"start: more than {MAX_CUSTOM_PARAMETERS} custom parameters", CLOSE_INVALID_PAYLOAD)
    out: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(value, str) or len(key) > MAX_ID_CHARS or len(value) > MAX_PARAM_CHARS:
            raise ProtocolError(
                f"start: custom parameter {_short(key)} must be a string of at most {MAX_PARAM_CHARS} characters",
                CLOSE_INVALID_PAYLOAD,
            )
        out[key] = value
    return out


def _parse_start(message: Mapping[str, Any]) -> Start:
    start = _obj(message, "start", "start")
    sid = _stream_sid(message, "start")
    inner_sid = _str(start, "streamSid", "start", required=False)
    if inner_sid is not None and inner_sid != sid:
        raise ProtocolError("start: streamSid differs from start.streamSid", CLOSE_INVALID_PAYLOAD)
    raw_tracks = start.get("tracks", ["inbound"])
    if not isinstance(raw_tracks, list) or not raw_tracks or len(raw_tracks) > len(TRACKS):
        raise ProtocolError("start: 'tracks' must be a list of 1 or 2 track names", CLOSE_INVALID_PAYLOAD)
    tracks = tuple(_track(t, "start.tracks") for t in raw_tracks)
    if len(set(tracks)) != len(tracks):
        raise ProtocolError("start: a track is listed twice", CLOSE_INVALID_PAYLOAD)
    return Start(
        stream_sid=sid,
        tracks=tracks,
        media_format=_parse_media_format(start),
        custom_parameters=_parse_custom_parameters(start),
        account_sid=_str(start, "accountSid", "start", required=False),
        call_sid=_str(start, "callSid", "start", required=False),
        sequence_number=_int(message, "sequenceNumber", "start", required=False),
    )


def decode_payload(payload: Any, *, where: str = "media") -> bytes:
    """Strictly decode a base64 mu-law payload (non-empty, canonical alphabet and padding)."""
    if not isinstance(payload, str) or not payload:
        raise ProtocolError(f"{where}: 'payload' must be a non-empty base64 string", CLOSE_INVALID_PAYLOAD)
    try:
        data = base64.b64decode(payload.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ProtocolError(f"{where}: payload is not valid base64", CLOSE_INVALID_PAYLOAD) from None
    if not data:
        raise ProtocolError(f"{where}: payload is empty", CLOSE_INVALID_PAYLOAD)
    return data


def _parse_media(message: Mapping[str, Any]) -> Media:
    media = _obj(message, "media", "media")
    return Media(
        stream_sid=_stream_sid(message, "media"),
        track=_track(media.get("track", "inbound"), "media"),
        chunk=_req_int(media, "chunk", "media"),
        timestamp_ms=_req_int(media, "timestamp", "media"),
        payload=decode_payload(media.get("payload")),
        sequence_number=_int(message, "sequenceNumber", "media", required=False),
    )


def _parse_mark(message: Mapping[str, Any]) -> Mark:
    mark = _obj(message, "mark", "mark")
    return Mark(
        stream_sid=_stream_sid(message, "mark"),
        name=_req_str(mark, "name", "mark", limit=MAX_NAME_CHARS),
        sequence_number=_int(message, "sequenceNumber", "mark", required=False),
    )


def _parse_dtmf(message: Mapping[str, Any]) -> Dtmf:
    dtmf = _obj(message, "dtmf", "dtmf")
    digit = dtmf.get("digit")
    if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ProtocolError("dtmf: 'digit' must be one of 0-9 * # A-D", CLOSE_INVALID_PAYLOAD)
    return Dtmf(
        stream_sid=_stream_sid(message, "dtmf"),
        track=_track(dtmf.get("track", "inbound"), "dtmf"),
        digit=digit,
        sequence_number=_int(message, "sequenceNumber", "dtmf", required=False),
    )


def _parse_stop(message: Mapping[str, Any]) -> Stop:
    stop = message.get("stop", {})
    if not isinstance(stop, dict):
        raise ProtocolError("stop: 'stop' must be an object", CLOSE_INVALID_PAYLOAD)
    return Stop(
        stream_sid=_stream_sid(message, "stop"),
        account_sid=_str(stop, "accountSid", "stop", required=False),
        call_sid=_str(stop, "callSid", "stop", required=False),
        sequence_number=_int(message, "sequenceNumber", "stop", required=False),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "mark": _parse_mark,
    "dtmf": _parse_dtmf,
    "stop": _parse_stop,
}


# --- the stream state machine -----------------------------------------------------------


class Phase(enum.Enum):
    """Where a stream is in its life."""

    AWAITING_CONNECTED = "awaiting connected"
    AWAITING_START = "awaiting start"
    STREAMING = "streaming"
    STOPPED = "stopped"


class StreamState:
    """One stream's order and identity checks: connected → start → media/mark/dtmf* → stop.

    Feed every message to `feed`; it returns the typed event or raises `ProtocolError`
    (and stays failed: a stream with an error is closed). Consent is checked at ``start``:
    without ``customParameters.consent == "granted"`` it raises `TelephonyConsentError`
    (close code 1008) before any audio is accepted.

    Attributes:
        phase: Where the stream is.
        start: The ``start`` event once received.
        chunks: Media chunks accepted per track.
    """

    def __init__(self, *, max_bytes: int = MAX_MESSAGE_BYTES, require_consent: bool = True) -> None:
        self.max_bytes = max_bytes
        self.require_consent = require_consent
        self.phase = Phase.AWAITING_CONNECTED
        self.start: Start | None = None
        self.chunks: dict[str, int] = {}
        self._last_chunk: dict[str, int] = {}
        self._last_timestamp: dict[str, int] = {}
        self._last_sequence: int | None = None
        self._failed: ProtocolError | None = None

    @property
    def stream_sid(self) -> str | None:
        """The stream's id once ``start`` arrived."""
        return None if self.start is None else self.start.stream_sid

    @property
    def failed(self) -> ProtocolError | None:
        """The error that ended this stream, if any."""
        return self._failed

    def feed(self, raw: str | bytes | bytearray) -> Event:
        """Parse one message and check it against the stream so far.

        Raises:
            ProtocolError: the message is invalid, out of order or refused; the stream
                must be closed with the error's ``close_code`` and ``reason``.
        """
        if self._failed is not None:
            raise self._failed
        try:
            event = parse_message(raw, max_bytes=self.max_bytes)
            self._advance(event)
        except ProtocolError as exc:
            self._failed = exc
            raise
        return event

    def _advance(self, event: Event) -> None:
        if self.phase is Phase.STOPPED:
            raise ProtocolError(f"'{_name(event)}' after stop")
        if isinstance(event, Connected):
            if self.phase is not Phase.AWAITING_CONNECTED:
                raise ProtocolError("'connected' sent twice")
            self.phase = Phase.AWAITING_START
            return
        if self.phase is Phase.AWAITING_CONNECTED:
            raise ProtocolError(f"'{_name(event)}' before 'connected'")
        if isinstance(event, Start):
            if self.phase is not Phase.AWAITING_START:
                raise ProtocolError("'start' sent twice")
            self._check_sequence(event.sequence_number)
            if self.require_consent and not event.consent:
                raise TelephonyConsentError(
                    "consent required: start.customParameters.consent must be \"granted\""
                )
            self.start = event
            self.chunks = dict.fromkeys(event.tracks, 0)
            self.phase = Phase.STREAMING
            return
        if self.phase is Phase.AWAITING_START or self.start is None:
            raise ProtocolError(f"'{_name(event)}' before 'start'")
        if event.stream_sid != self.start.stream_sid:
            raise ProtocolError(f"'{_name(event)}' for another streamSid")
        self._check_sequence(event.sequence_number)
        if isinstance(event, Media):
            self._check_media(event)
        elif isinstance(event, Stop):
            self.phase = Phase.STOPPED

    def _check_sequence(self, number: int | None) -> None:
        if number is None:
            return
        if self._last_sequence is not None and number <= self._last_sequence:
            raise ProtocolError(f"sequenceNumber {number} does not increase (last {self._last_sequence})")
        self._last_sequence = number

    def _check_media(self, media: Media) -> None:
        assert self.start is not None
        if media.track not in self.start.tracks:
            raise ProtocolError(f"media for track '{media.track}' that start did not declare")
        last_chunk = self._last_chunk.get(media.track)
        if last_chunk is not None and media.chunk <= last_chunk:
            raise ProtocolError(f"{media.track} chunk {media.chunk} does not increase (last {last_chunk})")
        last_ts = self._last_timestamp.get(media.track)
        if last_ts is not None and media.timestamp_ms < last_ts:
            raise ProtocolError(f"{media.track} timestamp goes back ({media.timestamp_ms} < {last_ts} ms)")
        self._last_chunk[media.track] = media.chunk
        self._last_timestamp[media.track] = media.timestamp_ms
        self.chunks[media.track] = self.chunks.get(media.track, 0) + 1


def _name(event: Event) -> str:
    return {
        Connected: "connected",
        Start: "start",
        Media: "media",
        Mark: "mark",
        Dtmf: "dtmf",
        Stop: "stop",
    }[type(event)]


# --- building messages (the client side, and the server's events) ----------------------


def encode_event(event: Event) -> str:
    """The JSON text of an event, as a platform would send it (inverse of `parse_message`)."""
    return json.dumps(event_to_json(event), separators=(",", ":"))


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON object of an event (sequence numbers and chunk numbers as strings, like Twilio)."""
    out: dict[str, Any] = {"event": _name(event)}
    if isinstance(event, Connected):
        out.update(protocol=event.protocol, version=event.version)
        return out
    if event.sequence_number is not None:
        out["sequenceNumber"] = str(event.sequence_number)
    out["streamSid"] = event.stream_sid
    if isinstance(event, Start):
        start: dict[str, Any] = {
            "streamSid": event.stream_sid,
            "tracks": list(event.tracks),
            "mediaFormat": {
                "encoding": event.media_format.encoding,
                "sampleRate": event.media_format.sample_rate,
                "channels": event.media_format.channels,
            },
            "customParameters": dict(event.custom_parameters),
        }
        if event.account_sid is not None:
            start["accountSid"] = event.account_sid
        if event.call_sid is not None:
            start["callSid"] = event.call_sid
        out["start"] = start
    elif isinstance(event, Media):
        out["media"] = {
            "track": event.track,
            "chunk": str(event.chunk),
            "timestamp": str(event.timestamp_ms),
            "payload": base64.b64encode(event.payload).decode("ascii"),
        }
    elif isinstance(event, Mark):
        out["mark"] = {"name": event.name}
    elif isinstance(event, Dtmf):
        out["dtmf"] = {"track": f"{event.track}_track", "digit": event.digit}
    elif isinstance(event, Stop):
        stop: dict[str, Any] = {}
        if event.account_sid is not None:
            stop["accountSid"] = event.account_sid
        if event.call_sid is not None:
            stop["callSid"] = event.call_sid
        out["stop"] = stop
    return out


STREAMFACE_EVENT = "streamface"
"""The ``event`` name of every server → client message."""


class FaceEventType(enum.StrEnum):
    """Kinds of ``streamface`` server → client messages."""

    SESSION = "session"
    """A track got its session: ``session_id``, ``whep`` (the viewer URL path)."""
    TRAITS = "traits"
    """New inferred traits: ``traits`` (the session's traits JSON with confidence)."""
    ENDED = "ended"
    """The track's session ended."""


def streamface_event(
    kind: FaceEventType,
    *,
    stream_sid: str,
    track: str,
    session_id: str,
    traits: Mapping[str, Any] | None = None,
    whep: str | None = None,
) -> str:
    """A server → client ``streamface`` message (JSON text).

    ``{"event": "streamface", "type": "session"|"traits"|"ended", "streamSid": ...,
    "track": ..., "session_id": ..., "synthetic": NOTICE, ["traits": {...}], ["whep": ...]}``
    """
    out: dict[str, Any] = {
        "event": STREAMFACE_EVENT,
        "type": kind.value,
        "streamSid": stream_sid,
        "track": track,
        "session_id": session_id,
        "synthetic": SYNTHETIC_NOTICE,
    }
    if traits is not None:
        out["traits"] = _finite(dict(traits))
    if whep is not None:
        out["whep"] = whep
    return json.dumps(out, separators=(",", ":"), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
