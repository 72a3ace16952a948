"""HTTP framing shared by WHIP and WHEP: reading an SDP offer, answering with SDP."""

from __future__ import annotations

from aiohttp import web

from streamface.server.auth import error_response

SDP_TYPE = "application/sdp"


def check_sdp_type(request: web.Request) -> web.Response | None:
    """415 unless the request body is declared as ``application/sdp``; None when it is."""
    if request.content_type != SDP_TYPE:
        return error_response(
            415,
            f"the offer must be sent with Content-Type: {SDP_TYPE}, not {request.content_type!r}",
        )
    return None


async def read_offer(request: web.Request) -> str | web.Response:
    """The SDP offer text, or an error response (bad encoding, empty body)."""
    body = await request.read()  # over the size limit: 413 (see auth.security_middleware)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, "the SDP offer is not UTF-8 text")
    if not text.strip():
        return error_response(400, "empty SDP offer")
    return text


def sdp_answer_response(answer: str, location: str, session_id: str) -> web.Response:
    """``201 Created`` with the SDP answer and the resource's ``Location``."""
    return web.Response(
        status=201,
        body=answer.encode("utf-8"),
        content_type=SDP_TYPE,
        headers={
            "Location": location,
            "X-StreamFace-Session": session_id,
        },
    )
