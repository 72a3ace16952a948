"""What StreamFace puts in a C2PA manifest, and the SDK settings it signs and reads with.

The manifest says one thing: StreamFace created this picture or video with a trained
model. It carries the claim generator and software agent ("StreamFace <version>"), a
`c2pa.created` action with the IPTC digital source type `trainedAlgorithmicMedia`, and
a title. It carries no personal data: no audio, no speaker embedding, no inferred
traits, no thumbnail, no ingredients.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamface import __version__
from streamface.errors import StreamFaceError

SOFTWARE_NAME = "StreamFace"

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
"""IPTC digital source type for media created by a trained model."""

ACTION_DESCRIPTION = (
    "Synthetic face rendered by StreamFace: a statistical portrait inferred from a voice, "
    "not the speaker's real appearance."
)

MIME_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp4": "video/mp4",
}
"""File extensions StreamFace signs and verifies, and their media types."""

_FORMAT_ALIASES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "mp4": "video/mp4",
    **{mime: mime for mime in MIME_TYPES.values()},
}

SDK_SETTINGS: dict[str, Any] = {
    "version": 1,
    # No network, ever: no remote manifests, no OCSP, no hosts allowed at all. Signing
    # passes no timestamp authority URL (see sign.py), so nothing reaches out there either.
    "core": {"allowed_network_hosts": []},
    "verify": {
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
        "verify_after_reading": True,
        "verify_after_sign": True,
        "verify_trust": True,
    },
    # A thumbnail would duplicate the (synthetic) picture inside the manifest; keep
    # manifests minimal.
    "builder": {"thumbnail": {"enabled": False}},
}
"""c2pa SDK settings used for both signing and verification."""


def software_agent() -> str:
    """ "StreamFace <version>", as the manifest and messages name it."""
    return f"{SOFTWARE_NAME} {__version__}"


def mime_type_for(path: str | Path) -> str:
    """The media type of a file StreamFace can sign, from its extension.

    Raises:
        StreamFaceError: The extension is not .png, .jpg/.jpeg or .mp4.
    """
    suffix = Path(path).suffix.lower()
    try:
        return MIME_TYPES[suffix]
    except KeyError:
        raise StreamFaceError(
            f"{path}: C2PA signing supports {', '.join(sorted(MIME_TYPES))} files, not "
            f"{suffix or 'files without an extension'}"
        ) from None


def normalize_format(fmt: str) -> str:
    """A media type from "png", "jpg", "mp4", ".png" or a media type itself.

    Raises:
        StreamFaceError: The format is not one StreamFace signs.
    """
    key = fmt.lower().lstrip(".")
    try:
        return _FORMAT_ALIASES[key]
    except KeyError:
        raise StreamFaceError(f"C2PA signing supports PNG, JPEG and MP4, not {fmt!r}") from None


def manifest_definition(title: str) -> dict[str, Any]:
    """The manifest definition handed to `c2pa.Builder`.

    Args:
        title: A human title for the asset (e.g. its file name). Callers must not put
            personal data in it.
    """
    agent = {"name": SOFTWARE_NAME, "version": __version__}
    return {
        "claim_generator_info": [dict(agent)],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": dict(agent),
                            "description": ACTION_DESCRIPTION,
                        }
                    ]
                },
            }
        ],
    }
