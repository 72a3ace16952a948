"""The Genesys Cloud AudioHook Monitor protocol: messages, checks and the session state machine.

AudioHook streams a conversation's audio to a third-party server over one WebSocket per
session. The client (Genesys Cloud) sends JSON text messages and binary audio frames;
the server answers with JSON text messages. Every message shares one envelope:

client → server
    ``{"version": "2", "id": "<session uuid>", "type": "...", "seq": N, "serverseq": M,
    "position": "PT1.5S", "parameters": {...}}``
server → client
    ``{"version": "2", "id": "<session uuid>", "type": "...", "seq": N, "clientseq": M,
    "parameters": {...}}``

``seq`` counts each side's own messages from 1 with no gap; ``serverseq``/``clientseq``
acknowledge the last message received from the other side; ``position`` is how much audio
the client has sent so far (an ISO 8601 duration).

Client messages: ``open`` (the conversation, participant, the media formats offered and
``customConfig``), ``ping``, ``paused``/``resumed`` (the client paused or resumed the
stream, by itself or after the server's ``pause``/``resume``), ``update``, ``discarded``
(audio the client dropped), ``error``, and ``close``. Server messages: ``opened`` (with the
one media format chosen), ``pong``, ``pause``/``resume``, ``error`` (``code`` with HTTP
semantics and ``message``), ``disconnect`` (``reason`` ``completed``, ``unauthorized`` or
``error``, with ``info``) and ``closed``.

Audio frames are PCMU (G.711 mu-law) at 8 kHz, one byte per sample, channels interleaved
in the order of the chosen format's ``channels``: in stereo the external party (the
customer) first, which is the left channel, and the internal party (the agent) second.

StreamFace's rules on top of the protocol: a session is analysed only with the caller's
consent declared by the integration as ``customConfig.consent = "granted"`` in ``open``;
messages are declared with pydantic and checked strictly; every fault is an
`AudioHookError` that says what was wrong, the disconnect reason to send and the
WebSocket close code to end with.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from streamface.audio.mulaw import decode_mulaw
from streamface.errors import StreamFaceError
from streamface.telephony.protocol import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    clip_reason,
    decode_json,
)

VERSION = "2"
FORMAT = "PCMU"
SAMPLE_RATE = 8000
EXTERNAL = "external"
"""The customer's channel (left in stereo)."""
INTERNAL = "internal"
"""The agent's channel (right in stereo)."""
CHANNELS: tuple[str, ...] = (EXTERNAL, INTERNAL)
CONSENT_KEY = "consent"
CONSENT_GRANTED = "granted"
PROBE_CONVERSATION_ID = "00000000-0000-0000-0000-000000000000"
"""The conversation id of Genesys Cloud's connection probe: answered ``opened`` with no
media (the server wants no audio), never analysed, no consent needed."""

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest accepted text message (an ``open`` is well under 4 KiB)."""
MAX_FRAME_BYTES = 2 * SAMPLE_RATE
"""Largest accepted audio frame: one second of stereo PCMU. Genesys sends about 0.1-0.2 s."""
MAX_MEDIA_OFFERS = 8
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 1024
MAX_CUSTOM_CONFIG = 32

_DURATION = re.compile(r"^PT(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,12}(?:\.\d{1,9})?)S)?$")


class ErrorCode(enum.IntEnum):
    """AudioHook error codes (HTTP status semantics)."""

    BAD_REQUEST = 400
    REQUEST_TIMEOUT = 408
    CONFLICT = 409
    PAYLOAD_TOO_LARGE = 413
    TOO_MANY_REQUESTS = 429
    UNSUPPORTED_MEDIA = 415
    INTERNAL = 500
    UNAVAILABLE = 503


class DisconnectReason(enum.StrEnum):
    """Why the server asks the client to end the session (``disconnect.reason``)."""

    COMPLETED = "completed"
    UNAUTHORIZED = "unauthorized"
    ERROR = "error"


class AudioHookError(StreamFaceError):
    """A fault that ends the session: the server sends ``disconnect`` and closes.

    Attributes:
        info: One line that says what was wrong (``disconnect.info`` and the close reason).
        code: The AudioHook error code (HTTP semantics).
        reason: The ``disconnect`` reason to send.
        close_code: The WebSocket close code when the client does not close cleanly.
    """

    def __init__(
        self,
        info: str,
        code: ErrorCode = ErrorCode.BAD_REQUEST,
        *,
        reason: DisconnectReason = DisconnectReason.ERROR,
        close_code: int = CLOSE_PROTOCOL_ERROR,
    ) -> None:
        self.info = clip_reason(info)
        self.code = code
        self.reason = reason
        self.close_code = close_code
        super().__init__(self.info)


class ConsentRefused(AudioHookError):
    """``open`` did not carry ``customConfig.consent = "granted"``."""

    def __init__(self) -> None:
        super().__init__(
            'consent required: open.parameters.customConfig.consent must be "granted"',
            ErrorCode.BAD_REQUEST,
            reason=DisconnectReason.UNAUTHORIZED,
            close_code=CLOSE_POLICY_VIOLATION,
        )


# --- declared messages ------------------------------------------------------------------

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, strip_whitespace=False)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Seq = Annotated[int, Field(ge=0, lt=2**53)]
Channel = Literal["external", "internal"]


class _Model(BaseModel):
    # Unknown fields are ignored (the protocol grows); known ones are strictly typed.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


def _duration_s(value: str) -> float:
    match = _DURATION.match(value)
    if match is None or value == "PT":
        raise ValueError(f"not an ISO 8601 duration like PT1.5S: {value[:24]!r}")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


class Envelope(_Model):
    """The fields every client message carries."""

    version: Literal["2"]
    id: Id
    type: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    seq: Annotated[int, Field(ge=1, lt=2**53)]
    serverseq: Seq
    position: Annotated[str, StringConstraints(max_length=40)]
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def position_s(self) -> float:
        """``position`` in seconds."""
        return _duration_s(self.position)


class MediaFormat(_Model):
    """One audio format the client offers (``open.parameters.media[]``)."""

    type: Literal["audio"]
    format: Annotated[str, StringConstraints(max_length=32)]
    channels: Annotated[list[Channel], Field(min_length=1, max_length=2)]
    rate: Annotated[int, Field(gt=0, lt=1_000_000)]

    @property
    def supported(self) -> bool:
        """Whether StreamFace can take this format (PCMU 8 kHz, 1 or 2 distinct channels)."""
        return (
            self.format == FORMAT
            and self.rate == SAMPLE_RATE
            and len(set(self.channels)) == len(self.channels)
        )

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "format": self.format, "channels": list(self.channels), "rate": self.rate}


class Participant(_Model):
    """Who the session is about (``open.parameters.participant``); ids only, never stored."""

    id: Id | None = None
    ani: Text | None = None
    aniName: Text | None = None  # noqa: N815 (the wire name)
    dnis: Text | None = None


class OpenParameters(_Model):
    """``open.parameters``."""

    organizationId: Id  # noqa: N815
    conversationId: Id  # noqa: N815
    participant: Participant | None = None
    media: Annotated[list[MediaFormat], Field(max_length=MAX_MEDIA_OFFERS)]
    language: Text | None = None
    customConfig: Annotated[dict[str, Any], Field(max_length=MAX_CUSTOM_CONFIG)] = Field(  # noqa: N815
        default_factory=dict
    )

    @property
    def consent(self) -> bool:
        """Whether the integration declared the caller's consent."""
        return self.customConfig.get(CONSENT_KEY) == CONSENT_GRANTED

    @property
    def probe(self) -> bool:
        """Whether this is Genesys Cloud's connection probe (no real conversation)."""
        return self.conversationId == PROBE_CONVERSATION_ID


