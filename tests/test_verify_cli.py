"""`streamface verify` end to end: verdicts, key facts, and exit codes, via a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_provenance import TAMPER, make_media

from streamface import __version__
from streamface.provenance import sign_file
from streamface.provenance.credentials import ENV_CERT, ENV_CONFIG_DIR, ENV_KEY
from streamface.provenance.verify import ENV_TRUST_ANCHORS


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "config"
    monkeypatch.setenv(ENV_CONFIG_DIR, str(cfg))
    for name in (ENV_CERT, ENV_KEY, ENV_TRUST_ANCHORS):
        monkeypatch.delenv(name, raising=False)
    return cfg


def verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamface", "verify", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


@pytest.mark.parametrize("fmt", ["png", "jpg", "mp4"])
def test_valid_file_exits_zero_with_key_facts(tmp_path: Path, fmt: str) -> None:
    path = make_media(tmp_path, fmt)
    sign_file(path)
    out = verify(path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("valid:")
    assert f"StreamFace {__version__}" in out.stdout
    assert "c2pa.created" in out.stdout
    assert "trainedAlgorithmicMedia (AI-generated)" in out.stdout
    assert "development certificate" in out.stdout


@pytest.mark.parametrize("fmt", ["png", "jpg", "mp4"])
def test_tampered_file_exits_one_and_says_tampered(tmp_path: Path, fmt: str) -> None:
    path = make_media(tmp_path, fmt)
    sign_file(path)
    TAMPER[fmt](path)
    out = verify(path)
    assert out.returncode == 1
    assert out.stdout.startswith("tampered:")
    assert "changed after it was signed" in out.stdout


def test_unsigned_file_exits_one_and_says_missing(tmp_path: Path) -> None:
    path = make_media(tmp_path, "png")
    out = verify(path)
    assert out.returncode == 1
    assert out.stdout.startswith("missing:")


def test_unreadable_file_exits_two(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg")
    for target in (junk, tmp_path / "absent.png"):
        out = verify(target)
        assert out.returncode == 2
        assert out.stderr.startswith("streamface verify:")
        assert out.stdout == ""


def test_json_output(tmp_path: Path) -> None:
    path = make_media(tmp_path, "jpg")
    sign_file(path, title="demo still")
    out = verify(path, "--json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["status"] == "valid"
    assert doc["title"] == "demo still"
    assert doc["ai_generated"] is True
    assert doc["development_certificate"] is True
    assert doc["trusted"] is False

    TAMPER["jpg"](path)
    out = verify(path, "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["status"] == "tampered"


def test_trust_anchors_flag(tmp_path: Path, isolated_config: Path) -> None:
    path = make_media(tmp_path, "png")
    sign_file(path)
    out = verify(path, "--json", "--trust-anchors", isolated_config / "c2pa" / "dev-ca.pem")
    assert out.returncode == 0
    assert json.loads(out.stdout)["trusted"] is True
