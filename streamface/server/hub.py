"""`Hub`: the server's registry of live calls and the shared resources they use.

A `Call` is one live session plus the peers attached to it: the caller (WHIP, or none for
sources such as telephony) and any number of WHEP viewers. Ending a call (DELETE, a peer
gone, an error inside it, server shutdown) closes all of that, once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import gc
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engines.batching import BatchingEngine
from streamface import SYNTHETIC_NOTICE
from streamface.server.auth import ServerConfig
from streamface.server.live import LiveSession, SessionFactory
from streamface.server.peer import Peer
from streamface.server.tracks import FrameGrid

log = logging.getLogger(__name__)


COLLECT_AFTER_END_S = 2.0
"""A cyclic garbage collection runs this long after the last call ended (see `Hub`)."""


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def _trim_heap() -> None:
    """Give memory freed by ended calls back to the OS (glibc keeps it in its arenas)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class SessionEndedError(RuntimeError):
    """The call ended (or its node stopped answering) while a request was on its way."""


class HubFullError(RuntimeError):
    """The server already runs its maximum number of sessions (HTTP 503)."""


@dataclass
class Call:
    """A live session and the peers attached to it."""

    live: LiveSession
    caller: Peer | None = None
    viewers: dict[str, Peer] = field(default_factory=dict)
    ending: bool = False
    subscribers: int = 0
    """Open ``/sessions/{id}/events`` WebSockets."""

    @property
    def id(self) -> str:
        return self.live.id

    def snapshot(self) -> dict[str, Any]:
        """The ``GET /sessions`` entry of this call."""
        out = self.live.snapshot()
        out["viewers"] = len(self.viewers)
        return out


