"""Application-level liveness of one streaming connection, whatever its keepalives say.

WebSocket pings (and ICE consent checks) prove that a socket is open, not that anyone is
speaking into it: a client that sends nothing but pings would hold a session slot
forever. `Liveness` keeps two deadlines that only the protocol itself can meet:

* the handshake: the client must finish its opening (telephony ``connected`` + ``start``,
  AudioHook ``open``) within ``handshake_s`` of the upgrade;
* audio: once open, some audio must arrive at least every ``audio_s`` seconds
  (platforms send silence, so a quiet stream is a gone one).

`Liveness.receive` reads the next WebSocket message under those deadlines and raises
`LivenessError` (with a close code and a one-line reason) when one passes; pings and
pongs, which aiohttp answers inside ``receive``, never move them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_websocket import WSMessage

from streamface.errors import StreamFaceError

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008

HANDSHAKE_TIMEOUT_S = 5.0
"""Seconds a streaming WebSocket has to finish its opening messages."""
AUDIO_TIMEOUT_S = 10.0
"""Seconds without audio after which a streaming WebSocket is closed."""


class LivenessError(StreamFaceError):
    """A liveness deadline passed: close the connection with ``close_code`` and ``reason``."""

    def __init__(self, reason: str, close_code: int) -> None:
        self.reason = reason
        self.close_code = close_code
        super().__init__(reason)


class Liveness:
    """The handshake and audio deadlines of one connection.

    Args:
        handshake_s: Seconds from creation to `opened`.
        audio_s: Seconds allowed between `heard` calls once opened.
        what: How the opening is named in the close reason (e.g. "'start'").
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        *,
        handshake_s: float = HANDSHAKE_TIMEOUT_S,
        audio_s: float = AUDIO_TIMEOUT_S,
        what: str = "the opening messages",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if handshake_s <= 0 or audio_s <= 0:
            raise ValueError("liveness timeouts must be positive")
        self.handshake_s = handshake_s
        self.audio_s = audio_s
        self._what = what
        self._clock = clock
        self._deadline = clock() + handshake_s
        self.is_open = False

    def opened(self) -> None:
        """The handshake is done; audio must follow within ``audio_s``."""
        self.is_open = True
        self._deadline = self._clock() + self.audio_s

    def heard(self) -> None:
        """Audio arrived (whether or not it was within budget): push the deadline on."""
        if self.is_open:
            self._deadline = self._clock() + self.audio_s

    def remaining(self) -> float:
        """Seconds left until the current deadline (0 once passed)."""
        return max(0.0, self._deadline - self._clock())

    def error(self) -> LivenessError:
        """The error for the deadline that is running now."""
        if self.is_open:
            return LivenessError(f"no audio for {self.audio_s:g} s", CLOSE_GOING_AWAY)
        return LivenessError(
            f"no {self._what} within {self.handshake_s:g} s", CLOSE_POLICY_VIOLATION
        )

    def check(self) -> None:
        """Raise `LivenessError` when the running deadline has passed."""
        if self.remaining() <= 0.0:
            raise self.error()

    async def receive(self, ws: web.WebSocketResponse) -> WSMessage:
        """The next message, or `LivenessError` once the running deadline passes.

        Raises:
            LivenessError: no handshake or no audio in time (pings do not count).
        """
        self.check()
        try:
            async with asyncio.timeout(self.remaining()):
                return await ws.receive()
        except TimeoutError:
            raise self.error() from None


__all__ = [
    "AUDIO_TIMEOUT_S",
    "HANDSHAKE_TIMEOUT_S",
    "Liveness",
    "LivenessError",
]
