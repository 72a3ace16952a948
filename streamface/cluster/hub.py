"""`RayHub`: the front door's view of sessions that run as Ray actors across a cluster.

It is a `Hub` (the server's session registry) whose sessions live elsewhere:

* ``open`` places a new session: it refuses at once when the cluster has no free
  ``streamface_session`` capacity, otherwise creates a named, detached `SessionActor`
  that needs one unit of it (Ray puts it on a node that has one, spreading sessions), and
  waits at most ``placement_timeout_s`` for it to be placed; an actor Ray could not place
  by then (another front door took the last slot) is killed and the session refused. So
  a full cluster refuses, exactly like a full server (503 / close 1013), and never
  queues.
* ``calls`` holds every live session of the cluster, this front door's and the others':
  a discovery loop lists the named actors every ``probe_interval_s`` and asks each for
  its snapshot (``GET /sessions`` reads those). A session whose actor is dead, or does not
  answer ``probe_strikes`` probes in a row (its node died), is dropped and its actor
  killed, so no zombie entry stays; callers attached through this front door see it end.
* A restarted front door finds the running sessions again by their names.
* Warm spares: ``spares`` actors placed and with their engine loaded but no session yet,
  in free slots; ``open`` claims one first (any front door's; the first claim wins), so
  a new call does not wait for an engine to load.

Audio of telephony streams goes to the owning actor as one Ray call per chunk, in order;
events come back by long-polls (`SessionActor.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import ray
from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError

from streamface.cluster import ACTOR_PREFIX, LOCAL, NAMESPACE, RESOURCE
from streamface.cluster.actor import SessionActor, SessionSpec
from streamface.server.auth import ServerConfig
from streamface.server.events import EventListener, Listeners, hello_event
from streamface.server.hub import Call, Hub, HubFullError, SessionEndedError
from streamface.server.live import PLACEHOLDER_STAGE, LiveSession, SessionLike

log = logging.getLogger(__name__)

RemoteSessionActor: Any = ray.remote(SessionActor)  # Ray's stubs do not type actor methods


def connect(address: str, local_slots: int = 0) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://...``, ``host:port``), or with
    `LOCAL` start a one-machine cluster owned by this process, offering ``local_slots``
    session slots (it stops when this process exits, and its sessions with it).

    Raises:
        ConnectionError: no cluster there.
    """
    # A fire-and-forget audio call to an actor that died is expected, not worth a log line.
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    if ray.is_initialized():
        return
    if address == LOCAL:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
        ray.init(
            namespace=NAMESPACE, log_to_driver=False, include_dashboard=False,
            resources={RESOURCE: max(0, local_slots)},
        )
        return
    _check_reachable(address)
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nobody listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto" and ray:// addresses are Ray's to resolve
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"no Ray cluster answers at {address} ({exc})") from None


def cluster_capacity() -> tuple[int, int]:
    """Session slots of the cluster: (free, total)."""
    free = int(ray.available_resources().get(RESOURCE, 0))
    total = int(ray.cluster_resources().get(RESOURCE, 0))
    return free, total


@dataclass
class RemoteStats:
    """What ``/internal/stats`` reads of a session's timing (from its last snapshot)."""

    frames_handed: int = 0
    frame_interval_ms: deque[float] = field(default_factory=lambda: deque(maxlen=30))
    audio_over_budget_s: float = 0.0
    audio_over_budget_chunks: int = 0


