"""The face as a webcam: frames to a virtual camera through pyvirtualcam.

pyvirtualcam drives v4l2loopback on Linux and the OBS virtual camera on Windows and
macOS, so any call app (Zoom, Meet, Teams, a browser) shows the face as a camera.

This module is the part that can be tested without a device:

* `fit_frame` puts a square face frame into the camera's WxH (scaled to fit, centred,
  the rest filled with the frame's background colour, or cropped to fill with
  ``mode="cover"``);
* `rgb_to_bgr` / `rgb_to_i420` produce what the backend takes natively (I420 for
  v4l2loopback, so pyvirtualcam does not convert again; RGB elsewhere);
* `FramePacer` keeps a steady frame rate on a deadline clock that never drifts and never
  bursts to catch up after a slow frame;
* `VirtualCamera` opens the device and turns every failure into a one-line
  `NoVirtualCameraError` with the how-to (``modprobe v4l2loopback exclusive_caps=1`` or
  install OBS).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image

from streamface.errors import StreamFaceError

log = logging.getLogger(__name__)

PixelFormatName = Literal["rgb", "bgr", "i420"]
FORMATS: tuple[str, ...] = ("auto", "rgb", "bgr", "i420")
FitMode = Literal["contain", "cover"]

MIN_SIZE = 16
MAX_SIZE = 4096
MAX_FPS = 60.0

LINUX_HOWTO = (
    "no virtual camera device{where}: load one with 'sudo modprobe v4l2loopback exclusive_caps=1' "
    "(Debian/Ubuntu: sudo apt install v4l2loopback-dkms), then run this again"
)
OTHER_HOWTO = (
    "no virtual camera{where}: install OBS Studio (https://obsproject.com), start its virtual "
    "camera once, then run this again"
)
INSTALL_HINT = "the virtual camera needs pyvirtualcam: pip install 'streamface[cam]'"


class NoVirtualCameraError(StreamFaceError):
    """No virtual camera device (or pyvirtualcam) here; the message says how to get one."""


def howto(platform: str | None = None, device: str | None = None) -> str:
    """The one-line how-to for getting a virtual camera on this (or the given) platform."""
    text = LINUX_HOWTO if (platform or sys.platform).startswith("linux") else OTHER_HOWTO
    return text.format(where=f" at {device}" if device else "")


# --- sizes and formats ----------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → (1280, 720); both even (I420 needs it) and in 16..4096.

    Raises:
        StreamFaceError: not WxH, odd, or out of range.
    """
    parts = text.lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise StreamFaceError(f"--size takes WIDTHxHEIGHT (e.g. 1280x720), got {text!r}") from None
    for value in (width, height):
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise StreamFaceError(f"--size {text}: each side must be {MIN_SIZE} to {MAX_SIZE} pixels")
        if value % 2:
            raise StreamFaceError(f"--size {text}: width and height must be even")
    return width, height


