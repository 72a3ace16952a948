"""StreamFace benchmarks: `python -m benchmarks` measures everything and writes results/."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def pinned_to_one_core() -> Iterator[None]:
    """Run the block with this process pinned to one CPU (the "one core" targets)."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, affinity)
