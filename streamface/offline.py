"""Drive a `Session` over a whole recording in media time (no clock, no threads).

Frame ``k`` is at media time ``t_k = k / fps``. Before it is rendered, the session gets
the audio up to ``t_{k+1}`` (so the mouth at ``t_k`` reads the audio that ends there and
never runs ahead of the sound), and any analysis that is due runs at once. The result
is what a live session would show for the same audio, frame for frame, and the same on
every run for a given seed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from streamface.audio.decode import decode_file
from streamface.errors import NoSpeechError
from streamface.session import FIRST_ANALYSIS_S, Session

if TYPE_CHECKING:
    from engines.base import Engine
    from streamface.voice.profile import VoiceProfile

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """A decoded recording: mono float32 samples at their own rate."""

    samples: np.ndarray
    rate: int = SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return self.samples.size / self.rate


def load_audio(path: str | Path) -> Audio:
    """Decode any audio file FFmpeg reads to 16 kHz mono (`audio.decode.decode_file`).

    Raises:
        BadAudioError: missing, empty, unreadable, corrupt or truncated file, no samples.
    """
    return Audio(decode_file(path), SAMPLE_RATE)


def one_core() -> bool:
    """Keep this process's numeric libraries on one thread: torch's and OpenBLAS's pools.

    An offline render draws frames on one core and encodes them on a second thread (ONNX
    Runtime and x264 are single-threaded by their own settings); a BLAS pool would only
    add another busy core (its workers spin while they wait) to the voice analysis. Torch is limited only when
    already imported (the default engine and the speaker encoder need none). Returns
    whether an OpenBLAS was found and limited.
    """
    torch = sys.modules.get("torch")  # only if something loaded it: never import it for this
    if torch is not None:
        torch.set_num_threads(1)
    return _limit_openblas(1)


def _limit_openblas(threads: int) -> bool:
    import ctypes

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    names = (
        "openblas_set_num_threads",
        "scipy_openblas_set_num_threads64_",
        "scipy_openblas_set_num_threads",
        "openblas_set_num_threads64_",
    )
    done = False
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                fn(threads)
                done = True
                break
    return done


def frame_count(seconds: float, fps: float) -> int:
    """Frames covering ``seconds`` at ``fps`` (at least one)."""
    return max(1, int(round(seconds * fps)))


def audio_slice(audio: Audio, k: int, fps: float) -> np.ndarray:
    """The samples of frame ``k``: from ``k / fps`` up to ``(k + 1) / fps``."""
    a = int(round(k * audio.rate / fps))
    b = int(round((k + 1) * audio.rate / fps))
    return audio.samples[a:b]


def feed(session: Session, audio: Audio, fps: float) -> Iterator[int]:
    """Give ``session`` the audio of each frame ``k = 0 .. n-1`` in turn; yields ``k``.

    The session gets each frame's audio before that frame; due analyses run inline.
    """
    for k in range(frame_count(audio.seconds, fps)):
        chunk = audio_slice(audio, k, fps)
        if chunk.size:
            session.push_audio(chunk, audio.rate)
        step(session)
        yield k


def drive(session: Session, audio: Audio, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    """Render every frame of ``audio``: yields ``(k, rgb)`` for ``k = 0 .. n-1`` (see `feed`)."""
    for k in feed(session, audio, fps):
        yield k, session.render_frame(k / fps)


SETTLED_AFTER_S = 3600.0
"""A media time after the end by which any morph has long finished."""


def call_face(session: Session, audio: Audio, fps: float = 30.0) -> np.ndarray | None:
    """The face-parameter vector a call with ``audio`` settles on by its end.

    Feeds ``session`` (fresh) the audio and runs its analyses exactly as `drive` does,
    without drawing frames: the identity code is fixed at the first face and only
    perceived sex and age refine, so a still of a recording (`streamface portrait`,
    the gallery) shows the face its call or `streamface render` shows at the end.

    Returns:
        float32 [PARAM_DIM], or None when no face formed (too little speech).
    """
    for _ in feed(session, audio, fps):
        pass
    if session.profile is None:
        return None
    return session.params_at(audio.seconds + SETTLED_AFTER_S)


def recording_face(
    audio: Audio, engine: Engine, look: int = 0, name: str = "the audio"
) -> tuple[np.ndarray, VoiceProfile]:
    """The face a call with the speech of ``audio`` shows at its end, and its last profile.

    Args:
        audio: A decoded recording (`load_audio`).
        engine: The engine the face will be drawn with (a session needs its size; no
            frame is drawn here).
        look: Seed of what the voice cannot tell (0: the voice's own look).
        name: What to call the recording in the error.

    Raises:
        NoSpeechError: too little speech for a face.
    """
    session = Session(engine, look=look, sprites=False)
    try:
        params = call_face(session, audio)
        profile = session.profile
    finally:
        session.close()
    if params is None or profile is None:
        raise NoSpeechError(
            f"{name}: less than {FIRST_ANALYSIS_S:.1f} s of speech found; a face needs that much"
        )
    return params, profile


def step(session: Session) -> None:
    """Run an analysis if one is due (offline: inline, in media order)."""
    if session.analysis_due():
        session.analyze()
