"""`BatchingEngine`: concurrent `animate` calls from many sessions become one engine call.

Sessions that share an engine each ask for one frame per tick, from their own worker
thread. Wrapped in a `BatchingEngine`, the ``animate`` calls that arrive together are
stacked along the batch dimension (`Engine.animate_many`: each backend concatenates its
own prepared faces) and answered by ONE engine call; every caller gets exactly its own
rows back. On a GPU that is where the throughput is (one launch for 64 faces instead of
64); on one CPU core it is not (see ``benchmarks/batching.py``), so the live server turns
it on by default only for GPU engines.

How a batch forms (leader/followers, no extra thread, no busy waiting):

* The first ``animate`` call that finds no open batch opens one and becomes its leader;
  later calls join it. The leader waits on a condition variable until the batch is
  complete, then runs it on its own thread; followers sleep on their own event.
* Complete means: every *expected* caller has arrived, or ``max_batch`` entries, or
  ``window_s`` since the batch opened (the deadline), or the engine is closing. A
  scheduler announces a caller before its render starts with `BatchingEngine.expect`
  (a `Ticket`); the ticket's render either calls ``animate`` (it arrives) or ends without
  calling it (a frame composited from cache, a failed render: it leaves). A caller that
  holds no ticket never makes anyone wait: with nothing expected its batch runs at once.
* A late caller (one busy with a slow ``prepare`` past the deadline) simply opens or joins
  the next batch, which runs concurrently with the one before it, so one slow session
  never delays the others by more than the window.
* If the stacked call raises, each of its callers retries its own entry alone on its
  own thread: a bad entry gets its own exception, the others their frames.

Every other method (``render``, ``prepare``, ``blend``) and attribute goes straight to the
wrapped engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from engines.base import Engine

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 0.004
"""How long a batch waits for expected callers that have not arrived yet (its deadline)."""

DEFAULT_MAX_BATCH = 64
"""Entries per engine call at most (a full batch runs at once)."""

_PENDING, _ARRIVED, _LEFT = 0, 1, 2


class Ticket:
    """One expected ``animate`` caller (see `BatchingEngine.expect`).

    Use it as a context manager on the thread that renders: entering binds it to that
    thread (its ``animate`` call then counts as the expected one), leaving releases it, so
    a render that ends without calling ``animate`` never holds a batch up. `leave` may be
    called directly (e.g. when the render could not even be scheduled); it is idempotent.
    """

    __slots__ = ("_engine", "_state", "_bound")

    def __init__(self, engine: BatchingEngine) -> None:
        self._engine = engine
        self._state = _PENDING
        self._bound: Ticket | None = None

    @property
    def pending(self) -> bool:
        """Whether the caller has neither arrived at ``animate`` nor left."""
        return self._state == _PENDING

    def leave(self) -> None:
        """No ``animate`` call will come from this ticket (any more)."""
        self._engine._settle(self, _LEFT)

    def __enter__(self) -> Ticket:
        local = self._engine._local
        self._bound = getattr(local, "ticket", None)
        local.ticket = self
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._engine._local.ticket = self._bound
        self._bound = None
        self.leave()


@dataclass
class _Entry:
    prepared: Any
    anim: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None
    retry_alone: bool = False


@dataclass
class _Batch:
    opened: float
    entries: list[_Entry] = field(default_factory=list)
    sealed: bool = False


@dataclass
class BatchStats:
    """What the batcher did so far (for ``/internal/stats`` and benchmarks)."""

    calls: int = 0
    """``animate`` calls answered through batches."""
    batches: int = 0
    """Engine calls made for them."""
    sizes: Counter[int] = field(default_factory=Counter)
    """Batch size -> how many batches had it."""
    deadline_closes: int = 0
    """Batches that ran because their window ran out with expected callers missing."""
    failed_batches: int = 0
    """Stacked calls that raised (their entries were retried alone)."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts and the mean batch size."""
        return {
            "calls": self.calls,
            "batches": self.batches,
            "mean_batch": round(self.calls / self.batches, 2) if self.batches else None,
            "max_batch": max(self.sizes) if self.sizes else None,
            "deadline_closes": self.deadline_closes,
            "failed_batches": self.failed_batches,
        }