def native_format(backend: str | None, platform: str | None = None) -> PixelFormatName:
    """The pixel format a backend takes without converting again.

    v4l2loopback (Linux) stores I420; the OBS and Unity Capture backends convert from RGB
    themselves, so RGB is as good as anything there.
    """
    if backend is None:
        backend = "v4l2loopback" if (platform or sys.platform).startswith("linux") else "obs"
    return "i420" if backend == "v4l2loopback" else "rgb"


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    frame = np.asarray(rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame [H, W, 3], got {frame.dtype} {frame.shape}")
    return frame


def fit_frame(rgb: np.ndarray, width: int, height: int, *, mode: FitMode = "contain") -> np.ndarray:
    """Scale an RGB frame into ``width`` x ``height`` keeping its aspect.

    Args:
        rgb: uint8 [H, W, 3].
        width: Target width.
        height: Target height.
        mode: ``"contain"`` shows the whole frame, centred, the borders filled with the
            frame's top-left (background) colour; ``"cover"`` fills the target and crops
            the overflow evenly (the visible label at the bottom may be cut: use with care).

    Returns:
        uint8 [height, width, 3], C-contiguous.
    """
    frame = _check_rgb(rgb)
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(frame)
    scale = min(width / w, height / h) if mode == "contain" else max(width / w, height / h)
    new_w = max(1, round(w * scale))
    new_h = max(1, round(h * scale))
    if (new_w, new_h) != (w, h):
        resample = Image.Resampling.BILINEAR if scale >= 1 else Image.Resampling.BOX
        scaled = np.asarray(Image.fromarray(frame).resize((new_w, new_h), resample))
    else:
        scaled = frame
    if mode == "cover":
        top = (new_h - height) // 2
        left = (new_w - width) // 2
        return np.ascontiguousarray(scaled[top : top + height, left : left + width])
    out = np.empty((height, width, 3), np.uint8)
    out[...] = frame[0, 0]
    top = (height - new_h) // 2
    left = (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = scaled
    return out


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """RGB [H, W, 3] → BGR [H, W, 3] (C-contiguous)."""
    return np.ascontiguousarray(_check_rgb(rgb)[..., ::-1])


# BT.601 limited range ("studio swing"), what V4L2 consumers assume for I420.
_Y = np.array([65.481, 128.553, 24.966], np.float32) / 255.0
_U = np.array([-37.797, -74.203, 112.0], np.float32) / 255.0
_V = np.array([112.0, -93.786, -18.214], np.float32) / 255.0


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """RGB [H, W, 3] (even H and W) → I420 planes, flat: Y (H*W), U, V (H*W/4 each).

    BT.601 limited range; chroma is the mean of each 2x2 block.
    """
    frame = _check_rgb(rgb)
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"I420 needs an even width and height, got {w}x{h}")
    f = frame.astype(np.float32)
    y = 16.0 + f @ _Y
    # average each 2x2 block before the chroma matrix (it is linear, so this is exact)
    blocks = f.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    u = 128.0 + blocks @ _U
    v = 128.0 + blocks @ _V
    out = np.empty(h * w * 3 // 2, np.uint8)
    n = h * w
    out[:n] = np.clip(np.rint(y), 0, 255).reshape(-1)
    out[n : n + n // 4] = np.clip(np.rint(u), 0, 255).reshape(-1)
    out[n + n // 4 :] = np.clip(np.rint(v), 0, 255).reshape(-1)
    return out


def i420_to_rgb(i420: np.ndarray, width: int, height: int) -> np.ndarray:
    """The inverse of `rgb_to_i420` (chroma upsampled by repetition), for checks."""
    n = width * height
    data = np.asarray(i420, np.float32).reshape(-1)
    y = data[:n].reshape(height, width) - 16.0
    u = data[n : n + n // 4].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1) - 128.0
    v = data[n + n // 4 :].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1) - 128.0
    r = 1.164383 * y + 1.596027 * v
    g = 1.164383 * y - 0.391762 * u - 0.812968 * v
    b = 1.164383 * y + 2.017232 * u
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


class FrameConverter:
    """RGB face frames → what the camera takes: its size and its pixel format.

    Args:
        width: Camera width.
        height: Camera height.
        fmt: ``"rgb"``, ``"bgr"`` or ``"i420"``.
        mode: How a frame of another aspect fits (see `fit_frame`).
    """

    def __init__(self, width: int, height: int, fmt: PixelFormatName = "rgb", *, mode: FitMode = "contain") -> None:
        if fmt not in ("rgb", "bgr", "i420"):
            raise ValueError(f"unknown pixel format {fmt!r}")
        if fmt == "i420" and (width % 2 or height % 2):
            raise ValueError("I420 needs an even width and height")
        self.width = width
        self.height = height
        self.fmt: PixelFormatName = fmt
        self.mode: FitMode = mode

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """The shape of the arrays `__call__` returns."""
        if self.fmt == "i420":
            return (self.width * self.height * 3 // 2,)
        return (self.height, self.width, 3)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        frame = fit_frame(rgb, self.width, self.height, mode=self.mode)
        if self.fmt == "bgr":
            return rgb_to_bgr(frame)
        if self.fmt == "i420":
            return rgb_to_i420(frame)
        return frame


# --- pacing ---------------------------------------------------------------------------


class FramePacer:
    """A steady frame clock: ``wait()`` returns at ``start + k / fps`` for k = 1, 2, ...

    A frame that ran late is not made up for with a burst: the schedule skips the ticks
    already missed (counted in ``skipped``) and carries on from the next one, so the
    camera sees a steady rate and the clock never drifts.

    Args:
        fps: Frames per second.
        clock: Monotonic seconds (injectable for tests).
        sleep: Sleeps for the given seconds (injectable for tests).
    """

    def __init__(
        self,
        fps: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < fps <= MAX_FPS:
            raise ValueError(f"fps must be in (0, {MAX_FPS:g}], got {fps}")
        self.fps = float(fps)
        self.interval = 1.0 / self.fps
        self._clock = clock
        self._sleep = sleep
        self.start = clock()
        self.frame = 0
        self.skipped = 0

    def elapsed(self) -> float:
        """Seconds since the pacer started."""
        return self._clock() - self.start

    def wait(self) -> int:
        """Sleep until the next frame is due; returns that frame's index."""
        self.frame += 1
        due = self.start + self.frame * self.interval
        now = self._clock()
        if now > due + self.interval:  # more than a whole frame late: skip the missed ticks
            missed = int((now - due) / self.interval)
            self.frame += missed
            self.skipped += missed
            due = self.start + self.frame * self.interval
        delay = due - now
        if delay > 0:
            self._sleep(delay)
        return self.frame


# --- the device -----------------------------------------------------------------------


class CameraLike(Protocol):
    """What `VirtualCamera` needs of a ``pyvirtualcam.Camera``."""

    @property
    def backend(self) -> str: ...

    @property
    def device(self) -> str: ...

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


CameraFactory = Callable[..., CameraLike]
"""Called as ``factory(width=, height=, fps=, fmt=, device=, backend=)``."""


def _pyvirtualcam_factory(
    *, width: int, height: int, fps: float, fmt: PixelFormatName, device: str | None, backend: str | None
) -> CameraLike:
    try:
        import pyvirtualcam
    except ImportError as exc:
        raise NoVirtualCameraError(f"{INSTALL_HINT} ({exc})") from None
    pixel = {
        "rgb": pyvirtualcam.PixelFormat.RGB,
        "bgr": pyvirtualcam.PixelFormat.BGR,
        "i420": pyvirtualcam.PixelFormat.I420,
    }[fmt]
    camera: CameraLike = pyvirtualcam.Camera(
        width, height, fps, fmt=pixel, device=device, backend=backend
    )
    return camera


class VirtualCamera:
    """An open virtual camera that takes RGB face frames of any size.

    Args:
        width: Camera width (even).
        height: Camera height (even).
        fps: Frame rate announced to the device.
        fmt: ``"auto"`` (the backend's native format), ``"rgb"``, ``"bgr"`` or ``"i420"``.
        device: e.g. ``/dev/video10``; None lets the backend pick.
        backend: A pyvirtualcam backend name; None tries each.
        mode: How frames fit the camera's aspect (see `fit_frame`).
        factory: Opens the camera (default: ``pyvirtualcam.Camera``); tests pass a fake.

    Raises:
        NoVirtualCameraError: pyvirtualcam is missing or no device could be opened; the
            message is the one-line how-to (and the backend's own reason, for ``-v``).
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        *,
        fmt: str = "auto",
        device: str | None = None,
        backend: str | None = None,
        mode: FitMode = "contain",
        factory: CameraFactory | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise StreamFaceError(f"unknown pixel format {fmt!r}; choose one of {', '.join(FORMATS)}")
        chosen: PixelFormatName = native_format(backend) if fmt == "auto" else fmt  # type: ignore[assignment]
        open_camera = factory or _pyvirtualcam_factory
        try:
            self._camera = open_camera(
                width=width, height=height, fps=fps, fmt=chosen, device=device, backend=backend
            )
        except NoVirtualCameraError:
            raise
        except Exception as exc:  # noqa: BLE001 - every backend failure means "no device here"
            detail = " ".join(str(exc).split()) or type(exc).__name__
            log.info("virtual camera could not open: %s", detail)
            first = detail.split(". ")[0].rstrip(".")
            raise NoVirtualCameraError(f"{howto(device=device)} ({first})") from None
        self.converter = FrameConverter(width, height, chosen, mode=mode)
        self.frames_sent = 0
        self.closed = False
        log.info(
            "virtual camera %s (%s backend) open: %dx%d @ %g fps, %s",
            self.device, self.backend, width, height, fps, chosen,
        )

    @property
    def backend(self) -> str:
        return str(self._camera.backend)

    @property
    def device(self) -> str:
        return str(self._camera.device)

    def send(self, rgb: np.ndarray) -> None:
        """Convert one RGB frame (any size) and hand it to the device."""
        self._camera.send(self.converter(rgb))
        self.frames_sent += 1

    def close(self) -> None:
        """Release the device; idempotent."""
        if not self.closed:
            self.closed = True
            self._camera.close()

    def __enter__(self) -> VirtualCamera:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
