"""A live session's look: chosen when the call starts (``POST /whip?look=N``) and changed
while it runs (``POST /sessions/{id}/look``), over a real aiortc call on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from fakes import ShapesEngine, fake_mapper, fixed_profile
from server_util import running_server, wait_for, whip_call

from streamface.session import Session

VOICE = Path(__file__).parent / "data" / "voices" / "flite_rms.flac"


class _QuickAnalyzer:
    """A fixed profile at once (the real encoder is not what this test is about)."""

    def analyze(self, speech: np.ndarray) -> Any:
        return fixed_profile(speech.size / 16000, np.full(256, 1 / 16, dtype=np.float32))


def _session() -> Session:
    return Session(ShapesEngine(64), mapper=fake_mapper, analyzer=_QuickAnalyzer())


async def _post(url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_look_at_creation_and_live_change() -> None:
    async with running_server(session_factory=_session) as srv:
        client = await whip_call(srv.url, VOICE, query="look=4")
        try:
            assert client.response["status"] == 201 and client.location is not None
            session_id = client.location.rsplit("/", 1)[1]
            (session,) = srv.sessions
            assert session.look == 4
            assert await wait_for(lambda: session.face_changes, 15)
            status, body = await _post(f"{srv.url}/sessions/{session_id}/look", json={"look": 9})
            assert status == 200 and body["look"] == 9 and body["changed"] is True
            assert session.look == 9 and session.face_changes[-1][1] == "look"
            # No body: a random new look.
            status, body = await _post(f"{srv.url}/sessions/{session_id}/look")
            assert status == 200 and body["look"] not in (9, 0) and session.look == body["look"]
            for bad in ({"look": -1}, {"look": "x"}, {"look": 1.5}, {"look": True}, [1]):
                status, body = await _post(f"{srv.url}/sessions/{session_id}/look", json=bad)
                assert status == 400 and "look" in body["error"], bad
            status, _ = await _post(f"{srv.url}/sessions/nope/look", json={"look": 1})
            assert status == 404
        finally:
            await client.close()
        await asyncio.sleep(0)


async def test_bad_look_at_creation_is_refused() -> None:
    async with running_server() as srv:
        client = await whip_call(srv.url, VOICE, query="look=abc")
        try:
            assert client.response["status"] == 400
            assert srv.sessions == []
        finally:
            await client.close()


async def test_wide_frames_reach_the_caller() -> None:
    """A server made with a 16:9 size sends the caller 16:9 frames over WebRTC."""
    from streamface.face.framing import FrameSize

    def wide() -> Session:
        return Session(ShapesEngine(64), mapper=fake_mapper, analyzer=_QuickAnalyzer(), frame_size=FrameSize(114, 64))

    async with running_server(session_factory=wide) as srv:
        client = await whip_call(srv.url, VOICE)
        try:
            track = await asyncio.wait_for(client.video, 10)
            frame = await asyncio.wait_for(track.recv(), 10)
            assert (frame.width, frame.height) == (114, 64)
        finally:
            await client.close()


def test_serve_refuses_a_tall_size() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "streamface", "serve", "--size", "360x640", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "square or wide" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "streamface", "serve", "--look", "x"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--look" in proc.stderr


async def test_the_servers_look_holds_unless_a_call_asks_for_another() -> None:
    def with_look() -> Session:
        return Session(ShapesEngine(64), mapper=fake_mapper, analyzer=_QuickAnalyzer(), look=6)

    async with running_server(session_factory=with_look) as srv:
        plain = await whip_call(srv.url, VOICE)
        asked = await whip_call(srv.url, VOICE, query="look=0")
        try:
            assert [s.look for s in srv.sessions] == [6, 0]
        finally:
            await plain.close()
            await asked.close()
