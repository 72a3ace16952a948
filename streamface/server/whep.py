"""WHEP egress: any number of viewers watch a session's face.

``POST /whep/{session_id}`` with ``Content-Type: application/sdp`` and an offer with a
video m-line (recvonly) answers ``201 Created`` with the SDP answer and
``Location: /whep/{session_id}/{viewer_id}``; ``DELETE`` on that resource disconnects the
viewer. Viewers read the session's latest frame through a fan-out (`tracks.FaceFanout`):
a slow viewer never slows the caller or other viewers.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from streamface import SYNTHETIC_NOTICE
from streamface.errors import StreamFaceError
from streamface.server.auth import error_response
from streamface.server.hub import HUB, Call, Hub
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

    try:
        viewer_id, answer = await add_viewer(hub, call, offer, hub.config.ice_grace_s)
    except ViewerRefusedError as exc:
        return error_response(exc.status, exc.reason)
    log.info("session %s: viewer added; %d watching", call_id, len(call.viewers))
    return sdp_answer_response(answer, f"/whep/{call_id}/{viewer_id}", call_id)


class ViewerRefusedError(StreamFaceError):
    """A viewer was not added; ``status`` and ``reason`` are what the client is told."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


async def add_viewer(hub: Hub, call: Call, offer: str, ice_grace_s: float) -> tuple[str, str]:
    """Answer a WHEP viewer's offer on ``call``: the face goes out on a new peer.

    Serves the local route and the Ray session actor.

    Returns:
        The viewer's id and the SDP answer.

    Raises:
        ViewerRefusedError: 400 for an offer without video, 500 when negotiation fails,
            404 when the session ended meanwhile.
    """
    viewer_id = secrets.token_urlsafe(8)
    peer = Peer(lambda reason: hub.spawn(hub.end_viewer(call.id, viewer_id)), ice_grace_s=ice_grace_s)
    try:
        await peer.accept(offer)
        if "video" not in peer.kinds():
            raise BadOfferError("the SDP offer has no video m-line to send the face on")
        peer.add_face(call.live.video_track())
        answer = await peer.answer()
    except BadOfferError as exc:
        await peer.close()
        raise ViewerRefusedError(400, str(exc)) from exc
    except Exception as exc:
        log.exception("session %s: viewer negotiation failed", call.id)
        await peer.close()
        raise ViewerRefusedError(500, "WebRTC negotiation failed") from exc
    if call.live.closed:  # the session ended while we negotiated
        await peer.close()
        raise ViewerRefusedError(404, "the session has ended")
    call.viewers[viewer_id] = peer
    return viewer_id, answer


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
