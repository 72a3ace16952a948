"""`SessionActor`: one live session running inside a Ray actor on the node that owns it.

The actor is a node-local session host: a one-session `Hub` with its own engine, so the
session's audio analysis, face rendering and (for WHIP and WHEP) aiortc peers all run on
its node, with that node's own ICE candidates. The front door (`streamface.cluster.hub`)
talks to it only through the methods below: audio chunks from telephony streams, SDP
offers, event long-polls, snapshots and the end.

When the session ends (hang-up, peer gone, no audio, an error) the actor ends itself a
moment later, so a finished session never lingers as a live actor holding capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray

from streamface.face.framing import FrameSize
from streamface.server.auth import ServerConfig
from streamface.server.hub import Call, Hub
from streamface.server.live import SessionFactory
from streamface.server.peer import BadOfferError
from streamface.server.process import rss_bytes
from streamface.server.whep import ViewerRefusedError, add_viewer
from streamface.server.whip import negotiate_caller

log = logging.getLogger(__name__)

DEFAULT_FACTORY = "streamface.server.app:default_session_factory"
EXIT_GRACE_S = 2.0
"""How long an ended actor stays, so front doors' long-polls can read its ``end`` event."""
_EVENT_WINDOW = 256  # events kept for long-polls; a poller further behind loses the oldest


@dataclass(frozen=True)
class SessionSpec:
    """How session actors build their session (sent with every actor).

    Attributes:
        engine: Generator engine name (``auto``, ``onnxruntime``, ``torch``, ...).
        size: Face video size: an int for a square, or a `FrameSize` (wide: a call-tile
            framing, as ``serve --size 640x360``).
        factory: ``module:function`` called as ``function(engine, size)`` in the actor's
            process; it returns the `SessionFactory` (by default the real engine's).
        max_viewers: WHEP viewers per session at most.
        ice_grace_s: How long an ICE "disconnected" peer may stay.
        idle_timeout_s: A telephony session with no audio for this long ends (its front
            door or stream is gone).
        look: The sessions' look unless a call asks for another (``serve --look``).
    """

    engine: str = "auto"
    size: int | FrameSize = 256
    factory: str = DEFAULT_FACTORY
    max_viewers: int = 16
    ice_grace_s: float = 4.0
    idle_timeout_s: float = 10.0
    look: int = 0


_FACTORIES: dict[SessionSpec, SessionFactory] = {}


def load_session_factory(spec: SessionSpec) -> SessionFactory:
    """The spec's session factory, built once per process (loading an engine is slow)."""
    if spec not in _FACTORIES:
        module_name, _, attr = spec.factory.partition(":")
        make: Callable[[str, int | FrameSize], SessionFactory] = getattr(
            importlib.import_module(module_name), attr
        )
        _FACTORIES[spec] = make(spec.engine, spec.size)
    return _FACTORIES[spec]


def _limit_threads() -> None:
    try:
        import torch

        torch.set_num_threads(1)  # sessions run side by side; one core per analysis
    except ImportError:
        pass
    from streamface.offline import one_core

    one_core()  # and OpenBLAS's pool, whose spinning workers would take a session's core


