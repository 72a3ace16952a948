"""HTTP message signatures (RFC 9421) with HMAC-SHA256, as AudioHook clients sign their upgrade.

Genesys Cloud signs the WebSocket upgrade request with the integration's client secret:

``Signature-Input: sig1=("@request-target" "@authority" "audiohook-organization-id"
"audiohook-session-id" "audiohook-correlation-id" "x-api-key");keyid="<api key>";
nonce="...";alg="hmac-sha256";created=1700000000;expires=1700000300``

``Signature: sig1=:<base64 HMAC-SHA256 of the signature base>:``

The signature base (RFC 9421 section 2.5) is one line per covered component,
``"<name>": <value>``, then ``"@signature-params": <the Signature-Input member>``, joined
with newlines (no trailing newline). The HMAC key is the client secret, which Genesys
Cloud hands out base64-encoded.

`verify_request` checks one request; every refusal is a `SignatureError` with a one-line
reason, and nothing about the secret leaks into it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from streamface.errors import StreamFaceError

ALGORITHM = "hmac-sha256"
REQUIRED_COMPONENTS = frozenset({"@authority", "x-api-key"})
"""Components a signature must cover (besides the target: ``@request-target`` or ``@path``)."""
MAX_AGE_S = 300.0
"""A signature created longer ago than this is refused (each upgrade is signed afresh)."""
CLOCK_SKEW_S = 30.0
MAX_HEADER_CHARS = 4096

_MEMBER = re.compile(r'\s*([a-z*][a-z0-9_.*-]*)=')
_INNER = re.compile(r'\(((?:\s*"[^"\\]*")*)\s*\)')
_ITEM = re.compile(r'"([^"\\]*)"')
_PARAM = re.compile(r';\s*([a-z*][a-z0-9_.*-]*)=("(?:[^"\\]*)"|-?\d{1,15})')
_BYTES = re.compile(r':([A-Za-z0-9+/=]*):')


class SignatureError(StreamFaceError):
    """The request's signature is missing, malformed, stale or wrong."""


@dataclass(frozen=True)
class SignatureInput:
    """One parsed ``Signature-Input`` member."""

    label: str
    components: tuple[str, ...]
    params: Mapping[str, str | int]
    raw: str
    """The member's value exactly as sent (the ``@signature-params`` line)."""


