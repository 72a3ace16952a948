"""Session events for `/sessions/{id}/events` subscribers.

One listener set serves the local `LiveSession` and the Ray front door's `RemoteLive`:
a listener gets ``hello`` when it subscribes, then every event; one that raises is
dropped (logged), never fatal to the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streamface import SYNTHETIC_NOTICE

log = logging.getLogger(__name__)

EventListener = Callable[[dict[str, Any]], None]


def hello_event(session_id: str, stage: str) -> dict[str, Any]:
    """The first event a listener gets: the session, its stage and the synthetic notice."""
    return {
        "type": "hello",
        "session": session_id,
        "stage": stage,
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
    }


class Listeners:
    """The event listeners of one session.

    Args:
        session_id: Named in the log when a failing listener is dropped.
    """

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id
        self._listeners: set[EventListener] = set()

    def add(self, listener: EventListener, hello: dict[str, Any]) -> None:
        """Subscribe ``listener`` and hand it ``hello`` right away; it must not block."""
        self._listeners.add(listener)
        listener(hello)

    def discard(self, listener: EventListener) -> None:
        """Unsubscribe ``listener`` (no error when it is not subscribed)."""
        self._listeners.discard(listener)

    def emit(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every listener; a failing listener is dropped, not fatal."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one bad listener must not end the session
                log.warning("session %s: dropping a failing event listener", self._session_id)
                self._listeners.discard(listener)

    def clear(self) -> None:
        """Drop every listener (the session ended)."""
        self._listeners.clear()

    def __len__(self) -> int:
        return len(self._listeners)
