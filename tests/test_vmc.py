"""VMC protocol output, checked by a real UDP receiver that decodes the OSC bundles.

Speech moves the vowel shapes, silence closes the mouth within 100 ms, blinks arrive every
2-10 s, a stalled input relaxes the mouth while blinks and head motion go on, the rate
holds, and the CLI sends what it says.
"""

from __future__ import annotations

import math
import socket
import statistics
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from streamface.cli import main
from streamface.cli.cam import FileSource
from streamface.errors import StreamFaceError
from streamface.face.animation import FaceAnimation
from streamface.motion.animator import Animator
from streamface.sinks.virtualcam import FramePacer
from streamface.sinks.vmc import (
    CLOSED_BELOW,
    VRM0_NAMES,
    VRM1_NAMES,
    VmcSender,
    frame_bundle,
    head_quaternion,
    parse_target,
    run_vmc,
    shapes_for,
)

VOWELS = ("A", "I", "U", "E", "O")


@dataclass
class Frame:
    """One decoded bundle."""

    messages: list[tuple[str, list[Any]]]

    @property
    def t(self) -> float:
        return float(next(p[0] for a, p in self.messages if a == "/VMC/Ext/T"))

    @property
    def blend(self) -> dict[str, float]:
        return {p[0]: p[1] for a, p in self.messages if a == "/VMC/Ext/Blend/Val"}

    @property
    def head(self) -> list[float]:
        return next(p[1:] for a, p in self.messages if a == "/VMC/Ext/Bone/Pos" and p[0] == "Head")