@dataclass(frozen=True)
class Request:
    """What a signature can cover of an HTTP request."""

    method: str
    scheme: str
    authority: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Header names lower-case; repeated headers already joined with ``", "``."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key from a base64 client secret.

    Raises:
        SignatureError: the secret is not base64 or decodes to nothing.
    """
    try:
        key = base64.b64decode(secret.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SignatureError("the client secret must be base64, as the integration shows it") from None
    if not key:
        raise SignatureError("the client secret is empty")
    return key


def parse_signature_input(header: str) -> list[SignatureInput]:
    """Parse a ``Signature-Input`` dictionary (the subset RFC 9421 signers use).

    Raises:
        SignatureError: the header is not a dictionary of inner lists with parameters.
    """
    out: list[SignatureInput] = []
    pos = 0
    text = header.strip()
    while pos < len(text):
        member = _MEMBER.match(text, pos)
        inner = member and _INNER.match(text, member.end())
        if not member or not inner:
            raise SignatureError("malformed Signature-Input header")
        components = tuple(_ITEM.findall(inner.group(1)))
        params: dict[str, str | int] = {}
        end = inner.end()
        while (param := _PARAM.match(text, end)) is not None:
            value = param.group(2)
            params[param.group(1)] = value[1:-1] if value.startswith('"') else int(value)
            end = param.end()
        out.append(SignatureInput(member.group(1), components, params, text[member.end() : end]))
        rest = text[end:].lstrip()
        if rest and not rest.startswith(","):
            raise SignatureError("malformed Signature-Input header")
        pos = len(text) - len(rest) + (1 if rest else 0)
    if not out:
        raise SignatureError("empty Signature-Input header")
    return out


def parse_signature(header: str, label: str) -> bytes:
    """The signature bytes of ``label`` in a ``Signature`` dictionary.

    Raises:
        SignatureError: no such member, or not a base64 byte sequence.
    """
    for part in header.split(","):
        name, eq, value = part.strip().partition("=")
        if eq and name == label:
            match = _BYTES.fullmatch(value.strip())
            if match is None:
                break
            try:
                return base64.b64decode(match.group(1), validate=True)
            except (binascii.Error, ValueError):
                break
    raise SignatureError(f"Signature header has no valid {label!r} member")


def component_value(request: Request, name: str) -> str:
    """The value of one covered component (RFC 9421 section 2).

    Raises:
        SignatureError: an unknown derived component or a missing header.
    """
    if name.startswith("@"):
        query = f"?{request.query}" if request.query else ""
        derived = {
            "@method": request.method.upper(),
            "@scheme": request.scheme.lower(),
            "@authority": request.authority.lower(),
            "@path": request.path,
            "@query": query or "?",
            "@request-target": request.path + query,
            "@target-uri": f"{request.scheme.lower()}://{request.authority.lower()}{request.path}{query}",
        }
        if name not in derived:
            raise SignatureError(f"unsupported derived component {name[:32]!r}")
        return derived[name]
    value = request.headers.get(name)
    if value is None:
        raise SignatureError(f"signed header {name[:40]!r} is missing")
    return value.strip()


def signature_base(request: Request, sig: SignatureInput) -> str:
    """The RFC 9421 signature base of ``request`` for one ``Signature-Input`` member."""
    if len(set(sig.components)) != len(sig.components):
        raise SignatureError("a component is covered twice")
    lines = [f'"{name}": {component_value(request, name)}' for name in sig.components]
    lines.append(f'"@signature-params": {sig.raw}')
    return "\n".join(lines)


def sign(key: bytes, base: str) -> bytes:
    """HMAC-SHA256 of a signature base."""
    return hmac.new(key, base.encode("utf-8"), hashlib.sha256).digest()


@dataclass
class NonceCache:
    """Recently seen nonces, so that a captured upgrade cannot be replayed (bounded)."""

    size: int = 4096
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def fresh(self, nonce: str, now: float) -> bool:
        """Record ``nonce``; False when it was already used within `MAX_AGE_S`."""
        while self._seen and (len(self._seen) >= self.size or next(iter(self._seen.values())) < now - MAX_AGE_S):
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        return True


def verify_request(
    request: Request,
    key: bytes,
    *,
    api_key: str | None = None,
    now: float | None = None,
    nonces: NonceCache | None = None,
) -> SignatureInput:
    """Verify a request's HMAC-SHA256 HTTP message signature.

    Args:
        request: The request (headers lower-case).
        key: The HMAC key (`decode_secret` of the client secret).
        api_key: When given, a ``keyid`` parameter must equal it.
        now: The current UNIX time (tests pin it).
        nonces: Where used nonces are remembered; a reused nonce is refused.

    Returns:
        The verified ``Signature-Input`` member.

    Raises:
        SignatureError: missing headers, an unsupported algorithm, a stale or future
            signature, too little covered, a reused nonce, or a wrong signature.
    """
    now = time.time() if now is None else now
    sig_input = request.headers.get("signature-input")
    signature = request.headers.get("signature")
    if not sig_input or not signature:
        raise SignatureError("missing Signature-Input or Signature header")
    if len(sig_input) > MAX_HEADER_CHARS or len(signature) > MAX_HEADER_CHARS:
        raise SignatureError("signature headers too long")
    for sig in parse_signature_input(sig_input):
        if f"{sig.label}=" not in signature:
            continue
        _check_params(sig, api_key, now)
        expected = sign(key, signature_base(request, sig))
        if not hmac.compare_digest(expected, parse_signature(signature, sig.label)):
            raise SignatureError("signature does not match")
        nonce = sig.params.get("nonce")
        if nonces is not None and isinstance(nonce, str) and not nonces.fresh(nonce, now):
            raise SignatureError("nonce already used")
        return sig
    raise SignatureError("no Signature member matches Signature-Input")


def _check_params(sig: SignatureInput, api_key: str | None, now: float) -> None:
    alg = sig.params.get("alg", ALGORITHM)
    if alg != ALGORITHM:
        raise SignatureError(f"unsupported signature algorithm {str(alg)[:24]!r}: use {ALGORITHM}")
    keyid = sig.params.get("keyid")
    if api_key is not None and keyid is not None and not (
        isinstance(keyid, str) and hmac.compare_digest(keyid.encode(), api_key.encode())
    ):
        raise SignatureError("signature keyid is not the API key")
    covered = set(sig.components)
    if not covered >= REQUIRED_COMPONENTS or not covered & {"@request-target", "@path", "@target-uri"}:
        raise SignatureError("signature must cover @request-target (or @path), @authority and x-api-key")
    created, expires = sig.params.get("created"), sig.params.get("expires")
    if not isinstance(created, int):
        raise SignatureError("signature has no 'created' time")
    if created > now + CLOCK_SKEW_S:
        raise SignatureError("signature created in the future")
    if isinstance(expires, int) and expires < now - CLOCK_SKEW_S:
        raise SignatureError("signature expired")
    if created < now - MAX_AGE_S:
        raise SignatureError("signature too old")
