"""Sessions spread over a real local Ray cluster (a head and two worker nodes).

The front door runs in the test process; each telephony track is a `SessionActor` on a
worker node (light fake sessions, so two cores hold it). Telephony streams come from the
example client's message builders over real WebSockets; viewers are real aiortc peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

pytest.importorskip("ray")

from ray_util import REPO, front_door, local_cluster  # noqa: E402
from server_util import get_json, read_frames, wait_for, whep_view, whip_call  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

sys.path.insert(0, str(REPO / "clients" / "python"))
import telephony_client as tc  # noqa: E402

pytestmark = pytest.mark.slow

PARAMS = {"consent": "granted", "events": "streamface"}
CHUNK = tc.encode_mulaw(
    (np.sin(2 * np.pi * 220 * np.arange(160) / 8000) * 0.3 * 32767).astype(np.int16)
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_cluster(workers=2, capacity=2) as c:
        yield c


class Call:
    """One telephony stream (one inbound track) fed with a tone every 20 ms."""

    def __init__(self, ws: ClientConnection, sid: str) -> None:
        self.ws = ws
        self.sid = sid
        self.session_id: str | None = None
        self.chunk = 1
        self.closed: tuple[int | None, str] | None = None
        self.stopped = False
        self.reader: asyncio.Future[None] | None = None

    async def read(self) -> None:
        """Read what the server sends until it closes, as a telephony provider does.

        A client that stops reading has its close frame stuck behind unread events: the
        server gives up waiting for the reply and the close shows as 1006.
        """
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.ws:
                pass

    async def feed(self) -> None:
        """Send one media message; note the close if the server closed the stream."""
        if self.closed is not None or self.stopped:
            return
        self.chunk += 1
        msg = tc.media_message(self.sid, "inbound", self.chunk, CHUNK, self.chunk + 1)
        try:
            await self.ws.send(json.dumps(msg))
        except ConnectionClosed:
            await self.close_info()

    async def close_info(self) -> tuple[int | None, str]:
        if self.closed is None:
            reader = self.reader or asyncio.ensure_future(self.read())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 15)
            self.closed = (self.ws.close_code, self.ws.close_reason or "")
        return self.closed


async def open_call(url: str) -> Call:
    """Open a stream; returns with ``session_id`` set, or ``closed`` when refused."""
    ws = await connect(url)
    call = Call(ws, tc.new_stream_sid())
    await ws.send(json.dumps(tc.connected_message()))
    await ws.send(json.dumps(tc.start_message(call.sid, ["inbound"], PARAMS)))
    try:
        async with asyncio.timeout(60):
            first = json.loads(await ws.recv())
        assert first["type"] == "session", first
        call.session_id = first["session_id"]
        call.reader = asyncio.ensure_future(call.read())
    except ConnectionClosed:
        await call.close_info()
    return call


@contextlib.asynccontextmanager
async def feeding(calls: list[Call]) -> Any:
    """Keep every open call's audio flowing (real time) while the block runs."""
    stop = asyncio.Event()

    async def run() -> None:
        while not stop.is_set():
            await asyncio.gather(*(c.feed() for c in list(calls)))
            await asyncio.sleep(0.02)

    task = asyncio.ensure_future(run())
    try:
        yield
    finally:
        stop.set()
        await task


async def sessions(url: str) -> list[dict[str, Any]]:
    status, body = await get_json(url + "/sessions")
    assert status == 200 and body["synthetic"] is True
    return list(body["sessions"])


