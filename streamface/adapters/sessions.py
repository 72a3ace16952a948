"""Real sessions for the adapters: one engine per (engine name, size), shared by sessions."""

from __future__ import annotations

import threading
from collections.abc import Callable

from streamface.server.live import SessionLike

SessionFactory = Callable[[], SessionLike]

_lock = threading.Lock()
_factories: dict[tuple[str, int], SessionFactory] = {}


def shared_session_factory(engine: str = "auto", size: int = 256) -> SessionFactory:
    """A factory of real `Session`s sharing one loaded, warmed engine (blocking: call it
    in a worker thread; later calls with the same arguments return at once).

    Raises:
        StreamFaceError: the engine cannot load here (the message has the install hint).
    """
    from streamface.server.app import default_session_factory

    key = (engine, int(size))
    with _lock:
        factory = _factories.get(key)
        if factory is None:
            factory = default_session_factory(engine, int(size))
            _factories[key] = factory
    return factory
