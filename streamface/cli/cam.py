"""`streamface cam`: the live face as a webcam, for any call app.

The microphone (through sounddevice) or a file played in real time feeds a `Session`;
its labelled frames go to a virtual camera (pyvirtualcam: v4l2loopback on Linux, the
OBS virtual camera on Windows and macOS) at a steady frame rate. The face is synthetic
and says so in every frame.

Exit status 2, with one line on stderr, when there is no virtual camera device (with the
``modprobe v4l2loopback exclusive_caps=1`` or "install OBS" how-to), no microphone or no
PortAudio, an unreadable file, or a bad option.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from streamface.errors import StreamFaceError

log = logging.getLogger(__name__)

DEFAULT_SIZE = "1280x720"
DEFAULT_FACE_SIZE = 512
MIC_RATE = 16000
MIC_BLOCK_S = 0.02
MIC_QUEUE_BLOCKS = 100  # 2 s of audio at most waits for the frame loop; older blocks drop


def add_parser(subparsers: Any) -> None:
    """Declare ``streamface cam``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "cam",
        help="send the live, labelled synthetic face to a virtual camera (a webcam for call apps)",
        description=(
            "Listen to the microphone (or play a file in real time) and send the live, "
            "labelled synthetic face to a virtual camera, which any call app can pick as its "
            "webcam. Needs a virtual camera device: on Linux 'sudo modprobe v4l2loopback "
            "exclusive_caps=1', on Windows and macOS the OBS virtual camera. The face is a "
            "statistical portrait of the voice, not the speaker's appearance."
        ),
    )
    p.add_argument(
        "--input", default="mic", metavar="mic|FILE",
        help="'mic' for the default microphone (default), or an audio file played in real time",
    )
    p.add_argument("--device", default=None, metavar="/dev/videoN", help="the virtual camera device (default: the first one)")
    p.add_argument("--fps", type=_fps, default=30.0, help="frames per second (default: 30)")
    p.add_argument(
        "--size", default=DEFAULT_SIZE, metavar="WxH",
        help=f"camera size (default: {DEFAULT_SIZE}); a wide camera up to 2:1 gets a wide "
        "call-tile framing (the background extended beside the face)",
    )
    p.add_argument(
        "--engine", default="auto", metavar="E",
        help="generator engine: auto, onnxruntime, torch, tensorrt (default: auto)",
    )
    p.add_argument(
        "--face-size", type=int, default=DEFAULT_FACE_SIZE, metavar="N",
        help=f"rendered face size in pixels before fitting to the camera (default: {DEFAULT_FACE_SIZE})",
    )
    p.add_argument(
        "--format", dest="pixel_format", default="auto", choices=("auto", "rgb", "bgr", "i420"),
        help="pixel format sent to the camera (default: the backend's native one)",
    )
    p.add_argument("--fit", default="contain", choices=("contain", "cover"), help="fit the face in the frame or fill it (default: contain)")
    p.add_argument("--mic-device", default=None, metavar="NAME|INDEX", help="sounddevice input device (default: the system's)")
    p.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds (default: run until Ctrl+C or the file ends)")
    p.add_argument("--loop", action="store_true", help="play the input file again and again")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of blinks and head motion (default: 0)")
    from streamface.cli.render import add_look_argument

    add_look_argument(p)


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1.0 <= value <= 60.0:
        raise argparse.ArgumentTypeError("fps must be between 1 and 60")
    return value


# --- audio sources --------------------------------------------------------------------


class AudioSource(Protocol):
    """Audio arriving in real time, read by the frame loop."""

    rate: int

    @property
    def finished(self) -> bool: ...

    def read_until(self, t: float) -> np.ndarray: ...

    def close(self) -> None: ...


class FileSource:
    """A decoded file that 'arrives' as the clock runs: ``read_until(t)`` gives the
    samples from where the last read stopped up to ``t`` seconds."""

    def __init__(self, samples: np.ndarray, rate: int, *, loop: bool = False) -> None:
        self.samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self.rate = rate
        self.loop = loop
        self._pos = 0  # samples handed out so far (may run past the end when looping)

    @classmethod
    def open(cls, path: str | Path, *, loop: bool = False) -> FileSource:
        """Decode ``path`` (any format FFmpeg reads) to 16 kHz mono.

        Raises:
            BadAudioError: the file is missing, unreadable or empty.
        """
        from streamface.audio.decode import decode_file

        return cls(decode_file(path), 16000, loop=loop)

    @property
    def finished(self) -> bool:
        return not self.loop and self._pos >= self.samples.size

    def read_until(self, t: float) -> np.ndarray:
        end = max(self._pos, int(t * self.rate))
        n = self.samples.size
        if self.loop and n:
            idx = np.arange(self._pos, end) % n
            out = self.samples[idx]
        else:
            out = self.samples[min(self._pos, n) : min(end, n)].copy()
        self._pos = end
        return out

    def close(self) -> None:
        self.samples = np.zeros(0, np.float32)


