"""The `streamface` command line.

Each subcommand lives in its own module in this package and exposes two functions:
``add_parser(subparsers)`` (declares its arguments) and ``run(args) -> int``. Heavy
imports belong inside ``run`` so that ``streamface --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from collections.abc import Sequence

from streamface import __version__
from streamface.errors import StreamFaceError

STARTED = time.perf_counter()
"""When the command line was imported: commands report their whole time from here."""

# Subcommand modules, in the order `--help` lists them.
COMMANDS: tuple[str, ...] = (
    "analyze",
    "portrait",
    "render",
    "gallery",
    "serve",
    "cam",
    "vmc",
    "verify",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="streamface",
        description=(
            "A live, labelled synthetic face from a voice. The face is a statistical "
            "portrait of what a voice correlates with, never the speaker's identity."
        ),
    )
    parser.add_argument("--version", action="version", version=f"streamface {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"streamface.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"streamface.cli.{name}":
                continue  # command not built yet in this tree
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `streamface` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # the face model's one-time export takes about a minute: say so rather than sit silent
    logging.getLogger("engines.export").setLevel(min(level, logging.INFO))
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(f"streamface.cli.{args.command}")
    try:
        return int(module.run(args))
    except StreamFaceError as exc:
        print(f"streamface {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"streamface {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`streamface verify FILE | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
