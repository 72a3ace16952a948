"""`StreamFaceProcessor`: a labelled synthetic face for a voice in a Pipecat pipeline.

A thin adapter over `streamface.session.Session` (through `FaceClock`): the caller's
`InputAudioRawFrame`s (``voice="user"``) or the agent's `TTSAudioRawFrame`s
(``voice="bot"``) go into the session; `OutputImageRawFrame`s (RGB, ``size``, the
synthetic-media label in the pixels) come out at ``fps``. Every frame passes through
untouched, audio included.

Nothing blocks the pipeline: audio is pushed into the session on the loop (cheap), the
engine loads and analyses and renders run in worker threads, and a frame whose render is
late is repeated instead of waited for. TTS audio arrives in bursts faster than it plays;
it is fed to the face as it plays, and an interruption drops what had not yet played (the
output transport drops it too). `EndFrame` and `CancelFrame` stop the frames and zero
the session's buffers before they travel on.

Consent is the application's explicit decision: ``consent`` has no default, and with
``consent=False`` no session exists, no audio is analysed and no face is pushed (the
processor only passes frames through). `withdraw_consent` ends analysis mid-call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import deque
from typing import Any, Literal

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from streamface.adapters.face_clock import FaceClock, pcm_to_mono
from streamface.adapters.sessions import SessionFactory, shared_session_factory
from streamface.errors import BadAudioError
from streamface.face.identity import require_look

log = logging.getLogger(__name__)

Voice = Literal["user", "bot"]

EARLY_AUDIO_S = 5.0
"""Audio kept while the engine is still loading, fed to the session once it is ready."""

_loader = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamface-load")


class StreamFaceProcessor(FrameProcessor):
    """A Pipecat `FrameProcessor` that shows a labelled synthetic face for one voice.

    Args:
        size: (width, height) of the pushed images; the square face (``face_size``
            pixels) is centred on it. Match the transport's ``video_out_width/height``.
        fps: Images per second (match the transport's ``video_out_framerate``).
        voice: ``"user"`` animates the caller's `InputAudioRawFrame`s, ``"bot"`` the
            agent's `TTSAudioRawFrame`s.
        consent: The application's record that the speaker of ``voice`` agreed to have
            their voice analysed (always True for the agent's own TTS voice). False:
            nothing is analysed and no image is pushed.
        engine: Generator engine ("auto", "onnxruntime", "torch", "tensorrt").
        face_size: Side of the rendered face in pixels; default ``min(size)``. Cost grows
            with its square: on a CPU keep it near 256.
        session_factory: Makes the `Session` (tests, or a custom engine); default: a real
            session on an engine shared by every processor with the same engine and size.
        look: A look to keep (1 .. 2147483647): the seed alone chooses skin, hair, face
            shape and clothes, the same face in every call (a bot's brand face); 0, the
            default, draws them from the voice.
        **kwargs: Passed to `FrameProcessor` (e.g. ``name``).

    Raises:
        ValueError: a bad ``size``, ``fps``, ``voice`` or ``look``.
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] = (512, 512),
        fps: float = 30.0,
        voice: Voice = "user",
        consent: bool,
        engine: str = "auto",
        face_size: int | None = None,
        session_factory: SessionFactory | None = None,
        look: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        width, height = (int(v) for v in size)
        if not (16 <= width <= 4096 and 16 <= height <= 4096):
            raise ValueError(f"size must be (width, height) in 16..4096, got {size}")
        if voice not in ("user", "bot"):
            raise ValueError(f"voice must be 'user' or 'bot', got {voice!r}")
        if not 1.0 <= float(fps) <= 120.0:
            raise ValueError(f"fps must be between 1 and 120, got {fps}")
        self.look = require_look(look)
        face = int(face_size) if face_size else min(width, height)
        if not 16 <= face <= min(width, height):
            raise ValueError(f"face_size must be 16..{min(width, height)}, got {face_size}")
        self.size = (width, height)
        self.fps = float(fps)
        self.voice: Voice = voice
        self.face_size = face - face % 2
        self._consent = consent is True
        self._audio_type: type[Frame] = TTSAudioRawFrame if voice == "bot" else InputAudioRawFrame
        self._early: deque[tuple[np.ndarray, int]] = deque()
        self._early_s = 0.0
        self.clock: FaceClock | None = None
        """The running face clock (its ``stats`` hold the timing); None before start."""
        self._task: asyncio.Task[None] | None = None
        self._factory: concurrent.futures.Future[SessionFactory] | None = None
        if self._consent:
            if session_factory is not None:
                self._factory = concurrent.futures.Future()
                self._factory.set_result(session_factory)
            else:  # load (and warm) the engine now, in a thread, not on the first call
                self._factory = _loader.submit(shared_session_factory, engine, self.face_size)
        else:
            log.info("StreamFaceProcessor: no consent given; frames pass through, nothing is analysed")

    @property
    def consent(self) -> bool:
        """Whether the voice may be analysed (False after `withdraw_consent`)."""
        return self._consent

    async def ready(self) -> None:
        """Wait until the engine is loaded (optional; frames flow either way).

        Raises:
            StreamFaceError: the engine cannot load here.
        """
        if self._factory is not None:
            await asyncio.wrap_future(self._factory)

    async def withdraw_consent(self) -> None:
        """Stop analysing now: no more images; the session's buffers are zeroed."""
        self._consent = False
        self._early.clear()
        await self._stop()

    # ---- frames ------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Feed the voice's audio to the face; pass every frame on unchanged."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self._consent and self._task is None:
                self._task = self.create_task(self._run(), name="streamface-face")
            return
        if isinstance(frame, EndFrame | CancelFrame):
            await self._stop(cancel=isinstance(frame, CancelFrame))
        elif isinstance(frame, InterruptionFrame):
            if self.clock is not None and self.voice == "bot":
                self.clock.clear_pending()
        elif isinstance(frame, self._audio_type) and self._consent:
            self._audio(frame)
        await self.push_frame(frame, direction)

    def _audio(self, frame: Any) -> None:
        try:
            samples = pcm_to_mono(frame.audio, frame.num_channels)
        except BadAudioError as exc:
            log.debug("audio frame dropped: %s", exc)
            return
        if self.clock is not None:
            self.clock.push_audio(samples, int(frame.sample_rate))
            return
        self._early.append((samples, int(frame.sample_rate)))
        self._early_s += samples.size / frame.sample_rate
        while self._early and self._early_s > EARLY_AUDIO_S:
            old, rate = self._early.popleft()
            self._early_s -= old.size / rate

    async def _run(self) -> None:
        assert self._factory is not None
        try:
            factory = await asyncio.wrap_future(self._factory)
            session = await asyncio.get_running_loop().run_in_executor(_loader, factory)
        except Exception as exc:
            log.error("StreamFace could not start (%s); frames pass through without a face", exc)
            return
        if not self._consent:  # withdrawn while loading
            session.close()
            return
        if self.look:
            session.set_look(self.look)  # before the first face: only records the seed
        clock = FaceClock(session, fps=self.fps, size=self.size, paced=self.voice == "bot")
        self.clock = clock
        while self._early:
            clock.push_audio(*self._early.popleft())
        self._early_s = 0.0
        try:
            await clock.run(self._emit)
        except Exception:
            log.exception("StreamFace face render failed; no more images")
        finally:
            await clock.close()

    async def _emit(self, rgb: np.ndarray, fresh: bool) -> None:
        await self.push_frame(OutputImageRawFrame(image=rgb.tobytes(), size=self.size, format="RGB"))

    async def _stop(self, cancel: bool = False) -> None:
        task, self._task = self._task, None
        if self.clock is not None:
            self.clock.stop()
        if task is not None:
            if cancel:
                await self.cancel_task(task)
            else:
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=2.0)
                except TimeoutError:
                    await self.cancel_task(task)
        if self.clock is not None:
            await self.clock.close()  # idempotent: zeroes the buffers even after a cancel

    async def cleanup(self) -> None:
        """Pipecat's end-of-life hook: the face stops and its buffers are zeroed."""
        await self._stop(cancel=True)
        await super().cleanup()
