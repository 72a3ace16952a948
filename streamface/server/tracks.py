"""The face as an aiortc video track, and the audio frame conversion of the ingest side.

`FaceTrack` is the one place where the face becomes video: its ``recv()`` paces 30 fps
with ``next_timestamp()`` (proper 90 kHz pts), asks the session for a frame off the event
loop just in time for the frame's deadline, and hands it on. A render that misses its
deadline is not waited for: the previous frame goes out again and the late render is used
at the next deadline, so the clock never drifts and at most one render per track is in
flight.

With a `SharedFaceEncoding` the render thread also encodes each frame (VP8), and
`FaceFanout` hands every consumer whose sender negotiated VP8 the encoded packet, every
other consumer the frame.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import logging
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import cv2
import numpy as np
from aiortc import VideoStreamTrack
from aiortc.mediastreams import (
    VIDEO_CLOCK_RATE,
    VIDEO_PTIME,
    VIDEO_TIME_BASE,
    MediaStreamError,
    MediaStreamTrack,
)
from av import AudioFrame, Packet, VideoFrame

from streamface.server.encoder import FaceVp8Encoder, SharedFaceEncoding

log = logging.getLogger(__name__)

RenderFn = Callable[[float], np.ndarray]
"""Session time in seconds -> RGB uint8 [H, W, 3]."""

FPS = round(1 / VIDEO_PTIME)


class RenderTicket(Protocol):
    """An announced render (`engines.batching.Ticket`): entered on the rendering thread,
    left when the render ends or will not run."""

    def leave(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any: ...


class FrameGrid:
    """A shared 30 fps grid for the tracks of one engine, so that their renders coincide.

    Tracks on a grid put their frame deadlines on the same instants (the grid's origin
    plus whole frame periods) and start their renders with the same lead (a running
    estimate over all of them), so their engine calls arrive together and a
    `engines.batching.BatchingEngine` answers them with one call. Each render is
    announced first (``announce``, the batcher's ``expect``) so that the batch knows whom
    to wait for.

    Args:
        announce: Returns a ticket for a render about to start; None announces nothing.
    """

    def __init__(self, announce: Callable[[], RenderTicket] | None = None) -> None:
        self.origin = time.monotonic()
        self.render_s = 0.010
        """Running estimate of one render on this grid, batch wait included."""
        self._announce = announce

    def align(self, now: float) -> float:
        """The first grid instant at or after ``now``."""
        return self.origin + math.ceil((now - self.origin) / VIDEO_PTIME) * VIDEO_PTIME

    @property
    def lead_s(self) -> float:
        """How long before its deadline every render on this grid starts."""
        return min(0.8 * VIDEO_PTIME, 1.5 * self.render_s + 0.003)

    def observe(self, took: float) -> None:
        """One render's duration (updates the shared estimate)."""
        self.render_s = 0.9 * self.render_s + 0.1 * took if took < self.render_s * 4 else took

    def ticket(self) -> RenderTicket | None:
        """Announce a render about to be scheduled."""
        return None if self._announce is None else self._announce()


class FaceTrack(VideoStreamTrack):
    """A 30 fps video track drawn by a render function, rendered just in time.

    Each frame has a deadline on a fixed 30 fps wall clock (``next_timestamp``). The render
    starts a little before it, by the recent render time plus a margin, so that the frame
    is ready at its deadline and reflects audio up to a few milliseconds before it. A render
    still running at the deadline (plus ``grace_s``) is not waited for: the previous frame
    goes out again on time and the late render is used at the next deadline.

    Args:
        render: Returns the RGB frame for a session time in seconds (called in ``executor``).
        executor: Where renders run; None: one pool shared by the tracks given none.
        grace_s: How long past its deadline a frame may wait for its render. A resent frame
            adds a whole frame of audio-to-mouth lag; waiting a few ms instead stretches one
            interval (33 -> 40 ms) and keeps the fresh frame. 7 ms measured best on 2 cores:
            4 ms resent often (p95 lag 50-61 ms), 10 ms pushed interval p99 near 50 ms.
        on_render_start: Called on the loop just before a render is submitted; what it
            returns is given back to ``on_handed`` when that render's frame goes out.
        on_handed: Called on the loop as each frame is handed to the encoder, with the
            token of the render it came from (None when the last frame was resent).
        on_error: Called once when a render raises; the track then ends.
        grid: A shared frame grid (batched engines): deadlines on its instants, its
            common render lead, and each render announced to it. None: the track's own
            clock, started at its first frame.
        encoding: Encodes each rendered frame in the render thread while any sender
            takes its packets (`recv_encoded`); None: frames only.
    """

    def __init__(
        self,
        render: RenderFn,
        *,
        executor: concurrent.futures.Executor | None = None,
        grace_s: float = 0.007,
        on_render_start: Callable[[], Any] | None = None,
        on_handed: Callable[[Any, float], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        grid: FrameGrid | None = None,
        encoding: SharedFaceEncoding | None = None,
    ) -> None:
        super().__init__()
        self._grid = grid
        self.encoding = encoding
        self._render = render
        self._executor = executor
        self._grace_s = grace_s
        self._on_render_start = on_render_start
        self._on_handed = on_handed
        self._on_error = on_error
        self._pending: concurrent.futures.Future[tuple[VideoFrame, Packet | None, float]] | None = None
        self._pending_token: Any = None
        self._last: VideoFrame | None = None  # the last frame rendered, yuv420p
        self._last_packet: Packet | None = None  # its encoding, when one was made
        self._last_sent = False  # whether that frame object has gone out already
        self._render_s = 0.010  # running estimate of one render's duration
        self._clock_start: float | None = None
        self._index = -1
        self._recv_started = False
        self.ended = asyncio.Event()
        """Set once ``recv`` has raised `MediaStreamError` after the track stopped."""
        self.frames_sent = 0
        self.frames_resent = 0

    @property
    def recv_started(self) -> bool:
        """Whether any consumer has read a frame (so ``ended`` will be set on stop)."""
        return self._recv_started

    @property
    def lead_s(self) -> float:
        """How long before its deadline a frame's render starts."""
        if self._grid is not None:
            return self._grid.lead_s
        return min(0.8 * VIDEO_PTIME, 1.5 * self._render_s + 0.003)

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        """The next frame's pts (90 kHz) on a drift-free 30 fps clock; no waiting here."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._clock_start is None:
            self._clock_start = now if self._grid is None else self._grid.align(now)
        self._index += 1
        deadline = self._clock_start + self._index * VIDEO_PTIME
        if now - deadline > 4 * VIDEO_PTIME:
            # far behind (a stalled consumer): skip ahead instead of bursting to catch up
            self._index = int((now - self._clock_start) / VIDEO_PTIME) + 1
        return round(self._index * VIDEO_PTIME * VIDEO_CLOCK_RATE), VIDEO_TIME_BASE

    def _deadline(self) -> float:
        assert self._clock_start is not None
        return self._clock_start + self._index * VIDEO_PTIME

    async def recv(self) -> VideoFrame:
        """The next frame at its deadline; raises `MediaStreamError` once stopped."""
        frame, _ = await self.recv_encoded()
        return frame

    async def recv_encoded(self) -> tuple[VideoFrame, Packet | None]:
        """The next frame at its deadline and its encoding (`SharedFaceEncoding`).

        The packet is None when no encoding was made: a resent frame (its picture went
        out already; the encoding's senders send nothing this tick) or no sender takes
        packets. Raises `MediaStreamError` once stopped.
        """
        self._recv_started = True
        try:
            pts, time_base = await self.next_timestamp()
        except MediaStreamError:
            self.ended.set()
            raise
        deadline = self._deadline()
        if self._pending is None:
            await asyncio.sleep(deadline - self.lead_s - time.monotonic())
            if self.readyState != "live":  # stopped while waiting for the render slot
                self.ended.set()
                raise MediaStreamError
            self._pending_token = self._on_render_start() if self._on_render_start else None
            ticket = None if self._grid is None else self._grid.ticket()
            try:
                encoding = self.encoding if self.encoding is not None and self.encoding.active else None
                executor = self._executor or _default_executor()
                self._pending = executor.submit(
                    _render_yuv, self._render, pts, ticket, encoding
                )
            except RuntimeError as exc:  # the render pool is shut down: the server is stopping
                if ticket is not None:
                    ticket.leave()
                self.stop()
                self.ended.set()
                raise MediaStreamError from exc
            if ticket is not None:  # a render cancelled before it ran must not be waited for
                self._pending.add_done_callback(_leaving(ticket))
        # The render's end does not wake the loop: the frame is taken at its deadline, and
        # only a render not done by then is waited for (the first one always, later ones
        # until the grace ends).
        pending = self._pending
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if not pending.done():
            timeout = (
                None if self._last is None else max(0.0, deadline + self._grace_s - time.monotonic())
            )
            waiter = asyncio.wrap_future(pending)
            # The result is read from `pending` below; the wrapper's copy of a failure
            # must be marked seen, or asyncio logs it again when the wrapper is collected.
            waiter.add_done_callback(_seen)
            await asyncio.wait({waiter}, timeout=timeout)
        token: Any = None
        if pending.done():
            future, self._pending = pending, None
            try:
                self._last, self._last_packet, took = future.result()
                self._last_sent = False
            except Exception as exc:
                log.exception("face render failed; ending this track")
                self.stop()
                self.ended.set()
                if self._on_error is not None:
                    self._on_error(exc)
                raise MediaStreamError from exc
            self._render_s = (
                0.8 * self._render_s + 0.2 * took if took < self._render_s * 4 else took
            )
            if self._grid is not None:
                self._grid.observe(took)
            token, self._pending_token = self._pending_token, None
        else:
            self.frames_resent += 1
        if self.readyState != "live":
            self.ended.set()
            raise MediaStreamError
        assert self._last is not None
        frame = self._last
        packet = None
        if self._last_sent:
            # Resent: a fresh frame object, since consumers may still hold the first one.
            frame = VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        else:
            packet = self._last_packet
            if packet is not None:
                packet.pts = pts
                packet.time_base = time_base
        self._last_sent = True
        frame.pts = pts
        frame.time_base = time_base
        self.frames_sent += 1
        if self._on_handed is not None:
            self._on_handed(token, time.perf_counter())
        return frame, packet


_DEFAULT_EXECUTOR: concurrent.futures.ThreadPoolExecutor | None = None


def _default_executor() -> concurrent.futures.ThreadPoolExecutor:
    """Where tracks given no executor render (one shared pool, made on first use)."""
    global _DEFAULT_EXECUTOR
    if _DEFAULT_EXECUTOR is None:
        _DEFAULT_EXECUTOR = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="sf-face")
    return _DEFAULT_EXECUTOR


def _seen(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as retrieved (it is handled where its source is read)."""
    if not future.cancelled():
        future.exception()


def _leaving(ticket: RenderTicket) -> Callable[[Any], None]:
    """A done-callback that releases ``ticket`` (idempotent: a render that ran left already)."""

    def leave(_: Any) -> None:
        ticket.leave()

    return leave


def _render_yuv(
    render: RenderFn,
    pts: int,
    ticket: RenderTicket | None = None,
    encoding: SharedFaceEncoding | None = None,
) -> tuple[VideoFrame, Packet | None, float]:
    """Render the frame at ``pts`` (90 kHz), convert it to yuv420p and, with ``encoding``,
    encode it; off the event loop. Returns the frame, its packet, and how long it took.

    The render runs inside ``ticket`` (its engine call may join a batch); the conversion
    and encoding after it do not hold a batch up.
    """
    started = time.perf_counter()
    with ticket if ticket is not None else contextlib.nullcontext():
        rgb = np.ascontiguousarray(render(pts / VIDEO_CLOCK_RATE), dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"render returned shape {rgb.shape}, expected [H, W, 3]")
    frame = rgb_to_yuv420p(rgb)
    packet = None
    if encoding is not None:
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        packet = encoding.encode(frame)
    return frame, packet, time.perf_counter() - started


def rgb_to_yuv420p(rgb: np.ndarray) -> VideoFrame:
    """An RGB uint8 [H, W, 3] picture as a new yuv420p `VideoFrame` (odd edges trimmed).

    BT.601 limited range, as swscale's default gives (within 1 level of Y) and as VP8
    receivers assume; chroma is the mean of each 2x2 block, as libyuv (WebRTC's own
    converter) makes it. OpenCV converts in one pass into one buffer, which is copied
    plane by plane into the frame: 5x cheaper than swscale through PyAV at 256 px.
    """
    h, w = rgb.shape[:2]
    h, w = h - h % 2, w - w % 2  # yuv420p needs even sizes
    if (h, w) != rgb.shape[:2]:
        rgb = np.ascontiguousarray(rgb[:h, :w])
    yuv: np.ndarray = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), np.uint8)  # Y, U, V rows
    frame = VideoFrame(w, h, "yuv420p")
    planes = frame.planes
    if planes[0].line_size != w or planes[1].line_size != w // 2:  # padded rows
        return VideoFrame.from_ndarray(yuv, format="yuv420p")
    quarter = h // 4
    planes[0].update(yuv[:h])  # type: ignore[arg-type]  # any buffer does
    planes[1].update(yuv[h : h + quarter])  # type: ignore[arg-type]
    planes[2].update(yuv[h + quarter :])  # type: ignore[arg-type]
    return frame


class FaceFanout:
    """One `FaceTrack` read once per frame and handed to any number of consumers.

    Like aiortc's unbuffered ``MediaRelay``: each consumer (`FaceFeed`) gets the latest
    frame; a slow one skips frames, never buffers them. Reading starts with the first
    consumer's first ``recv`` and goes on until the track ends. A consumer whose sender
    takes the track's `SharedFaceEncoding` gets the encoded packet instead of the frame.
    """

    def __init__(self, track: FaceTrack) -> None:
        self.track = track
        self._feeds: set[FaceFeed] = set()
        self._reader: asyncio.Task[None] | None = None

    def subscribe(self) -> FaceFeed:
        """A new consumer of the face."""
        return FaceFeed(self)

    def _start(self, feed: FaceFeed) -> None:
        self._feeds.add(feed)
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read())

    def _stop(self, feed: FaceFeed) -> None:
        self._feeds.discard(feed)

    async def _read(self) -> None:
        while True:
            try:
                item: tuple[VideoFrame, Packet | None] | None = await self.track.recv_encoded()
            except MediaStreamError:
                item = None
            for feed in self._feeds:
                feed._put(item)
            if item is None:
                return


