"""`LiveSession`: the asyncio driver of one speaker's `Session`.

It owns what is live about a session and nothing about transports:

* audio in: ``push_audio`` (cheap, on the loop) feeds the session; when the session says
  an analysis is due and none is running, one runs in the analysis executor. At most one
  analysis is in flight per session: due work while one runs is dropped, never queued.
* video out: one `FaceTrack` (30 fps frame clock) fanned out (`FaceFanout`) to the caller
  and any number of WHEP viewers, each reading the latest frame (no buffering); frames are
  VP8-encoded once, in the render thread, for every viewer whose sender negotiated VP8.
* events out: JSON-ready dicts (stage, traits with confidence) to listeners that must not
  block (data channels, bounded WebSocket queues).
* timing: audio-arrival to frame-handed latency, frame intervals, first speech to first face.

Exceptions inside a session are logged and end only that session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streamface import SYNTHETIC_NOTICE
from streamface.errors import BadAudioError
from streamface.server.budget import AudioBudget, FloodError
from streamface.server.encoder import SharedFaceEncoding
from streamface.server.events import EventListener, Listeners, hello_event
from streamface.server.tracks import FaceFanout, FaceTrack, FrameGrid, audio_to_mono

log = logging.getLogger(__name__)

PLACEHOLDER_STAGE = "listening"
"""The stage in which the session shows its placeholder instead of a face."""

SPEECH_DBFS = -45.0
"""Level above which arriving audio counts as the first speech (for timing only)."""

AUDIO_TIMEOUT_S = 6.0
"""A caller whose audio stops this long is taken as gone (browsers send silence frames)."""

LATE_INTERVAL_MS = 50.0
"""A frame handed this long or longer after the previous one counts as late."""


class SessionLike(Protocol):
    """What the server needs of a session (`streamface.session.Session`).

    ``push_audio`` and reading the properties happen on the event loop and must be cheap;
    ``analyze`` and ``render_frame`` run in worker threads, possibly at the same time as
    each other and as ``push_audio``.
    """

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None: ...

    def analysis_due(self) -> bool: ...

    def analyze(self) -> Any: ...

    def render_frame(self, t: float) -> np.ndarray: ...

    def close(self) -> None: ...

    def set_look(self, look: int) -> bool: ...

    @property
    def look(self) -> int: ...

    @property
    def stage(self) -> str: ...

    @property
    def speech_seconds(self) -> float: ...

    @property
    def profile(self) -> Any: ...


SessionFactory = Callable[[], SessionLike]


class LiveStats:
    """Timing of one live session, in bounded windows."""

    def __init__(self, window: int = 4096) -> None:
        self.audio_to_frame_ms: deque[float] = deque(maxlen=window)
        self.frame_interval_ms: deque[float] = deque(maxlen=window)
        self.started = time.perf_counter()
        self.first_speech: float | None = None
        self.first_face: float | None = None
        self.last_handed: float | None = None
        self.audio_frames = 0
        self.audio_drawn = 0
        """Audio arrivals whose latency was recorded (entries added to ``audio_to_frame_ms``)."""
        self.audio_rejected = 0
        self.audio_over_budget_s = 0.0
        self.audio_over_budget_chunks = 0
        self.frames_rendered = 0
        self.frames_handed = 0
        self.frames_resent = 0
        self.frames_late = 0
        self.analyses = 0
        self.analyses_dropped = 0

    def frame_handed(self, arrivals: list[float] | None, now: float) -> None:
        """Count a frame handed to the transport at ``now``.

        Args:
            arrivals: When the audio this frame answers arrived (perf_counter seconds);
                None when the render missed its deadline and the last frame went again.
            now: perf_counter seconds.
        """
        self.frames_handed += 1
        if arrivals is None:
            self.frames_resent += 1
        else:
            self.frames_rendered += 1
            if self.last_handed is not None:  # audio from before the video started is not lag
                self.audio_to_frame_ms.extend((now - a) * 1000.0 for a in arrivals)
                self.audio_drawn += len(arrivals)
        if self.last_handed is not None:
            interval_ms = (now - self.last_handed) * 1000.0
            self.frame_interval_ms.append(interval_ms)
            if interval_ms >= LATE_INTERVAL_MS:
                self.frames_late += 1
        self.last_handed = now

    @property
    def speech_to_face_s(self) -> float | None:
        """Seconds from the first speech arriving to the first face frame handed out."""
        if self.first_speech is None or self.first_face is None:
            return None
        return self.first_face - self.first_speech

    def window(self, last: int) -> dict[str, Any]:
        """Counters and the last ``last`` frame intervals and audio-to-frame latencies (ms).

        A reader marks the counters at the start of a time window and takes the values
        added since from the end of the lists (``/internal/stats`` serves this).
        """
        return {
            "frames_handed": self.frames_handed,
            "frames_resent": self.frames_resent,
            "frames_late": self.frames_late,
            "frame_interval_ms": [round(v, 2) for v in list(self.frame_interval_ms)[-last:]],
            "audio_drawn": self.audio_drawn,
            "audio_to_frame_ms": [round(v, 2) for v in list(self.audio_to_frame_ms)[-last:]],
        }

    def summary(self) -> dict[str, Any]:
        """Percentiles and counts, JSON-ready."""
        return {
            "audio_to_frame_ms_p50": _pct(self.audio_to_frame_ms, 50),
            "audio_to_frame_ms_p95": _pct(self.audio_to_frame_ms, 95),
            "frame_interval_ms_p50": _pct(self.frame_interval_ms, 50),
            "frame_interval_ms_p99": _pct(self.frame_interval_ms, 99),
            "speech_to_face_s": None
            if self.speech_to_face_s is None
            else round(self.speech_to_face_s, 3),
            "audio_frames": self.audio_frames,
            "audio_rejected": self.audio_rejected,
            "audio_over_budget_s": round(self.audio_over_budget_s, 3),
            "audio_over_budget_chunks": self.audio_over_budget_chunks,
            "frames_rendered": self.frames_rendered,
            "frames_handed": self.frames_handed,
            "frames_resent": self.frames_resent,
            "frames_late": self.frames_late,
            "analyses": self.analyses,
            "analyses_dropped": self.analyses_dropped,
        }


def _pct(values: deque[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.fromiter(values, dtype=np.float64), q)), 2)


class LiveSession:
    """One live speaker: session, frame clock, analysis cadence, events.

    Args:
        session_id: Public id (URL-safe).
        session: The speaker's `Session` (or a fake with the same contract).
        source: Where the audio comes from ("webrtc", "telephony", ...).
        render_executor: Where frames render (shared by the server).
        analysis_executor: Where analyses run (shared by the server).
        on_closed: Called once when the session has ended, with the reason.
        frame_grid: The shared frame grid of its engine's sessions (batched rendering);
            None: the face track keeps its own clock.
    """

    def __init__(
        self,
        session_id: str,
        session: SessionLike,
        *,
        source: str = "webrtc",
        render_executor: concurrent.futures.Executor | None = None,
        analysis_executor: concurrent.futures.Executor | None = None,
        on_closed: Callable[[LiveSession, str], None] | None = None,
        frame_grid: FrameGrid | None = None,
    ) -> None:
        self.id = session_id
        self.session = session
        self.source = source
        self.created = time.time()
        self.info: dict[str, Any] = {}
        """Extra JSON fields for ``GET /sessions`` (e.g. a telephony stream's sid)."""
        self.stats = LiveStats()
        self._analysis_executor = analysis_executor
        self._on_closed = on_closed
        self._listeners = Listeners(self.id)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._analysis: asyncio.Task[None] | None = None
        self._pending_audio: deque[float] = deque(maxlen=256)  # arrival times not yet drawn
        self._stage = PLACEHOLDER_STAGE
        self._closing: asyncio.Task[None] | None = None
        self._last_audio = time.monotonic()
        self.closed = False
        self.close_reason: str | None = None
        self.face_track = FaceTrack(
            self._render,
            executor=render_executor,
            on_render_start=self._on_render_start,
            on_handed=self._on_handed,
            on_error=lambda exc: self.end(f"render failed: {type(exc).__name__}"),
            grid=frame_grid,
            encoding=SharedFaceEncoding(),
        )
        self._fanout = FaceFanout(self.face_track)

    # ---- video -------------------------------------------------------------------------

    def video_track(self) -> MediaStreamTrack:
        """A new consumer of the face (latest frame only, never a growing buffer)."""
        return self._fanout.subscribe()

    def _render(self, t: float) -> np.ndarray:
        return self.session.render_frame(t)

    def _on_render_start(self) -> list[float]:
        arrivals = list(self._pending_audio)
        self._pending_audio.clear()
        return arrivals

    def _on_handed(self, arrivals: list[float] | None, now: float) -> None:
        stats = self.stats
        stats.frame_handed(arrivals, now)
        stage = self.stage
        if stage != self._stage:
            self._stage = stage
            if stage != PLACEHOLDER_STAGE and stats.first_face is None:
                stats.first_face = now
            self.emit({"type": "stage", "stage": stage})

    # ---- audio and analysis ------------------------------------------------------------

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Feed audio (mono float32) on the loop; starts an analysis when one is due."""
        if self.closed:
            return
        now = time.perf_counter()
        self._last_audio = time.monotonic()
        self.stats.audio_frames += 1
        self._pending_audio.append(now)
        if self.stats.first_speech is None and samples.size:
            rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
            if rms > 0 and 20 * math.log10(rms) > SPEECH_DBFS:
                self.stats.first_speech = now
        try:
            self.session.push_audio(samples, sample_rate)
            due = self.session.analysis_due()
        except BadAudioError as exc:
            self.stats.audio_rejected += 1  # one malformed chunk is dropped, not fatal
            log.debug("session %s: audio chunk dropped: %s", self.id, exc)
            return
        except Exception as exc:
            log.exception("session %s: audio rejected", self.id)
            self.end(f"audio failed: {type(exc).__name__}")
            return
        if not due:
            return
        if self._analysis is not None:
            self.stats.analyses_dropped += 1  # one in flight already: drop, never queue
            return
        self._analysis = self._spawn(self._analyze())

    async def feed_audio(self, samples: np.ndarray, sample_rate: int, slice_s: float = 0.2) -> None:
        """`push_audio` a long chunk in slices of ``slice_s``, yielding to the loop between.

        Ingest (resampling, VAD, the mouth's features) of one slice costs a few ms at
        most, so a burst of seconds of audio never holds the event loop for long.
        """
        step = max(1, int(slice_s * sample_rate))
        for start in range(0, samples.size, step):
            if start:
                await asyncio.sleep(0)
            if self.closed:
                return
            self.push_audio(samples[start : start + step], sample_rate)

    def count_over_budget(self, seconds: float) -> None:
        """Count audio a transport dropped for arriving faster than its budget."""
        self.stats.audio_over_budget_s += max(0.0, seconds)
        self.stats.audio_over_budget_chunks += 1
        self._last_audio = time.monotonic()  # it did arrive: the caller is not gone

    async def _analyze(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._analysis_executor, self.session.analyze)
        except Exception as exc:
            log.exception("session %s: analysis failed", self.id)
            self.end(f"analysis failed: {type(exc).__name__}")
            return
        finally:
            self._analysis = None
        self.stats.analyses += 1
        if not self.closed:
            self.emit(self.traits_event())

    def start_audio(self, track: MediaStreamTrack) -> None:
        """Read an incoming audio track into the session until it ends."""
        self._spawn(self._consume_audio(track))
        self._spawn(self._watch_audio())

    async def _consume_audio(self, track: MediaStreamTrack) -> None:
        # RTP arrives as fast as the sender sends it: the same budget as telephony keeps a
        # sender faster than real time from costing more than a real caller, and ends a flood.
        budget = AudioBudget()
        while not self.closed:
            try:
                frame = await track.recv()
            except MediaStreamError:
                break
            samples, rate = audio_to_mono(frame)  # type: ignore[arg-type]
            duration = samples.shape[0] / rate
            granted = budget.admit(duration)
            if granted < duration:
                self.count_over_budget(duration - granted)
                samples = samples[: int(granted * rate)]
            try:
                budget.check()
            except FloodError as exc:
                self.end(exc.reason)
                break
            if samples.shape[0]:
                self.push_audio(samples, rate)

    async def _watch_audio(self) -> None:
        while not self.closed:
            await asyncio.sleep(1.0)
            if time.monotonic() - self._last_audio > AUDIO_TIMEOUT_S:
                self.end(f"no audio for {AUDIO_TIMEOUT_S:.0f} s")
                return

    # ---- events ------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        """The session's stage ("listening" while it shows the placeholder)."""
        try:
            return str(self.session.stage)
        except Exception:  # noqa: BLE001 - a broken session reads as not ready
            return PLACEHOLDER_STAGE

    def traits(self) -> dict[str, Any] | None:
        """The inferred traits with confidence, or None before the first analysis."""
        profile = self.session.profile
        if profile is None:
            return None
        out: dict[str, Any] = profile.traits_json()
        return out

    def traits_event(self) -> dict[str, Any]:
        """The ``traits`` event sent after each analysis."""
        return {
            "type": "traits",
            "stage": self.stage,
            "speech_seconds": round(float(self.session.speech_seconds), 2),
            "traits": self.traits(),
        }

    def add_listener(self, listener: EventListener) -> None:
        """Receive events; the listener must not block. It gets ``hello`` right away."""
        self._listeners.add(listener, hello_event(self.id, self.stage))

    def remove_listener(self, listener: EventListener) -> None:
        """Stop receiving events."""
        self._listeners.discard(listener)

    def emit(self, event: dict[str, Any]) -> None:
        """Send an event to every listener; a failing listener is dropped, not fatal."""
        self._listeners.emit(event)

    def snapshot(self) -> dict[str, Any]:
        """The session as ``GET /sessions`` lists it."""
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "stage": self.stage,
            "speech_seconds": round(float(self.session.speech_seconds), 2),
            "traits": self.traits(),
            "look": int(self.session.look),
            "started": round(self.created, 3),
            "synthetic": True,
            "notice": SYNTHETIC_NOTICE,
            "timing": self.stats.summary(),
        }
        out.update(self.info)
        return out

    # ---- life cycle --------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("session %s: task failed", self.id, exc_info=task.exception())
            self.end("internal error")

    def end(self, reason: str) -> None:
        """Start closing (from callbacks and sync code); `close` does the work."""
        if self._closing is None and not self.closed:
            self._closing = asyncio.get_running_loop().create_task(self.close(reason))

    async def close(self, reason: str = "closed") -> None:
        """End the session: tasks cancelled, video stopped, the session's buffers zeroed."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        log.info(
            "session %s ended (%s) after %d audio frames", self.id, reason, self.stats.audio_frames
        )
        self.emit({"type": "end", "reason": reason})
        self._listeners.clear()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        self.face_track.stop()
        if self.face_track.recv_started:
            # the fan-out's reader notices the stop at its next tick and ends
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.face_track.ended.wait(), timeout=1.0)
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let the fan-out's reader task finish
        try:
            self.session.close()
        except Exception:  # noqa: BLE001 - closing must go on
            log.exception("session %s: close failed", self.id)
        if self._on_closed is not None:
            self._on_closed(self, reason)

    async def wait_closed(self) -> None:
        """Wait until a close started with `end` has finished."""
        if self._closing is not None:
            await asyncio.shield(self._closing)
