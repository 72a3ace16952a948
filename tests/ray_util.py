"""A local Ray cluster and Ray front doors on loopback for the cluster tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from server_util import serving_app

from streamface.cluster import NAMESPACE, RESOURCE, routes
from streamface.cluster.actor import SessionSpec
from streamface.cluster.hub import RayHub, connect
from streamface.server.app import create_app
from streamface.server.auth import ServerConfig

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FAKE_SPEC = SessionSpec(factory="ray_fakes:fake_factory", size=64, idle_timeout_s=10.0)


@contextlib.contextmanager
def local_cluster(workers: int = 2, capacity: int = 2) -> Iterator[Any]:
    """A head (no session capacity) and ``workers`` nodes of ``capacity`` sessions each.

    All on this machine (``ray.cluster_utils.Cluster``); the driver (the test process) is
    connected to it in the ``streamface`` namespace.
    """
    import ray
    from ray.cluster_utils import Cluster

    # Workers import this tree (not an installed copy) and the test factories; Ray's
    # processes inherit the environment when they start, so it is restored afterwards.
    saved = os.environ.get("PYTHONPATH")
    paths = [str(REPO), str(TESTS), saved or ""]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    try:
        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 0, "resources": {RESOURCE: 0}, "include_dashboard": False},
        )
        for _ in range(workers):
            cluster.add_node(num_cpus=1, resources={RESOURCE: capacity})
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        cluster.wait_for_nodes()
        connect(cluster.address)
        assert ray.get_runtime_context().namespace == NAMESPACE
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@dataclass
class FrontDoor:
    """A Ray front door on 127.0.0.1 with a random port."""

    url: str
    hub: RayHub
    runner: web.AppRunner

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/media-stream"


@contextlib.asynccontextmanager
async def front_door(spec: SessionSpec = FAKE_SPEC) -> AsyncIterator[FrontDoor]:
    """Start a front door on the connected cluster; close it (sessions run on) on exit."""
    config = ServerConfig(port=0)
    hub = RayHub(config, spec, placement_timeout_s=10.0)
    app = create_app(config, _no_session, hub=hub, media_routes=routes.add_routes)
    async with serving_app(app) as (url, runner):
        await hub.discovered.wait()
        yield FrontDoor(url, hub, runner)


def _no_session() -> Any:
    raise AssertionError("a Ray front door makes no local session")
