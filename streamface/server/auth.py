"""Access control and disclosure for the live server.

* Loopback by default. Binding to any other address needs a token (``--token`` or the
  ``STREAMFACE_TOKEN`` environment variable); every API request must then carry
  ``Authorization: Bearer <token>`` (the WHIP/WHEP convention), compared in constant time.
  The web client's own files and ``/healthz`` stay readable without it. Telephony
  streams may instead carry it in-band, as ``start.customParameters.token``.
* Request bodies are capped (``client_max_size``, 413 above it); WebSocket messages too.
* Cross-origin requests are refused (403) unless their origin is in ``allow_origins``.
* Consent: a session is created only when the client says the speaker agreed, with the
  query parameter ``consent=true`` or the header ``StreamFace-Consent: true``.
* Every response says the video is synthetic (header ``X-StreamFace-Synthetic``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from aiohttp import web
from aiohttp.typedefs import Middleware

from streamface import SYNTHETIC_NOTICE
from streamface.errors import StreamFaceError

log = logging.getLogger(__name__)

TOKEN_ENV = "STREAMFACE_TOKEN"
SYNTHETIC_HEADER = "X-StreamFace-Synthetic"
CONSENT_HEADER = "StreamFace-Consent"
CONSENT_PARAM = "consent"
_CONSENT_YES = frozenset({"true", "1", "yes", "granted"})

# Paths anyone may read: the web client (it asks for the token itself) and the health probe.
_PUBLIC_PREFIXES = ("/static/",)
_PUBLIC_PATHS = frozenset({"/", "/index.html", "/healthz", "/favicon.ico"})
# Paths whose clients may prove the token inside the stream instead of a header: phone
# platforms cannot add headers to their WebSocket upgrade (see `streamface.server.telephony`).
# ``/audiohook`` authenticates its clients itself (X-API-KEY and a signature, or the bearer
# token when no AudioHook key is set; see `streamface.server.audiohook`).
IN_BAND_TOKEN_PATHS = frozenset({"/media-stream", "/audiohook"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ServerConfig:
    """How the live server listens and whom it lets in.

    Attributes:
        host: Address to bind. Anything but loopback needs ``token``.
        port: TCP port; 0 picks a free one.
        token: Bearer token required on API requests; None on loopback means open.
        allow_origins: Origins (``scheme://host:port``) allowed to call cross-origin.
        max_body_bytes: Largest accepted request body (SDP offers are a few KiB).
        max_ws_message_bytes: Largest accepted WebSocket message.
        max_sessions: Live sessions at most; more are refused with 503.
        max_viewers: WHEP viewers per session at most.
        ice_grace_s: How long an ICE "disconnected" peer may stay before its session ends.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    allow_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    max_ws_message_bytes: int = 64 * 1024
    max_sessions: int = 16
    max_viewers: int = 16
    ice_grace_s: float = 4.0

    def with_env_token(self) -> ServerConfig:
        """This config with its token falling back to ``$STREAMFACE_TOKEN``."""
        return replace(self, token=self.token or os.environ.get(TOKEN_ENV) or None)

    def validate(self) -> None:
        """Refuse to start on a non-loopback address without a token.

        Raises:
            StreamFaceError: the bind address is reachable from other machines and no
                token is set.
        """
        if self.token is not None and len(self.token) < 8:
            raise StreamFaceError("the token is too short: use at least 8 characters")
        if not is_loopback(self.host) and not self.token:
            raise StreamFaceError(
                f"binding to {self.host} exposes the server beyond this machine: "
                f"set a token with --token or {TOKEN_ENV} (clients then send "
                "'Authorization: Bearer <token>')"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or the name ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve anywhere


def consent_given(request: web.Request) -> bool:
    """Whether the request states the speaker's consent (query or header)."""
    value = request.query.get(CONSENT_PARAM) or request.headers.get(CONSENT_HEADER) or ""
    return value.strip().lower() in _CONSENT_YES


def bearer_ok(request: web.Request, token: str) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return token_ok(given.strip(), token)


def token_ok(given: str, token: str) -> bool:
    """Constant-time comparison of a presented token with the server's."""
    return hmac.compare_digest(given.encode(), token.encode())


def _is_public(request: web.Request) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    path = request.path
    return path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES)


def _same_origin(request: web.Request, origin: str) -> bool:
    return origin == f"{request.scheme}://{request.host}"


def security_middleware(config: ServerConfig) -> Middleware:
    """Build the middleware that applies CORS, body limits and bearer auth."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        cross = origin is not None and not _same_origin(request, origin)
        if cross and origin not in config.allow_origins:
            log.info("refused cross-origin %s %s", request.method, request.path)
            return error_response(403, "cross-origin requests are not allowed by this server")
        if request.method == "OPTIONS" and cross:
            resp: web.StreamResponse = web.Response(status=204)
        else:
            length = request.content_length
            if length is not None and length > config.max_body_bytes:
                return error_response(413, f"request body over {config.max_body_bytes} bytes")
            in_band = request.path in IN_BAND_TOKEN_PATHS and "Authorization" not in request.headers
            if (
                config.token
                and not _is_public(request)
                and not in_band
                and not bearer_ok(request, config.token)
            ):
                resp = error_response(401, "missing or wrong bearer token")
                resp.headers["WWW-Authenticate"] = 'Bearer realm="streamface"'
                return resp
            try:
                resp = await handler(request)
            except web.HTTPRequestEntityTooLarge:
                return error_response(413, f"request body over {config.max_body_bytes} bytes")
        if cross and origin is not None:
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Vary"] = "Origin"
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = (
                f"Authorization, Content-Type, {CONSENT_HEADER}"
            )
            resp.headers["Access-Control-Expose-Headers"] = f"Location, {SYNTHETIC_HEADER}"
        return resp

    return middleware


async def add_disclosure(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: every response says the video is synthetic."""
    response.headers[SYNTHETIC_HEADER] = SYNTHETIC_NOTICE
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


def error_response(status: int, reason: str) -> web.Response:
    """A JSON error body with a clear, one-line reason."""
    return web.json_response({"error": reason, "status": status}, status=status)
