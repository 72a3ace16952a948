"""`streamface render`: H.264 + AAC in sync, labelled frames, atomic output, exit 2 on bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fakes import ShapesEngine, fake_mapper

from streamface.cli.render import render_to_file
from streamface.face.label import label_present
from streamface.offline import Audio, load_audio
from streamface.session import Session

VOICES = Path(__file__).resolve().parent.parent.parent / "shared" / "voices"


def _voice(name: str) -> Path:
    path = VOICES / name
    if not path.exists():
        pytest.skip(f"shared voice {name} not found")
    return path


def _probe(path: Path) -> dict[str, Any]:
    """Decode an MP4 fully: codecs, frame count, durations, a few frames."""
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        a = container.streams.audio[0]
        info: dict[str, Any] = {
            "video_codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.codec_context.width, v.codec_context.height),
            "audio_codec": a.codec_context.name,
            "audio_rate": a.codec_context.sample_rate,
        }
        pts = []
        frames = []
        for frame in container.decode(v):
            pts.append(float(frame.pts * frame.time_base))
            frames.append(frame.to_ndarray(format="rgb24"))
    with av.open(str(path)) as container:
        samples = 0
        first_audio = None
        for frame in container.decode(audio=0):
            if first_audio is None:
                first_audio = float(frame.pts * frame.time_base)
            samples += frame.samples
    info.update(
        frames=len(frames),
        video_pts=np.array(pts),
        images=frames,
        audio_seconds=samples / info["audio_rate"],
        audio_start=first_audio,
    )
    return info


def _check_mp4(out: Path, seconds: float, fps: float, size: int) -> dict[str, Any]:
    info = _probe(out)
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["audio_codec"] == "aac"
    assert info["size"] == (size, size)
    assert abs(info["frames"] - seconds * fps) <= 1
    np.testing.assert_allclose(info["video_pts"], np.arange(info["frames"]) / fps, atol=1e-3)
    video_seconds = info["frames"] / fps
    # AAC pads its last packet to 1024 samples (64 ms at 16 kHz): allow one frame plus that.
    assert abs(info["audio_seconds"] - seconds) <= 1024 / info["audio_rate"] + 1e-3
    assert abs(video_seconds - seconds) <= 1.0 / fps
    assert info["audio_start"] == pytest.approx(0.0, abs=1e-3)
    for image in info["images"][:: max(1, info["frames"] // 20)]:
        assert label_present(image)
    return info


def _assert_signed(path: Path) -> None:
    """Every MP4 `render` writes carries a valid StreamFace C2PA manifest."""
    from streamface.provenance import TRAINED_ALGORITHMIC_MEDIA, verify_file

    verdict = verify_file(path)
    assert verdict.status == "valid", verdict.messages
    assert verdict.action == "c2pa.created"
    assert verdict.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert verdict.title == path.name


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".part" in p.name]


@pytest.mark.slow
def test_render_command_end_to_end(tmp_path: Path) -> None:
    """The real command: default engine, real mapping, a shared voice."""
    pytest.importorskip("streamface.face.mapping", reason="face mapping not built yet")
    voice = _voice("flite_female_slt.wav")
    out = tmp_path / "talking.mp4"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamface",
            "render",
            str(voice),
            "-o",
            str(out),
            "--size",
            "256",  # the live default size: the run exports it once for every test
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    seconds = load_audio(voice).seconds
    _check_mp4(out, seconds, 30.0, 256)
    summary = proc.stdout.strip().splitlines()[-1]
    assert "frames" in summary and "realtime" in summary and f"{seconds:.2f} s" in summary
    assert re.search(r"realtime\), \d+\.\d\d s in all", summary)  # the whole command, start-up included
    assert "C2PA-signed" in summary and "DEVELOPMENT certificate" in summary
    assert not _leftovers(tmp_path)
    _assert_signed(out)


def test_render_to_file_in_sync_at_another_frame_rate(tmp_path: Path) -> None:
    voice = _voice("espeak_male_m5.wav")
    audio = load_audio(voice)
    audio = Audio(audio.samples[: 16000 * 4], audio.rate)
    out = tmp_path / "m5.mp4"
    session = Session(ShapesEngine(128), fps=25, mapper=fake_mapper)
    stats = render_to_file(session, audio, out, fps=25, size=128, progress=False)
    assert stats["frames"] == 100 and stats["seconds"] == pytest.approx(4.0)
    _check_mp4(out, 4.0, 25.0, 128)
    assert not _leftovers(tmp_path)
    _assert_signed(out)
    assert [p.name for p in tmp_path.iterdir()] == ["m5.mp4"]  # no signing temp file left


class _FailingEngine(ShapesEngine):
    def __init__(self, size: int, fail_at: int, error: BaseException) -> None:
        super().__init__(size)
        self.fail_at = fail_at
        self.error = error

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        if self.animates + 1 >= self.fail_at:
            raise self.error
        return super().animate(prepared, anim)


@pytest.mark.parametrize("error", [RuntimeError("engine broke"), KeyboardInterrupt()])
def test_failure_or_interrupt_leaves_no_file(tmp_path: Path, error: BaseException) -> None:
    audio = load_audio(_voice("flite_male_awb.wav"))
    out = tmp_path / "broken.mp4"
    old = tmp_path / "kept.mp4"
    old.write_bytes(b"an earlier render")
    for target in (out, old):
        session = Session(_FailingEngine(64, 40, error), mapper=fake_mapper)
        with pytest.raises(type(error)):
            render_to_file(session, audio, target, fps=30, size=64, progress=False)
    assert not out.exists()
    assert old.read_bytes() == b"an earlier render"  # never replaced by a half-written file
    assert not _leftovers(tmp_path)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamface", "render", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_input_exits_2_without_output(tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    voice = str(_voice("flite_female_slt_2.wav"))
    cases = [
        ([str(tmp_path / "missing.wav"), "-o", str(tmp_path / "a.mp4")], tmp_path / "a.mp4"),
        ([str(text), "-o", str(tmp_path / "b.mp4")], tmp_path / "b.mp4"),
        ([str(empty), "-o", str(tmp_path / "c.mp4")], tmp_path / "c.mp4"),
        ([voice, "-o", str(tmp_path / "no" / "such" / "dir.mp4")], tmp_path / "no"),
        ([voice, "-o", str(tmp_path / "d.mkv")], tmp_path / "d.mkv"),
        ([voice, "-o", str(tmp_path / "e.mp4"), "--engine", "warp-drive"], tmp_path / "e.mp4"),
    ]
    for args, output in cases:
        proc = _run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("streamface render: "), proc.stderr
        assert not output.exists()
    for args in (["--size", "63"], ["--fps", "0"]):
        proc = _run_cli(voice, "-o", str(tmp_path / "f.mp4"), *args)
        assert proc.returncode == 2 and not (tmp_path / "f.mp4").exists()
    assert not _leftovers(tmp_path)


def test_no_switch_removes_the_label() -> None:
    proc = _run_cli("--help")
    assert proc.returncode == 0
    assert "label" in proc.stdout.lower()
    for word in ("--no-label", "--unlabeled", "--without-label", "--hide-label"):
        assert word not in proc.stdout
