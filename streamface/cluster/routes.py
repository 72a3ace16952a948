"""WHIP and WHEP on a Ray front door: the signalling is forwarded to the owning actor.

The endpoints, their checks and their answers are those of `streamface.server.whip` and
`streamface.server.whep`; only who answers the offer differs. The SDP answer comes from
the aiortc peer inside the session's `SessionActor`, so its ICE candidates are those of
the node that runs the session and the media flows there, not through the front door.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from ray.exceptions import GetTimeoutError, RayActorError

from streamface import SYNTHETIC_NOTICE
from streamface.cluster.hub import RayHub
from streamface.face.identity import MAX_LOOK, parse_look
from streamface.server import whip
from streamface.server.auth import error_response
from streamface.server.hub import HUB, HubFullError, SessionEndedError
from streamface.server.sdp import check_sdp_type, read_offer, sdp_answer_response

log = logging.getLogger(__name__)

SIGNALLING_TIMEOUT_S = 30.0
"""Longest wait for an actor to answer an offer (ICE gathering included)."""


def _hub(request: web.Request) -> RayHub:
    hub = request.app[HUB]
    assert isinstance(hub, RayHub)
    return hub


async def post_whip(request: web.Request) -> web.StreamResponse:
    """Create a session on a node with capacity from a WHIP offer; its actor answers."""
    hub = _hub(request)
    refused = whip.refuse_whip_request(request)
    if refused is not None:
        return refused
    look = parse_look(request.query["look"]) if "look" in request.query else -1
    if look is None:
        return error_response(400, f"look must be a whole number from 0 to {MAX_LOOK}")
    offer = await read_offer(request)
    if isinstance(offer, web.Response):
        return offer
    try:
        call = await hub.open("webrtc")
    except HubFullError as exc:
        return error_response(503, str(exc))
    except Exception:
        log.exception("could not create a session")
        return error_response(500, "could not create a session")
    remote = hub.remote(call.id)
    assert remote is not None
    try:
        if look >= 0:
            await hub.set_look(call, look)
        reply: dict[str, Any] = await asyncio.wait_for(remote.actor.whip.remote(offer), SIGNALLING_TIMEOUT_S)
    except (TimeoutError, GetTimeoutError, RayActorError, SessionEndedError):
        log.exception("session %s: its actor did not answer the offer", call.id)
        await hub.end(call.id, "negotiation failed")
        return error_response(500, "WebRTC negotiation failed")
    if reply["status"] != 201:
        await hub.end(call.id, "bad offer")
        return error_response(reply["status"], reply["error"])
    return sdp_answer_response(reply["answer"], f"/whip/{call.id}", call.id)


async def post_whep(request: web.Request) -> web.StreamResponse:
    """Add a viewer to a session on any node; the node that runs it answers."""
    hub = _hub(request)
    call_id = request.match_info["session_id"]
    wrong_type = check_sdp_type(request)
    if wrong_type is not None:
        return wrong_type
    remote = hub.remote(call_id)
    if remote is None:
        return error_response(404, "no such session")
    offer = await read_offer(request)
    if isinstance(offer, web.Response):
        return offer
    try:
        reply: dict[str, Any] = await asyncio.wait_for(remote.actor.whep.remote(offer), SIGNALLING_TIMEOUT_S)
    except (TimeoutError, GetTimeoutError, RayActorError):
        log.exception("session %s: its actor did not answer the viewer's offer", call_id)
        return error_response(500, "WebRTC negotiation failed")
    if reply["status"] != 201:
        return error_response(reply["status"], reply["error"])
    return sdp_answer_response(reply["answer"], f"/whep/{call_id}/{reply['viewer']}", call_id)


async def delete_whep(request: web.Request) -> web.StreamResponse:
    """Disconnect a viewer (on the session's node)."""
    hub = _hub(request)
    viewer_id = request.match_info["viewer_id"]
    if not await hub.end_viewer(request.match_info["session_id"], viewer_id):
        return error_response(404, "no such viewer")
    return web.json_response({"ended": viewer_id, "synthetic": True, "notice": SYNTHETIC_NOTICE})


def add_routes(app: web.Application) -> None:
    """Register WHIP and WHEP forwarded to session actors (``create_app(media_routes=)``)."""
    app.router.add_post("/whip", post_whip)
    app.router.add_delete("/whip/{session_id}", whip.delete_whip)
    app.router.add_post("/whep/{session_id}", post_whep)
    app.router.add_delete("/whep/{session_id}/{viewer_id}", delete_whep)