class FaceFeed(MediaStreamTrack):
    """One consumer's view of a `FaceFanout`: frames, or packets once `use_packets` is called."""

    kind = "video"

    def __init__(self, fanout: FaceFanout) -> None:
        super().__init__()
        self._fanout = fanout
        self._item: tuple[VideoFrame, Packet | None] | None = None
        self._ready = asyncio.Event()
        self._packer: FaceVp8Encoder | None = None
        self._keyed = False  # whether this consumer's packets have begun with a keyframe

    def use_packets(self, packer: FaceVp8Encoder) -> None:
        """Hand the track's encoded packets (its sender's ``packer`` packetises them).

        Does nothing when the track has no encoding: frames go on being handed.
        """
        encoding = self._fanout.track.encoding
        if encoding is None or self._packer is not None:
            return
        self._packer = packer
        encoding.attach(packer)

    async def recv(self) -> VideoFrame | Packet:
        """The latest frame (or packet); raises `MediaStreamError` when the face ended."""
        if self.readyState != "live":
            raise MediaStreamError
        self._fanout._start(self)
        await self._ready.wait()
        self._ready.clear()
        item = self._item
        if item is None:
            self.stop()
            raise MediaStreamError
        frame, packet = item
        if self._packer is None:
            return frame
        if packet is not None and not self._keyed:
            # A receiver cannot decode anything before a keyframe (one comes when a
            # consumer joins); one rendered before it joined is not handed.
            self._keyed = packet.is_keyframe
        if packet is None or not self._keyed:  # a resent picture, or not yet decodable
            packet = Packet(b"")
            packet.pts, packet.time_base = frame.pts, frame.time_base or VIDEO_TIME_BASE
        return packet

    def stop(self) -> None:
        """Stop consuming (the sender stops its track when it ends)."""
        super().stop()
        self._fanout._stop(self)
        encoding = self._fanout.track.encoding
        if self._packer is not None and encoding is not None:
            encoding.detach(self._packer)
            self._packer = None

    def _put(self, item: tuple[VideoFrame, Packet | None] | None) -> None:
        self._item = item
        self._ready.set()


