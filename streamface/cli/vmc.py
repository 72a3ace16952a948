"""`streamface vmc`: drive a VRM avatar in VTuber apps over the VMC protocol.

The microphone (through sounddevice) or a file played in real time moves the mouth; blinks
and idle head motion come from the clock. One OSC bundle per frame goes over UDP to a VMC
receiver (VSeeFace, VMagicMirror, Warudo, ...): see `streamface.sinks.vmc`.

Like ``streamface cam`` this is the user's own voice on their own machine; only motion
(mouth shapes, blinks, head rotation) is sent, never audio or inferred traits.

Exit status 2, with one line on stderr, for a bad ``--to``, an unknown host, no
microphone or PortAudio, an unreadable file, or a bad option.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from streamface.errors import StreamFaceError

log = logging.getLogger(__name__)


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 39539
"""The VMC protocol's conventional receiver port."""


def add_parser(subparsers: Any) -> None:
    """Declare ``streamface vmc``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "vmc",
        help="drive a VRM avatar in VTuber apps (VSeeFace, VMagicMirror, Warudo) over the VMC protocol",
        description=(
            "Listen to the microphone (or play a file in real time) and send the mouth shapes, "
            "blinks and idle head motion StreamFace computes to a VMC protocol receiver "
            "(OSC over UDP), one bundle per frame. Only motion is sent."
        ),
    )
    p.add_argument(
        "--input", default="mic", metavar="mic|FILE",
        help="'mic' for the default microphone (default), or an audio file played in real time",
    )
    p.add_argument(
        "--to", default=f"{DEFAULT_HOST}:{DEFAULT_PORT}", metavar="HOST:PORT",
        help=f"the VMC receiver (default: {DEFAULT_HOST}:{DEFAULT_PORT})",
    )
    p.add_argument("--rate", type=_rate, default=60.0, help="bundles per second, 1-60 (default: 60)")
    p.add_argument(
        "--vrm1", action="store_true",
        help="send VRM 1 expression names (aa ih ou ee oh blinkLeft blinkRight) instead of VRM 0 "
        "presets (A I U E O Blink_L Blink_R)",
    )
    p.add_argument("--mic-device", default=None, metavar="NAME|INDEX", help="sounddevice input device (default: the system's)")
    p.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds (default: run until Ctrl+C or the file ends)")
    p.add_argument("--loop", action="store_true", help="play the input file again and again")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of blinks and head motion (default: 0)")


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1.0 <= value <= 60.0:
        raise argparse.ArgumentTypeError("rate must be between 1 and 60")
    return value


def run(args: argparse.Namespace) -> int:
    """Open the input and the UDP target, then send until Ctrl+C or the end of the file."""
    from streamface.cli.cam import open_source
    from streamface.motion.animator import Animator
    from streamface.sinks.virtualcam import FramePacer

    try:
        from streamface.sinks.vmc import VmcSender, parse_target, run_vmc
    except ImportError:
        raise StreamFaceError("python-osc is not installed: pip install 'streamface[vmc]'") from None

    host, port = parse_target(args.to)
    if args.input != "mic" and not Path(args.input).is_file():
        raise StreamFaceError(f"input file not found: {args.input}")
    sender = VmcSender(host, port)
    try:
        source = open_source(args.input, loop=args.loop, mic_device=args.mic_device)
        try:
            names = "VRM 1" if args.vrm1 else "VRM 0"
            print(
                f"streamface vmc: sending {names} blend shapes and head motion to {host}:{port} "
                f"@ {args.rate:g} Hz from {'the microphone' if args.input == 'mic' else args.input}; "
                "Ctrl+C to stop",
                flush=True,
            )
            frames = run_vmc(
                source, sender, FramePacer(args.rate), animator=Animator(args.seed, fps=args.rate),
                vrm1=args.vrm1, seconds=args.seconds,
            )
            log.info("sent %d bundles", frames)
        finally:
            source.close()
    finally:
        sender.close()
    return 0
