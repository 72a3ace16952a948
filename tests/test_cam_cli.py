"""`streamface cam`: clear exits without a device or microphone, and the frame loop with fakes."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeSession

from streamface.cli import build_parser
from streamface.cli.cam import FileSource, _run, run_live
from streamface.sinks.virtualcam import i420_to_rgb


def write_wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.sin(2 * np.pi * 180 * t) * 12000).astype("<i2").tobytes())
    return path


def cam(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamface", "cam", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _has_loopback() -> bool:
    return any(
        "loopback" in p.read_text().lower() or "dummy" in p.read_text().lower()
        for p in Path("/sys/devices/virtual/video4linux").glob("video*/name")
    )


@pytest.mark.skipif(_has_loopback(), reason="a v4l2loopback device exists here")
def test_no_virtual_camera_exits_2_with_the_modprobe_line(tmp_path: Path) -> None:
    out = cam("--input", str(write_wav(tmp_path / "v.wav")), "--size", "640x360")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    if sys.platform.startswith("linux"):
        assert "sudo modprobe v4l2loopback exclusive_caps=1" in lines[0]
    else:
        assert "OBS" in lines[0]
    assert out.stdout == ""


@pytest.mark.skipif(_has_loopback(), reason="a v4l2loopback device exists here")
def test_named_device_that_is_missing(tmp_path: Path) -> None:
    out = cam("--input", str(write_wav(tmp_path / "v.wav")), "--device", "/dev/video63")
    assert out.returncode == 2
    assert "/dev/video63" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_microphone_missing_or_no_portaudio_exits_2() -> None:
    try:
        import sounddevice as sd

        sd.query_devices(kind="input")
        pytest.skip("this machine has a working microphone")
    except Exception:  # noqa: BLE001 - PortAudio missing (OSError) or no input device
        pass
    out = cam("--input", "mic")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "microphone" in lines[0], out.stderr
    assert "--input FILE" in lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--input", "no/such/file.wav"], "not found"),
        (["--input", "mic", "--size", "641x480"], "even"),
        (["--input", "mic", "--size", "big"], "WIDTHxHEIGHT"),
    ],
)
def test_bad_options_exit_2(args: list[str], words: str) -> None:
    out = cam(*args)
    assert out.returncode == 2 and words in out.stderr


def test_help_lists_the_options() -> None:
    parser = build_parser()
    text = parser.parse_args(["cam"]).__dict__
    assert text["input"] == "mic" and text["fps"] == 30.0 and text["size"] == "1280x720"


def test_file_source_arrives_in_real_time() -> None:
    src = FileSource(np.arange(16000, dtype=np.float32), 16000)
    assert src.read_until(0.25).size == 4000
    assert src.read_until(0.25).size == 0
    assert src.read_until(0.5)[0] == 4000
    assert not src.finished
    assert src.read_until(2.0).size == 8000 and src.finished
    looped = FileSource(np.arange(10, dtype=np.float32), 10, loop=True)
    assert list(looped.read_until(1.5)) == [*range(10), *range(5)]
    assert not looped.finished


class FakePacer:
    """A clock that advances one frame per wait (no sleeping)."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.frame = 0

    def elapsed(self) -> float:
        return self.frame / self.fps

    def wait(self) -> int:
        self.frame += 1
        return self.frame


class FakeCamera:
    def __init__(self, **kw: Any) -> None:
        self.kw = kw
        self.device = kw["device"] or "/dev/video10"
        self.backend = "fake"
        self.frames: list[np.ndarray] = []
        self.closed = False

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        self.closed = True


def test_run_live_feeds_audio_by_the_clock_and_sends_each_frame() -> None:
    session = FakeSession(size=32)
    audio = (np.sin(np.arange(32000) / 8) * 0.3).astype(np.float32)  # 2 s
    frames: list[np.ndarray] = []

    class Cam:
        def send(self, rgb: np.ndarray) -> None:
            frames.append(rgb)

    n = run_live(session, FileSource(audio, 16000), Cam(), FakePacer(30))
    assert n == len(frames) == 61  # frames at 0, 1/30, ... 2.0 s
    assert session.speech_seconds == pytest.approx(2.0, abs=0.05)
    assert session.analyses >= 1 and session.profile is not None
    assert frames[-1].shape == (32, 32, 3)


