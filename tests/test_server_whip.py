"""The live server end to end on loopback: WHIP in, face back, WHEP viewers, hang-ups."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from server_util import get_json, read_frames, running_server, wait_for, whep_view, whip_call

from streamface import SYNTHETIC_NOTICE
from streamface.server.auth import SYNTHETIC_HEADER

pytestmark = pytest.mark.slow


@pytest.fixture
def voice(shared_voices: dict[Path, str]) -> Path:
    return next(p for p in shared_voices if p.name == "flite_female_slt.wav")


async def test_whip_call_gets_face_at_30fps_and_delete_ends_it(voice: Path) -> None:
    async with running_server() as srv:
        client = await whip_call(srv.url, voice)
        try:
            assert client.response["status"] == 201
            assert client.location is not None and client.location.startswith("/whip/")
            assert SYNTHETIC_NOTICE in client.response["headers"][SYNTHETIC_HEADER]
            session_id = client.location.rsplit("/", 1)[1]
            track = await asyncio.wait_for(client.video, 10)
            await read_frames(track, 10)  # let the pipeline settle
            frames = await read_frames(track, 60)
            pts = [p for p, _ in frames]
            assert all(b > a for a, b in zip(pts, pts[1:], strict=False)), "pts must increase"
            span = frames[-1][1] - frames[0][1]
            fps = (len(frames) - 1) / span
            assert 25 <= fps <= 35, f"received {fps:.1f} fps"
            # pts advance by 1/30 s per frame on the 90 kHz clock
            step = np.median(np.diff(pts))
            assert abs(step - 3000) < 300

            assert await wait_for(lambda: any(e["type"] == "traits" for e in client.events), 10)
            assert client.events[0]["type"] == "hello" and client.events[0]["synthetic"] is True
            status, listing = await get_json(f"{srv.url}/sessions")
            assert status == 200 and listing["synthetic"] is True
            (entry,) = listing["sessions"]
            assert entry["id"] == session_id and entry["source"] == "webrtc"
            assert entry["speech_seconds"] > 0
            assert entry["traits"]["confidence"] > 0
            assert entry["traits"]["perceived_sex"]["label"] == "female"
            assert entry["synthetic"] is True

            async with (
                aiohttp.ClientSession() as http,
                http.delete(srv.url + client.location) as resp,
            ):
                assert resp.status == 200
            assert srv.hub.calls == {}
            (session,) = srv.sessions
            assert session.closed and session.rates  # got audio, then was closed
            status, listing = await get_json(f"{srv.url}/sessions")
            assert listing["sessions"] == []
            async with (
                aiohttp.ClientSession() as http,
                http.delete(srv.url + client.location) as resp,
            ):
                assert resp.status == 404
        finally:
            await client.close()


async def test_whep_viewers_watch_the_face(voice: Path) -> None:
    async with running_server() as srv:
        caller = await whip_call(srv.url, voice)
        assert caller.location is not None
        session_id = caller.location.rsplit("/", 1)[1]
        viewers = [await whep_view(srv.url, session_id) for _ in range(2)]
        try:
            for viewer in viewers:
                assert viewer.response["status"] == 201
                assert viewer.location is not None
                assert viewer.location.startswith(f"/whep/{session_id}/")
                frames = await read_frames(await asyncio.wait_for(viewer.video, 10), 20)
                pts = [p for p, _ in frames]
                assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
            status, entry = await get_json(f"{srv.url}/sessions/{session_id}")
            assert status == 200 and entry["viewers"] == 2
            gone = viewers[0].location
            assert gone is not None
            async with aiohttp.ClientSession() as http, http.delete(srv.url + gone) as resp:
                assert resp.status == 200
            assert len(srv.hub.calls[session_id].viewers) == 1
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{srv.url}/whep/nope",
                    data="v=0\r\n",
                    headers={"Content-Type": "application/sdp"},
                ) as resp,
            ):
                assert resp.status == 404
        finally:
            for peer in [*viewers, caller]:
                await peer.close()


async def test_vanished_peer_ends_its_session_within_10s(voice: Path) -> None:
    async with running_server() as srv:
        client = await whip_call(srv.url, voice)
        track = await asyncio.wait_for(client.video, 10)
        await read_frames(track, 5)
        assert len(srv.hub.calls) == 1
        await client.close()  # no DELETE: the transport just goes away
        assert await wait_for(lambda: not srv.hub.calls, within_s=10.0)
        (session,) = srv.sessions
        assert session.closed


async def test_failing_session_does_not_disturb_another(voice: Path) -> None:
    from fakes import FakeSession

    made = iter([FakeSession(fail_render_after=15), FakeSession()])
    async with running_server(session_factory=lambda: next(made)) as srv:
        bad = await whip_call(srv.url, voice)
        good = await whip_call(srv.url, voice)
        try:
            good_track = await asyncio.wait_for(good.video, 10)
            assert await wait_for(lambda: len(srv.hub.calls) == 1, within_s=10.0)
            assert bad.location is not None and good.location is not None
            assert bad.location.rsplit("/", 1)[1] not in srv.hub.calls
            frames = await read_frames(good_track, 30)
            fps = (len(frames) - 1) / (frames[-1][1] - frames[0][1])
            assert fps > 25
        finally:
            await bad.close()
            await good.close()


async def test_events_websocket_streams_traits(voice: Path) -> None:
    async with running_server() as srv:
        client = await whip_call(srv.url, voice, video=False)
        assert client.location is not None
        session_id = client.location.rsplit("/", 1)[1]
        got: list[dict[str, object]] = []
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(f"{srv.url}/sessions/{session_id}/events") as ws,
                asyncio.timeout(15),
            ):
                async for msg in ws:
                    got.append(msg.json())
                    if got[-1]["type"] == "traits":
                        break
        finally:
            await client.close()
        assert got[0]["type"] == "hello" and got[0]["synthetic"] is True
        assert got[-1]["traits"] is not None


async def test_silently_vanished_peer_ends_its_session_within_10s(voice: Path) -> None:
    """The peer's network goes away without any goodbye (no DTLS close, no DELETE)."""
    async with running_server() as srv:
        client = await whip_call(srv.url, voice)
        track = await asyncio.wait_for(client.video, 10)
        await read_frames(track, 5)
        ice = client.pc.getTransceivers()[0].sender.transport.transport
        await ice.stop()  # sockets closed: nothing more reaches the server
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            assert await wait_for(lambda: not srv.hub.calls, within_s=10.0)
            assert loop.time() - start < 10.0
            assert srv.sessions[0].closed
        finally:
            await client.close()


async def test_graceful_shutdown_closes_live_sessions(voice: Path) -> None:
    async with running_server() as srv:
        client = await whip_call(srv.url, voice)
        await read_frames(await asyncio.wait_for(client.video, 10), 3)
        hub = srv.hub
    try:
        assert hub.closed and hub.calls == {}
        assert srv.sessions[0].closed
    finally:
        await client.close()
