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

Each message's shape is declared as a pydantic model (`StartMessage`, `MediaMessage`, ...);
`parse_message` validates one message against it and returns a typed event, or raises
`ProtocolError`;
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
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)

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


# --- declared messages ------------------------------------------------------------------
#
# Each event's wire shape is a pydantic model; `_reason` turns pydantic's first error into
# the one-line reason a stream is closed with. Checks that need a specific reason or close
# code (media format, payload, repeated tracks) raise `ProtocolError` from their validator,
# which pydantic lets through unchanged.


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _count(value: Any) -> int:
    """A non-negative integer, given as a JSON number or a decimal string (Twilio sends strings)."""
    if isinstance(value, bool):
        raise ValueError("not a count")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= 18 and value.isascii() and value.isdecimal():
        number = int(value)
    else:
        raise ValueError("not a count")
    if number < 0 or number >= 2**63:
        raise ValueError("not a count")
    return number


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value


def _track_name(value: Any) -> str:
    # Twilio names tracks "inbound"/"outbound" in start.tracks and media.track, and
    # "inbound_track" in some events; both spellings are one track.
    if isinstance(value, str):
        name = value.removesuffix("_track")
        if name in TRACKS:
            return name
    raise ValueError("not a track")


def _none_is_empty(value: Any) -> Any:
    return {} if value is None else value


Count = Annotated[int, BeforeValidator(_count)]
Sid = Annotated[str, StringConstraints(max_length=MAX_ID_CHARS), AfterValidator(_non_blank)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(_non_blank)]
Track = Annotated[str, BeforeValidator(_track_name)]
Payload = Annotated[bytes, PlainValidator(lambda value: decode_payload(value))]
CustomParameters = Annotated[
    dict[
        Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)],
        Annotated[str, StringConstraints(max_length=MAX_PARAM_CHARS)],
    ],
    BeforeValidator(_none_is_empty),
    Field(max_length=MAX_CUSTOM_PARAMETERS),
]


class _Wire(BaseModel):
    # Unknown fields are ignored (platforms add their own); known ones are strictly typed.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class ConnectedMessage(_Wire):
    """``{"event": "connected", "protocol": ..., "version": ...}``."""

    protocol: Sid | None = None
    version: Sid | None = None


class MediaFormatBody(_Wire):
    """``start.mediaFormat``: only 8 kHz mono mu-law is accepted."""

    encoding: Literal["audio/x-mulaw"]
    sampleRate: Annotated[int, Field(ge=SAMPLE_RATE, le=SAMPLE_RATE)]  # noqa: N815 (wire names)
    channels: Annotated[int, Field(ge=CHANNELS, le=CHANNELS)]


class StartBody(_Wire):
    """``start.start``."""

    streamSid: Sid | None = None  # noqa: N815
    tracks: Annotated[list[Track], Field(min_length=1, max_length=len(TRACKS))] = ["inbound"]  # noqa: RUF012
    mediaFormat: MediaFormatBody  # noqa: N815
    customParameters: CustomParameters = {}  # noqa: N815, RUF012
    accountSid: Sid | None = None  # noqa: N815
    callSid: Sid | None = None  # noqa: N815

    @model_validator(mode="after")
    def _tracks_once(self) -> StartBody:
        if len(set(self.tracks)) != len(self.tracks):
            raise ProtocolError("start: a track is listed twice", CLOSE_INVALID_PAYLOAD)
        return self


class StartMessage(_Wire):
    """``{"event": "start", "streamSid": ..., "start": {...}, "sequenceNumber": ...}``."""

    start: StartBody
    streamSid: Sid  # noqa: N815
    sequenceNumber: Count | None = None  # noqa: N815

    @model_validator(mode="after")
    def _same_sid(self) -> StartMessage:
        if self.start.streamSid is not None and self.start.streamSid != self.streamSid:
            raise ProtocolError("start: streamSid differs from start.streamSid", CLOSE_INVALID_PAYLOAD)
        return self


class MediaBody(_Wire):
    """``media.media``."""

    track: Track = "inbound"
    chunk: Count
    timestamp: Count
    payload: Payload


class MediaMessage(_Wire):
    media: MediaBody
    streamSid: Sid  # noqa: N815
    sequenceNumber: Count | None = None  # noqa: N815


class MarkBody(_Wire):
    name: Name


class MarkMessage(_Wire):
    mark: MarkBody
    streamSid: Sid  # noqa: N815
    sequenceNumber: Count | None = None  # noqa: N815


class DtmfBody(_Wire):
    track: Track = "inbound"
    digit: Annotated[str, StringConstraints(pattern=r"^[0-9*#A-D]$")]


class DtmfMessage(_Wire):
    dtmf: DtmfBody
    streamSid: Sid  # noqa: N815
    sequenceNumber: Count | None = None  # noqa: N815


class StopBody(_Wire):
    accountSid: Sid | None = None  # noqa: N815
    callSid: Sid | None = None  # noqa: N815


class StopMessage(_Wire):
    stop: StopBody = StopBody()
    streamSid: Sid  # noqa: N815
    sequenceNumber: Count | None = None  # noqa: N815