def audio_to_mono(frame: AudioFrame) -> tuple[np.ndarray, int]:
    """An aiortc/PyAV audio frame as mono float32 in [-1, 1] and its sample rate.

    Handles packed and planar layouts and the s16/s32/flt/dbl/u8 sample formats that
    WebRTC decoders produce (usually 48 kHz s16, mono or stereo).
    """
    channels = max(1, frame.layout.nb_channels)
    if frame.format.name == "s16" and channels <= 2:
        # What aiortc's Opus decoder gives, 50 times a second per caller: packed s16,
        # read where the frame holds it (`to_ndarray` stacks planes: 3x the cost).
        # Two column adds instead of a mean over a 2-wide axis (4x cheaper).
        count = frame.samples * channels
        plane = frame.planes[0]
        if plane.buffer_size >= 2 * count:
            pairs = np.frombuffer(memoryview(plane), np.int16, count=count)
            mono = pairs[0::channels].astype(np.float32)
            if channels == 2:
                mono += pairs[1::2]
            mono *= np.float32(1.0 / (32768.0 * channels))
            return mono, int(frame.sample_rate)
    data = frame.to_ndarray()
    data = data.reshape(channels, -1).T if frame.format.is_planar else data.reshape(-1, channels)
    if data.dtype == np.int16:
        mono = data.astype(np.float32).mean(axis=1) / 32768.0
    elif data.dtype == np.int32:
        mono = data.astype(np.float32).mean(axis=1) / 2147483648.0
    elif data.dtype == np.uint8:
        mono = (data.astype(np.float32).mean(axis=1) - 128.0) / 128.0
    else:
        mono = data.astype(np.float32).mean(axis=1)
    return np.ascontiguousarray(mono, dtype=np.float32), int(frame.sample_rate)


__all__ = [
    "FPS",
    "FaceFanout",
    "FaceFeed",
    "FaceTrack",
    "FrameGrid",
    "RenderTicket",
    "audio_to_mono",
    "rgb_to_yuv420p",
]
