"""Helpers for the live-server tests: a real server on loopback and aiortc client peers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack
from fakes import FakeSession

from streamface.server.app import create_app
from streamface.server.auth import ServerConfig
from streamface.server.hub import HUB, Hub


@dataclass
class RunningServer:
    """A server on 127.0.0.1 with a random port, and the fake sessions it made."""

    url: str
    app: web.Application
    sessions: list[FakeSession]

    @property
    def hub(self) -> Hub:
        return self.app[HUB]


@contextlib.asynccontextmanager
async def running_server(
    config: ServerConfig | None = None,
    session_factory: Callable[[], Any] | None = None,
) -> AsyncIterator[RunningServer]:
    """Start the app on a free loopback port; shut it down (gracefully) on exit."""
    sessions: list[FakeSession] = []

    def factory() -> Any:
        session = session_factory() if session_factory else FakeSession()
        sessions.append(session)
        return session

    app = create_app(config or ServerConfig(port=0), factory)
    async with serving_app(app) as (url, _):
        yield RunningServer(url, app, sessions)


@contextlib.asynccontextmanager
async def serving_app(app: web.Application) -> AsyncIterator[tuple[str, web.AppRunner]]:
    """Serve ``app`` on a free 127.0.0.1 port: its base URL and runner, cleaned up on exit."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", runner
    finally:
        await runner.cleanup()


@dataclass
class ClientPeer:
    """An aiortc peer that sends a voice over WHIP (or watches over WHEP)."""

    pc: RTCPeerConnection
    player: MediaPlayer | None = None
    video: asyncio.Future[MediaStreamTrack] = field(default_factory=asyncio.Future)
    events: list[dict[str, Any]] = field(default_factory=list)
    location: str | None = None
    response: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        # Closing mid-handshake leaves aiortc's connect task behind: let it finish first.
        if self.location is not None:
            await wait_for(
                lambda: self.pc.connectionState in ("connected", "failed", "closed"), 5.0
            )
        await self.pc.close()
        if self.player is not None and self.player.audio is not None:
            self.player.audio.stop()


def _peer() -> ClientPeer:
    client = ClientPeer(RTCPeerConnection())

    @client.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and not client.video.done():
            client.video.set_result(track)

    return client


async def _post_offer(
    client: ClientPeer,
    url: str,
    headers: dict[str, str],
) -> int:
    await client.pc.setLocalDescription(await client.pc.createOffer())
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url,
            data=client.pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", **headers},
        ) as resp,
    ):
        client.response = {"status": resp.status, "headers": dict(resp.headers)}
        body = await resp.text()
        if resp.status != 201:
            client.response["body"] = body
            return resp.status
        client.location = resp.headers["Location"]
    await client.pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    return 201


async def whip_call(
    base: str,
    voice: Path,
    *,
    consent: bool = True,
    video: bool = True,
    headers: dict[str, str] | None = None,
    query: str = "",
    audio: MediaStreamTrack | None = None,
) -> ClientPeer:
    """Send ``voice`` (looped) over WHIP; the face comes back on a recvonly video track.

    ``query`` is appended to the WHIP URL's query (e.g. ``"look=3"``); ``audio`` sends
    that track instead of ``voice``.
    """
    client = _peer()
    if audio is None:
        client.player = MediaPlayer(str(voice), loop=True)
        assert client.player.audio is not None
        audio = client.player.audio
    client.pc.addTransceiver(audio, direction="sendonly")
    if video:
        client.pc.addTransceiver("video", direction="recvonly")
    channel = client.pc.createDataChannel("events")
    channel.on("message", lambda msg: client.events.append(json.loads(msg)))
    params = "&".join(p for p in ("consent=true" if consent else "", query) if p)
    await _post_offer(client, f"{base}/whip" + (f"?{params}" if params else ""), headers or {})
    return client


async def whep_view(
    base: str, session_id: str, headers: dict[str, str] | None = None
) -> ClientPeer:
    """Watch a session's face over WHEP."""
    client = _peer()
    client.pc.addTransceiver("video", direction="recvonly")
    await _post_offer(client, f"{base}/whep/{session_id}", headers or {})
    return client


async def read_frames(
    track: MediaStreamTrack, count: int, within_s: float = 20.0
) -> list[tuple[int, float]]:
    """Read ``count`` video frames: (pts, arrival time) each."""
    loop = asyncio.get_running_loop()
    out: list[tuple[int, float]] = []
    async with asyncio.timeout(within_s):
        while len(out) < count:
            frame = await track.recv()
            assert frame.pts is not None
            out.append((int(frame.pts), loop.time()))
    return out


async def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.json(content_type=None)


async def wait_for(predicate: Callable[[], Any], within_s: float, step: float = 0.1) -> bool:
    """Poll ``predicate`` until true or ``within_s`` seconds; return its last truthiness."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within_s
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())