class CloseParameters(_Model):
    """``close.parameters``: ``end``, ``disconnect`` (after the server's), ``error``, ``reconnect``."""

    reason: Annotated[str, StringConstraints(max_length=64)] = "end"


class PingParameters(_Model):
    """``ping.parameters``: the client's last measured round trip, if any."""

    rtt: Annotated[str, StringConstraints(max_length=40)] | None = None


class UpdateParameters(_Model):
    """``update.parameters``: e.g. a new ``language``."""

    language: Text | None = None


class DiscardedParameters(_Model):
    """``discarded.parameters``: a span of audio the client could not send."""

    start: Annotated[str, StringConstraints(max_length=40)]
    discarded: Annotated[str, StringConstraints(max_length=40)]


class ErrorParameters(_Model):
    """``error.parameters`` (client → server): something the client could not accept."""

    code: Annotated[int, Field(ge=100, le=599)]
    message: Text = ""


class EmptyParameters(_Model):
    """Messages whose parameters StreamFace does not use (``paused``, ``resumed``)."""


PARAMETERS: dict[str, type[_Model]] = {
    "open": OpenParameters,
    "close": CloseParameters,
    "ping": PingParameters,
    "paused": EmptyParameters,
    "resumed": EmptyParameters,
    "update": UpdateParameters,
    "discarded": DiscardedParameters,
    "error": ErrorParameters,
}
"""Client message types and the model of each one's ``parameters``."""


@dataclass(frozen=True)
class ClientMessage:
    """A validated client message: the envelope and its typed parameters."""

    envelope: Envelope
    parameters: _Model

    @property
    def type(self) -> str:
        return self.envelope.type


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "message"
    return f"{where}: {err['msg']}"