def test_cam_command_wires_input_session_and_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = write_wav(tmp_path / "v.wav", seconds=1.5)
    args = build_parser().parse_args(
        [
            "cam",
            "--input",
            str(wav),
            "--size",
            "320x240",
            "--fps",
            "30",
            "--device",
            "/dev/video7",
            "--format",
            "i420",
        ]
    )
    cams: list[FakeCamera] = []
    sessions: list[FakeSession] = []

    def camera_factory(**kw: Any) -> FakeCamera:
        cams.append(FakeCamera(**kw))
        return cams[-1]

    def session_factory(frame: Any) -> FakeSession:
        sessions.append(FakeSession(size=64))
        return sessions[-1]

    assert (
        _run(
            args,
            camera_factory=camera_factory,
            session_factory=session_factory,
            pacer_factory=FakePacer,
        )
        == 0
    )
    (camera,) = cams
    assert camera.kw["device"] == "/dev/video7" and camera.kw["fmt"] == "i420"
    assert camera.kw["width"] == 320 and camera.kw["height"] == 240 and camera.closed
    assert len(camera.frames) == 46
    assert all(f.shape == (320 * 240 * 3 // 2,) for f in camera.frames)
    assert i420_to_rgb(camera.frames[-1], 320, 240).shape == (240, 320, 3)
    (session,) = sessions
    assert session.closed  # buffers zeroed at the end
    out = capsys.readouterr().out
    assert "/dev/video7" in out and "AI-generated" in out


def test_run_live_with_the_real_session(shared_voices: dict[Path, str]) -> None:
    from fakes import ShapesEngine, fake_mapper

    from streamface.session import Session

    voice = next(p for p in shared_voices if p.name == "flite_female_slt.wav")
    session = Session(ShapesEngine(64), mapper=fake_mapper)
    sent: list[np.ndarray] = []

    class Cam:
        def send(self, rgb: np.ndarray) -> None:
            sent.append(rgb)

    try:
        n = run_live(session, FileSource.open(voice), Cam(), FakePacer(30), seconds=4.0)
        assert n == len(sent) == 121
        assert session.analyses >= 1 and session.profile is not None
        assert session.profile.perceived_sex.label == "female"
        assert sent[0].shape == (64, 64, 3)
    finally:
        session.close()


def test_wide_camera_gets_a_call_tile_frame_and_the_look(tmp_path: Path) -> None:
    """A 16:9 camera: the real session frames the face wide (no letterbox) with --look."""
    from fakes import ShapesEngine, fake_mapper

    from streamface.cli.cam import camera_frame_size
    from streamface.face.framing import FrameSize
    from streamface.session import Session

    assert camera_frame_size(1280, 720, 360) == FrameSize(640, 360)
    assert camera_frame_size(640, 640, 256) == FrameSize(256, 256)
    assert camera_frame_size(480, 640, 256) == FrameSize(256, 256)  # tall: square, fitted
    wav = write_wav(tmp_path / "v.wav", seconds=1.0)
    args = build_parser().parse_args(
        ["cam", "--input", str(wav), "--size", "1280x720", "--face-size", "128", "--format", "rgb",
         "--look", "3"]
    )
    cams: list[FakeCamera] = []
    sessions: list[Session] = []

    def camera_factory(**kw: Any) -> FakeCamera:
        cams.append(FakeCamera(**kw))
        return cams[-1]

    def session_factory(frame: FrameSize) -> Session:
        sessions.append(Session(ShapesEngine(frame.face), mapper=fake_mapper, frame_size=frame))
        return sessions[-1]

    assert _run(args, camera_factory=camera_factory, session_factory=session_factory, pacer_factory=FakePacer) == 0
    (session,) = sessions
    assert session.frame_size == FrameSize(228, 128) and session.look == 3
    (camera,) = cams
    last = np.asarray(camera.frames[-1]).reshape(720, 1280, 3)
    # The sides are the background extended (each row one colour), not a letterbox bar.
    band = last[150:450, :200].astype(int)  # between the badge (top) and the label (bottom)
    assert np.abs(band - band[:, :1]).max() <= 2
    right = last[150:450, -200:].astype(int)
    assert np.abs(right - right[:, -1:]).max() <= 2
