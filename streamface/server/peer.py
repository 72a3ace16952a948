"""`Peer`: one aiortc `RTCPeerConnection` with an SDP offer/answer and a liveness watch.

A peer is gone when its connection state becomes "failed" or "closed", or when ICE stays
"disconnected" for longer than a grace period. The owner learns it through ``on_gone``
(called once, on the loop) and closes what it owns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiortc import (
    RTCConfiguration,
    RTCIceTransport,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from streamface.server.encoder import use_face_encoder

log = logging.getLogger(__name__)

# connect() resumes within one 20 ms pacing sleep; this bounds the wait on a stalled loop.
LATE_CONSENT_WAIT_S = 5.0


class BadOfferError(ValueError):
    """The SDP offer cannot be used; the message says why (HTTP 400)."""


class Peer:
    """A peer connection that reports when the far end has gone.

    Args:
        on_gone: Called once with a reason when the peer failed, closed or vanished.
        ice_grace_s: How long ICE may stay "disconnected" before the peer counts as gone.
    """

    def __init__(self, on_gone: Callable[[str], None], *, ice_grace_s: float = 4.0) -> None:
        # Loopback and LAN only: no STUN/TURN servers are contacted.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._on_gone = on_gone
        self._ice_grace_s = ice_grace_s
        self._grace: asyncio.TimerHandle | None = None
        self._gone = False
        self.pc.on("connectionstatechange", self._connection_changed)
        self.pc.on("iceconnectionstatechange", self._ice_changed)

    async def accept(self, offer_sdp: str) -> None:
        """Set the remote offer.

        Raises:
            BadOfferError: the text is not a usable SDP offer.
        """
        if not offer_sdp.lstrip().startswith("v=0"):
            raise BadOfferError("the body is not an SDP offer (it must start with 'v=0')")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc raises several types for malformed SDP
            # The parser's own message stays in the log: it is internal detail, not for clients.
            log.info("unusable SDP offer: %s: %s", type(exc).__name__, exc)
            raise BadOfferError(
                "unusable SDP offer: it could not be parsed as a WebRTC offer"
            ) from exc
        if not self.pc.getTransceivers() and not self.pc.sctp:
            raise BadOfferError("the SDP offer has no media")

    def add_face(self, track: MediaStreamTrack) -> RTCRtpSender:
        """Send the face on this peer, encoded with `encoder.FaceVp8Encoder` (VP8).

        A track that can hand encoded packets (``use_packets``, a `tracks.FaceFeed`) is
        told to once VP8 is negotiated.
        """
        sender = self.pc.addTrack(track)
        use_face_encoder(sender, getattr(track, "use_packets", None))
        return sender

    def kinds(self) -> set[str]:
        """Media kinds the remote offer has m-lines for."""
        return {t.kind for t in self.pc.getTransceivers()}

    async def answer(self) -> str:
        """Create the answer, gather all ICE candidates (no trickle) and return its SDP."""
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def _connection_changed(self) -> None:
        state = self.pc.connectionState
        if state in ("failed", "closed"):
            self._report(f"connection {state}")

    def _ice_changed(self) -> None:
        state = self.pc.iceConnectionState
        if state == "disconnected":
            if self._grace is None:
                loop = asyncio.get_running_loop()
                self._grace = loop.call_later(self._ice_grace_s, self._report, "ICE disconnected")
            return
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if state in ("failed", "closed"):
            self._report(f"ICE {state}")

    def _report(self, reason: str) -> None:
        if self._gone:
            return
        self._gone = True
        log.info("peer gone: %s", reason)
        self._on_gone(reason)

    async def close(self) -> None:
        """Close the connection (idempotent); ``on_gone`` is not called for this."""
        self._gone = True
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        await close_peer_connection(self.pc)


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """Close ``pc`` without leaking aioice's consent checks (see `_completed_before_consent`)."""
    # ICE that completed just now may not have started its consent checks yet
    racing = _completed_before_consent(pc)
    await pc.close()
    if racing:
        await _stop_late_consent_checks(racing)


def _completed_before_consent(pc: RTCPeerConnection) -> list[RTCIceTransport]:
    """ICE transports whose check list completed but whose consent checks have not begun.

    aioice 0.13 race: ``connect()`` paces its checks with 20 ms sleeps and reads the check
    list's result after the next one. A close inside that window leaves ``connect()`` to
    resume later and start the consent-freshness task on the closed connection, where it
    runs until the process exits (one leaked task and connection per race).
    """
    transports = [t.receiver.transport.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport.transport)
    unique = {id(t): t for t in transports}  # bundled: shared
    return [
        t
        for t in unique.values()
        if t._connection._check_list_done
        and t._connection._nominated
        and t._connection._query_consent_task is None
    ]


async def _stop_late_consent_checks(transports: list[RTCIceTransport]) -> None:
    """Wait for each racing ``connect()`` to return, then cancel the consent task it began.

    ``RTCIceTransport.start`` sets its private start event once ``connect()`` returns,
    whatever the outcome, so this waits exactly as long as the race lasts.
    """
    for transport in transports:
        started: asyncio.Event | None = getattr(transport, "_RTCIceTransport__start", None)
        if started is not None:
            try:
                await asyncio.wait_for(started.wait(), LATE_CONSENT_WAIT_S)
            except TimeoutError:
                log.warning("ICE connect() did not return %.0f s after close", LATE_CONSENT_WAIT_S)
        task = transport._connection._query_consent_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