def parse_message(raw: str | bytes | bytearray, *, max_bytes: int = MAX_MESSAGE_BYTES) -> ClientMessage:
    """Parse and validate one client text message (without regard to session order).

    Raises:
        AudioHookError: not JSON, not an AudioHook message, an unknown type or bad
            parameters (code 400; 413 when over ``max_bytes``).
    """
    try:
        obj = decode_json(raw, max_bytes=max_bytes)
    except StreamFaceError as exc:
        too_big = getattr(exc, "close_code", None) == CLOSE_MESSAGE_TOO_BIG
        raise AudioHookError(
            str(exc),
            ErrorCode.PAYLOAD_TOO_LARGE if too_big else ErrorCode.BAD_REQUEST,
            close_code=CLOSE_MESSAGE_TOO_BIG if too_big else CLOSE_INVALID_PAYLOAD,
        ) from None
    try:
        envelope = Envelope.model_validate(obj)
        envelope.position_s  # noqa: B018 (validates the duration)
    except ValidationError as exc:
        raise AudioHookError(f"bad message: {_first_error(exc)}", close_code=CLOSE_INVALID_PAYLOAD) from None
    except ValueError as exc:
        raise AudioHookError(f"bad message: position: {exc}", close_code=CLOSE_INVALID_PAYLOAD) from None
    model = PARAMETERS.get(envelope.type)
    if model is None:
        raise AudioHookError(
            f"unknown or server-only message type {envelope.type[:24]!r}", close_code=CLOSE_INVALID_PAYLOAD
        )
    try:
        params = model.model_validate(envelope.parameters)
    except ValidationError as exc:
        raise AudioHookError(f"bad {envelope.type}: {_first_error(exc)}", close_code=CLOSE_INVALID_PAYLOAD) from None
    return ClientMessage(envelope, params)


# --- the session state machine ----------------------------------------------------------


class Phase(enum.Enum):
    """Where an AudioHook session is in its life."""

    AWAITING_OPEN = "awaiting open"
    OPEN = "open"
    DISCONNECTING = "disconnecting"
    """The server sent ``disconnect``; it waits for the client's ``close``."""
    CLOSED = "closed"