_OBJECTS = frozenset({"start", "media", "mark", "dtmf", "stop", "mediaFormat"})
_COUNTS = frozenset({"sequenceNumber", "chunk", "timestamp"})
_STRING_LIMITS = {"name": MAX_NAME_CHARS}


def _reason(where: str, error: Mapping[str, Any]) -> ProtocolError:
    """The `ProtocolError` for pydantic's first error in a ``where`` event."""
    loc = [part for part in error["loc"] if isinstance(part, str | int)]
    names = [part for part in loc if isinstance(part, str)]
    value = None if error["type"] == "missing" else error.get("input")
    if "customParameters" in names:
        rest = loc[loc.index("customParameters") + 1 :]
        if rest:
            return ProtocolError(
                f"start: custom parameter {_short(rest[0])} must be a string of at most {MAX_PARAM_CHARS} characters",
                CLOSE_INVALID_PAYLOAD,
            )
        if error["type"] == "too_long":
            return ProtocolError(f"start: more than {MAX_CUSTOM_PARAMETERS} custom parameters", CLOSE_INVALID_PAYLOAD)
        return ProtocolError("start: 'customParameters' must be an object", CLOSE_INVALID_PAYLOAD)
    if names and names[-1] == "tracks" and loc[-1] == "tracks":
        return ProtocolError("start: 'tracks' must be a list of 1 or 2 track names", CLOSE_INVALID_PAYLOAD)
    key = names[-1] if names else ""
    if key == "tracks" or key == "track":
        return ProtocolError(
            f"{'start.tracks' if key == 'tracks' else where}: track must be one of {', '.join(TRACKS)}, "
            f"got {_short(value)}",
            CLOSE_INVALID_PAYLOAD,
        )
    if key == "encoding":
        return ProtocolError(
            f"unsupported encoding {_short(value)}: only {ENCODING} is accepted", CLOSE_UNSUPPORTED_DATA
        )
    if key == "sampleRate":
        return ProtocolError(
            f"unsupported sample rate {_short(value)}: only {SAMPLE_RATE} Hz is accepted", CLOSE_UNSUPPORTED_DATA
        )
    if key == "channels":
        return ProtocolError(
            f"unsupported channel count {_short(value)}: only mono is accepted", CLOSE_UNSUPPORTED_DATA
        )
    if key == "payload":  # only a missing payload gets here; the validator reports the rest
        return ProtocolError(f"{where}: 'payload' must be a non-empty base64 string", CLOSE_INVALID_PAYLOAD)
    if key == "digit":
        return ProtocolError("dtmf: 'digit' must be one of 0-9 * # A-D", CLOSE_INVALID_PAYLOAD)
    if key in _OBJECTS and loc[-1] == key:
        return ProtocolError(f"{where}: '{key}' must be an object", CLOSE_INVALID_PAYLOAD)
    if key in _COUNTS:
        return ProtocolError(f"{where}: '{key}' must be a non-negative integer", CLOSE_INVALID_PAYLOAD)
    if error["type"] == "string_too_long":
        limit = _STRING_LIMITS.get(key, MAX_ID_CHARS)
        return ProtocolError(f"{where}: '{key}' is longer than {limit} characters", CLOSE_INVALID_PAYLOAD)
    return ProtocolError(f"{where}: '{key}' must be a non-empty string", CLOSE_INVALID_PAYLOAD)


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
    entry = _MESSAGES.get(kind)
    if entry is None:
        raise ProtocolError(f"unknown event {_short(kind)}", CLOSE_INVALID_PAYLOAD)
    model, convert = entry
    try:
        wire = model.model_validate(message)
    except ValidationError as exc:
        raise _reason(kind, exc.errors(include_url=False)[0]) from None
    return convert(wire)


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


def _connected(w: Any) -> Event:
    return Connected(protocol=w.protocol or "Call", version=w.version or "")


def _start(w: Any) -> Event:
    return Start(
        stream_sid=w.streamSid,
        tracks=tuple(w.start.tracks),
        media_format=MediaFormat(),
        custom_parameters=dict(w.start.customParameters),
        account_sid=w.start.accountSid,
        call_sid=w.start.callSid,
        sequence_number=w.sequenceNumber,
    )


def _media(w: Any) -> Event:
    m = w.media
    return Media(w.streamSid, m.track, m.chunk, m.timestamp, m.payload, w.sequenceNumber)


def _mark(w: Any) -> Event:
    return Mark(w.streamSid, w.mark.name, w.sequenceNumber)


def _dtmf(w: Any) -> Event:
    return Dtmf(w.streamSid, w.dtmf.track, w.dtmf.digit, w.sequenceNumber)


def _stop(w: Any) -> Event:
    return Stop(w.streamSid, w.stop.accountSid, w.stop.callSid, w.sequenceNumber)


_MESSAGES: dict[str, tuple[type[_Wire], Callable[[Any], Event]]] = {
    "connected": (ConnectedMessage, _connected),
    "start": (StartMessage, _start),
    "media": (MediaMessage, _media),
    "mark": (MarkMessage, _mark),
    "dtmf": (DtmfMessage, _dtmf),
    "stop": (StopMessage, _stop),
}
"""Each event's declared message and how it becomes the typed event."""


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