class Receiver:
    """A UDP socket on 127.0.0.1 that decodes every OSC bundle it gets (in a thread)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames: list[Frame] = []
        self.not_bundles = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not OscBundle.dgram_is_bundle(data):
                self.not_bundles += 1
                continue
            bundle = OscBundle(data)
            self.frames.append(Frame([(m.address, list(m.params)) for m in bundle]))

    def settle(self, count: int | None = None, within_s: float = 5.0) -> list[Frame]:
        """The frames so far, once ``count`` arrived (or none came for 0.2 s without one)."""
        waited, seen = 0.0, -1
        while waited < within_s:
            n = len(self.frames)
            if (count is not None and n >= count) or (count is None and n == seen):
                break
            seen = n
            self._stop.wait(0.2)
            waited += 0.2
        return self.frames

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    try:
        yield rx
    finally:
        rx.close()


def fake_pacer(fps: float) -> FramePacer:
    """A pacer on a simulated clock: ``wait`` advances time instantly."""
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    return FramePacer(fps, clock=lambda: now[0], sleep=sleep)


def speech_cut_mid_word(voice: Path, seconds: float = 2.0) -> tuple[np.ndarray, float]:
    """A voice cut at its loudest 10 ms near ``seconds``, then 1.5 s of digital silence."""
    from streamface.audio.decode import decode_file

    x = decode_file(voice)[: int(seconds * 16000) + 8000]
    hop = 160
    rms = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    lo = int(1.2 * 16000 / hop)
    cut_hop = lo + int(np.argmax(rms[lo:]))
    cut = (cut_hop + 1) * hop
    return np.concatenate([x[:cut], np.zeros(24000, np.float32)]), cut / 16000


class StallingSource(FileSource):
    """A source that stops delivering (without ending) after ``stall_at`` seconds."""

    def __init__(self, samples: np.ndarray, stall_at: float, until: float) -> None:
        super().__init__(samples, 16000)
        self.stall_at, self.until = stall_at, until
        self.t = 0.0

    @property
    def finished(self) -> bool:
        return self.t >= self.until

    def read_until(self, t: float) -> np.ndarray:
        self.t = t
        return super().read_until(min(t, self.stall_at))


def _dominant(frame: Frame) -> str:
    blend = frame.blend
    return max(VOWELS, key=lambda v: blend[v])


# --- units ------------------------------------------------------------------------------


def test_shapes_spread_the_opening_over_vowels_and_close_below_the_threshold() -> None:
    wide_a = shapes_for(FaceAnimation(mouth_open=1.0, v_rest=0.0, v_a=1.0))
    assert wide_a.a == pytest.approx(1.0) and wide_a.e == wide_a.i == wide_a.o == wide_a.u == 0.0
    narrow_bright = shapes_for(FaceAnimation(mouth_open=0.28, v_rest=0.72, v_ei=0.28))
    assert narrow_bright.i > narrow_bright.e > 0.0 and narrow_bright.a == 0.0
    wide_round = shapes_for(FaceAnimation(mouth_open=0.9, v_rest=0.1, v_ou=0.9))
    assert wide_round.o > 0.5 and wide_round.u == 0.0
    nearly_closed = shapes_for(FaceAnimation(mouth_open=CLOSED_BELOW - 0.01, v_rest=0.8, v_a=0.2))
    assert max(nearly_closed.values()[:5]) == 0.0
    assert shapes_for(FaceAnimation(blink=0.7)).blink_l == shapes_for(FaceAnimation(blink=0.7)).blink_r == 0.7


def test_head_quaternion_is_unit_and_turns_about_the_right_axes() -> None:
    assert head_quaternion(0, 0, 0) == pytest.approx((0, 0, 0, 1))
    s = math.sin(math.radians(45))
    assert head_quaternion(90, 0, 0) == pytest.approx((0, s, 0, s))
    assert head_quaternion(0, 90, 0) == pytest.approx((s, 0, 0, s))
    assert head_quaternion(0, 0, 90) == pytest.approx((0, 0, s, s))
    q = head_quaternion(7, -4, 3)
    assert sum(v * v for v in q) == pytest.approx(1.0)


def test_one_bundle_in_protocol_order_with_vrm0_or_vrm1_names() -> None:
    for vrm1, names in ((False, VRM0_NAMES), (True, VRM1_NAMES)):
        bundle = OscBundle(frame_bundle(FaceAnimation(mouth_open=0.8, v_rest=0.2, v_a=0.8), 1.5, vrm1=vrm1))
        messages = [(m.address, list(m.params)) for m in bundle]
        assert [a for a, _ in messages] == (
            ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Bone/Pos"] + ["/VMC/Ext/Blend/Val"] * 7 + ["/VMC/Ext/Blend/Apply"]
        )
        assert messages[0][1] == [1, 3, 0, 1] and messages[1][1] == [pytest.approx(1.5)]
        assert messages[2][1][0] == "Head" and len(messages[2][1]) == 8
        assert [p[0] for _, p in messages[3:10]] == list(names)
        assert messages[3][1][1] > 0.5  # A / aa


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:39539", ("127.0.0.1", 39539)), ("example.local", ("example.local", 39539)),
     ("[::1]:40000", ("::1", 40000))],
)
def test_parse_target(text: str, expected: tuple[str, int]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["host:0", "host:70000", "host:port", ":39539", "[::1", "[::1]x"])
def test_parse_target_refuses(text: str) -> None:
    with pytest.raises(StreamFaceError, match="--to"):
        parse_target(text)


# --- over UDP ---------------------------------------------------------------------------


def test_speech_moves_vowels_and_silence_closes_the_mouth_within_100_ms(
    receiver: Receiver, shared_voices: dict[Path, str]
) -> None:
    voice = next(p for p in shared_voices if p.name == "flite_female_slt.wav")
    audio, cut_s = speech_cut_mid_word(voice)
    sender = VmcSender("127.0.0.1", receiver.port)
    try:
        sent = run_vmc(FileSource(audio, 16000), sender, fake_pacer(60), animator=Animator(fps=60))
    finally:
        sender.close()
    frames = receiver.settle(sent)
    assert len(frames) == sent and receiver.not_bundles == 0
    speech = [f for f in frames[:-1] if f.t < cut_s]
    peaks = {v: max(f.blend[v] for f in speech) for v in VOWELS}
    assert max(peaks.values()) > 0.5, peaks
    dominant = {_dominant(f) for f in speech if max(f.blend[v] for v in VOWELS) > 0.2}
    assert len(dominant) >= 2, dominant  # the shape changes with the sound, not just the opening
    at_cut = [f for f in frames if cut_s - 0.05 <= f.t < cut_s]
    assert max(max(f.blend[v] for v in VOWELS) for f in at_cut) > 0.1  # cut mid-word: open
    after = [f for f in frames[:-1] if f.t >= cut_s + 0.1]
    assert after and all(f.blend[v] == 0.0 for f in after for v in VOWELS)
    assert frames[-1].blend == dict.fromkeys(VRM0_NAMES, 0.0)  # the rest frame at the end


def test_blinks_arrive_every_2_to_10_seconds(receiver: Receiver) -> None:
    sender = VmcSender("127.0.0.1", receiver.port)
    quiet = np.zeros(16000 * 40, np.float32)
    try:
        sent = run_vmc(FileSource(quiet, 16000), sender, fake_pacer(30), animator=Animator(seed=3, fps=30))
    finally:
        sender.close()
    frames = receiver.settle(sent)
    assert len(frames) == sent
    closed = [f.blend["Blink_L"] > 0.5 for f in frames]
    onsets = [frames[i].t for i in range(1, len(frames)) if closed[i] and not closed[i - 1]]
    assert len(onsets) >= 4, onsets
    assert onsets[0] <= 10.0
    gaps = np.diff(onsets)
    assert np.all((gaps >= 2.0) & (gaps <= 10.0)), gaps
    assert all(f.blend["Blink_L"] == f.blend["Blink_R"] for f in frames)


def test_a_stalled_input_relaxes_the_mouth_while_blinks_and_head_go_on(
    receiver: Receiver, shared_voices: dict[Path, str]
) -> None:
    voice = next(p for p in shared_voices if p.name == "flite_male_awb.wav")
    audio, cut_s = speech_cut_mid_word(voice)
    source = StallingSource(audio, stall_at=cut_s, until=cut_s + 8.0)  # no more audio arrives
    sender = VmcSender("127.0.0.1", receiver.port)
    try:
        sent = run_vmc(source, sender, fake_pacer(60), animator=Animator(seed=1, fps=60))
    finally:
        sender.close()
    frames = receiver.settle(sent)[:-1]
    assert max(max(f.blend[v] for v in VOWELS) for f in frames if cut_s - 0.05 <= f.t < cut_s) > 0.1
    stalled = [f for f in frames if f.t >= cut_s + 0.5]
    assert all(f.blend[v] == 0.0 for f in stalled for v in VOWELS)
    assert any(f.blend["Blink_L"] > 0.5 for f in stalled)  # blinks go on
    heads = np.array([f.head for f in stalled])
    assert np.ptp(heads[:, 3:], axis=0).max() > 0.005  # the head keeps moving


def test_the_rate_holds_on_a_real_clock(receiver: Receiver) -> None:
    sender = VmcSender("127.0.0.1", receiver.port)
    try:
        sent = run_vmc(FileSource(np.zeros(16000 * 3, np.float32), 16000), sender, FramePacer(60),
                       seconds=1.5)
    finally:
        sender.close()
    frames = receiver.settle(sent)[:-1]
    times = [f.t for f in frames]
    assert 0.85 * 90 <= len(frames) <= 92, len(frames)
    assert statistics.median(np.diff(times)) == pytest.approx(1 / 60, rel=0.1)


def _wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_cli_sends_vrm1_bundles_from_a_file(receiver: Receiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = np.arange(16000) / 16000
    wav = _wav(tmp_path / "tone.wav", 0.4 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0))
    code = main(["vmc", "--input", str(wav), "--to", f"127.0.0.1:{receiver.port}", "--rate", "30", "--vrm1"])
    assert code == 0
    assert f"127.0.0.1:{receiver.port}" in capsys.readouterr().out
    frames = receiver.settle()
    assert 25 <= len(frames) <= 33
    assert set(frames[0].blend) == set(VRM1_NAMES)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--to", "nowhere:0"], "--to"),
        (["--input", "/no/such/file.wav"], "not found"),
        (["--to", "no-such-host.invalid:39539"], "cannot resolve"),
    ],
)
def test_cli_errors_exit_2_with_one_line(args: list[str], words: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    wav = _wav(tmp_path / "s.wav", np.zeros(1600))
    full = ["vmc", "--input", str(wav), *args] if "--input" not in args else ["vmc", *args]
    assert main(full) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_cli_refuses_a_rate_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["vmc", "--rate", "240"])
    assert info.value.code == 2
    assert "rate must be between 1 and 60" in capsys.readouterr().err
