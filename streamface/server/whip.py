"""WHIP ingest (RFC 9725): a caller's audio in, the caller's face back on the same peer.

``POST /whip?consent=true`` with ``Content-Type: application/sdp`` and an SDP offer that
has one audio m-line (and, to get the face back, one video m-line: recvonly or sendrecv)
answers ``201 Created`` with the SDP answer and ``Location: /whip/{id}``. ICE is not
trickled: the answer carries every candidate. ``DELETE /whip/{id}`` ends the session.

Face and trait updates reach the caller as JSON text messages on a data channel the
client opens with the label ``events`` (or over ``/sessions/{id}/events``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiortc import RTCDataChannel
from aiortc.mediastreams import MediaStreamTrack

from streamface import SYNTHETIC_NOTICE
from streamface.face.identity import MAX_LOOK, parse_look
from streamface.server.auth import CONSENT_HEADER, consent_given, error_response
from streamface.server.hub import HUB, Call, Hub, HubFullError
from streamface.server.peer import BadOfferError, Peer
from streamface.server.sdp import check_sdp_type, read_offer, sdp_answer_response

log = logging.getLogger(__name__)

EVENTS_LABEL = "events"
_CHANNEL_HIGH_WATER = 256 * 1024  # bytes queued on a data channel before events are dropped


async def post_whip(request: web.Request) -> web.StreamResponse:
    """Create a session from a WHIP offer."""
    hub: Hub = request.app[HUB]
    refused = refuse_whip_request(request)
    if refused is not None:
        return refused
    look = parse_look(request.query["look"]) if "look" in request.query else -1
    if look is None:
        return error_response(400, f"look must be a whole number from 0 to {MAX_LOOK}")
    offer = await read_offer(request)
    if isinstance(offer, web.Response):
        return offer
    try:
        call = hub.create("webrtc")
        if look >= 0:  # before the first face this only records the seed
            call.live.session.set_look(look)
    except HubFullError as exc:
        return error_response(503, str(exc))
    except Exception:
        log.exception("could not create a session")
        return error_response(500, "could not create a session")

    try:
        answer, audio = await negotiate_caller(hub, call, offer, hub.config.ice_grace_s)
    except BadOfferError as exc:
        await hub.end(call.id, "bad offer")
        return error_response(400, str(exc))
    except Exception:
        log.exception("session %s: negotiation failed", call.id)
        await hub.end(call.id, "negotiation failed")
        return error_response(500, "WebRTC negotiation failed")
    for track in audio:
        call.live.start_audio(track)
    location = f"/whip/{call.id}"
    return sdp_answer_response(answer, location, call.id)


def refuse_whip_request(request: web.Request) -> web.Response | None:
    """The answer to a WHIP POST that may not start a session (wrong type, no consent)."""
    wrong_type = check_sdp_type(request)
    if wrong_type is not None:
        return wrong_type
    if not consent_given(request):
        return error_response(
            403,
            "consent required: the speaker must agree before any audio is analysed "
            f"(send ?consent=true or the header '{CONSENT_HEADER}: true')",
        )
    return None


async def negotiate_caller(
    hub: Hub, call: Call, offer: str, ice_grace_s: float
) -> tuple[str, list[MediaStreamTrack]]:
    """Accept a WHIP caller's offer on ``call``: its audio in, the face back on the same peer.

    Returns:
        The SDP answer and the caller's audio tracks (the caller starts them once answered).

    Raises:
        BadOfferError: the offer is unusable (no audio, more than one track of a kind).
    """
    peer = Peer(lambda reason: hub.end_soon(call.id, reason), ice_grace_s=ice_grace_s)
    call.caller = peer
    audio: list[MediaStreamTrack] = []
    peer.pc.on("track", lambda track: audio.append(track) if track.kind == "audio" else None)
    peer.pc.on("datachannel", lambda channel: _attach_events(call, channel))
    await peer.accept(offer)
    if "audio" not in peer.kinds() or not audio:
        raise BadOfferError("the SDP offer has no audio to ingest (WHIP needs an audio m-line)")
    _check_one_per_kind(peer)
    if "video" in peer.kinds():
        peer.add_face(call.live.video_track())
    return await peer.answer(), audio


def _check_one_per_kind(peer: Peer) -> None:
    """One speaker, one face: more than one audio or video m-line is refused (400)."""
    for kind in ("audio", "video"):
        count = sum(1 for t in peer.pc.getTransceivers() if t.kind == kind)
        if count > 1:
            raise BadOfferError(
                f"the SDP offer has {count} {kind} m-lines; a WHIP session takes one "
                f"{kind} m-line (one speaker, one face)"
            )


async def delete_whip(request: web.Request) -> web.StreamResponse:
    """End a WHIP session (the caller hung up)."""
    hub: Hub = request.app[HUB]
    call_id = request.match_info["session_id"]
    if not await hub.end(call_id, "caller hung up"):
        return error_response(404, "no such session")
    return web.json_response({"ended": call_id, "synthetic": True, "notice": SYNTHETIC_NOTICE})


def _attach_events(call: Call, channel: RTCDataChannel) -> None:
    if channel.label != EVENTS_LABEL:
        return

    def send(event: dict[str, Any]) -> None:
        if channel.readyState != "open":
            return
        if channel.bufferedAmount > _CHANNEL_HIGH_WATER:
            return  # the caller is not reading: drop, never buffer without bound
        channel.send(json.dumps(event, separators=(",", ":")))

    call.live.add_listener(send)
    channel.on("close", lambda: call.live.remove_listener(send))


def add_routes(app: web.Application) -> None:
    """Register the WHIP endpoints."""
    app.router.add_post("/whip", post_whip)
    app.router.add_delete("/whip/{session_id}", delete_whip)
