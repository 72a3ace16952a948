"""Read and check the C2PA manifest of a file: valid, missing, or tampered.

- "valid": a manifest is present, its signature verifies and the content matches the
  hashes it signed. Trust is reported separately: a certificate that chains to no
  configured trust anchor (such as StreamFace's development certificate) leaves the
  verdict "valid" with `trusted=False` and a note saying so.
- "missing": the file holds no C2PA manifest.
- "tampered": a manifest is present but does not validate: the content changed after
  signing (a hash mismatch), the manifest itself was altered or damaged, or the
  signing credential is invalid (expired, revoked). `reason` says which.

Verification never uses the network (no remote manifests, no OCSP).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import c2pa

from streamface.errors import StreamFaceError
from streamface.provenance.credentials import is_development_issuer
from streamface.provenance.manifest import MIME_TYPES, SDK_SETTINGS, TRAINED_ALGORITHMIC_MEDIA

log = logging.getLogger(__name__)

ENV_TRUST_ANCHORS = "STREAMFACE_C2PA_TRUST_ANCHORS"
"""Environment variable: PEM file of extra trust anchors (root CAs) for verification."""

Status = Literal["valid", "missing", "tampered"]
Reason = Literal[
    "ok",
    "no-manifest",
    "content-modified",
    "manifest-modified",
    "manifest-damaged",
    "credential-invalid",
]

TRUST_ONLY_CODES: frozenset[str] = frozenset({"signingCredential.untrusted"})
"""Failure codes about trust alone: the signature and hashes still verify."""

_CONTENT_HASH_CODES: frozenset[str] = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.dataHash.malformed",
        "assertion.bmffHash.mismatch",
        "assertion.bmffHash.malformed",
        "assertion.boxesHash.mismatch",
        "assertion.boxesHash.unknownBox",
        "assertion.collectionHash.mismatch",
        "assertion.collectionHash.incorrectFileCount",
        "assertion.collectionHash.invalidURI",
        "assertion.collectionHash.malformed",
    }
)

# Errors the C2PA library raises when the manifest store is there but unreadable.
_DAMAGED_MANIFEST_ERRORS: tuple[str, ...] = (
    "Verify",
    "Json",
    "Decoding",
    "Manifest",
    "Signature",
    "Assertion",
    "AssertionNotFound",
    "ResourceNotFound",
)


@dataclass(frozen=True)
class Verification:
    """The verdict on one file's C2PA manifest and the facts behind it.

    Attributes:
        path: The file, None for `verify_bytes`.
        status: "valid", "missing" or "tampered".
        reason: Finer cause: "ok", "no-manifest", "content-modified",
            "manifest-modified", "manifest-damaged" or "credential-invalid".
        summary: One human sentence with the verdict.
        trusted: True when the signing certificate chains to a configured trust anchor.
        development: True when signed with a StreamFace development certificate.
        signer: Common name of the signing certificate.
        issuer: Issuer (organization) of the signing certificate.
        signed_at: Trusted signing time, when the manifest has a timestamp.
        claim_generator: e.g. "StreamFace 0.1.0".
        software_agent: Software agent of the `c2pa.created` action.
        action: The first action ("c2pa.created" for StreamFace files).
        digital_source_type: IPTC digital source type of that action.
        title: The manifest title.
        validation_state: The C2PA library's state ("Valid", "Trusted", "Invalid").
        failures: Failure codes reported by validation (trust included).
        messages: "code: explanation" for every failure, and notes such as untrusted
            certificates, for people.
    """

    path: Path | None
    status: Status
    reason: Reason
    summary: str
    trusted: bool = False
    development: bool = False
    signer: str | None = None
    issuer: str | None = None
    signed_at: str | None = None
    claim_generator: str | None = None
    software_agent: str | None = None
    action: str | None = None
    digital_source_type: str | None = None
    title: str | None = None
    validation_state: str | None = None
    failures: tuple[str, ...] = ()
    messages: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True only for "valid"."""
        return self.status == "valid"

    @property
    def ai_generated(self) -> bool:
        """Whether the manifest declares the content made by a trained model."""
        return self.digital_source_type == TRAINED_ALGORITHMIC_MEDIA

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the `streamface verify --json` schema)."""
        return {
            "path": None if self.path is None else str(self.path),
            "status": self.status,
            "reason": self.reason,
            "summary": self.summary,
            "trusted": self.trusted,
            "development_certificate": self.development,
            "signer": self.signer,
            "issuer": self.issuer,
            "signed_at": self.signed_at,
            "claim_generator": self.claim_generator,
            "software_agent": self.software_agent,
            "action": self.action,
            "digital_source_type": self.digital_source_type,
            "ai_generated": self.ai_generated,
            "title": self.title,
            "validation_state": self.validation_state,
            "failures": list(self.failures),
            "messages": list(self.messages),
        }


def verify_file(
    path: str | os.PathLike[str],
    *,
    trust_anchors: str | os.PathLike[str] | None = None,
) -> Verification:
    """Read and check the C2PA manifest embedded in a file.

    Args:
        path: A PNG, JPEG, MP4 (or any other format the C2PA library reads).
        trust_anchors: PEM file of root certificates to trust in addition to none by
            default; defaults to `$STREAMFACE_C2PA_TRUST_ANCHORS` when set.

    Returns:
        The verdict.

    Raises:
        StreamFaceError: The file cannot be read, or is not a format the C2PA library
            can parse.
    """
    p = Path(path)
    mime = MIME_TYPES.get(p.suffix.lower())
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below; the reader must not outlive it
    except IsADirectoryError:
        raise StreamFaceError(f"cannot verify {p}: it is a directory") from None
    except OSError as exc:
        raise StreamFaceError(f"cannot read {p}: {exc.strerror or exc}") from exc
    with fh:
        return _verify_stream(fh, mime, p, what=str(p), trust_anchors=trust_anchors)


def verify_bytes(
    data: bytes,
    fmt: str | None = None,
    *,
    trust_anchors: str | os.PathLike[str] | None = None,
) -> Verification:
    """Like `verify_file` for an in-memory asset; `fmt` is a media type or None to detect."""
    import io

    return _verify_stream(io.BytesIO(data), fmt, None, what="the data", trust_anchors=trust_anchors)


# --------------------------------------------------------------------------- internals


def _settings(trust_anchors: str | os.PathLike[str] | None) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(json.dumps(SDK_SETTINGS))
    anchors = (
        trust_anchors if trust_anchors is not None else os.environ.get(ENV_TRUST_ANCHORS) or None
    )
    if anchors is not None:
        try:
            pem = Path(anchors).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise StreamFaceError(f"cannot read the trust anchors {anchors}: {exc}") from exc
        settings["trust"] = {"user_anchors": pem}
    return settings


def _verify_stream(
    stream: IO[bytes],
    mime: str | None,
    path: Path | None,
    *,
    what: str,
    trust_anchors: str | os.PathLike[str] | None,
) -> Verification:
    try:
        with (
            c2pa.Context.from_dict(_settings(trust_anchors)) as context,
            c2pa.Reader(mime, stream, context=context) as reader,
        ):
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return Verification(
            path=path,
            status="missing",
            reason="no-manifest",
            summary=f"missing: {what} carries no C2PA manifest",
        )
    except c2pa.C2paError.RemoteManifest as exc:
        return Verification(
            path=path,
            status="missing",
            reason="no-manifest",
            summary=f"missing: {what} only points to a remote C2PA manifest, which is not fetched",
            messages=(str(exc),),
        )
    except c2pa.C2paError as exc:
        kind = type(exc).__name__.removeprefix("_C2pa")
        if kind in _DAMAGED_MANIFEST_ERRORS:
            return Verification(
                path=path,
                status="tampered",
                reason="manifest-damaged",
                summary=f"tampered: {what} has a C2PA manifest that cannot be read ({exc})",
                messages=(str(exc),),
            )
        raise StreamFaceError(f"cannot read {what} as a PNG, JPEG or MP4 asset: {exc}") from exc
    return _judge(store, path, what)


def _judge(store: dict[str, Any], path: Path | None, what: str) -> Verification:
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest")) or {}
    state = store.get("validation_state")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failure_entries = list(results.get("failure") or [])
    if not failure_entries:  # older layouts: only the flat status list
        failure_entries = list(store.get("validation_status") or [])
    failures = tuple(str(e.get("code")) for e in failure_entries)
    # Trust-only codes stay in `failures`; a plain-language note explains them instead.
    messages = [
        f"{e.get('code')}: {e.get('explanation', '')}".rstrip(": ")
        for e in failure_entries
        if e.get("code") not in TRUST_ONLY_CODES
    ]

    sig = active.get("signature_info") or {}
    issuer, signer = sig.get("issuer"), sig.get("common_name")
    development = is_development_issuer(issuer, signer)
    action = _first_action(active)
    details: dict[str, Any] = {
        "trusted": state == "Trusted",
        "development": development,
        "signer": signer,
        "issuer": issuer,
        "signed_at": sig.get("time"),
        "claim_generator": _claim_generator(active),
        "software_agent": _agent_name(action.get("softwareAgent")),
        "action": action.get("action"),
        "digital_source_type": action.get("digitalSourceType"),
        "title": active.get("title"),
        "validation_state": state,
        "failures": failures,
    }

    serious = [c for c in failures if c not in TRUST_ONLY_CODES]
    if not active:
        serious = serious or ["claim.missing"]
    if state == "Invalid" or serious:
        reason = _tamper_reason(serious)
        because = {
            "content-modified": "the content changed after it was signed",
            "manifest-modified": "the manifest was altered after it was signed",
            "credential-invalid": "the signing certificate is not valid",
            "manifest-damaged": "the manifest does not validate",
        }[reason]
        codes = ", ".join(serious) if serious else f"state {state}"
        return Verification(
            path=path,
            status="tampered",
            reason=reason,
            summary=f"tampered: {because} ({codes})",
            messages=tuple(messages),
            **details,
        )

    if not details["trusted"]:
        if development:
            messages.append(
                "note: signed with a StreamFace development certificate. The signature proves "
                "the file is unchanged since it was signed, not who signed it; no trust list "
                "includes this certificate."
            )
        else:
            messages.append(
                "note: the signing certificate does not chain to a configured trust anchor "
                f"(set {ENV_TRUST_ANCHORS} to a PEM file of root certificates you trust)."
            )
    trust_words = (
        "trusted signer"
        if details["trusted"]
        else ("untrusted development certificate" if development else "untrusted signer")
    )
    return Verification(
        path=path,
        status="valid",
        reason="ok",
        summary=f"valid: {what} carries an intact, signed C2PA manifest ({trust_words})",
        messages=tuple(messages),
        **details,
    )


def _tamper_reason(codes: list[str]) -> Reason:
    if any(c in _CONTENT_HASH_CODES for c in codes):
        return "content-modified"
    if any(c.startswith(("claimSignature.", "assertion.", "claim.")) for c in codes):
        return "manifest-modified"
    if any(c.startswith(("signingCredential.", "timeStamp.")) for c in codes):
        return "credential-invalid"
    return "manifest-damaged"


def _first_action(manifest: dict[str, Any]) -> dict[str, Any]:
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if label == "c2pa.actions" or label.startswith("c2pa.actions."):
            actions = (assertion.get("data") or {}).get("actions") or []
            created = [a for a in actions if a.get("action") == "c2pa.created"]
            if created or actions:
                return dict((created or actions)[0])
    return {}


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info") or []
    if infos:
        return _agent_name(infos[0])
    generator = manifest.get("claim_generator")
    return str(generator) if generator else None


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, dict):
        name, version = agent.get("name"), agent.get("version")
        if not name:
            return None
        return f"{name} {version}" if version else str(name)
    return str(agent) if agent else None