class MicSource:
    """The microphone through sounddevice: blocks queue up (bounded) until read.

    Raises:
        StreamFaceError: PortAudio is missing, there is no input device, or it cannot open.
    """

    def __init__(self, device: str | int | None = None, rate: int = MIC_RATE) -> None:
        try:
            import sounddevice as sd
        except OSError as exc:  # sounddevice raises OSError when the PortAudio library is missing
            raise StreamFaceError(
                f"no microphone: {exc} (Debian/Ubuntu: sudo apt install libportaudio2; "
                "or use --input FILE)"
            ) from None
        except ImportError:
            raise StreamFaceError(
                "no microphone: sounddevice is not installed (pip install 'streamface[cam]'; or use --input FILE)"
            ) from None
        self.rate = rate
        self._blocks: collections.deque[np.ndarray] = collections.deque(maxlen=MIC_QUEUE_BLOCKS)
        self._lock = threading.Lock()
        self.dropped = 0
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        try:
            info = sd.query_devices(device, kind="input")
            self._stream = sd.InputStream(
                samplerate=rate, channels=1, dtype="float32", device=device,
                blocksize=int(rate * MIC_BLOCK_S), callback=self._callback,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise StreamFaceError(f"no microphone could be opened ({detail}); or use --input FILE") from None
        log.info("microphone %s open at %d Hz", info.get("name", device), rate)

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        block = np.array(indata[:, 0], dtype=np.float32, copy=True)
        with self._lock:
            if len(self._blocks) == self._blocks.maxlen:
                self.dropped += 1
            self._blocks.append(block)

    @property
    def finished(self) -> bool:
        return False

    def read_until(self, t: float) -> np.ndarray:
        with self._lock:
            blocks = list(self._blocks)
            self._blocks.clear()
        if not blocks:
            return np.zeros(0, np.float32)
        return np.concatenate(blocks)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
        with self._lock:
            for block in self._blocks:
                block.fill(0.0)
            self._blocks.clear()


def open_source(spec: str, *, loop: bool = False, mic_device: str | None = None) -> AudioSource:
    """``"mic"`` → the microphone; anything else → that file played in real time."""
    if spec == "mic":
        return MicSource(mic_device)
    return FileSource.open(spec, loop=loop)


# --- the frame loop -------------------------------------------------------------------


class _Camera(Protocol):
    def send(self, rgb: np.ndarray) -> None: ...


def run_live(
    session: Any,
    source: AudioSource,
    camera: _Camera,
    pacer: Any,
    *,
    seconds: float | None = None,
    executor: concurrent.futures.Executor | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Feed audio, run analyses off the frame loop, send one frame per tick.

    Args:
        session: A `Session` (or one with its contract).
        source: Where audio comes from (read up to the pacer's clock each frame).
        camera: Takes RGB frames (`VirtualCamera`).
        pacer: A `FramePacer` (``elapsed()``, ``wait()``).
        seconds: Stop after this long; None runs until the source ends or ``should_stop``.
        executor: Where analyses run (one at a time); default a private single thread.

    Returns:
        Frames sent.
    """
    own = executor is None
    pool = executor or concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sf-cam-analyze")
    analysis: concurrent.futures.Future[Any] | None = None
    frames = 0
    try:
        while True:
            t = pacer.elapsed()
            chunk = source.read_until(t)
            if chunk.size:
                session.push_audio(chunk, source.rate)
            if analysis is not None and analysis.done():
                if analysis.exception() is not None:
                    log.warning("analysis failed: %s", analysis.exception())
                analysis = None
            if analysis is None and session.analysis_due():
                analysis = pool.submit(session.analyze)
            camera.send(session.render_frame(t))
            frames += 1
            if source.finished or should_stop() or (seconds is not None and t >= seconds):
                return frames
            pacer.wait()
    finally:
        if analysis is not None:
            analysis.cancel()
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def run(args: argparse.Namespace) -> int:
    """Open the input, the camera and the engine, then stream until Ctrl+C or the end."""
    return _run(args)


def _run(
    args: argparse.Namespace,
    *,
    camera_factory: Any = None,
    session_factory: Callable[[Any], Any] | None = None,
    pacer_factory: Callable[[float], Any] | None = None,
) -> int:
    from streamface import SYNTHETIC_NOTICE
    from streamface.sinks.virtualcam import FramePacer, VirtualCamera, parse_size

    width, height = parse_size(args.size)
    if not 64 <= args.face_size <= 2048:
        raise StreamFaceError("--face-size must be between 64 and 2048")
    if args.input != "mic" and not Path(args.input).is_file():
        raise StreamFaceError(f"input file not found: {args.input}")
    source = open_source(args.input, loop=args.loop, mic_device=args.mic_device)
    try:
        camera = VirtualCamera(
            width, height, args.fps, fmt=args.pixel_format, device=args.device,
            mode=args.fit, factory=camera_factory,
        )
        try:
            frame = camera_frame_size(width, height, args.face_size)
            if session_factory is None:
                session = _default_session(args.engine, frame, args.seed)
            else:
                session = session_factory(frame)
            session.set_look(args.look)  # before the first face: the look it will have
            try:
                print(
                    f"streamface cam: sending to {camera.device} ({camera.backend}) {width}x{height} "
                    f"@ {args.fps:g} fps from {'the microphone' if args.input == 'mic' else args.input}; "
                    "Ctrl+C to stop",
                    flush=True,
                )
                print(f"streamface cam: {SYNTHETIC_NOTICE}", flush=True)
                pacer = (pacer_factory or FramePacer)(args.fps)
                frames = run_live(session, source, camera, pacer, seconds=args.seconds)
                log.info("sent %d frames", frames)
            finally:
                session.close()
        finally:
            camera.close()
    finally:
        source.close()
    return 0


def camera_frame_size(width: int, height: int, face_size: int) -> Any:
    """The session's frame for a camera: the camera's aspect at the face's height when the
    camera is wide (up to 2:1), else the square face (fitted by `fit_frame`)."""
    from streamface.face.framing import MAX_ASPECT, FrameSize

    if height < width <= MAX_ASPECT * height:
        return FrameSize(2 * round(face_size * width / height / 2), face_size)
    return FrameSize(face_size, face_size)


def _default_session(engine_name: str, frame: Any, seed: int) -> Any:
    from engines.select import load_engine
    from streamface.session import Session

    return Session(load_engine(engine_name, frame.face), seed=seed, frame_size=frame)
