"""`FaceClock`: a push-style asyncio driver of one `Session`, for agent frameworks.

The live server pulls frames (an aiortc track asks for each one); Pipecat and LiveKit want
frames pushed to them (a frame processor pushes `OutputImageRawFrame`s, a LiveKit
`VideoSource` is handed frames). `FaceClock` is the shared part of those adapters:

* audio in: `push_audio` (cheap, on the loop) feeds the session at once, or, with
  ``paced=True`` (an agent's TTS voice, which arrives faster than it plays), queues it
  and feeds each chunk when it starts playing, so the mouth moves with what is heard.
  `clear_pending` drops queued, unplayed audio (an interruption). When the session says
  an analysis is due and none runs, one runs in the analysis executor (due work while
  one runs is dropped, never queued).
* frames out: `run` calls ``emit(frame, fresh)`` at ``fps`` on a drift-free wall clock.
  Each frame renders off the event loop just before its deadline; a render that misses
  its deadline is not waited for: the previous frame goes out again (``fresh=False``)
  and the late render is used at the next deadline. At most one render is in flight.
* timing: `LiveStats` (audio arrival to frame handed, frame intervals, first speech to
  first face).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import numpy as np

from streamface.errors import BadAudioError
from streamface.server.live import (
    PLACEHOLDER_STAGE,
    SPEECH_DBFS,
    LiveStats,
    SessionLike,
)

log = logging.getLogger(__name__)

Emit = Callable[[np.ndarray, bool], Awaitable[None]]
"""``emit(rgb [H, W, 3] uint8, fresh)``; ``fresh`` is False when a late frame is repeated."""

GRACE_S = 0.007
"""How long past its deadline a frame may wait for its render (see `FaceTrack`)."""
LEAD_QUANTILE = 0.85
LEAD_MARGIN_S = 0.003
RENDER_WINDOW = 30
"""A render starts the ``LEAD_QUANTILE`` quantile of the last ``RENDER_WINDOW`` render
durations + ``LEAD_MARGIN_S`` before its deadline. Audio that arrives after a render
starts waits for the next frame, so the lead adds straight to the audio-to-mouth lag,
and a render that misses its deadline adds a whole frame. On busy cores render times
jitter; a quantile covers the jitter where `FaceTrack`'s 1.5 x the mean (+ 3 ms) resent
4-7 % of the frames in the Pipecat end-to-end test (p95 lag 57-66 ms)."""


def pcm_to_mono(data: bytes | np.ndarray, channels: int = 1) -> np.ndarray:
    """Interleaved 16-bit PCM (bytes or int16 array) as mono float32 in [-1, 1].

    Raises:
        BadAudioError: the data is not whole 16-bit frames of ``channels`` channels.
    """
    channels = max(1, int(channels))
    pcm = np.frombuffer(data, dtype=np.int16) if isinstance(data, bytes | bytearray | memoryview) else np.asarray(data)
    if pcm.dtype != np.int16:
        raise BadAudioError(f"expected 16-bit PCM, got {pcm.dtype}")
    if pcm.size % channels:
        raise BadAudioError(f"{pcm.size} samples do not split into {channels} channels")
    mono = pcm.reshape(-1, channels).astype(np.float32).mean(axis=1) / 32768.0
    return np.ascontiguousarray(mono, dtype=np.float32)


def fit_frame(square: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A square face centred on a ``size`` = (width, height) canvas of its corner colour.

    The face is never scaled (the label stays legible); the caller renders it at most
    ``min(width, height)`` pixels.
    """
    width, height = size
    h, w = square.shape[:2]
    if (w, h) == (width, height):
        return square
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = square[0, 0]
    top, left = (height - h) // 2, (width - w) // 2
    canvas[top : top + h, left : left + w] = square
    return canvas


