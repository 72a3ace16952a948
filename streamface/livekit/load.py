"""The worker's load as LiveKit's dispatcher sees it: live face sessions / capacity."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

DEFAULT_CAPACITY = 4
"""Faces one worker serves at 30 fps (256 px, ONNX Runtime, 2 CPU cores: see
benchmarks/results, ``load``); ``$STREAMFACE_MAX_SESSIONS`` overrides it."""


class FaceLoad:
    """Counts the live face sessions of this process (thread-safe).

    Args:
        capacity: Sessions at which the worker reports itself full (load 1.0).
    """

    def __init__(self, capacity: int | None = None) -> None:
        if capacity is None:
            capacity = int(os.environ.get("STREAMFACE_MAX_SESSIONS", DEFAULT_CAPACITY))
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._active = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        """Face sessions running now."""
        return self._active

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Count one session for the duration of the ``with`` block."""
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1

    def load(self, *_: Any) -> float:
        """0.0 (idle) .. 1.0 (full): the ``load_fnc`` for ``AgentServer``."""
        return min(1.0, self._active / self.capacity)


FACE_LOAD = FaceLoad()
"""The process-wide count the worker reports (jobs run as threads of one process)."""
