"""Telephony media streams: phone platforms send a call's audio over a WebSocket.

`protocol` parses and checks the Twilio-style JSON messages (connected, start, media,
mark, stop); the server's ``/media-stream`` endpoint (`streamface.server.telephony`) turns
each track of a call into its own session. `audiohook` does the same for Genesys Cloud
AudioHook (``/audiohook``, `streamface.server.audiohook`), with `signature` verifying its
RFC 9421 HTTP message signatures. Messages of both are declared with pydantic.
"""

from streamface.telephony.protocol import (
    Connected,
    Dtmf,
    Event,
    FaceEventType,
    Mark,
    Media,
    MediaFormat,
    ProtocolError,
    Start,
    Stop,
    StreamState,
    TelephonyConsentError,
    encode_event,
    parse_message,
    streamface_event,
)

__all__ = [
    "Connected",
    "Dtmf",
    "Event",
    "FaceEventType",
    "Mark",
    "Media",
    "MediaFormat",
    "ProtocolError",
    "Start",
    "Stop",
    "StreamState",
    "TelephonyConsentError",
    "encode_event",
    "parse_message",
    "streamface_event",
]