class RemoteLive:
    """Stands in for a `LiveSession` whose session runs in a `SessionActor`.

    It implements what the shared transports use (`streamface.server.telephony`, the
    session list and events routes): ``id``, ``closed``, ``close_reason``, ``push_audio``,
    ``feed_audio``, ``count_over_budget``, listeners, ``snapshot`` and ``stats``.
    """

    def __init__(self, session_id: str, actor: Any, snapshot: dict[str, Any]):
        self.id = session_id
        self.actor = actor
        self.source = str(snapshot.get("source", ""))
        self.node = str(snapshot.get("node", ""))
        self.closed = False
        self.close_reason: str | None = None
        self.stats = RemoteStats()
        self._snapshot = snapshot
        self._listeners = Listeners(session_id)
        self.strikes = 0
        self.poller: asyncio.Task[None] | None = None

    @property
    def stage(self) -> str:
        return str(self._snapshot.get("stage", PLACEHOLDER_STAGE))

    def update(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot
        timing = snapshot.get("timing") or {}
        self.stats.frames_handed = int(timing.get("frames_handed") or 0)
        self.stats.frame_interval_ms.extend(timing.get("frame_interval_ms_last") or [])

    def snapshot(self) -> dict[str, Any]:
        """The session's last snapshot (at most one probe interval old)."""
        return dict(self._snapshot)

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Send one audio chunk to the actor (in order, without waiting)."""
        if not self.closed:
            self.actor.push_audio.remote(samples, sample_rate)

    async def feed_audio(self, samples: np.ndarray, sample_rate: int, slice_s: float = 0.2) -> None:
        """`push_audio` for the transports that feed long chunks (the actor slices them)."""
        self.push_audio(samples, sample_rate)

    def count_over_budget(self, seconds: float) -> None:
        """Count audio the front door dropped for arriving faster than its budget."""
        self.stats.audio_over_budget_s += max(0.0, seconds)
        self.stats.audio_over_budget_chunks += 1

    def add_listener(self, listener: EventListener) -> None:
        """Receive the session's events (from the actor, by long-poll); ``hello`` first."""
        self._listeners.add(listener, hello_event(self.id, self.stage))

    def remove_listener(self, listener: EventListener) -> None:
        """Stop receiving events."""
        self._listeners.discard(listener)

    def emit(self, event: dict[str, Any]) -> None:
        """Hand an event from the actor to the listeners (a stage change updates `stage`)."""
        if event.get("type") == "stage":
            self._snapshot["stage"] = event.get("stage")
        self._listeners.emit(event)

    def mark_closed(self, reason: str) -> None:
        """The session is over (ended, or its actor or node died): tell the listeners."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.emit({"type": "end", "reason": reason})
        self._listeners.clear()


@dataclass
class RemoteCall(Call):
    """A `Call` whose session runs in a `SessionActor` (viewers are counted there)."""

    remote: RemoteLive | None = None

    def snapshot(self) -> dict[str, Any]:
        assert self.remote is not None
        return self.remote.snapshot()


def _no_local_sessions() -> SessionLike:
    raise RuntimeError("a Ray front door runs no sessions itself")


class RayHub(Hub):
    """The sessions of a Ray cluster, seen from one front door.

    Args:
        config: Limits and grace periods (``max_sessions`` does not apply: the cluster's
            ``streamface_session`` capacity does).
        spec: How session actors build their sessions.
        placement_timeout_s: How long a new session may wait for Ray to place its actor.
        start_timeout_s: How long its actor may take to load the engine and start.
        probe_interval_s: How often the cluster's sessions are listed and probed.
        probe_timeout_s: How long one probe may take.
        probe_strikes: Failed probes in a row after which a session counts as dead.
        spares: Warm actors (engine loaded, no session yet) this front door keeps in free
            slots, so a new call starts without loading an engine; 0 for none.
        spare_ttl_s: A spare nobody claims for this long exits (its slot comes back).
    """

    def __init__(
        self,
        config: ServerConfig,
        spec: SessionSpec,
        *,
        placement_timeout_s: float = 10.0,
        start_timeout_s: float = 120.0,
        probe_interval_s: float = 1.0,
        probe_timeout_s: float = 2.0,
        probe_strikes: int = 2,
        spares: int = 1,
        spare_ttl_s: float = 600.0,
    ) -> None:
        super().__init__(config, _no_local_sessions)
        self.spec = spec
        self.placement_timeout_s = placement_timeout_s
        self.start_timeout_s = start_timeout_s
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.probe_strikes = probe_strikes
        self._dropped: set[str] = set()  # names of dead actors Ray may still list a while
        self._placing: set[str] = set()  # ids being opened here: not for discovery to adopt
        self._spares: dict[str, Any] = {}  # warm unclaimed actors known here (any door's)
        self._own_spares: set[str] = set()  # those this front door warmed
        self._warming: asyncio.Task[None] | None = None
        self.spares = spares
        self.spare_ttl_s = spare_ttl_s
        self._discovery: asyncio.Task[None] | None = None
        self._probes: dict[str, asyncio.Task[None]] = {}  # one probe or adoption per id
        self.discovered = asyncio.Event()
        """Set after the first full pass over the cluster's sessions."""

    # ---- creation -------------------------------------------------------------------------

    def create(self, source: str, *, call_id: str | None = None, **info: Any) -> Call:
        raise RuntimeError("RayHub places sessions asynchronously: use open()")

    async def open(self, source: str, **info: Any) -> Call:
        """Start a new session: in a warm spare actor if there is one, else in a new actor
        placed on a node with a free slot.

        Raises:
            HubFullError: no node has a free session slot (or shutting down).
            RuntimeError: the actor could not start its session.
        """
        if self.closed:
            raise HubFullError("the server is shutting down")
        call = await self._claim_spare(source, info)
        if call is None:
            free, total = await asyncio.to_thread(cluster_capacity)
            if free < 1:
                raise HubFullError(_full_message(total))
            call_id = secrets.token_urlsafe(12)
            self._placing.add(call_id)
            try:
                actor = await self._new_actor(call_id, total)
                call = await self._start(call_id, actor, source, info, self.start_timeout_s)
            finally:
                self._placing.discard(call_id)
            if call is None:
                raise RuntimeError("the session's new actor was taken by another front door")
        self._replenish()
        return call

    async def _new_actor(self, call_id: str, total: int) -> Any:
        """A session actor placed on a node with a free slot (not started).

        Raises:
            HubFullError: Ray could not place it within ``placement_timeout_s``.
        """
        actor: Any = RemoteSessionActor.options(
            name=ACTOR_PREFIX + call_id,
            namespace=NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            resources={RESOURCE: 1},
            max_restarts=0,
            scheduling_strategy="SPREAD",
        ).remote(call_id, self.spec)
        try:
            await asyncio.wait_for(actor.__ray_ready__.remote(), self.placement_timeout_s)
        except TimeoutError:
            ray.kill(actor, no_restart=True)  # also withdraws its pending placement
            raise HubFullError(_full_message(total)) from None
        except RayActorError as exc:
            raise RuntimeError(f"the session's actor died while starting: {exc}") from exc
        return actor

    async def _start(
        self, call_id: str, actor: Any, source: str, info: dict[str, Any], timeout_s: float
    ) -> Call | None:
        """Start the session in its actor; None when another front door claimed it first."""
        try:
            snapshot: dict[str, Any] | None = await asyncio.wait_for(
                actor.start.remote(source, info), timeout_s
            )
        except Exception as exc:
            ray.kill(actor, no_restart=True)
            raise RuntimeError(f"the session could not start on its node: {exc!r}") from exc
        if snapshot is None:
            return None
        log.info("session %s (%s) started on node %s", call_id, source, snapshot.get("node"))
        return self._adopt(call_id, actor, snapshot)

    # ---- warm spares ----------------------------------------------------------------------

    async def _claim_spare(self, source: str, info: dict[str, Any]) -> Call | None:
        if not self._spares and self._warming is not None:
            # a spare is warming in a slot of its own: wait for it rather than refuse
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._warming), self.start_timeout_s)
        while self._spares:
            spare_id, actor = self._spares.popitem()
            self._own_spares.discard(spare_id)
            self._placing.add(spare_id)
            try:
                # a warm spare starts at once; one still warming (another front door's)
                # may need a while: its engine is loading
                call = await self._start(spare_id, actor, source, info, self.start_timeout_s)
            except RuntimeError:
                call = None  # its node went: try the next
            finally:
                self._placing.discard(spare_id)
            if call is not None:
                return call
        return None

    def _replenish(self) -> None:
        """Warm spares up to ``spares`` in the background, in free slots only."""
        if self.spares <= 0 or self._warming is not None or self.closed:
            return
        if len(self._own_spares & set(self._spares)) >= self.spares:
            return
        self._warming = asyncio.get_running_loop().create_task(self._warm_spare())
        self._tasks.add(self._warming)
        self._warming.add_done_callback(self._task_done)

    async def _warm_spare(self) -> None:
        try:
            free, total = await asyncio.to_thread(cluster_capacity)
            if free < 1:
                return  # every slot is busy: no spare; a freed slot is used cold
            spare_id = secrets.token_urlsafe(12)
            self._placing.add(spare_id)
            try:
                actor = await self._new_actor(spare_id, total)
                try:
                    await asyncio.wait_for(actor.warm.remote(self.spare_ttl_s), self.start_timeout_s)
                except Exception:
                    ray.kill(actor, no_restart=True)
                    raise
            finally:
                self._placing.discard(spare_id)
            if self.closed:
                ray.kill(actor, no_restart=True)
                return
            self._spares[spare_id] = actor
            self._own_spares.add(spare_id)
            log.info("spare session actor %s warm", spare_id)
        except Exception:  # noqa: BLE001 - a spare is an optimisation: log and go on
            log.warning("could not warm a spare session actor", exc_info=True)
        finally:
            self._warming = None

    def _adopt(self, call_id: str, actor: Any, snapshot: dict[str, Any]) -> Call:
        remote = RemoteLive(call_id, actor, snapshot)
        remote.update(snapshot)
        call = RemoteCall(cast(LiveSession, remote), remote=remote)
        self.calls[call_id] = call
        remote.poller = asyncio.get_running_loop().create_task(self._poll_events(remote))
        return call

    # ---- events and liveness --------------------------------------------------------------

    async def _poll_events(self, remote: RemoteLive) -> None:
        """Relay the actor's events to this front door's listeners until the session ends."""
        cursor = 0
        wait_s = 5.0
        while not remote.closed:
            try:
                reply: dict[str, Any] = await asyncio.wait_for(
                    remote.actor.events.remote(cursor, wait_s), wait_s + self.probe_timeout_s
                )
            except (TimeoutError, GetTimeoutError):
                continue  # liveness is the discovery loop's call
            except ActorDiedError:
                self._drop(remote.id, "the session's actor died", kill=False)
                return
            except RayActorError:  # unreachable for now: the probes decide
                await asyncio.sleep(self.probe_interval_s / 2)
                continue
            cursor = reply["cursor"]
            for event in reply["events"]:
                if event.get("type") == "end":
                    self._drop(remote.id, str(event.get("reason", "ended")), kill=False)
                    return
                remote.emit(event)
            if reply["ended"]:
                self._drop(remote.id, "ended", kill=False)
                return

    def _drop(self, call_id: str, reason: str, *, kill: bool = True) -> None:
        call = self.calls.pop(call_id, None)
        if call is None or not isinstance(call, RemoteCall) or call.remote is None:
            return
        remote = call.remote
        self._dropped.add(ACTOR_PREFIX + call_id)
        remote.mark_closed(reason)
        if remote.poller is not None and remote.poller is not asyncio.current_task():
            remote.poller.cancel()
        if kill:
            with contextlib.suppress(Exception):
                ray.kill(remote.actor, no_restart=True)
        log.info("session %s dropped (%s); %d live", call_id, reason, len(self.calls))

    async def start(self) -> None:
        """Find the cluster's running sessions and keep the list current."""
        self._discovery = asyncio.get_running_loop().create_task(self._discover_forever())

    async def _discover_forever(self) -> None:
        while not self.closed:
            try:
                started = await self.discover()
                if not self.discovered.is_set():  # the first pass completes before "discovered"
                    await asyncio.gather(*started, return_exceptions=True)
            except Exception:  # noqa: BLE001 - a failed pass is retried next interval
                log.exception("listing the cluster's sessions failed")
            self.discovered.set()
            self._replenish()
            await asyncio.sleep(self.probe_interval_s)

    async def discover(self) -> list[asyncio.Task[None]]:
        """One pass: adopt new sessions, probe known ones, drop those Ray no longer lists.

        Probes and adoptions run in the background, one at a time per session, so a
        session that does not answer never delays the others' probes; returns the tasks
        this pass started.
        """
        names = await asyncio.to_thread(ray.util.list_named_actors)
        listed = {n for n in names if n.startswith(ACTOR_PREFIX)}
        self._dropped &= listed  # Ray forgot them: no need to remember
        for gone in [i for i in self._spares if ACTOR_PREFIX + i not in listed]:
            del self._spares[gone]
        self._own_spares &= set(self._spares) | self._placing
        started: list[asyncio.Task[None]] = []
        for call in [c for c in self.calls.values() if isinstance(c, RemoteCall)]:
            if ACTOR_PREFIX + call.id not in listed:  # its actor has ended
                self._drop(call.id, "the session's actor has ended", kill=False)
            else:
                started += self._background(call.id, self._probe(call))
        for name in listed - self._dropped:
            call_id = name[len(ACTOR_PREFIX):]
            if call_id not in self.calls and call_id not in self._placing:
                started += self._background(call_id, self._adopt_named(call_id))
        return started

    def _background(self, key: str, coro: Coroutine[Any, Any, None]) -> list[asyncio.Task[None]]:
        if key in self._probes:  # the last one has not finished: skip this round
            coro.close()
            return []
        task = asyncio.get_running_loop().create_task(coro)
        self._probes[key] = task
        task.add_done_callback(lambda _: self._probes.pop(key, None))
        return [task]

    async def _probe(self, call: RemoteCall) -> None:
        remote = call.remote
        assert remote is not None
        try:
            snapshot: dict[str, Any] | None = await asyncio.wait_for(
                remote.actor.snapshot.remote(), self.probe_timeout_s
            )
        except ActorDiedError:
            self._drop(call.id, "the session's actor died", kill=False)
            return
        except (TimeoutError, GetTimeoutError, RayActorError):
            remote.strikes += 1
            if remote.strikes >= self.probe_strikes:
                self._drop(call.id, "the session's node stopped answering")
            return
        remote.strikes = 0
        if snapshot is None:
            self._drop(call.id, "ended", kill=False)
        else:
            remote.update(snapshot)

    async def _adopt_named(self, call_id: str) -> None:
        """Take in a session another front door (or an earlier run of this one) started."""
        try:
            actor = ray.get_actor(ACTOR_PREFIX + call_id, namespace=NAMESPACE)
            snapshot: dict[str, Any] | None = await asyncio.wait_for(actor.snapshot.remote(), self.probe_timeout_s)
        except (ValueError, TimeoutError, GetTimeoutError, RayActorError):
            return  # not (or no longer) reachable: it is not listed
        if snapshot is not None and snapshot.get("spare"):
            if call_id not in self._placing:
                self._spares.setdefault(call_id, actor)
            return
        self._spares.pop(call_id, None)  # claimed meanwhile (by another front door)
        self._own_spares.discard(call_id)
        if (
            snapshot is not None and call_id not in self.calls
            and call_id not in self._placing and not self.closed
        ):
            self._adopt(call_id, actor, snapshot)
            log.info("found session %s on node %s", call_id, snapshot.get("node"))

    # ---- lookup, listing, ending ----------------------------------------------------------

    @property
    def spare_ids(self) -> frozenset[str]:
        """Ids of the warm spare actors this front door knows (a new call takes one)."""
        return frozenset(self._spares)

    def capacity(self) -> tuple[int, int]:
        """Sessions the cluster can take now (free slots and warm spares) and its total.

        Blocking (asks Ray): call it from a thread on the event loop.
        """
        free, total = cluster_capacity()
        return free + len(self._spares), total

    def remote(self, call_id: str) -> RemoteLive | None:
        """The live remote session with this id, or None."""
        call = self.calls.get(call_id)
        return call.remote if isinstance(call, RemoteCall) else None

    async def set_look(self, call: Call, look: int) -> tuple[int, bool]:
        """`Hub.set_look` on the session's node (its actor).

        Raises:
            SessionEndedError: the session ended, or its actor does not answer.
        """
        remote = call.remote if isinstance(call, RemoteCall) else None
        reply = None if remote is None else await self._ask(remote, "set_look", int(look))
        if reply is None:
            raise SessionEndedError(call.id)
        return int(reply["look"]), bool(reply["changed"])

    async def live_stats(self, last: int) -> list[dict[str, Any]]:
        """Per live session of the cluster: `SessionActor.live_stats`, asked of every actor
        at once; a session whose actor does not answer within a probe timeout is left out."""
        remotes = [c.remote for c in self.calls.values() if isinstance(c, RemoteCall) and c.remote]
        entries = await asyncio.gather(*(self._ask(r, "live_stats", last) for r in remotes))
        return [e for e in entries if e is not None]

    async def _ask(self, remote: RemoteLive, method: str, *args: Any) -> Any:
        """A session actor's answer to ``method(*args)``, or None when it has ended or does
        not answer within a probe timeout."""
        try:
            return await asyncio.wait_for(getattr(remote.actor, method).remote(*args), self.probe_timeout_s)
        except (TimeoutError, GetTimeoutError, RayActorError):
            return None

    def snapshot(self) -> dict[str, Any]:
        """The ``GET /sessions`` body: every live session of the cluster, with its node."""
        out = super().snapshot()
        out["cluster"] = {"spares": len(self._spares)}
        return out

    async def end(self, call_id: str, reason: str) -> bool:
        """End a session on its node; False when there is no such session."""
        remote = self.remote(call_id)
        if remote is None:
            return False
        try:
            await asyncio.wait_for(remote.actor.end.remote(reason), self.probe_timeout_s * 2)
            self._drop(call_id, reason, kill=False)
        except (TimeoutError, GetTimeoutError, RayActorError):
            self._drop(call_id, reason)
        return True

    async def end_viewer(self, call_id: str, viewer_id: str) -> bool:
        """Disconnect a WHEP viewer on the session's node."""
        remote = self.remote(call_id)
        if remote is None:
            return False
        try:
            return bool(
                await asyncio.wait_for(
                    remote.actor.end_viewer.remote(viewer_id), self.probe_timeout_s * 2
                )
            )
        except (TimeoutError, GetTimeoutError, RayActorError):
            return False

    async def close_all(self) -> None:
        """Front door shutdown: stop watching; sessions keep running on their nodes.

        Telephony streams through this front door end (their sockets close, and with them
        their sessions); WHIP callers' media never went through here and goes on: the next
        front door finds those sessions by name.
        """
        self.closed = True
        for ws in list(self.websockets):
            await ws.close(code=1001, message=b"server shutting down")
        for spare_id in self._own_spares & set(self._spares):
            with contextlib.suppress(Exception):  # its slot comes back
                ray.kill(self._spares.pop(spare_id), no_restart=True)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        tasks = [c.remote.poller for c in self.calls.values() if isinstance(c, RemoteCall)
                 and c.remote is not None and c.remote.poller is not None]
        if self._discovery is not None:
            tasks.append(self._discovery)
        tasks += list(self._probes.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.calls.clear()
        self.render_pool.shutdown(wait=False, cancel_futures=True)
        self.analysis_pool.shutdown(wait=False, cancel_futures=True)


def _full_message(total: int) -> str:
    return (
        f"the cluster is at its limit of {total} sessions (no node has a free "
        f"'{RESOURCE}' slot)"
    )