class Hub:
    """Live calls of one server, their worker pools and their background tasks.

    A call's objects (aiortc peers with their DTLS/SRTP contexts, codec and swscale
    contexts, the session's buffers) form reference cycles that only the cyclic garbage
    collector frees, and with a large heap (torch, ONNX Runtime) Python runs a full
    collection rarely: under churn, native memory and threads of ended calls would pile
    up. So `COLLECT_AFTER_END_S` after calls end the hub runs ``gc.collect()`` once (and
    glibc's ``malloc_trim``, which returns the freed pages to the OS); with the start-up
    heap frozen (``gc.freeze()`` in `default_session_factory`) it holds the loop for
    about 10 ms with calls live (8-16 ms measured on two busy cores) instead of 200 ms or
    more, and runs at most once per `COLLECT_AFTER_END_S`.

    Sessions whose engine is a `engines.batching.BatchingEngine` render on one shared
    `FrameGrid` per engine (their frames are due at the same instants, so their engine
    calls form one batch per tick) in a render pool with a thread per session: a batch
    holds its callers' threads while it forms, and a caller queued behind them could only
    join a later batch.

    Args:
        config: Limits (sessions, viewers, grace periods).
        session_factory: Makes the `Session` of each new call (shares the server's engine).
    """

    def __init__(self, config: ServerConfig, session_factory: SessionFactory) -> None:
        self.config = config
        self.session_factory = session_factory
        self.calls: dict[str, Call] = {}
        self.websockets: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._collect: asyncio.TimerHandle | None = None
        self.collections = 0
        """Garbage collections run after calls ended."""
        self.last_collect_ms: float | None = None
        """How long the last of them held the event loop."""
        cpus = os.cpu_count() or 2
        self.render_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=cpus + 2, thread_name_prefix="sf-render"
        )
        self.analysis_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, cpus // 2), thread_name_prefix="sf-analyze"
        )
        self.batch_pool: concurrent.futures.ThreadPoolExecutor | None = None
        """Render pool of batched sessions (made with the first one)."""
        self.grids: dict[int, tuple[BatchingEngine, FrameGrid]] = {}
        """id(engine) -> (batching engine, its sessions' frame grid)."""
        self.closed = False

    @property
    def tasks(self) -> frozenset[asyncio.Task[None]]:
        """Background tasks still running (peer clean-ups, scheduled ends)."""
        return frozenset(self._tasks)

    async def start(self) -> None:
        """Start background work (called once the application starts); none here.

        The seam for other hubs: `streamface.cluster.hub.RayHub` discovers the cluster's
        sessions here.
        """

    async def open(self, source: str, **info: Any) -> Call:
        """Start a new call: how the transports create sessions.

        Here it is `create`; a hub whose sessions live elsewhere (`RayHub`: a Ray actor on
        a node with capacity) places and starts the session before returning.

        Raises:
            HubFullError: no capacity for another session, or shutting down.
        """
        return self.create(source, **info)

    def create(self, source: str, *, call_id: str | None = None, **info: Any) -> Call:
        """Register a new call with a fresh session.

        Args:
            source: Where the audio comes from ("webrtc", "telephony", ...).
            call_id: The session's id; a fresh random one by default.
            **info: Extra ``GET /sessions`` fields.

        Raises:
            HubFullError: at the session limit, or while shutting down.
        """
        if self.closed or len(self.calls) >= self.config.max_sessions:
            raise HubFullError(f"the server is at its limit of {self.config.max_sessions} sessions")
        call_id = call_id or secrets.token_urlsafe(12)
        session = self.session_factory()
        grid, render_pool = self._render_lane(session)
        live = LiveSession(
            call_id,
            session,
            source=source,
            render_executor=render_pool,
            analysis_executor=self.analysis_pool,
            on_closed=self._live_closed,
            frame_grid=grid,
        )
        live.info.update(info)
        call = Call(live)
        self.calls[call_id] = call
        log.info("session %s started (%s); %d live", call_id, source, len(self.calls))
        return call

    def _render_lane(
        self, session: Any
    ) -> tuple[FrameGrid | None, concurrent.futures.ThreadPoolExecutor]:
        """The frame grid and render pool of a new session: shared per batching engine."""
        engine = getattr(session, "engine", None)
        if not isinstance(engine, BatchingEngine):
            return None, self.render_pool
        lane = self.grids.get(id(engine))
        if lane is None:
            lane = self.grids[id(engine)] = (engine, FrameGrid(engine.expect))
        if self.batch_pool is None:
            self.batch_pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.config.max_sessions + 2, thread_name_prefix="sf-batch"
            )
        return lane[1], self.batch_pool

    def batching_stats(self) -> dict[str, Any]:
        """Per batching engine: batches, calls, mean batch size (``/internal/stats``)."""
        return {
            engine.name: {**engine.stats.summary(), "window_ms": engine.window_s * 1000.0}
            for engine, _ in self.grids.values()
        }

    async def set_look(self, call: Call, look: int) -> tuple[int, bool]:
        """Give a live call's face another look (`Session.set_look`, off the event loop).

        Returns:
            The session's look now, and whether its face changed at once (before the
            first face the look only applies to it).
        """
        session = call.live.session
        changed = await asyncio.get_running_loop().run_in_executor(
            self.analysis_pool, session.set_look, int(look)
        )
        return int(session.look), bool(changed)

    async def live_stats(self, last: int) -> list[dict[str, Any]]:
        """Per live call: its id and `LiveStats.window` (``/internal/stats?intervals=N``)."""
        return [{"id": call.id, **call.live.stats.window(last)} for call in self.calls.values()]

    def get(self, call_id: str) -> Call | None:
        """The live call with this id, or None."""
        return self.calls.get(call_id)

    def snapshot(self) -> dict[str, Any]:
        """The ``GET /sessions`` body."""
        return {
            "synthetic": True,
            "notice": SYNTHETIC_NOTICE,
            "sessions": [call.snapshot() for call in self.calls.values()],
        }

    async def end(self, call_id: str, reason: str) -> bool:
        """End a call and everything attached to it; False when there is no such call."""
        call = self.calls.get(call_id)
        if call is None:
            return False
        call.ending = True
        await call.live.close(reason)  # _live_closed removes it from the registry
        await self._close_peers(call)
        return True

    def _collect_soon(self) -> None:
        """Run one cyclic garbage collection a little after calls ended (at most one queued)."""
        if self._collect is not None or self.closed:
            return
        loop = asyncio.get_running_loop()
        self._collect = loop.call_later(COLLECT_AFTER_END_S, self._run_collect)

    def _run_collect(self) -> None:
        self._collect = None
        started = time.perf_counter()
        gc.collect()
        _trim_heap()
        self.collections += 1
        self.last_collect_ms = (time.perf_counter() - started) * 1000.0

    def end_soon(self, call_id: str, reason: str) -> None:
        """Schedule `end` from a callback (peer gone, timer)."""
        self.spawn(self.end(call_id, reason))

    def spawn(self, coro: Any) -> None:
        """Run a coroutine as a tracked background task (awaited at shutdown)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def _live_closed(self, live: LiveSession, reason: str) -> None:
        call = self.calls.pop(live.id, None)
        if call is not None and not call.ending:
            # the session ended itself (error, no audio): its peers go too
            self.spawn(self._close_peers(call))

    async def _close_peers(self, call: Call) -> None:
        peers = list(call.viewers.values())
        call.viewers.clear()
        if call.caller is not None:
            peers.append(call.caller)
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        self._collect_soon()

    async def end_viewer(self, call_id: str, viewer_id: str) -> bool:
        """Disconnect one WHEP viewer; False when there is no such viewer."""
        call = self.calls.get(call_id)
        peer = None if call is None else call.viewers.pop(viewer_id, None)
        if peer is None:
            return False
        await peer.close()
        return True

    async def close_all(self) -> None:
        """Graceful shutdown: end every call, close WebSockets, wait for background work."""
        self.closed = True
        await asyncio.gather(
            *(self.end(call_id, "server shutting down") for call_id in list(self.calls)),
            return_exceptions=True,
        )
        for ws in list(self.websockets):
            await ws.close(code=1001, message=b"server shutting down")
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._collect is not None:
            self._collect.cancel()
            self._collect = None
        self.render_pool.shutdown(wait=False, cancel_futures=True)
        if self.batch_pool is not None:
            self.batch_pool.shutdown(wait=False, cancel_futures=True)
        self.analysis_pool.shutdown(wait=False, cancel_futures=True)


HUB: web.AppKey[Hub] = web.AppKey("streamface_hub", Hub)
"""Where an application keeps its `Hub` (``request.app[HUB]``)."""
