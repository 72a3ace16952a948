"""`streamface render AUDIO -o OUT.mp4`: a talking, labelled synthetic face for a recording.

Runs the same `Session` a live call uses over the file in media time (`offline.drive`):
the placeholder while the first second of speech is heard, then the face, refined as
speech accumulates, mouth driven by the audio, with the AI-generated label in every
frame. Writes H.264 (yuv420p) video with the input speech as AAC audio, frame ``k`` at
``k / fps``. The file appears under its name only once complete and signed: it is
written to a temporary file beside it, given its C2PA manifest (`streamface.provenance`)
and renamed; on any failure or Ctrl-C the temporary file is deleted. There is no option
to leave out the label or the manifest.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamface.errors import StreamFaceError
from streamface.face.framing import FrameSize, parse_frame_size

if TYPE_CHECKING:
    from streamface.provenance import OutputSigner

PROGRESS_MIN_SECONDS = 10.0
"""Inputs at least this long get a progress bar (on stderr)."""


def add_parser(subparsers: Any) -> None:
    """Declare the `render` subcommand."""
    parser = subparsers.add_parser(
        "render",
        help="render a talking, labelled synthetic face for an audio file to MP4",
        description=(
            "Render the synthetic face a live session would show for this audio: a "
            "placeholder until 1 s of speech, then a face inferred from perceived traits "
            "of the voice (not the speaker's real appearance), lip-synced to the speech. "
            "Every frame carries a visible AI-generated label. Writes H.264 video with "
            "the input speech as AAC audio. Exit status 2 on unreadable input or output."
        ),
    )
    parser.add_argument("audio", metavar="AUDIO", help="the audio file (wav, flac, mp3, ogg, m4a)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="MP4 to write")
    parser.add_argument("--fps", type=_fps, default=30.0, help="frames per second (default: 30)")
    parser.add_argument(
        "--size", type=_size, default=_size("512"), metavar="N|WxH",
        help="frame size: N for square, or WIDTHxHEIGHT up to 2:1, e.g. 640x360, 1280x720 "
        "(a call-tile framing; default: 512)",
    )
    parser.add_argument(
        "--engine",
        default="auto",
        metavar="E",
        help="generator engine: auto, onnxruntime, torch, tensorrt (default: auto)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of blinks and head motion (default: 0)"
    )
    add_look_argument(parser)


def add_look_argument(parser: Any) -> None:
    """``--look SEED``: reroll what the voice cannot tell (shared by the face commands)."""
    parser.add_argument(
        "--look", type=_look, default=0, metavar="SEED",
        help="a look to keep: the seed alone chooses skin, hair, face shape and clothes (the "
        "same in every call), the voice still suggests perceived sex and age; 0 is the "
        "voice's own look (default)",
    )


def _look(text: str) -> int:
    from streamface.face.identity import MAX_LOOK, parse_look

    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    value = parse_look(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_LOOK}")
    return value


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1.0 <= value <= 120.0:
        raise argparse.ArgumentTypeError("must be between 1 and 120")
    return value


def _size(text: str) -> FrameSize:
    try:
        return parse_frame_size(text)
    except StreamFaceError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--size {text}: ")) from None


def _check_output(path: Path) -> Path:
    if path.suffix.lower() != ".mp4":
        raise StreamFaceError(f"{path}: the output must be an .mp4 file")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise StreamFaceError(f"{path}: folder {parent} does not exist")
    if path.exists() and not path.is_file():
        raise StreamFaceError(f"{path}: exists and is not a file")
    if not os.access(parent, os.W_OK):
        raise StreamFaceError(f"{path}: folder {parent} is not writable")
    return path


def run(args: argparse.Namespace) -> int:
    """Render the file; print a one-line summary."""
    output = _check_output(Path(args.output))

    from streamface.offline import load_audio, one_core

    audio = load_audio(args.audio)  # bad input fails here, before any engine loads

    from engines.select import load_engine
    from streamface.provenance import OutputSigner
    from streamface.session import Session

    frame_size: FrameSize = args.size
    engine = load_engine(args.engine, frame_size.face)
    one_core()  # OpenBLAS, and torch if the engine loaded it: frames render on one core
    try:
        signer = OutputSigner(output)  # bad signing credentials fail before rendering
        session = Session(engine, seed=args.seed, fps=args.fps, look=args.look, frame_size=frame_size)
        try:
            stats = render_to_file(
                session, audio, output, fps=args.fps, size=args.size, signer=signer
            )
            no_face = session.profile is None
        finally:
            session.close()
    finally:
        engine.close()
    note = "; no speech found, so only the listening placeholder is shown" if no_face else ""
    from streamface.cli import STARTED

    total = time.perf_counter() - STARTED  # start-up, engine and signing included
    print(
        f"{output}: {stats['seconds']:.2f} s of audio, {stats['frames']} frames at "
        f"{args.fps:g} fps, {frame_size}, engine {engine.name}; rendered in "
        f"{stats['elapsed_s']:.2f} s ({stats['speed_x']:.2f}x realtime), {total:.2f} s in all"
        f"{note}; {signer.summary()}"
    )
    return 0


def render_to_file(
    session: Any,
    audio: Any,
    output: Path,
    *,
    fps: float,
    size: int | FrameSize,
    progress: bool | None = None,
    signer: OutputSigner | None = None,
) -> dict[str, Any]:
    """Render ``audio`` through ``session`` into ``output`` atomically.

    Args:
        session: A fresh `Session`.
        audio: `offline.Audio` to render.
        output: Final MP4 path; replaced only on success.
        fps: Frame rate.
        size: Frame size (the session's `frame_size`; an int is a square).
        progress: Show a progress bar on stderr; None: for inputs of at least
            `PROGRESS_MIN_SECONDS` when stderr is a terminal.
        signer: Signs the finished file (C2PA) before it is renamed into place; None:
            a new `OutputSigner` for ``output`` (the configured or development
            certificate). Every MP4 written here is signed.

    Returns:
        ``seconds``, ``frames``, ``elapsed_s``, ``speed_x``.
    """
    from tqdm import tqdm

    from streamface.offline import audio_slice, drive, frame_count
    from streamface.sinks.background import BackgroundWriter
    from streamface.sinks.mp4 import Mp4Writer

    if signer is None:
        from streamface.provenance import OutputSigner

        signer = OutputSigner(output)
    if isinstance(size, int):
        size = FrameSize(size, size)
    width, height = size.width, size.height
    n = frame_count(audio.seconds, fps)
    if progress is None:
        progress = audio.seconds >= PROGRESS_MIN_SECONDS and sys.stderr.isatty()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".part.mp4", dir=output.resolve().parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the result is an ordinary file
    start = time.perf_counter()
    try:
        # Frames are encoded on a second thread while the next ones render (same file).
        with (
            Mp4Writer(tmp, width=width, height=height, fps=fps, audio_rate=audio.rate) as writer,
            tqdm(total=n, unit="frame", disable=not progress, file=sys.stderr, leave=False) as bar,
            BackgroundWriter(writer) as encoder,
        ):
            for k, frame in drive(session, audio, fps):
                if frame.shape[:2] != (height, width):
                    raise StreamFaceError(
                        f"engine made {frame.shape[1]}x{frame.shape[0]} frames, expected {size}"
                    )
                encoder.put(frame, audio_slice(audio, k, fps))
                bar.update(1)
            # Audio past the last frame (less than one frame) still belongs to the file.
            tail = audio.samples[int(round(n * audio.rate / fps)) :]
            if tail.size:
                encoder.put(None, tail)
        signer(tmp)  # the manifest goes in before the file appears under its name
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    elapsed = time.perf_counter() - start
    return {
        "seconds": audio.seconds,
        "frames": n,
        "elapsed_s": elapsed,
        "speed_x": audio.seconds / elapsed if elapsed > 0 else float("inf"),
    }
