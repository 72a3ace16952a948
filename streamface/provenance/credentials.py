"""Signing credentials for C2PA manifests: the user's own, or a local development pair.

The user's certificate chain and private key come from PEM files named by the
environment (`STREAMFACE_C2PA_CERT`, `STREAMFACE_C2PA_KEY`) or passed in explicitly.
Without them, StreamFace creates a *development* certificate on first use: a local CA
and an ES256 (P-256) signing certificate issued by it, stored in the user's config
directory. No trust list contains that CA, so files signed with it verify as intact but
untrusted; every use is logged as a warning and reported in `SigningInfo.development`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streamface.errors import StreamFaceError

log = logging.getLogger(__name__)

ENV_CERT = "STREAMFACE_C2PA_CERT"
"""Environment variable: path of the PEM certificate chain (signing cert first)."""
ENV_KEY = "STREAMFACE_C2PA_KEY"
"""Environment variable: path of the PEM private key of the signing certificate."""
ENV_CONFIG_DIR = "STREAMFACE_CONFIG_DIR"
"""Environment variable: overrides the StreamFace config directory."""

DEV_ORGANIZATION = "StreamFace development certificate (untrusted)"
"""Organization name of the development CA and signer; `verify` recognises it."""
DEV_CA_NAME = "StreamFace Development CA"
DEV_SIGNER_NAME = "StreamFace development signer"

DEV_SUBDIR = "c2pa"
DEV_CHAIN_FILE = "dev-chain.pem"  # signing certificate, then the development CA
DEV_KEY_FILE = "dev-key.pem"  # PKCS#8, mode 0600
DEV_CA_FILE = "dev-ca.pem"  # the CA alone, for users who choose to trust it locally

_DEV_LEAF_DAYS = 5 * 365
_DEV_CA_DAYS = 10 * 365
_RENEW_BEFORE = dt.timedelta(days=30)
_dev_lock = threading.Lock()
_warned_dirs: set[Path] = set()


@dataclass(frozen=True)
class SigningCredentials:
    """A certificate chain and private key ready for a C2PA signer.

    Attributes:
        cert_chain_pem: PEM certificates, the signing (end-entity) certificate first.
        private_key_pem: PEM private key matching the signing certificate.
        alg: C2PA signing algorithm name ("es256", "es384", "es512", "ps256", "ed25519").
        development: True for the locally generated development certificate.
        source: Where the credentials came from, for messages (never the key itself).
        signer_name: Common name (or full subject) of the signing certificate.
    """

    cert_chain_pem: bytes
    private_key_pem: bytes
    alg: str
    development: bool
    source: str
    signer_name: str

    def __repr__(self) -> str:  # keep the private key out of logs and tracebacks
        return (
            f"SigningCredentials(alg={self.alg!r}, development={self.development}, "
            f"source={self.source!r}, signer_name={self.signer_name!r})"
        )


def config_dir() -> Path:
    """The StreamFace config directory.

    `$STREAMFACE_CONFIG_DIR` when set, else `$XDG_CONFIG_HOME/streamface`, else
    `~/.config/streamface`. Not created here.
    """
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "streamface"


def dev_credentials_dir() -> Path:
    """Where the development certificate and key live."""
    return config_dir() / DEV_SUBDIR


def load_credentials(
    cert_path: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
) -> SigningCredentials:
    """The credentials to sign with.

    Explicit paths win, then `STREAMFACE_C2PA_CERT` / `STREAMFACE_C2PA_KEY`; without
    either, the development certificate (created on first use).

    Args:
        cert_path: PEM certificate chain, signing certificate first.
        key_path: PEM private key of the signing certificate.

    Returns:
        The credentials.

    Raises:
        StreamFaceError: Only one of certificate and key is given, a file cannot be
            read, or the key does not match the certificate.
    """
    cert = cert_path if cert_path is not None else os.environ.get(ENV_CERT) or None
    key = key_path if key_path is not None else os.environ.get(ENV_KEY) or None
    if cert is None and key is None:
        return development_credentials()
    if cert is None or key is None:
        missing = ENV_CERT if cert is None else ENV_KEY
        raise StreamFaceError(
            f"C2PA signing needs both a certificate chain and a private key; {missing} is not set"
        )
    return user_credentials(Path(cert), Path(key))


def user_credentials(cert_path: Path, key_path: Path) -> SigningCredentials:
    """Load and check the user's PEM certificate chain and private key.

    Raises:
        StreamFaceError: A file cannot be read or parsed, or the key does not belong
            to the first certificate of the chain.
    """
    chain_pem = _read(cert_path, "certificate chain")
    key_pem = _read(key_path, "private key")
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise StreamFaceError(f"{cert_path} holds no readable PEM certificate: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise StreamFaceError(f"{key_path} is not an unencrypted PEM private key: {exc}") from exc
    leaf = certs[0]
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise StreamFaceError(
            f"the private key in {key_path} does not match the first certificate in {cert_path}"
        )
    if leaf.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        log.warning(
            "the C2PA signing certificate %s expired on %s", cert_path, leaf.not_valid_after_utc
        )
    return SigningCredentials(
        cert_chain_pem=chain_pem,
        private_key_pem=key_pem,
        alg=_alg_for_key(key, key_path),
        development=False,
        source=f"{cert_path}",
        signer_name=_common_name(leaf),
    )


def development_credentials(directory: Path | None = None) -> SigningCredentials:
    """The development certificate and key, created on first use and then reused.

    A new pair is made when none exists, when the files do not match or cannot be
    read, or when the signing certificate expires within 30 days. The private key is
    written with mode 0600 inside a 0700 directory.

    Args:
        directory: Where to keep the files; defaults to `dev_credentials_dir()`.

    Raises:
        StreamFaceError: The directory cannot be created or written.
    """
    directory = directory if directory is not None else dev_credentials_dir()
    with _dev_lock, _file_lock(directory):
        creds = _load_dev(directory)
        if creds is None:
            creds = _create_dev(directory)
        first_use = directory not in _warned_dirs
        _warned_dirs.add(directory)
    (log.warning if first_use else log.debug)(
        "signing with the StreamFace DEVELOPMENT certificate in %s: no trust list includes "
        "it, so verifiers will call the signature untrusted. Set %s and %s to sign with "
        "your own certificate.",
        directory,
        ENV_CERT,
        ENV_KEY,
    )
    return creds


def is_development_issuer(issuer: str | None, common_name: str | None = None) -> bool:
    """Whether a manifest's signer names look like a StreamFace development certificate."""
    return issuer == DEV_ORGANIZATION or (
        common_name == DEV_SIGNER_NAME and issuer in (None, DEV_ORGANIZATION)
    )


