"""C2PA provenance: signing PNG / JPEG / MP4, and telling valid, missing and tampered apart.

Every test points STREAMFACE_CONFIG_DIR at its own temporary directory, so nothing is
written to the real home directory.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from streamface import __version__
from streamface.errors import StreamFaceError
from streamface.provenance import (
    TRAINED_ALGORITHMIC_MEDIA,
    config_dir,
    load_credentials,
    sign_bytes,
    sign_file,
    verify_bytes,
    verify_file,
)
from streamface.provenance.credentials import (
    DEV_CA_FILE,
    DEV_CHAIN_FILE,
    DEV_KEY_FILE,
    ENV_CERT,
    ENV_CONFIG_DIR,
    ENV_KEY,
)
from streamface.provenance.manifest import SDK_SETTINGS
from streamface.provenance.verify import ENV_TRUST_ANCHORS

FORMATS = ("png", "jpg", "mp4")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config directory and no user credentials from the environment."""
    cfg = tmp_path / "config"
    monkeypatch.setenv(ENV_CONFIG_DIR, str(cfg))
    for name in (ENV_CERT, ENV_KEY, ENV_TRUST_ANCHORS):
        monkeypatch.delenv(name, raising=False)
    return cfg


def _pattern(width: int = 64, height: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 3 % 256], axis=-1).astype(np.uint8)


def make_png(path: Path) -> Path:
    Image.fromarray(_pattern()).save(path)
    return path


def make_jpeg(path: Path) -> Path:
    Image.fromarray(_pattern()).save(path, quality=90)
    return path


