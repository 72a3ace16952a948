"""`streamface verify FILE`: is the file's C2PA provenance valid, missing, or tampered?

Exit status: 0 only for a valid manifest, 1 for a missing or tampered one, 2 when the
file cannot be read (the CLI's handling of `StreamFaceError`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Declare the `verify` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        help="check a file's signed C2PA provenance (valid, missing, tampered)",
        description=(
            "Read the C2PA manifest embedded in a PNG, JPEG or MP4 and say whether it is "
            "valid, missing, or tampered (content or manifest changed after signing). "
            "Exit status: 0 valid, 1 missing or tampered, 2 unreadable file. "
            "No network is used."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to check")
    parser.add_argument("--json", action="store_true", help="print the full verdict as JSON")
    parser.add_argument(
        "--trust-anchors",
        metavar="PEM",
        default=None,
        help="PEM file of root certificates to trust (default: $STREAMFACE_C2PA_TRUST_ANCHORS)",
    )


def run(args: argparse.Namespace) -> int:
    """Verify one file and print the verdict; 0 only when valid."""
    from streamface.provenance.verify import verify_file

    result = verify_file(args.file, trust_anchors=args.trust_anchors)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.summary)
        facts = (
            ("generator", result.claim_generator),
            ("action", result.action),
            ("source type", _source_type(result.digital_source_type)),
            ("title", result.title),
            ("signed by", _signer(result.signer, result.issuer)),
            ("signed at", result.signed_at),
            ("trusted", None if result.status != "valid" else ("yes" if result.trusted else "no")),
        )
        for label, value in facts:
            if value:
                print(f"  {label + ':':<13}{value}")
        for message in result.messages:
            print(f"  {message}")
    return 0 if result.ok else 1


def _source_type(uri: str | None) -> str | None:
    if not uri:
        return None
    short = uri.rstrip("/").rsplit("/", 1)[-1]
    if short == "trainedAlgorithmicMedia":
        return f"{short} (AI-generated)"
    return short


def _signer(name: str | None, issuer: str | None) -> str | None:
    if name and issuer and issuer != name:
        return f"{name} ({issuer})"
    return name or issuer
