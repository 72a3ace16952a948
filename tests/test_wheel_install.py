"""`pip install streamface` is complete: a wheel in a fresh virtualenv analyses a voice.

Builds the wheel from this checkout, creates a new virtualenv (no system site packages,
nothing of this repository on its path), installs the CPU torch the README names and then
the wheel with its dependencies from the package index, and runs the installed
``streamface`` command: ``analyze`` (the GE2E weights must come from the wheel) and
``portrait`` (the face renderer exported to ONNX on first use). Takes under a minute
with a warm pip cache; downloads the dependencies otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, SHARED_VOICES

VOICE = SHARED_VOICES / "flite_female_slt.wav"
TORCH = "torch==2.13.0"


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_analyze_and_portrait(tmp_path: Path) -> None:
    if not VOICE.exists():
        pytest.skip(f"shared voice not found: {VOICE}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)], tmp_path, env)
    (wheel,) = wheels.glob("streamface-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for asset in ("ge2e_encoder.npz", "ge2e_encoder.onnx", "ge2e_encoder_int8.onnx", "LICENSE", "NOTICE"):
        assert f"streamface/voice/assets/{asset}" in names

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    py, bin_dir = venv / "bin" / "python", venv / "bin"
    # one resolve for both; --no-compile: byte-compiling torch's files is half the install time,
    # and the commands below compile what they import anyway
    run([str(py), "-m", "pip", "install", "-q", "--no-compile", TORCH, str(wheel)], tmp_path, env)

    where = run([str(py), "-c", "import streamface, sys; print(streamface.__file__)"], tmp_path, env).stdout
    assert where.strip().startswith(str(venv)), where  # the installed copy, not this checkout
    missing = subprocess.run(
        [str(py), "-c", "import resemblyzer"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert missing.returncode != 0  # the weights need no resemblyzer

    analyzed = run([str(bin_dir / "streamface"), "analyze", str(VOICE), "--json"], tmp_path, env)
    profile = json.loads(analyzed.stdout)
    assert profile["speech_seconds"] > 1.0
    assert profile["perceived_sex"]["label"] == "female"
    assert len(profile["embedding"]) == 256 and any(profile["embedding"])

    cache = tmp_path / "cache"
    env_portrait = {**env, "STREAMFACE_CACHE_DIR": str(cache)}
    out = tmp_path / "face.png"
    portrait = run([str(bin_dir / "streamface"), "portrait", str(VOICE), "-o", str(out), "--size", "128"], tmp_path, env_portrait)
    assert out.stat().st_size > 1000
    assert "preparing the face model" in portrait.stderr  # a new user is told why the first run waits

    # the adapters are extras: without them, a one-line hint, and the core never needs them
    hint = subprocess.run(
        [str(py), "-c", "import streamface.pipecat"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert hint.returncode != 0 and "pip install 'streamface[pipecat]'" in hint.stderr
