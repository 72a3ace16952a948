"""The virtual-camera sink: size and pixel-format conversion, pacing, and the device errors."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from streamface.errors import StreamFaceError
from streamface.sinks.virtualcam import (
    FrameConverter,
    FramePacer,
    NoVirtualCameraError,
    VirtualCamera,
    fit_frame,
    howto,
    i420_to_rgb,
    native_format,
    parse_size,
    rgb_to_bgr,
    rgb_to_i420,
)


def face(size: int = 64) -> np.ndarray:
    """A square test frame: a uniform background and a bright disc in the middle."""
    img = np.full((size, size, 3), (20, 40, 60), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    img[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2] = (230, 180, 150)
    return img


class FakeCamera:
    """Records what a pyvirtualcam.Camera would have been sent."""

    def __init__(
        self,
        *,
        width: int,
        height: int,
        fps: float,
        fmt: str,
        device: str | None,
        backend: str | None,
    ) -> None:
        self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
        self.device = device or "/dev/video10"
        self.backend = backend or "fake"
        self.frames: list[np.ndarray] = []
        self.closed = 0

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        self.closed += 1


def test_parse_size() -> None:
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size("640X480") == (640, 480)
    for bad in ("1280", "axb", "641x480", "8x8", "100000x720", "1280x720x3"):
        with pytest.raises(StreamFaceError):
            parse_size(bad)


def test_fit_contain_centres_and_fills_with_background() -> None:
    out = fit_frame(face(64), 128, 72)
    assert out.shape == (72, 128, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    # the frame is scaled to 72x72, centred: 28 px of background either side
    assert (out[:, :28] == (20, 40, 60)).all() and (out[:, 100:] == (20, 40, 60)).all()
    assert (out[36, 64] == (230, 180, 150)).all()
    bright = np.argwhere((out == (230, 180, 150)).all(axis=-1))
    assert (
        abs(bright[:, 1].mean() - 63.5) < 1.5 and abs(bright[:, 0].mean() - 35.5) < 1.5
    )  # centred


def test_fit_cover_fills_and_crops() -> None:
    out = fit_frame(face(64), 128, 72, mode="cover")
    assert out.shape == (72, 128, 3)
    assert (out[36, 64] == (230, 180, 150)).all()
    assert (out[36, 0] == (20, 40, 60)).all()  # scaled to 128x128, the centre band kept


def test_fit_same_size_is_untouched_and_rejects_bad_input() -> None:
    img = face(32)
    assert np.array_equal(fit_frame(img, 32, 32), img)
    with pytest.raises(ValueError):
        fit_frame(img.astype(np.float32), 32, 32)
    with pytest.raises(ValueError):
        fit_frame(img[..., 0], 32, 32)


def test_bgr_swaps_channels() -> None:
    img = face(16)
    assert np.array_equal(rgb_to_bgr(img)[..., 0], img[..., 2])
    assert np.array_equal(rgb_to_bgr(img)[..., ::-1], img)


def test_i420_matches_ffmpeg_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    img = np.repeat(
        np.repeat(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), 2, 0), 2, 1
    )  # 48x64
    ours = rgb_to_i420(img)
    assert ours.shape == (64 * 48 * 3 // 2,) and ours.dtype == np.uint8
    ref = (
        av.VideoFrame.from_ndarray(img, format="rgb24")
        .reformat(format="yuv420p")
        .to_ndarray()
        .reshape(-1)
    )
    luma = np.abs(ours[: 64 * 48].astype(int) - ref[: 64 * 48].astype(int))
    assert luma.max() <= 1, f"luma differs from FFmpeg's BT.601 conversion by {luma.max()}"
    # FFmpeg filters chroma across blocks; on solid colours both must agree exactly
    for colour in [
        (0, 0, 0),
        (255, 255, 255),
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (224, 172, 140),
        (20, 40, 60),
    ]:
        solid = np.empty((16, 16, 3), np.uint8)
        solid[...] = colour
        ref = (
            av.VideoFrame.from_ndarray(solid, format="rgb24")
            .reformat(format="yuv420p")
            .to_ndarray()
            .reshape(-1)
        )
        assert np.abs(rgb_to_i420(solid).astype(int) - ref.astype(int)).max() <= 1, colour
    back = i420_to_rgb(ours, 64, 48)
    assert np.abs(back.astype(int) - img.astype(int)).mean() < 3
    with pytest.raises(ValueError):
        rgb_to_i420(np.zeros((3, 4, 3), np.uint8))


@pytest.mark.parametrize("fmt", ["rgb", "bgr", "i420"])
def test_converter_shapes_are_what_pyvirtualcam_checks(fmt: str) -> None:
    from pyvirtualcam.camera import FrameShapes, PixelFormat

    conv = FrameConverter(320, 240, fmt)  # type: ignore[arg-type]
    out = conv(face(96))
    expected = FrameShapes[
        {"rgb": PixelFormat.RGB, "bgr": PixelFormat.BGR, "i420": PixelFormat.I420}[fmt]
    ](320, 240)
    if isinstance(expected, int):
        assert out.size == expected and out.ndim == 1
    else:
        assert out.shape == expected
    assert out.shape == conv.frame_shape and out.dtype == np.uint8


def test_native_format_per_backend() -> None:
    assert native_format("v4l2loopback") == "i420"
    assert native_format("obs") == "rgb"
    assert native_format(None, "linux") == "i420"
    assert native_format(None, "win32") == "rgb"
    assert "modprobe v4l2loopback exclusive_caps=1" in howto("linux")
    assert "OBS" in howto("darwin") and "OBS" in howto("win32")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_is_steady_and_does_not_drift() -> None:
    clock = FakeClock()
    pacer = FramePacer(30, clock=clock, sleep=clock.sleep)
    for k in range(1, 301):
        clock.now += 0.005  # 5 ms of work per frame
        assert pacer.wait() == k
        assert clock.now == pytest.approx(100.0 + k / 30)
    assert pacer.skipped == 0


def test_pacer_skips_missed_ticks_instead_of_bursting() -> None:
    clock = FakeClock()
    pacer = FramePacer(30, clock=clock, sleep=clock.sleep)
    pacer.wait()
    clock.now += 0.2  # a 200 ms stall
    k = pacer.wait()
    assert pacer.skipped >= 4
    assert clock.now == pytest.approx(100.0 + k / 30)  # back on the grid
    before = len(clock.sleeps)
    pacer.wait()
    assert len(clock.sleeps) == before + 1 and clock.sleeps[-1] == pytest.approx(1 / 30)
    with pytest.raises(ValueError):
        FramePacer(0)


def test_virtual_camera_sends_converted_frames() -> None:
    cams: list[FakeCamera] = []

    def factory(**kw: Any) -> FakeCamera:
        cams.append(FakeCamera(**kw))
        return cams[-1]

    with VirtualCamera(640, 360, 30, fmt="auto", backend="v4l2loopback", factory=factory) as cam:
        assert cam.backend == "v4l2loopback" and cam.device == "/dev/video10"
        cam.send(face(256))
        cam.send(face(256))
    (fake,) = cams
    assert fake.fmt == "i420" and fake.closed == 1
    assert [f.shape for f in fake.frames] == [(640 * 360 * 3 // 2,)] * 2
    rgb = i420_to_rgb(fake.frames[0], 640, 360)
    assert np.abs(rgb[180, 320].astype(int) - (230, 180, 150)).max() < 6


def test_no_device_is_a_one_line_howto() -> None:
    def broken(**kw: Any) -> FakeCamera:
        raise RuntimeError(
            "'v4l2loopback' backend: No v4l2 loopback device found at /dev/video[0-99]. Did you run it?"
        )

    with pytest.raises(NoVirtualCameraError) as info:
        VirtualCamera(640, 360, 30, device="/dev/video3", factory=broken)
    text = str(info.value)
    assert "\n" not in text and "/dev/video3" in text and "No v4l2 loopback device" in text
    assert howto(device="/dev/video3") in text


def _loopback_devices() -> list[str]:
    out = []
    for name_file in glob.glob("/sys/devices/virtual/video4linux/video*/name"):
        name = Path(name_file).read_text().lower()
        if "loopback" in name or "dummy" in name:
            out.append("/dev/" + Path(name_file).parent.name)
    return out


def test_real_pyvirtualcam_without_a_device_says_how_to_get_one() -> None:
    if _loopback_devices():
        pytest.skip("a v4l2loopback device exists here")
    pytest.importorskip("pyvirtualcam")
    with pytest.raises(NoVirtualCameraError) as info:
        VirtualCamera(640, 360, 30)
    assert howto() in str(info.value)


@pytest.mark.skipif(
    not _loopback_devices(),
    reason="no v4l2loopback device here (sudo modprobe v4l2loopback exclusive_caps=1)",
)
def test_real_device_takes_frames() -> None:
    with VirtualCamera(640, 360, 30, device=_loopback_devices()[0]) as cam:
        for _ in range(10):
            cam.send(face(256))
        assert cam.frames_sent == 10