class SessionActor:
    """A live session hosted by a Ray actor (used as ``ray.remote(SessionActor)``).

    An actor is either started at once (`start`) or first warmed as a *spare*
    (`warm`: the engine loaded, no session yet, its slot held) and started when a front
    door claims it; `start` succeeds for one caller only.

    Args:
        session_id: Public id; the actor's name is derived from it.
        spec: How to build the session.
    """

    def __init__(self, session_id: str, spec: SessionSpec):
        context = ray.get_runtime_context()
        self.session_id = session_id
        self.spec = spec
        self.node_id = context.get_node_id()
        self.node_ip = ray.util.get_node_ip_address()
        self._hub: Hub | None = None
        self._call: Call | None = None
        self._claimed = False
        self._factory: SessionFactory | None = None
        self._loading: asyncio.Lock | None = None
        self._events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=_EVENT_WINDOW)
        self._seq = 0
        self._wake: asyncio.Event | None = None
        self._ended = False
        self._last_audio = time.monotonic()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- life cycle ----------------------------------------------------------------------

    async def _load(self) -> SessionFactory:
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self._factory is None:
                _limit_threads()
                self._factory = await asyncio.to_thread(load_session_factory, self.spec)
        return self._factory

    async def warm(self, ttl_s: float) -> None:
        """Become a spare: load the engine now; exit if nobody claims it within ``ttl_s``."""
        await self._load()
        self._spawn(self._expire_unclaimed(ttl_s))

    async def _expire_unclaimed(self, ttl_s: float) -> None:
        await asyncio.sleep(ttl_s)
        if not self._claimed:
            self._claimed = True  # nobody may claim it while it goes
            log.info("spare %s: unclaimed for %g s, exits", self.session_id, ttl_s)
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    async def start(self, source: str, info: dict[str, Any]) -> dict[str, Any] | None:
        """Start the session (once); returns its snapshot, or None when already claimed.

        Args:
            source: Where the audio comes from ("webrtc", "telephony", ...).
            info: Extra ``GET /sessions`` fields (a telephony stream's sid and track).
        """
        if self._claimed:
            return None
        self._claimed = True  # before any await: one claimer wins
        factory = await self._load()
        config = ServerConfig(
            port=0, max_sessions=1, max_viewers=self.spec.max_viewers,
            ice_grace_s=self.spec.ice_grace_s,
        )
        self._wake = asyncio.Event()
        self._last_audio = time.monotonic()
        self._hub = Hub(config, factory)
        self._call = self._hub.create(
            source, call_id=self.session_id, node=self.node_id, node_ip=self.node_ip, **info
        )
        if self.spec.look:  # before the first face this only records the seed
            self._call.live.session.set_look(self.spec.look)
        self._call.live.add_listener(self._record)
        if source != "webrtc":  # a WebRTC session watches its own audio track
            self._spawn(self._watch_audio())
        log.info("session %s started on node %s", self.session_id, self.node_id)
        return self.snapshot_now()

    async def end(self, reason: str) -> bool:
        """End the session (the actor then exits); False when it had ended already."""
        if self._hub is None or self._ended:
            return False
        return await self._hub.end(self.session_id, reason)

    def _record(self, event: dict[str, Any]) -> None:
        self._seq += 1
        self._events.append((self._seq, event))
        if self._wake is not None:
            self._wake.set()
            self._wake = asyncio.Event()
        if event.get("type") == "end" and not self._ended:
            self._ended = True
            self._spawn(self._exit_later())

    async def _exit_later(self) -> None:
        await asyncio.sleep(EXIT_GRACE_S)
        if self._hub is not None:
            await self._hub.close_all()
        log.info("session %s: actor exits", self.session_id)
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    async def _watch_audio(self) -> None:
        timeout = self.spec.idle_timeout_s
        while not self._ended:
            await asyncio.sleep(min(1.0, timeout / 4))
            if time.monotonic() - self._last_audio > timeout and self._hub is not None:
                await self._hub.end(self.session_id, f"no audio for {timeout:g} s")
                return

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- audio and events ----------------------------------------------------------------

    async def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Feed one chunk of mono float32 audio (from a telephony stream)."""
        if self._call is None or self._ended:
            return
        self._last_audio = time.monotonic()
        self._call.live.push_audio(np.array(samples, dtype=np.float32), sample_rate)

    async def events(self, cursor: int, timeout_s: float) -> dict[str, Any]:
        """Events after ``cursor``, waiting up to ``timeout_s`` for one (a long-poll).

        Returns:
            ``{"cursor": int, "events": [...], "ended": bool}``; pass ``cursor`` back.
        """
        wake = self._wake
        if self._seq <= cursor and not self._ended and wake is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout_s)
        events = [event for seq, event in self._events if seq > cursor]
        return {"cursor": self._seq, "events": events, "ended": self._ended}

    async def snapshot(self) -> dict[str, Any] | None:
        """The ``GET /sessions`` entry (with its node), or None once the session ended.

        An unclaimed spare answers ``{"spare": True, "node": ...}``.
        """
        if self._call is None:
            return None if self._claimed else {"spare": True, "node": self.node_id}
        return None if self._ended else self.snapshot_now()

    async def set_look(self, look: int) -> dict[str, Any] | None:
        """`Hub.set_look` here: ``{"look": now, "changed": bool}``; None once ended."""
        if self._hub is None or self._call is None or self._ended:
            return None
        now, changed = await self._hub.set_look(self._call, look)
        return {"look": now, "changed": changed}

    async def live_stats(self, last: int) -> dict[str, Any] | None:
        """The session's `LiveStats.window` with this process's id, CPU seconds and RSS
        (the front door's ``/internal/stats``; a load test adds up the processes' CPU);
        None before the session starts or after it ended."""
        if self._call is None or self._ended:
            return None
        return {
            "id": self.session_id,
            **self._call.live.stats.window(last),
            "node": self.node_id,
            "pid": os.getpid(),
            "process_cpu_s": round(time.process_time(), 3),
            "rss_bytes": rss_bytes(),
        }

    def snapshot_now(self) -> dict[str, Any]:
        assert self._call is not None
        out = self._call.snapshot()
        out["timing"]["frame_interval_ms_last"] = [
            round(v, 2) for v in list(self._call.live.stats.frame_interval_ms)[-30:]
        ]
        return out

    # ---- WebRTC signalling ---------------------------------------------------------------

    async def whip(self, offer_sdp: str) -> dict[str, Any]:
        """Answer the caller's WHIP offer here: audio in, the face back on the same peer.

        Returns:
            ``{"status": 201, "answer": sdp}`` or ``{"status": 4xx/5xx, "error": why}``
            (the session then ends).
        """
        hub, call = self._hub, self._call
        assert hub is not None and call is not None
        try:
            answer, audio = await negotiate_caller(hub, call, offer_sdp, self.spec.ice_grace_s)
        except BadOfferError as exc:
            await hub.end(call.id, "bad offer")
            return {"status": 400, "error": str(exc)}
        except Exception:
            log.exception("session %s: negotiation failed", call.id)
            await hub.end(call.id, "negotiation failed")
            return {"status": 500, "error": "WebRTC negotiation failed"}
        for track in audio:
            call.live.start_audio(track)
        return {"status": 201, "answer": answer}

    async def whep(self, offer_sdp: str) -> dict[str, Any]:
        """Answer a WHEP viewer's offer here (the face goes out from this node).

        Returns:
            ``{"status": 201, "answer": sdp, "viewer": id}`` or ``{"status", "error"}``.
        """
        hub, call = self._hub, self._call
        if hub is None or call is None or self._ended:
            return {"status": 404, "error": "the session has ended"}
        if len(call.viewers) >= hub.config.max_viewers:
            return {
                "status": 503,
                "error": f"this session has its limit of {hub.config.max_viewers} viewers",
            }
        try:
            viewer_id, answer = await add_viewer(hub, call, offer_sdp, self.spec.ice_grace_s)
        except ViewerRefusedError as exc:
            return {"status": exc.status, "error": exc.reason}
        return {"status": 201, "answer": answer, "viewer": viewer_id}

    async def end_viewer(self, viewer_id: str) -> bool:
        """Disconnect one WHEP viewer; False when there is no such viewer."""
        if self._hub is None:
            return False
        return await self._hub.end_viewer(self.session_id, viewer_id)