# --------------------------------------------------------------------------- internals


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StreamFaceError(f"cannot read the C2PA {what} {path}: {exc.strerror or exc}") from exc


def _alg_for_key(key: object, where: Path) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        alg = by_curve.get(key.curve.name)
        if alg is None:
            raise StreamFaceError(f"{where}: EC curve {key.curve.name} is not allowed by C2PA")
        return alg
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise StreamFaceError(f"{where}: key type {type(key).__name__} is not allowed by C2PA")


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


@contextlib.contextmanager
def _file_lock(directory: Path) -> Iterator[None]:
    """Serialise creation across processes (POSIX advisory lock; a no-op elsewhere)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StreamFaceError(f"cannot create the config directory {directory}: {exc}") from exc
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _load_dev(directory: Path) -> SigningCredentials | None:
    chain_path, key_path = directory / DEV_CHAIN_FILE, directory / DEV_KEY_FILE
    if not (chain_path.is_file() and key_path.is_file()):
        return None
    try:
        creds = user_credentials(chain_path, key_path)
        leaf = x509.load_pem_x509_certificates(creds.cert_chain_pem)[0]
    except StreamFaceError as exc:
        log.warning(
            "development C2PA certificate in %s is unusable (%s); making a new one", directory, exc
        )
        return None
    if leaf.not_valid_after_utc - _RENEW_BEFORE <= dt.datetime.now(dt.UTC):
        log.warning("development C2PA certificate in %s expires soon; making a new one", directory)
        return None
    if key_path.stat().st_mode & 0o077:
        os.chmod(key_path, 0o600)
    return SigningCredentials(
        cert_chain_pem=creds.cert_chain_pem,
        private_key_pem=creds.private_key_pem,
        alg=creds.alg,
        development=True,
        source=str(chain_path),
        signer_name=creds.signer_name,
    )


def _create_dev(directory: Path) -> SigningCredentials:
    """Issue a development CA and an ES256 signing certificate C2PA accepts.

    c2pa-rs checks the signing certificate's profile: not self-signed, version 3,
    `digitalSignature` key usage, an EKU from its list (emailProtection here),
    `CA:FALSE`, subject and authority key identifiers. The CA's private key is thrown
    away once the signing certificate is issued.
    """
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEV_CA_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + dt.timedelta(days=_DEV_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, DEV_SIGNER_NAME),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + dt.timedelta(days=_DEV_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    chain_pem = leaf.public_bytes(pem) + ca_pem
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        _write_atomic(directory / DEV_KEY_FILE, key_pem, 0o600)
        _write_atomic(directory / DEV_CHAIN_FILE, chain_pem, 0o644)
        _write_atomic(directory / DEV_CA_FILE, ca_pem, 0o644)
    except OSError as exc:
        raise StreamFaceError(
            f"cannot write the development certificate to {directory}: {exc}"
        ) from exc
    log.warning("created a StreamFace development C2PA certificate in %s", directory)
    return SigningCredentials(
        cert_chain_pem=chain_pem,
        private_key_pem=key_pem,
        alg="es256",
        development=True,
        source=str(directory / DEV_CHAIN_FILE),
        signer_name=DEV_SIGNER_NAME,
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file with `mode` from the start, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
