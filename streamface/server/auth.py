"""Access control and disclosure for the live server.

* Loopback by default. Binding to any other address needs a token (``--token`` or the
  ``STREAMFACE_TOKEN`` environment variable); every API request must then carry
  ``Authorization: Bearer <token>`` (the WHIP/WHEP convention), compared in constant time.
  The web client's own files and ``/healthz`` stay readable without it. Telephony
  streams may instead carry it in-band, as ``start.customParameters.token``.
* Request bodies are capped (``client_max_size``, 413 above it); WebSocket messages too.
* DNS rebinding: a request whose ``Host`` header is not an allowed host (`allowed_hosts`:
  the loopback names and addresses, the bound address, ``--allow-host`` entries) is
  refused with 421 before any route runs, HTTP and WebSocket upgrades alike. A page that
  rebinds its own domain to 127.0.0.1 still sends its domain as ``Host``.
* Cross-origin requests are refused (403) unless their origin is in ``allow_origins``;
  "same origin" means the ``Origin`` names an allowed host on this server's port, never
  just whatever ``Host`` the client sent.
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
        allow_hosts: Extra ``Host`` header names or addresses accepted (beside loopback
            names and the bound address); see `allowed_hosts`.
        handshake_timeout_s: Seconds a streaming WebSocket has to send its opening
            messages (telephony ``connected`` + ``start``).
        audio_timeout_s: Seconds without audio after which a streaming WebSocket closes,
            whatever pings it sends.
        max_event_subscribers: ``/sessions/{id}/events`` WebSockets per session at most.
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
    allow_hosts: tuple[str, ...] = ()
    handshake_timeout_s: float = 5.0
    audio_timeout_s: float = 10.0
    max_event_subscribers: int = 8

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
        for entry in self.allow_hosts:
            try:
                host, port = split_host(entry)
            except ValueError:
                host, port = "", None
            if not host or port is not None or "/" in host or " " in host:
                raise StreamFaceError(
                    f"--allow-host takes a host name or address without scheme or port, "
                    f"not {entry!r}"
                )
        if not is_loopback(self.host) and not self.token:
            raise StreamFaceError(
                f"binding to {self.host} exposes the server beyond this machine: "
                f"set a token with --token or {TOKEN_ENV} (clients then send "
                "'Authorization: Bearer <token>')"
            )


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def allowed_hosts(config: ServerConfig) -> frozenset[str]:
    """The ``Host`` names and addresses this server answers (lower case, no port).

    The loopback names and addresses, the address the server is bound to (unless it is a
    wildcard: then `host_middleware` accepts any literal address), and every
    ``allow_hosts`` entry (a reverse proxy's public name, the machine's DNS name).
    """
    hosts = set(LOOPBACK_HOSTS)
    bound = _normal_host(config.host)
    if bound not in _WILDCARD_BINDS:
        hosts.add(bound)
    hosts.update(_normal_host(h) for h in config.allow_hosts if h.strip())
    return frozenset(hosts)


def _normal_host(host: str) -> str:
    """``host`` lower-cased, without brackets or a trailing dot."""
    return host.strip().lower().strip("[]").rstrip(".")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def split_host(value: str) -> tuple[str, int | None]:
    """A ``Host`` header (or URL authority) as (host, port); port None when absent.

    Raises:
        ValueError: a malformed value (bad port, unbalanced brackets).
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError("unbalanced brackets")
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("junk after the address")
        port_text = rest[1:] if rest else ""
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        host, port_text = value, ""  # a bare IPv6 address has no port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError("bad port")
        return _normal_host(host), int(port_text)
    return _normal_host(host), None


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


def _local_port(request: web.Request) -> int | None:
    """The port this connection came in on (None when it cannot be told)."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sock, tuple) and len(sock) >= 2 and isinstance(sock[1], int):
        return sock[1]
    return None


def _same_origin(request: web.Request, origin: str, hosts: frozenset[str]) -> bool:
    """Whether ``origin`` is this server: an allowed host, this scheme, this port.

    The client's own ``Host`` is not trusted for this: a rebinding page sends its
    attacker's name both as ``Host`` and in ``Origin``.
    """
    scheme, sep, authority = origin.partition("://")
    if not sep or scheme != request.scheme or "/" in authority:
        return False
    try:
        host, port = split_host(authority)
    except ValueError:
        return False
    if host not in hosts:
        return False
    local = _local_port(request)
    default = 443 if scheme == "https" else 80
    return local is None or (port or default) == local


def host_middleware(config: ServerConfig) -> Middleware:
    """Build the middleware that refuses requests for a ``Host`` this server is not.

    It must come first: nothing (no route, no WebSocket upgrade) runs for a foreign
    ``Host``. A request without ``Host`` (HTTP/1.0 tools) passes: browsers always send
    it, so such a request cannot come from a rebinding page.
    """
    hosts = allowed_hosts(config)
    # Bound to every address: any of the machine's addresses may be used literally (a
    # rebinding page always sends a name, never an address); names still need the list.
    any_address = _normal_host(config.host) in _WILDCARD_BINDS

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Host")
        if given is not None:
            try:
                host, _ = split_host(given)
            except ValueError:
                host = ""
            if host not in hosts and not (any_address and _is_address(host)):
                log.info("refused %s %s for a foreign Host", request.method, request.path)
                return error_response(
                    421,
                    "this server does not answer for that Host name "
                    "(start it with --allow-host NAME to allow one)",
                )
        return await handler(request)

    return middleware


def security_middleware(config: ServerConfig) -> Middleware:
    """Build the middleware that applies CORS, body limits and bearer auth."""
    hosts = allowed_hosts(config)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        cross = origin is not None and not _same_origin(request, origin, hosts)
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
