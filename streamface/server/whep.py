"""WHEP egress: any number of viewers watch a session's face.

``POST /whep/{session_id}`` with ``Content-Type: application/sdp`` and an offer with a
video m-line (recvonly) answers ``201 Created`` with the SDP answer and
``Location: /whep/{session_id}/{viewer_id}``; ``DELETE`` on that resource disconnects the
viewer. Viewers read the session's latest frame through a relay: a slow viewer never
slows the caller or other viewers.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from streamface import SYNTHETIC_NOTICE
from streamface.server.auth import error_response
from streamface.server.hub import HUB, Hub
from streamface.server.peer import BadOfferError, Peer
from streamface.server.sdp import check_sdp_type, read_offer, sdp_answer_response

log = logging.getLogger(__name__)


async def post_whep(request: web.Request) -> web.StreamResponse:
    """Add a viewer to a session."""
    hub: Hub = request.app[HUB]
    call_id = request.match_info["session_id"]
    wrong_type = check_sdp_type(request)
    if wrong_type is not None:
        return wrong_type
    call = hub.get(call_id)
    if call is None:
        return error_response(404, "no such session")
    if len(call.viewers) >= hub.config.max_viewers:
        return error_response(
            503, f"this session has its limit of {hub.config.max_viewers} viewers"
        )
    offer = await read_offer(request)
    if isinstance(offer, web.Response):
        return offer

    viewer_id = secrets.token_urlsafe(8)

    def gone(reason: str) -> None:
        hub.spawn(hub.end_viewer(call_id, viewer_id))

    peer = Peer(gone, ice_grace_s=hub.config.ice_grace_s)
    try:
        await peer.accept(offer)
        if "video" not in peer.kinds():
            raise BadOfferError("the SDP offer has no video m-line to send the face on")
        peer.pc.addTrack(call.live.video_track())
        answer = await peer.answer()
    except BadOfferError as exc:
        await peer.close()
        return error_response(400, str(exc))
    except Exception:
        log.exception("session %s: viewer negotiation failed", call_id)
        await peer.close()
        return error_response(500, "WebRTC negotiation failed")
    if call.live.closed:  # the session ended while we negotiated
        await peer.close()
        return error_response(404, "the session has ended")
    call.viewers[viewer_id] = peer
    log.info("session %s: viewer added; %d watching", call_id, len(call.viewers))
    return sdp_answer_response(answer, f"/whep/{call_id}/{viewer_id}", call_id)


async def delete_whep(request: web.Request) -> web.StreamResponse:
    """Disconnect a viewer."""
    hub: Hub = request.app[HUB]
    call_id = request.match_info["session_id"]
    viewer_id = request.match_info["viewer_id"]
    if not await hub.end_viewer(call_id, viewer_id):
        return error_response(404, "no such viewer")
    return web.json_response({"ended": viewer_id, "synthetic": True, "notice": SYNTHETIC_NOTICE})


def add_routes(app: web.Application) -> None:
    """Register the WHEP endpoints."""
    app.router.add_post("/whep/{session_id}", post_whep)
    app.router.add_delete("/whep/{session_id}/{viewer_id}", delete_whep)
