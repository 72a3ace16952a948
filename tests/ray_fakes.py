"""Session factories for Ray session actors in tests (imported in the actors' processes).

`streamface.cluster.actor.SessionSpec.factory` names one of these as ``ray_fakes:NAME``;
the tests put this directory on the workers' ``PYTHONPATH``.
"""

from __future__ import annotations

from fakes import FakeSession

from streamface.server.live import SessionFactory


def fake_factory(engine: str, size: int) -> SessionFactory:
    """Light fake sessions (a moving picture of ``size`` pixels, instant analyses)."""
    return lambda: FakeSession(size=size)