async def arrivals(track: Any, times: list[float]) -> None:
    """Read a video track until it ends, noting each frame's arrival (loop time)."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(Exception):
        while True:
            await track.recv()
            times.append(loop.time())


def fps(times: list[float], start: float, end: float) -> float:
    """Frames per second that arrived in [start, end)."""
    return sum(1 for t in times if start <= t < end) / (end - start)


async def test_sessions_spread_refuse_when_full_and_survive_a_dead_node(cluster: Any) -> None:
    workers = {node.node_id: node for node in cluster.worker_nodes}
    calls: list[Call] = []
    viewers: list[Any] = []
    async with front_door() as door, feeding(calls):
        try:
            for _ in range(4):
                call = await open_call(door.ws_url)
                assert call.session_id is not None, call.closed
                calls.append(call)

            listed = await sessions(door.url)
            assert {s["id"] for s in listed} == {c.session_id for c in calls}
            per_node: dict[str, list[str]] = {}
            for s in listed:
                assert s["source"] == "telephony"
                per_node.setdefault(s["node"], []).append(s["id"])
            assert set(per_node) == set(workers)  # the head has no session capacity
            assert sorted(len(v) for v in per_node.values()) == [2, 2]

            # a fifth session: no node has capacity, refused like a full server
            fifth = await open_call(door.ws_url)
            assert fifth.session_id is None
            code, reason = await fifth.close_info()
            assert code == 1013 and "limit of 4 sessions" in reason, (code, reason)
            assert len(await sessions(door.url)) == 4

            # Ray's view said a slot was free but none is (another front door took it):
            # the actor Ray cannot place is withdrawn after the placement timeout, the
            # session refused; nothing stays queued
            import ray

            from streamface.cluster import hub as ray_hub
            from streamface.server.hub import HubFullError

            spares, timeout = door.hub.spares, door.hub.placement_timeout_s
            door.hub.spares, door.hub.placement_timeout_s = 0, 1.0
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(ray_hub, "cluster_capacity", lambda: (1, 4))
                with pytest.raises(HubFullError, match="limit of 4 sessions"):
                    await door.hub.open("telephony")
            door.hub.spares, door.hub.placement_timeout_s = spares, timeout
            named = [n for n in ray.util.list_named_actors() if n.startswith("streamface-")]
            assert sorted(named) == sorted(f"streamface-session-{c.session_id}" for c in calls)

            # a second front door sees the whole cluster; its WHEP is answered by the node
            victim, survivor = sorted(per_node)
            async with front_door() as other:
                listed2 = {s["id"]: s["node"] for s in await sessions(other.url)}
                assert listed2 == {s["id"]: s["node"] for s in listed}
                for session_id in per_node[survivor]:
                    viewer = await whep_view(other.url, session_id)
                    assert viewer.response["status"] == 201, viewer.response
                    viewers.append(viewer)
                tracks = [await asyncio.wait_for(v.video, 20) for v in viewers]
                for track in tracks:
                    await read_frames(track, 10, within_s=20)
                times: list[list[float]] = [[] for _ in tracks]
                readers = [
                    asyncio.ensure_future(arrivals(t, ts))
                    for t, ts in zip(tracks, times, strict=True)
                ]

                # the node of two sessions dies
                loop = asyncio.get_running_loop()
                killed_at = loop.time()
                cluster.remove_node(workers[victim], allow_graceful=False)
                survivors = set(per_node[survivor])
                assert await wait_for(
                    lambda: set(door.hub.calls) == survivors and set(other.hub.calls) == survivors,
                    within_s=10,
                )
                gone_s = loop.time() - killed_at
                assert {s["id"] for s in await sessions(door.url)} == survivors
                assert {s["id"] for s in await sessions(other.url)} == survivors
                # the others keep their frame rate meanwhile (and after)
                await asyncio.sleep(max(0.0, killed_at + gone_s + 2.0 - loop.time()))
                end = loop.time()
                rates = [round(fps(ts, killed_at, end), 1) for ts in times]
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                # (a tick whose render is late sends no VP8 frame, so a loaded machine reads
                # below 30; a session stalled by the dead node would read far lower)
                assert min(rates) >= 20.0, rates
                # the dead node's callers see their streams end with the reason
                for call in calls:
                    if call.session_id in per_node[victim]:
                        code, reason = await call.close_info()
                        assert code == 1011 and "session ended" in reason, (code, reason)
                print(f"dead node's sessions dropped after {gone_s:.1f} s; fps {rates}")

            # a call on the surviving node hangs up; a new session then lands there
            leaving = next(c for c in calls if c.session_id in survivors)
            leaving.stopped = True
            await leaving.ws.send(json.dumps(tc.stop_message(leaving.sid, leaving.chunk + 2)))
            assert (await leaving.close_info())[0] == 1000
            assert await wait_for(lambda: door.hub.capacity()[0] >= 1, within_s=15)
            new = await open_call(door.ws_url)
            calls.append(new)
            assert new.session_id is not None, new.closed
            placed = {s["id"]: s["node"] for s in await sessions(door.url)}
            assert placed[new.session_id] == survivor
        finally:
            for viewer in viewers:
                await viewer.close()
            for call in calls:
                with contextlib.suppress(ConnectionClosed):
                    await call.ws.close()
                if call.reader is not None:
                    await call.reader
    # every session ended with its stream: no actor is left holding capacity
    assert await wait_for(lambda: _free_slots() == 2, within_s=15)


@pytest.fixture
def voice(shared_voices: dict[Path, str]) -> Path:
    return next(p for p in shared_voices if p.name == "flite_female_slt.wav")


async def test_whip_session_on_a_node_outlives_its_front_door(cluster: Any, voice: Path) -> None:
    free_before = _free_slots()
    client = None
    try:
        async with front_door() as door:
            # the front door warms a spare actor; the call starts in it
            assert await wait_for(lambda: bool(door.hub.spare_ids), within_s=30)
            spares = door.hub.spare_ids
            client = await whip_call(door.url, voice)
            assert client.response["status"] == 201, client.response
            session_id = client.location.rsplit("/", 1)[-1]
            assert session_id in spares
            node = (await get_json(f"{door.url}/sessions/{session_id}"))[1]["node"]
            assert node in {n.node_id for n in cluster.worker_nodes}
            track = await asyncio.wait_for(client.video, 20)
            await read_frames(track, 10, within_s=20)
            assert await wait_for(lambda: any(e.get("type") == "hello" for e in client.events), 10)
            # a load test reads the session's own timing and process from its actor
            status, stats = await get_json(f"{door.url}/internal/stats?intervals=5")
            (entry,) = [e for e in stats["live"] if e["id"] == session_id]
            assert entry["frames_handed"] >= 10 and len(entry["frame_interval_ms"]) == 5
            assert entry["pid"] != os.getpid() and entry["process_cpu_s"] > 0
            assert entry["rss_bytes"] > 0 and entry["node"] == node
        # the front door is gone; the caller's media never went through it
        frames = await read_frames(track, 30, within_s=10)
        assert len(frames) == 30
        async with front_door() as door2:  # a restarted front door finds the session
            listed = {s["id"]: s for s in await sessions(door2.url)}
            assert listed[session_id]["node"] == node and listed[session_id]["source"] == "webrtc"
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(f"{door2.url}/sessions/{session_id}/events") as events,
            ):
                hello = await events.receive_json(timeout=10)
                assert hello["type"] == "hello" and hello["session"] == session_id
                async with http.delete(f"{door2.url}/whip/{session_id}") as resp:
                    assert resp.status == 200
                async with http.delete(f"{door2.url}/whip/{session_id}") as resp:
                    assert resp.status == 404
                seen = [await events.receive_json(timeout=10)]
                while seen[-1]["type"] != "end":
                    seen.append(await events.receive_json(timeout=10))
                assert seen[-1]["reason"] == "caller hung up", seen
            assert session_id not in {s["id"] for s in await sessions(door2.url)}
    finally:
        if client is not None:
            await client.close()
    assert await wait_for(lambda: _free_slots() == free_before, within_s=15)


async def test_streamface_serve_ray_front_door_lists_and_serves_the_clusters_sessions(
    cluster: Any,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "streamface", "serve", "--port", str(port),
           "--ray", cluster.address, "--ray-spares", "0"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    cli_url = f"http://127.0.0.1:{port}"
    viewer = None
    try:
        async with front_door() as door:
            call = await open_call(door.ws_url)
            assert call.session_id is not None, call.closed
            async with feeding([call]):

                async def listed() -> dict[str, Any]:
                    with contextlib.suppress(aiohttp.ClientError):
                        return {s["id"]: s for s in await sessions(cli_url)}
                    return {}

                deadline = asyncio.get_running_loop().time() + 60
                found: dict[str, Any] = {}
                while call.session_id not in found:
                    assert asyncio.get_running_loop().time() < deadline, "not listed in 60 s"
                    assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
                    await asyncio.sleep(0.5)
                    found = await listed()
                entry = found[call.session_id]
                assert entry["source"] == "telephony"
                assert entry["node"] in {n.node_id for n in cluster.worker_nodes}
                viewer = await whep_view(cli_url, call.session_id)
                assert viewer.response["status"] == 201, viewer.response
                await read_frames(await asyncio.wait_for(viewer.video, 20), 10, within_s=20)
            await call.ws.close()
            assert call.reader is not None
            await call.reader
    finally:
        if viewer is not None:
            await viewer.close()
        proc.terminate()
        await proc.wait()


def _free_slots() -> int:
    from streamface.cluster.hub import cluster_capacity

    return cluster_capacity()[0]
