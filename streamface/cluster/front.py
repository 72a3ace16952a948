"""The Ray front door: the server application with sessions placed on a Ray cluster."""

from __future__ import annotations

from aiohttp import web

from streamface.errors import StreamFaceError
from streamface.face.framing import FrameSize
from streamface.server.auth import ServerConfig
from streamface.server.live import SessionLike


def create_ray_app(
    config: ServerConfig,
    address: str,
    *,
    engine: str = "auto",
    size: int | FrameSize = 256,
    placement_timeout_s: float = 10.0,
    spares: int = 1,
    look: int = 0,
) -> web.Application:
    """Join the Ray cluster at ``address`` and build the front door's application.

    Args:
        config: Address, token and limits (``max_sessions`` gives way to the cluster's
            ``streamface_session`` capacity).
        address: The Ray cluster (``auto``, ``host:port``, ``ray://host:port``), or
            ``local`` for a one-machine cluster started here with ``config.max_sessions``
            session slots.
        engine: Generator engine the session actors load.
        size: Face video size: an int for a square, or a `FrameSize` (wide framing).
        placement_timeout_s: Longest wait for Ray to place a new session's actor.
        spares: Warm actors to keep in free slots (a new call then starts at once).
        look: The sessions' look unless a call asks for another (``serve --look``).

    Raises:
        StreamFaceError: Ray is not installed, or there is no cluster at ``address``.
    """
    try:
        from streamface.cluster import routes
        from streamface.cluster.actor import SessionSpec
        from streamface.cluster.hub import RayHub, connect
    except ImportError as exc:
        raise StreamFaceError(
            f"--ray needs Ray ({exc.name} is missing): pip install 'streamface[ray]'"
        ) from None
    from streamface.server.app import create_app

    try:
        connect(address, local_slots=config.max_sessions)
    except Exception as exc:  # noqa: BLE001 - Ray raises several types for a bad address
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StreamFaceError(f"cannot join the Ray cluster at {address!r}: {first_line}") from None
    spec = SessionSpec(
        engine=engine, size=size, max_viewers=config.max_viewers, ice_grace_s=config.ice_grace_s,
        look=look,
    )
    hub = RayHub(config, spec, placement_timeout_s=placement_timeout_s, spares=spares)
    return create_app(config, _no_session, hub=hub, media_routes=routes.add_routes)


def _no_session() -> SessionLike:
    raise RuntimeError("a Ray front door runs no sessions itself")