class FaceClock:
    """Drives one session: audio in, analyses when due, frames out at ``fps``.

    Args:
        session: The speaker's `Session` (or anything with `SessionLike`'s contract).
        fps: Frames per second pushed by `run`.
        size: (width, height) of the frames; the session's square face is centred on it.
            None keeps the session's own size.
        paced: Feed audio to the session as it plays (a TTS voice arriving in bursts)
            instead of as it arrives.
        render_executor: Where frames render; None makes one thread of its own.
        analysis_executor: Where analyses run; None makes one thread of its own.
    """

    def __init__(
        self,
        session: SessionLike,
        *,
        fps: float = 30.0,
        size: tuple[int, int] | None = None,
        paced: bool = False,
        render_executor: concurrent.futures.Executor | None = None,
        analysis_executor: concurrent.futures.Executor | None = None,
    ) -> None:
        if not 1.0 <= fps <= 120.0:
            raise ValueError(f"fps must be between 1 and 120, got {fps}")
        self.session = session
        self.fps = float(fps)
        self.size = size
        self.paced = paced
        self.stats = LiveStats()
        self._own_executors: list[concurrent.futures.ThreadPoolExecutor] = []
        self._render_executor = render_executor or self._executor("streamface-render")
        self._analysis_executor = analysis_executor or self._executor("streamface-analysis")
        self._pending_audio: deque[float] = deque(maxlen=256)  # arrival times not yet drawn
        self._playout: deque[tuple[float, float, np.ndarray, int]] = deque()  # (start, arrival, mono, rate)
        self._playout_end = 0.0
        self._analysis: asyncio.Task[None] | None = None
        self._stage = PLACEHOLDER_STAGE
        self._stopped = asyncio.Event()
        self._render_times: deque[float] = deque([0.010], maxlen=RENDER_WINDOW)
        self.closed = False
        self.frames_emitted = 0
        self.on_stage: Callable[[str], None] | None = None
        """Called on the loop when the session's stage changes (e.g. to send an event)."""

    def _executor(self, name: str) -> concurrent.futures.ThreadPoolExecutor:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._own_executors.append(pool)
        return pool

    # ---- audio -------------------------------------------------------------------------

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Feed mono float32 audio (on the loop, cheap); queued for playout when paced."""
        if self.closed or samples.size == 0:
            return
        now = time.perf_counter()
        if self.stats.first_speech is None:
            rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
            if rms > 0 and 20 * math.log10(rms) > SPEECH_DBFS:
                self.stats.first_speech = now
        if not self.paced:
            self._feed(samples, sample_rate, now)
            return
        start = max(now, self._playout_end)
        self._playout_end = start + samples.size / sample_rate
        self._playout.append((start, now, samples, sample_rate))

    def clear_pending(self) -> int:
        """Drop queued audio that has not started playing (an interruption); how many chunks."""
        dropped = len(self._playout)
        self._playout.clear()
        self._playout_end = 0.0
        return dropped

    @property
    def pending_audio_s(self) -> float:
        """Seconds of paced audio queued and not yet played."""
        return max(0.0, self._playout_end - time.perf_counter()) if self._playout else 0.0

    def _release_playout(self, now: float) -> None:
        while self._playout and self._playout[0][0] <= now:
            start, _, samples, rate = self._playout.popleft()
            self._feed(samples, rate, start)

    def _feed(self, samples: np.ndarray, sample_rate: int, arrival: float) -> None:
        self.stats.audio_frames += 1
        self._pending_audio.append(arrival)
        try:
            self.session.push_audio(samples, sample_rate)
            due = self.session.analysis_due()
        except BadAudioError as exc:
            self.stats.audio_rejected += 1
            log.debug("audio chunk dropped: %s", exc)
            return
        if not due:
            return
        if self._analysis is not None:
            self.stats.analyses_dropped += 1
            return
        self._analysis = asyncio.get_running_loop().create_task(self._analyze())

    async def _analyze(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._analysis_executor, self.session.analyze)
            self.stats.analyses += 1
        except Exception:
            log.exception("analysis failed; the face keeps its last state")
        finally:
            self._analysis = None

    # ---- frames ------------------------------------------------------------------------

    def _lead_s(self) -> float:
        times = sorted(self._render_times)
        return times[min(len(times) - 1, int(LEAD_QUANTILE * len(times)))] + LEAD_MARGIN_S

    def _render(self, t: float) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        frame = np.ascontiguousarray(self.session.render_frame(t), dtype=np.uint8)
        if self.size is not None:
            frame = fit_frame(frame, self.size)
        return frame, time.perf_counter() - started

    async def render(self, t: float) -> np.ndarray:
        """One frame at media time ``t``, rendered off the loop, for callers that pace frames
        themselves (e.g. LiveKit's `AVSynchronizer`); counted in `stats` like `run`'s."""
        token = list(self._pending_audio)
        self._pending_audio.clear()
        frame, took = await asyncio.get_running_loop().run_in_executor(self._render_executor, self._render, t)
        self._render_times.append(took)
        self._handed(token, time.perf_counter())
        return frame

    async def run(self, emit: Emit) -> None:
        """Push frames to ``emit`` at ``fps`` until `stop` (or cancellation).

        Raises:
            Exception: what a render raised (the caller ends its stream).
        """
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
        start = time.monotonic()
        index = 0
        pending: asyncio.Future[tuple[np.ndarray, float]] | None = None
        token: list[float] = []
        last: np.ndarray | None = None
        try:
            while not self._stopped.is_set():
                deadline = start + index * period
                lead = min(0.8 * period, self._lead_s())
                if pending is None:
                    await asyncio.sleep(deadline - lead - time.monotonic())
                    if self._stopped.is_set():
                        break
                    self._release_playout(time.perf_counter())
                    token = list(self._pending_audio)
                    self._pending_audio.clear()
                    pending = loop.run_in_executor(self._render_executor, self._render, deadline - start)
                timeout = None if last is None else max(0.0, deadline + GRACE_S - time.monotonic())
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                fresh = bool(done)
                if done:
                    last, took = pending.result()
                    pending = None
                    self._render_times.append(took)
                    await asyncio.sleep(deadline - time.monotonic())
                if self._stopped.is_set():
                    break
                assert last is not None
                self._handed(token if fresh else None, time.perf_counter())
                await emit(last, fresh)
                self.frames_emitted += 1
                index += 1
                now = time.monotonic()
                if now - (start + index * period) > 4 * period:
                    index = int((now - start) / period) + 1  # far behind: skip, never burst
        finally:
            if pending is not None:
                pending.cancel()

    def _handed(self, arrivals: list[float] | None, now: float) -> None:
        stats = self.stats
        stats.frame_handed(arrivals, now)
        try:
            stage = str(self.session.stage)
        except Exception:  # noqa: BLE001 - a broken session reads as not ready
            stage = PLACEHOLDER_STAGE
        if stage != self._stage:
            self._stage = stage
            if stage != PLACEHOLDER_STAGE and stats.first_face is None:
                stats.first_face = now
            if self.on_stage is not None:
                self.on_stage(stage)

    # ---- end ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Make `run` return at its next frame."""
        self._stopped.set()

    async def close(self) -> None:
        """Stop, wait for a running analysis, zero the session's buffers; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.stop()
        self._playout.clear()
        self._pending_audio.clear()
        if self._analysis is not None:
            await asyncio.gather(self._analysis, return_exceptions=True)
        try:
            await asyncio.get_running_loop().run_in_executor(self._analysis_executor, self.session.close)
        except Exception:  # noqa: BLE001 - closing must go on
            log.exception("session close failed")
        for pool in self._own_executors:
            pool.shutdown(wait=False, cancel_futures=True)