@dataclass
class AudioHookState:
    """One AudioHook session's checks and server messages, free of any I/O.

    Feed client text messages to `receive` and binary frames to `audio`; build server
    messages with `opened`, `pong`, `closed`, `disconnect`, `pause` and `resume` (they
    carry the server's ``seq`` and acknowledge the last client ``seq``).

    Attributes:
        session_id: The ``Audiohook-Session-Id`` header, which every message's ``id``
            must match; None takes the first message's ``id``.
        require_consent: Refuse an ``open`` without ``customConfig.consent = "granted"``.
        phase: Where the session is.
        open: The ``open`` parameters once received.
        media: The format chosen in ``opened``.
        paused: Whether the client said the stream is paused.
    """

    session_id: str | None = None
    require_consent: bool = True
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_frame_bytes: int = MAX_FRAME_BYTES
    phase: Phase = Phase.AWAITING_OPEN
    open: OpenParameters | None = None
    media: MediaFormat | None = None
    paused: bool = False
    client_seq: int = 0
    server_seq: int = 0
    audio_bytes: int = 0
    discarded_s: float = 0.0
    log: list[str] = field(default_factory=list)

    @property
    def channels(self) -> tuple[str, ...]:
        """The chosen format's channels, in frame order ((external, internal) in stereo)."""
        return () if self.media is None else tuple(self.media.channels)

    def receive(self, raw: str | bytes | bytearray) -> ClientMessage:
        """Check one client text message against the session so far.

        Raises:
            AudioHookError: the message is invalid, out of order or refused.
        """
        message = parse_message(raw, max_bytes=self.max_message_bytes)
        env = message.envelope
        if self.session_id is None:
            self.session_id = env.id
        elif env.id != self.session_id:
            raise AudioHookError("message id is not this session's id", ErrorCode.CONFLICT)
        # After a disconnect the client's close may follow a seq fault: any later seq will do.
        resync = self.phase is Phase.DISCONNECTING and env.seq > self.client_seq
        if env.seq != self.client_seq + 1 and not resync:
            raise AudioHookError(f"seq {env.seq} where {self.client_seq + 1} was expected")
        if env.serverseq > self.server_seq:
            raise AudioHookError(
                f"serverseq {env.serverseq} acknowledges a message not sent (last {self.server_seq})"
            )
        self.client_seq = env.seq
        if self.phase is Phase.CLOSED:
            raise AudioHookError(f"{env.type!r} after closed", ErrorCode.CONFLICT)
        if env.type == "open":
            self._open(message.parameters)
        elif self.phase is Phase.AWAITING_OPEN and env.type not in ("error", "close", "ping"):
            raise AudioHookError(f"{env.type!r} before open", ErrorCode.CONFLICT)
        elif env.type == "paused":
            self.paused = True
        elif env.type == "resumed":
            self.paused = False
        elif env.type == "discarded":
            assert isinstance(message.parameters, DiscardedParameters)
            try:
                self.discarded_s += _duration_s(message.parameters.discarded)
            except ValueError as exc:
                raise AudioHookError(f"bad discarded: {exc}") from None
        elif env.type == "close":
            self.phase = Phase.CLOSED
        return message

    def _open(self, params: _Model) -> None:
        assert isinstance(params, OpenParameters)
        if self.phase is not Phase.AWAITING_OPEN:
            raise AudioHookError("'open' sent twice", ErrorCode.CONFLICT)
        self.open = params
        self.media = choose_media(params.media)
        if self.require_consent and not params.probe and not params.consent:
            raise ConsentRefused()
        self.phase = Phase.OPEN

    def audio(self, frame: bytes) -> np.ndarray | None:
        """Check and decode one binary audio frame.

        Returns:
            int16 samples shaped (channels, n) in the chosen channel order, or None when
            the stream is paused or the server is disconnecting (the frame is dropped).

        Raises:
            AudioHookError: audio before ``open``, an oversized or misaligned frame.
        """
        if self.phase is Phase.AWAITING_OPEN or self.media is None:
            raise AudioHookError("audio before open", ErrorCode.CONFLICT, close_code=CLOSE_UNSUPPORTED_DATA)
        if self.phase is not Phase.OPEN:
            if self.phase is Phase.CLOSED:
                raise AudioHookError("audio after close", ErrorCode.CONFLICT, close_code=CLOSE_UNSUPPORTED_DATA)
            return None
        size = len(frame)
        if size > self.max_frame_bytes:
            raise AudioHookError(
                f"audio frame of {size} bytes is over the {self.max_frame_bytes}-byte limit",
                ErrorCode.PAYLOAD_TOO_LARGE,
                close_code=CLOSE_MESSAGE_TOO_BIG,
            )
        channels = len(self.media.channels)
        if size == 0 or size % channels:
            raise AudioHookError(
                f"audio frame of {size} bytes does not hold whole {channels}-channel samples",
                close_code=CLOSE_INVALID_PAYLOAD,
            )
        self.audio_bytes += size
        if self.paused:
            return None
        samples = decode_mulaw(frame)
        return samples.reshape(-1, channels).T

    # --- server messages ---------------------------------------------------------------

    def server_message(self, kind: str, parameters: dict[str, Any] | None = None) -> str:
        """A server message's JSON text, with the next server ``seq``."""
        self.server_seq += 1
        return json.dumps(
            {
                "version": VERSION,
                "id": self.session_id or PROBE_CONVERSATION_ID,
                "type": kind,
                "seq": self.server_seq,
                "clientseq": self.client_seq,
                "parameters": parameters or {},
            },
            separators=(",", ":"),
        )

    def opened(self) -> str:
        """``opened`` with the chosen media format (none for a connection probe: no audio wanted)."""
        assert self.media is not None and self.open is not None
        media = [] if self.open.probe else [self.media.to_json()]
        return self.server_message("opened", {"startPaused": False, "media": media})

    def pong(self) -> str:
        return self.server_message("pong")

    def closed(self) -> str:
        self.phase = Phase.CLOSED
        return self.server_message("closed")

    def pause(self) -> str:
        """Ask the client to pause the stream (it answers ``paused``)."""
        return self.server_message("pause")

    def resume(self) -> str:
        """Ask the client to resume a pause the server asked for (it answers ``resumed``)."""
        return self.server_message("resume")

    def error(self, code: ErrorCode, message: str) -> str:
        """Report a fault (``error.parameters``: ``code`` and ``message``)."""
        return self.server_message("error", {"code": int(code), "message": clip_reason(message)})

    def disconnect(self, reason: DisconnectReason, info: str) -> str:
        """Ask the client to end the session; it answers ``close`` and gets ``closed``."""
        if self.phase is not Phase.CLOSED:
            self.phase = Phase.DISCONNECTING
        return self.server_message("disconnect", {"reason": reason.value, "info": clip_reason(info)})


def choose_media(offers: list[MediaFormat]) -> MediaFormat:
    """The format to take: PCMU 8 kHz, stereo before mono (both parties get a face).

    Raises:
        AudioHookError: none of the offers is supported (code 415).
    """
    supported = [m for m in offers if m.supported]
    if not supported:
        shown = ", ".join(f"{m.format}/{m.rate}/{len(m.channels)}ch" for m in offers[:4]) or "none"
        raise AudioHookError(
            f"unsupported media: only {FORMAT} at {SAMPLE_RATE} Hz is accepted (offered {shown})",
            ErrorCode.UNSUPPORTED_MEDIA,
            close_code=CLOSE_UNSUPPORTED_DATA,
        )
    return max(supported, key=lambda m: len(m.channels))