def make_mp4(path: Path, frames: int = 12) -> Path:
    av = pytest.importorskip("av")
    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # pragma: no cover - PyAV wheels ship libx264
        pytest.skip("PyAV has no libx264 encoder here")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            rgb = np.roll(_pattern(), i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_media(tmp_path: Path, fmt: str, name: str = "face") -> Path:
    path = tmp_path / f"{name}.{fmt}"
    return {"png": make_png, "jpg": make_jpeg, "mp4": make_mp4}[fmt](path)


def read_store(path: Path) -> dict:
    """The raw manifest store as the C2PA library reports it."""
    import c2pa

    with c2pa.Context.from_dict(SDK_SETTINGS) as ctx, c2pa.Reader(str(path), context=ctx) as reader:
        return json.loads(reader.json())


def active_manifest(path: Path) -> dict:
    store = read_store(path)
    return store["manifests"][store["active_manifest"]]


# --------------------------------------------------------------------------- tampering


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def change_png_pixel(path: Path) -> None:
    """Edit one pixel in the image data, keeping every other chunk (the manifest too).

    The result is a well-formed PNG (fresh zlib stream, correct CRCs, unfiltered lines)
    that differs from the signed one in exactly one pixel, as an editor that preserves
    unknown chunks would write it.
    """
    data = path.read_bytes()
    pixels = np.asarray(Image.open(path).convert("RGB")).copy()
    pixels[10, 20, 0] ^= 0x40  # red channel of pixel (x=20, y=10)
    raw = b"".join(b"\x00" + line.tobytes() for line in pixels)  # filter type 0 per line
    out, idat_written = bytearray(data[:8]), False
    for kind, body in _png_chunks(data):
        if kind == b"IDAT":
            if not idat_written:
                out += _png_chunk(b"IDAT", zlib.compress(raw))
                idat_written = True
            continue
        out += _png_chunk(kind, body)
    path.write_bytes(bytes(out))


def _jpeg_scan_start(data: bytearray) -> int:
    """Offset of the SOS marker, found by walking the segments.

    A plain search for FF DA can hit those bytes inside the signed manifest (APP11), whose
    signature differs on every run.
    """
    pos = 2  # after SOI
    while data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:
            return pos
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    raise AssertionError(f"no start-of-scan marker found (bytes at {pos}: {bytes(data[pos:pos + 2])!r})")


def change_jpeg_pixels(path: Path) -> None:
    """Flip one bit in the entropy-coded scan: the manifest (APP11) stays, pixels change."""
    data = bytearray(path.read_bytes())
    sos = _jpeg_scan_start(data)
    (header_len,) = struct.unpack(">H", data[sos + 2 : sos + 4])
    pos = sos + 2 + header_len + 8
    while data[pos] in (0xFF, 0xFE) or data[pos - 1] == 0xFF:
        pos += 1
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


def change_mp4_frame(path: Path) -> None:
    """Flip one bit inside the media data (a coded frame); the manifest box stays."""
    data = bytearray(path.read_bytes())
    mdat = data.index(b"mdat")
    data[mdat + 4 + 64] ^= 0x01
    path.write_bytes(bytes(data))


TAMPER = {"png": change_png_pixel, "jpg": change_jpeg_pixels, "mp4": change_mp4_frame}


# --------------------------------------------------------------------------- user certificates


def make_user_credentials(
    directory: Path, name: str = "Example Newsroom signer"
) -> tuple[Path, Path, Path]:
    """A CA and a C2PA-acceptable ES256 signing certificate, as a user would bring them."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Newsroom Root")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
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
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Newsroom"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
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
    chain, key_path, ca_path = directory / "chain.pem", directory / "key.pem", directory / "ca.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ca_path.write_bytes(ca.public_bytes(pem))
    return chain, key_path, ca_path


# --------------------------------------------------------------------------- signing → valid


@pytest.mark.parametrize("fmt", FORMATS)
def test_signed_file_is_valid_and_declares_ai_generated(tmp_path: Path, fmt: str) -> None:
    path = make_media(tmp_path, fmt)
    info = sign_file(path, title="StreamFace portrait")

    assert info.path == path
    assert info.development is True
    assert info.claim_generator == f"StreamFace {__version__}"
    assert info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA

    result = verify_file(path)
    assert result.status == "valid", result.summary
    assert result.ok and result.reason == "ok"
    assert result.action == "c2pa.created"
    assert result.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert result.ai_generated
    assert result.claim_generator == f"StreamFace {__version__}"
    assert result.software_agent == f"StreamFace {__version__}"
    assert result.title == "StreamFace portrait"
    # Honest about trust: intact and signed, but by a development certificate nobody trusts.
    assert result.development is True
    assert result.trusted is False
    assert result.failures == ("signingCredential.untrusted",)
    assert any("development certificate" in m for m in result.messages)


def test_signing_keeps_the_pixels(tmp_path: Path) -> None:
    path = make_png(tmp_path / "face.png")
    before = np.asarray(Image.open(path).convert("RGB"))
    sign_file(path)
    after = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(before, after)


def test_default_title_is_the_file_name(tmp_path: Path) -> None:
    path = make_png(tmp_path / "portrait.png")
    assert sign_file(path).title == "portrait.png"
    assert verify_file(path).title == "portrait.png"


@pytest.mark.parametrize("fmt", FORMATS)
def test_manifest_holds_no_personal_data(tmp_path: Path, fmt: str) -> None:
    path = make_media(tmp_path, fmt)
    sign_file(path)
    store = read_store(path)
    assert len(store["manifests"]) == 1
    manifest = active_manifest(path)

    # Only the actions, plus the content hash the C2PA library lists for some formats.
    labels = {a["label"] for a in manifest["assertions"]}
    assert {"c2pa.actions", "c2pa.actions.v2"} & labels
    extra = {label for label in labels if not label.startswith(("c2pa.actions", "c2pa.hash."))}
    assert not extra, extra
    assert not manifest.get("ingredients")
    assert not manifest.get("thumbnail")
    (actions_assertion,) = [
        a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")
    ]
    (action,) = actions_assertion["data"]["actions"]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert set(action) <= {"action", "digitalSourceType", "softwareAgent", "description"}

    # No key names a voice measurement or trait (keys split into words: "age_band" → age, band).
    words = {
        w.lower() for key in _all_keys(manifest) for w in re.findall(r"[A-Za-z][a-z0-9]*", key)
    }
    forbidden = {"embedding", "audio", "voice", "speaker", "f0", "pitch", "formant", "formants"}
    forbidden |= {"perceived", "sex", "age", "trait", "traits"}
    assert not words & forbidden, words & forbidden
    text = json.dumps(manifest).lower()
    for word in ("embedding", "audio", "p_female", "age_band", "perceived"):
        assert word not in text, word


def _all_keys(node: object) -> list[str]:
    if isinstance(node, dict):
        return [str(k) for k in node] + [k for v in node.values() for k in _all_keys(v)]
    if isinstance(node, list):
        return [k for v in node for k in _all_keys(v)]
    return []


# --------------------------------------------------------------------------- tampered / missing


@pytest.mark.parametrize("fmt", FORMATS)
def test_changed_pixel_is_tampered(tmp_path: Path, fmt: str) -> None:
    path = make_media(tmp_path, fmt)
    sign_file(path)
    TAMPER[fmt](path)

    result = verify_file(path)
    assert result.status == "tampered", result.summary
    assert result.reason == "content-modified"
    assert not result.ok
    assert any(code.endswith("Hash.mismatch") for code in result.failures), result.failures
    # The manifest is still there and still readable: the verdict names what it claimed.
    assert result.claim_generator == f"StreamFace {__version__}"


def test_png_pixel_edit_is_a_real_image_change(tmp_path: Path) -> None:
    """The PNG tamper helper produces a decodable image that differs in one pixel."""
    path = make_png(tmp_path / "face.png")
    sign_file(path)
    before = np.asarray(Image.open(path).convert("RGB")).copy()
    change_png_pixel(path)
    after = np.asarray(Image.open(path).convert("RGB"))
    changed = np.argwhere(np.any(before != after, axis=-1))
    assert changed.tolist() == [[10, 20]]


def test_jpeg_bit_flip_changes_decoded_pixels(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "face.jpg")
    sign_file(path)
    before = np.asarray(Image.open(path).convert("RGB")).copy()
    change_jpeg_pixels(path)
    after = np.asarray(Image.open(path).convert("RGB"))
    assert np.any(before != after)


def test_altered_manifest_is_tampered(tmp_path: Path) -> None:
    path = make_png(tmp_path / "face.png")
    sign_file(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"trainedAlgorithmicMedia")
    data[at : at + 7] = b"digital"  # claim the picture is something else, same length
    path.write_bytes(bytes(data))

    result = verify_file(path)
    assert result.status == "tampered", result.summary
    assert result.reason == "manifest-modified"


@pytest.mark.parametrize("fmt", FORMATS)
def test_unsigned_file_is_missing(tmp_path: Path, fmt: str) -> None:
    path = make_media(tmp_path, fmt)
    result = verify_file(path)
    assert result.status == "missing"
    assert result.reason == "no-manifest"
    assert not result.ok
    assert result.claim_generator is None


@pytest.mark.parametrize(
    "name, content",
    [("junk.png", b"this is not a picture"), ("empty.jpg", b""), ("notes.txt", b"hello")],
)
def test_unreadable_file_raises(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StreamFaceError):
        verify_file(path)


def test_missing_path_and_directory_raise(tmp_path: Path) -> None:
    with pytest.raises(StreamFaceError, match="No such file"):
        verify_file(tmp_path / "nope.png")
    with pytest.raises(StreamFaceError, match="directory"):
        verify_file(tmp_path)


# --------------------------------------------------------------------------- signing mechanics


def test_resigning_replaces_the_manifest(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "face.jpg")
    sign_file(path, title="first")
    sign_file(path, title="second")
    assert len(read_store(path)["manifests"]) == 1
    result = verify_file(path)
    assert result.status == "valid"
    assert result.title == "second"


def test_signing_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    good = make_png(tmp_path / "good.png")
    sign_file(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(StreamFaceError):
        sign_file(bad)
    assert bad.read_bytes() == b"not a png at all"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "config") == [
        "bad.png",
        "good.png",
    ]


def test_signing_keeps_file_permissions(tmp_path: Path) -> None:
    path = make_png(tmp_path / "face.png")
    path.chmod(0o640)
    sign_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_signing_through_a_symlink_updates_the_target(tmp_path: Path) -> None:
    real = make_png(tmp_path / "real.png")
    link = tmp_path / "link.png"
    link.symlink_to(real)
    sign_file(link)
    assert link.is_symlink()
    assert verify_file(real).status == "valid"


def test_unsupported_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "face.gif"
    Image.fromarray(_pattern()).save(path)
    with pytest.raises(StreamFaceError, match="supports"):
        sign_file(path)
    with pytest.raises(StreamFaceError, match="no such file"):
        sign_file(tmp_path / "absent.png")


def test_sign_bytes_round_trip(tmp_path: Path) -> None:
    data = make_jpeg(tmp_path / "face.jpg").read_bytes()
    signed, info = sign_bytes(data, "jpeg", title="frame 1")
    assert info.path is None and info.mime_type == "image/jpeg"
    assert verify_bytes(signed, "image/jpeg").status == "valid"
    assert verify_bytes(signed).status == "valid"  # format detected from the bytes
    assert verify_bytes(data, "image/jpeg").status == "missing"


# --------------------------------------------------------------------------- credentials


def test_development_certificate_is_created_once_and_reused(
    tmp_path: Path, isolated_config: Path
) -> None:
    c2pa_dir = isolated_config / "c2pa"
    assert not c2pa_dir.exists()
    first = make_png(tmp_path / "a.png")
    sign_file(first)
    chain = (c2pa_dir / DEV_CHAIN_FILE).read_bytes()
    key = (c2pa_dir / DEV_KEY_FILE).read_bytes()
    assert (c2pa_dir / DEV_CA_FILE).is_file()

    second = make_png(tmp_path / "b.png")
    sign_file(second)
    assert (c2pa_dir / DEV_CHAIN_FILE).read_bytes() == chain
    assert (c2pa_dir / DEV_KEY_FILE).read_bytes() == key
    serial = {active_manifest(p)["signature_info"]["cert_serial_number"] for p in (first, second)}
    assert len(serial) == 1


def test_development_key_is_private(isolated_config: Path) -> None:
    creds = load_credentials()
    assert creds.development
    c2pa_dir = isolated_config / "c2pa"
    assert stat.S_IMODE((c2pa_dir / DEV_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(c2pa_dir.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" not in repr(creds).encode()


def test_development_certificate_has_the_profile_c2pa_requires(isolated_config: Path) -> None:
    load_credentials()
    leaf, ca = x509.load_pem_x509_certificates(
        (isolated_config / "c2pa" / DEV_CHAIN_FILE).read_bytes()
    )
    assert leaf.issuer == ca.subject != leaf.subject  # not self-signed
    leaf.verify_directly_issued_by(ca)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"
    ext = leaf.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = ext.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert (
        ExtendedKeyUsageOID.EMAIL_PROTECTION
        in ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    ext.get_extension_for_class(x509.AuthorityKeyIdentifier)
    ext.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_broken_development_files_are_replaced(isolated_config: Path) -> None:
    load_credentials()
    key_file = isolated_config / "c2pa" / DEV_KEY_FILE
    key_file.write_text("garbage")
    creds = load_credentials()
    assert creds.development
    assert b"PRIVATE KEY" in key_file.read_bytes()


def test_environment_credentials_are_used(
    tmp_path: Path, isolated_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, key, ca = make_user_credentials(tmp_path / "mine")
    monkeypatch.setenv(ENV_CERT, str(chain))
    monkeypatch.setenv(ENV_KEY, str(key))
    path = make_png(tmp_path / "face.png")

    info = sign_file(path)
    assert info.development is False
    assert info.signer == "Example Newsroom signer"
    assert not (isolated_config / "c2pa").exists()  # no development certificate made

    result = verify_file(path)
    assert result.status == "valid"
    assert result.development is False
    assert result.signer == "Example Newsroom signer"
    assert result.trusted is False  # nobody was told to trust this CA yet
    assert verify_file(path, trust_anchors=ca).trusted is True
    monkeypatch.setenv(ENV_TRUST_ANCHORS, str(ca))
    assert verify_file(path).trusted is True


def test_trusting_the_development_ca_is_an_explicit_choice(
    tmp_path: Path, isolated_config: Path
) -> None:
    path = make_png(tmp_path / "face.png")
    sign_file(path)
    assert verify_file(path).trusted is False
    trusted = verify_file(path, trust_anchors=isolated_config / "c2pa" / DEV_CA_FILE)
    assert trusted.status == "valid" and trusted.trusted is True and trusted.development is True


def test_half_configured_credentials_are_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, key, _ = make_user_credentials(tmp_path / "mine")
    monkeypatch.setenv(ENV_CERT, str(chain))
    with pytest.raises(StreamFaceError, match=ENV_KEY):
        load_credentials()


def test_mismatched_key_is_an_error(tmp_path: Path) -> None:
    chain, _, _ = make_user_credentials(tmp_path / "one")
    _, other_key, _ = make_user_credentials(tmp_path / "two")
    with pytest.raises(StreamFaceError, match="does not match"):
        load_credentials(chain, other_key)
    with pytest.raises(StreamFaceError, match="cannot read"):
        load_credentials(tmp_path / "absent.pem", other_key)


def test_config_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CONFIG_DIR)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "streamface"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "streamface"
    monkeypatch.setenv(ENV_CONFIG_DIR, str(tmp_path / "override"))
    assert config_dir() == tmp_path / "override"