class BatchingEngine(Engine):
    """Wraps an engine so that concurrent ``animate`` calls share one engine call.

    Thread-safe. ``animate`` blocks its caller until its batch has run (at most about
    ``window_s`` plus the batch's own engine time).

    Args:
        inner: The engine that renders (any `Engine`; it must accept concurrent calls,
            as every engine here does).
        window_s: A batch's deadline: how long it waits for expected callers.
        max_batch: Entries per engine call at most.

    Raises:
        ValueError: ``window_s`` is negative or ``max_batch`` below 1.
    """

    def __init__(
        self, inner: Engine, *, window_s: float = DEFAULT_WINDOW_S, max_batch: int = DEFAULT_MAX_BATCH
    ) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        super().__init__(inner.size)
        self.inner = inner
        self.window_s = float(window_s)
        self.max_batch = int(max_batch)
        self.stats = BatchStats()
        self._cond = threading.Condition(threading.Lock())
        self._open: _Batch | None = None
        self._expected = 0  # tickets neither arrived nor left
        self._closed = False
        self._local = threading.local()

    @property
    def name(self) -> str:  # type: ignore[override]
        """The wrapped engine's name (a `FallbackEngine` changes its own on a switch)."""
        return self.inner.name

    # -- expected callers ------------------------------------------------------------------

    def expect(self) -> Ticket:
        """Announce one caller that is about to render and will probably call ``animate``.

        Call it before the render is scheduled (e.g. on the event loop, before handing the
        render to a worker), and run the render inside ``with ticket:``.
        """
        ticket = Ticket(self)
        with self._cond:
            self._expected += 1
        return ticket

    @property
    def expected(self) -> int:
        """Callers announced that have neither arrived nor left."""
        return self._expected

    def _settle(self, ticket: Ticket, state: int) -> None:
        with self._cond:
            self._settle_locked(ticket, state)

    def _settle_locked(self, ticket: Ticket, state: int) -> None:
        if ticket._state != _PENDING:
            return
        ticket._state = state
        self._expected -= 1
        self._cond.notify_all()

    # -- the batched path ------------------------------------------------------------------

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        if self._closed:
            return self.inner.animate(prepared, anim)
        entry = _Entry(prepared, anim)
        ticket: Ticket | None = getattr(self._local, "ticket", None)
        with self._cond:
            if ticket is not None:
                self._settle_locked(ticket, _ARRIVED)
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch(opened=time.monotonic())
            batch.entries.append(entry)
            if len(batch.entries) >= self.max_batch:
                self._seal(batch)
            self._cond.notify_all()
            if leader:
                self._wait_for_callers(batch)
        if leader:
            self._run(batch)
        entry.done.wait()
        if entry.retry_alone:
            return self.inner.animate(prepared, anim)
        if entry.error is not None:
            raise entry.error
        assert entry.result is not None
        return entry.result

    def _seal(self, batch: _Batch) -> None:
        batch.sealed = True
        if self._open is batch:
            self._open = None

    def _wait_for_callers(self, batch: _Batch) -> None:
        """(Leader, lock held.) Wait until the batch is complete or its deadline passes."""
        deadline = batch.opened + self.window_s
        while not batch.sealed and not self._closed and self._expected > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stats.deadline_closes += 1
                break
            self._cond.wait(remaining)
        self._seal(batch)

    def _run(self, batch: _Batch) -> None:
        """(Leader, no lock.) One engine call for the whole batch; hand out the rows."""
        entries = batch.entries
        try:
            if len(entries) == 1:
                try:
                    entries[0].result = self.inner.animate(entries[0].prepared, entries[0].anim)
                except Exception as exc:  # noqa: BLE001 - handed to its caller
                    entries[0].error = exc
            else:
                try:
                    results = self.inner.animate_many([(e.prepared, e.anim) for e in entries])
                except Exception as exc:  # noqa: BLE001 - each entry is retried alone
                    logger.debug("batched animate of %d failed (%s); retrying each alone", len(entries), exc)
                    for e in entries:
                        e.retry_alone = True
                    with self._cond:
                        self.stats.failed_batches += 1
                else:
                    for e, images in zip(entries, results, strict=True):
                        e.result = images
        except BaseException as exc:  # interpreter shutdown, KeyboardInterrupt: nobody hangs
            for e in entries:
                if e.result is None and not e.retry_alone:
                    e.error = exc
            raise
        finally:
            with self._cond:
                self.stats.calls += len(entries)
                self.stats.batches += 1
                self.stats.sizes[len(entries)] += 1
            for e in entries:
                e.done.set()

    # -- everything else goes straight through ---------------------------------------------

    def animate_many(self, calls: Sequence[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        return self.inner.animate_many(calls)

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        return self.inner.render(params, anim)

    def prepare(self, params: np.ndarray) -> Any:
        return self.inner.prepare(params)

    @property
    def blends(self) -> bool:
        return self.inner.blends

    def blend(self, a: Any, b: Any, weight: float) -> Any | None:
        return self.inner.blend(a, b, weight)

    @property
    def face_layout(self) -> bool:
        return self.inner.face_layout

    @property
    def parts(self) -> tuple[str, ...]:
        return self.inner.parts

    def animate_part(self, prepared: Any, anim: np.ndarray, part: str) -> np.ndarray:
        return self.inner.animate_part(prepared, anim, part)

    def __getattr__(self, name: str) -> Any:
        # Anything else a backend offers (e.g. a device) is the
        # wrapped engine's; only called for names this wrapper does not define.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def close(self) -> None:
        """Stop batching (waiting batches run at once, later calls go straight through),
        then close the wrapped engine."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.inner.close()


def is_gpu_engine(engine: Engine) -> bool:
    """Whether ``engine`` (or the engine a wrapper now uses) renders on a GPU."""
    seen = 0
    while seen < 8:  # unwrap BatchingEngine / FallbackEngine
        inner = getattr(engine, "inner", None) or getattr(engine, "engine", None)
        if not isinstance(inner, Engine) or inner is engine:
            break
        engine, seen = inner, seen + 1
    if engine.name == "tensorrt":
        return True
    device = getattr(engine, "device", None)
    return getattr(device, "type", None) == "cuda"


__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_WINDOW_S", "BatchStats", "BatchingEngine", "Ticket", "is_gpu_engine"]
