"""`streamface analyze` end to end, through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from voice_signals import silence, write_wav

VOICES = Path(__file__).resolve().parent / "data" / "voices"
EXE = Path(sys.executable).parent / "streamface"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "streamface"]
    return subprocess.run([*cmd, "analyze", *args], capture_output=True, text=True, timeout=120)


def test_json_output_has_the_documented_schema() -> None:
    out = _run(str(VOICES / "flite_slt_b.flac"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # exactly one JSON object
    assert isinstance(data["speech_seconds"], float) and data["speech_seconds"] > 1.0
    assert isinstance(data["f0_median_hz"], float)
    assert data["perceived_sex"]["label"] in ("female", "male")
    assert data["perceived_sex"]["label"] == "female"
    assert 0.0 <= data["perceived_sex"]["p_female"] <= 1.0
    assert data["age_band"]["label"] in data["age_band"]["probs"]
    assert set(data["age_band"]["probs"]) == {"child", "young_adult", "adult", "senior"}
    assert 0.0 <= data["confidence"] <= 1.0
    assert len(data["embedding"]) == 256
    assert all(isinstance(v, float) for v in data["embedding"])


def test_buffer_seconds_limits_the_speech_used() -> None:
    out = _run(str(VOICES / "flite_rms.flac"), "--json", "--buffer-seconds", "1.5")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["speech_seconds"] == pytest.approx(1.5, abs=0.02)
    assert data["perceived_sex"]["label"] == "male"


def test_human_summary_says_perceived_not_identity() -> None:
    out = _run(str(VOICES / "flite_awb.flac"))
    assert out.returncode == 0, out.stderr
    assert "not the identity" in out.stdout
    assert "perceived sex     male" in out.stdout
    assert "Hz" in out.stdout


def test_text_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "readme.txt"
    path.write_text("hello, I am not audio\n" * 20)
    out = _run(str(path))
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("streamface analyze:")


def test_silence_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    write_wav(path, silence(3.0))
    out = _run(str(path), "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "speech" in lines[0]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    out = _run(str(tmp_path / "nope.wav"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox to make an mp3/ogg")
def test_other_containers_decode(tmp_path: Path) -> None:
    src = VOICES / "flite_kal16.flac"
    ogg = tmp_path / "voice.ogg"
    made = subprocess.run(["sox", str(src), str(ogg)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("sox cannot write ogg here")
    out = _run(str(ogg), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["perceived_sex"]["label"] == "male"
