"""The command line's own behaviour: help, version, unknown input."""

from __future__ import annotations

import subprocess
import sys

from streamface import __version__
from streamface.cli import COMMANDS, build_parser


def test_version_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streamface", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in out.stdout


def test_no_command_prints_help_and_fails() -> None:
    out = subprocess.run([sys.executable, "-m", "streamface"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "usage: streamface" in out.stdout


def test_every_built_command_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert name in COMMANDS
        assert sub.choices[name].format_help()  # type: ignore[index]
