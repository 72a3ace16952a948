"""Sign PNG, JPEG and MP4 files (or bytes) with a StreamFace C2PA manifest.

Files are signed in place without ever leaving a half-written file: the signed copy is
written to a temporary file in the same directory and renamed over the original.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import c2pa

from streamface.errors import StreamFaceError
from streamface.provenance.credentials import (
    ENV_CERT,
    ENV_KEY,
    SigningCredentials,
    load_credentials,
)
from streamface.provenance.manifest import (
    SDK_SETTINGS,
    TRAINED_ALGORITHMIC_MEDIA,
    manifest_definition,
    mime_type_for,
    normalize_format,
    software_agent,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SigningInfo:
    """What was signed and with which credentials.

    Attributes:
        path: The signed file, None for `sign_bytes` / `sign_stream`.
        mime_type: Media type of the asset.
        title: The manifest title.
        claim_generator: "StreamFace <version>".
        digital_source_type: The IPTC source type in the `c2pa.created` action.
        signer: Common name of the signing certificate.
        alg: Signing algorithm ("es256", ...).
        development: True when signed with the local development certificate, which no
            trust list includes.
        credentials_source: Where the certificate came from (a path; never key material).
        manifest_bytes: Size of the embedded manifest store in bytes.
    """

    path: Path | None
    mime_type: str
    title: str
    claim_generator: str
    digital_source_type: str
    signer: str
    alg: str
    development: bool
    credentials_source: str
    manifest_bytes: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["path"] = None if self.path is None else str(self.path)
        return out


def sign_file(
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    credentials: SigningCredentials | None = None,
) -> SigningInfo:
    """Sign a PNG, JPEG or MP4 file in place with a StreamFace C2PA manifest.

    An existing manifest in the file is replaced. The file's permissions are kept, and a
    symbolic link is followed (its target is updated, the link stays). Blocking: call it
    from a worker thread in async code.

    Args:
        path: The file to sign.
        title: Manifest title; defaults to the file name. Never put personal data here.
        credentials: Signing credentials; default `load_credentials()` (environment, else
            the development certificate).

    Returns:
        What was signed and how.

    Raises:
        StreamFaceError: Unsupported extension, unreadable or unwritable file, bad
            credentials, or a file the C2PA library cannot sign (e.g. corrupt).
    """
    src = Path(path)
    mime = mime_type_for(src)
    if not src.is_file():
        raise StreamFaceError(f"cannot sign {src}: no such file")
    creds = credentials if credentials is not None else load_credentials()
    title = title if title is not None else src.name
    target = src.resolve()  # rename over the real file, not over a symlink to it
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{src.stem}.", suffix=f".signing{src.suffix}"
        )
    except OSError as exc:
        raise StreamFaceError(f"cannot sign {src}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as dest, open(target, "rb") as source:
            size = _sign(creds, mime, title, source, dest, what=str(src))
            dest.flush()
            os.fsync(dest.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as exc:
        raise StreamFaceError(f"cannot sign {src}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    info = _info(src, mime, title, creds, size)
    log.info(
        "signed %s (%s, %d-byte manifest%s)",
        src,
        mime,
        size,
        ", development certificate" if creds.development else "",
    )
    return info


def sign_bytes(
    data: bytes,
    fmt: str,
    *,
    title: str,
    credentials: SigningCredentials | None = None,
) -> tuple[bytes, SigningInfo]:
    """Sign an in-memory PNG, JPEG or MP4.

    Args:
        data: The encoded asset.
        fmt: "png", "jpeg"/"jpg", "mp4" or a media type.
        title: Manifest title. Never put personal data here.
        credentials: As for `sign_file`.

    Returns:
        The signed asset and what was signed.
    """
    dest = io.BytesIO()
    info = sign_stream(io.BytesIO(data), dest, fmt, title=title, credentials=credentials)
    return dest.getvalue(), info


def sign_stream(
    source: IO[bytes],
    dest: IO[bytes],
    fmt: str,
    *,
    title: str,
    credentials: SigningCredentials | None = None,
) -> SigningInfo:
    """Sign an asset read from `source` and write the signed asset to `dest`.

    Args:
        source: Readable, seekable binary stream holding the asset.
        dest: Writable, readable and seekable binary stream (e.g. a file opened "w+b").
        fmt: "png", "jpeg"/"jpg", "mp4" or a media type.
        title: Manifest title. Never put personal data here.
        credentials: As for `sign_file`.
    """
    mime = normalize_format(fmt)
    creds = credentials if credentials is not None else load_credentials()
    size = _sign(creds, mime, title, source, dest, what=f"the {mime} stream")
    return _info(None, mime, title, creds, size)


def _sign(
    creds: SigningCredentials,
    mime: str,
    title: str,
    source: IO[bytes],
    dest: IO[bytes],
    *,
    what: str,
) -> int:
    try:
        info = c2pa.C2paSignerInfo(creds.alg, creds.cert_chain_pem, creds.private_key_pem, None)
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Context.from_dict(SDK_SETTINGS) as context,
            c2pa.Builder(manifest_definition(title), context=context) as builder,
        ):
            manifest = builder.sign(signer, mime, source, dest)
    except c2pa.C2paError as exc:
        raise StreamFaceError(f"cannot sign {what}: {exc}") from exc
    return len(manifest)


def _info(
    path: Path | None, mime: str, title: str, creds: SigningCredentials, size: int
) -> SigningInfo:
    return SigningInfo(
        path=path,
        mime_type=mime,
        title=title,
        claim_generator=software_agent(),
        digital_source_type=TRAINED_ALGORITHMIC_MEDIA,
        signer=creds.signer_name,
        alg=creds.alg,
        development=creds.development,
        credentials_source=creds.source,
        manifest_bytes=size,
    )


class OutputSigner:
    """Signs a finished temporary file under its final name, as a `write_atomic` finalizer.

    Commands write their output to a temporary sibling and rename it into place; this
    signs the temporary file first, titled with the final file name, so a file never
    appears under its name without its manifest. Credentials are loaded when it is made
    (a bad certificate or key fails before any work) and reused for every file.

    Args:
        final: The path the file will have once renamed.
        credentials: As for `sign_file`.

    Attributes:
        info: What was signed, once called.
    """

    def __init__(self, final: str | os.PathLike[str], credentials: SigningCredentials | None = None) -> None:
        self.final = Path(final)
        mime_type_for(self.final)  # an unsupported extension fails now
        self.credentials = credentials if credentials is not None else load_credentials()
        self.info: SigningInfo | None = None

    def __call__(self, tmp: Path) -> None:
        """Sign ``tmp`` in place, titled with the final file name."""
        info = sign_file(tmp, title=self.final.name, credentials=self.credentials)
        self.info = replace(info, path=self.final)

    def summary(self) -> str:
        """One line for a command's output: signed, and with which certificate."""
        if self.credentials.development:
            return (
                "C2PA-signed with the local DEVELOPMENT certificate (untrusted: proves the "
                f"file is unchanged, not who made it; set {ENV_CERT} and {ENV_KEY} to sign "
                "with your own)"
            )
        return f"C2PA-signed by {self.credentials.signer_name}"
