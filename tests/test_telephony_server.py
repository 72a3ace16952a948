"""``/media-stream`` end to end on loopback: the example client against a real server.

Each call track becomes a session listed by ``GET /sessions`` (source telephony,
stream_sid, track) and watchable over WHEP; no consent closes 1008; a broken stream gets
a clear close reason while another call goes on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from fakes import FakeSession
from server_util import RunningServer, get_json, read_frames, running_server, wait_for, whep_view
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamface.server import telephony
from streamface.server.app import create_app
from streamface.server.auth import ServerConfig

REPO = Path(__file__).resolve().parent.parent
CLIENT = REPO / "clients" / "python" / "telephony_client.py"
sys.path.insert(0, str(CLIENT.parent))

import telephony_client as tc  # noqa: E402

pytestmark = pytest.mark.slow


def telephony_server(
    config: ServerConfig | None = None, make: Callable[[int], FakeSession] | None = None
) -> contextlib.AbstractAsyncContextManager[RunningServer]:
    """The app on a free loopback port (small fake sessions: fast frames).

    ``make(n)`` builds the n-th session (0-based) when given.
    """
    made = itertools.count()

    def factory() -> FakeSession:
        n = next(made)
        return make(n) if make else FakeSession(size=64)

    return running_server(config, factory)


def ws_url(srv: RunningServer) -> str:
    return srv.url.replace("http://", "ws://") + telephony.PATH


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * 8000)) / 8000
    return (np.sin(2 * np.pi * freq * t) * 0.3 * 32767).astype(np.int16)


async def open_stream(
    srv: RunningServer, params: dict[str, str], tracks: list[str] | None = None
) -> tuple[ClientConnection, str]:
    ws = await connect(ws_url(srv))
    sid = tc.new_stream_sid()
    await ws.send(json.dumps(tc.connected_message()))
    await ws.send(json.dumps(tc.start_message(sid, tracks or ["inbound"], params)))
    return ws, sid


async def closed_with(ws: ClientConnection, within: float = 5.0) -> tuple[int | None, str]:
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(within):
            async for _ in ws:
                pass
    await ws.close()
    return ws.close_code, ws.close_reason or ""


async def telephony_sessions(srv: RunningServer) -> list[dict[str, Any]]:
    status, body = await get_json(srv.url + "/sessions")
    assert status == 200
    return [s for s in body["sessions"] if s["source"] == "telephony"]


async def test_two_track_call_gets_two_sessions_listed_and_ended() -> None:
    async with telephony_server() as srv:
        ws, sid = await open_stream(
            srv, {"consent": "granted", "events": "streamface"}, ["inbound", "outbound"]
        )
        try:
            events: list[dict[str, Any]] = []
            async with asyncio.timeout(5):
                while len(events) < 2:
                    events.append(json.loads(await ws.recv()))
            assert {e["type"] for e in events} == {"session"}
            assert {e["track"] for e in events} == {"inbound", "outbound"}
            assert all(e["streamSid"] == sid and e["synthetic"] for e in events)
            listed = await telephony_sessions(srv)
            assert {(s["stream_sid"], s["track"]) for s in listed} == {
                (sid, "inbound"),
                (sid, "outbound"),
            }
            assert {s["id"] for s in listed} == {e["session_id"] for e in events}
            seq = 1
            for chunk in range(1, 51):  # 1 s of tone on each track
                for track, freq in (("inbound", 220.0), ("outbound", 120.0)):
                    seq += 1
                    pcm = tone(0.02, freq)
                    await ws.send(
                        json.dumps(tc.media_message(sid, track, chunk, tc.encode_mulaw(pcm), seq))
                    )
            assert await wait_for(lambda: all(s.speech_seconds > 0.9 for s in srv.sessions), 5)
            assert all(s.rates == {8000} for s in srv.sessions)
            await ws.send(json.dumps(tc.stop_message(sid, seq + 1)))
            more: list[dict[str, Any]] = []
            with contextlib.suppress(ConnectionClosed):
                async with asyncio.timeout(5):
                    async for msg in ws:
                        more.append(json.loads(msg))
            assert ws.close_code == 1000
            assert {e["track"] for e in more if e["type"] == "ended"} == {"inbound", "outbound"}
            assert any(e["type"] == "traits" and e["traits"]["confidence"] > 0 for e in more)
            assert await telephony_sessions(srv) == []
            assert all(s.closed for s in srv.sessions)
        finally:
            await ws.close()


async def test_example_client_script_streams_a_wav(tmp_path: Path) -> None:
    wav = tmp_path / "call.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        t = np.arange(24000) / 16000
        out.writeframes((np.sin(2 * np.pi * 200 * t) * 9000).astype("<i2").tobytes())
    async with telephony_server() as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLIENT),
            "--url",
            ws_url(srv),
            "--consent",
            "granted",
            str(wav),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "[inbound] session" in text and "AI-generated" in text
    assert "[inbound] traits:" in text and "confidence" in text
    assert "ended" in text
    assert "closed with 1000" in err.decode()


async def test_realtime_client_session_is_visible_while_the_call_runs() -> None:
    async with telephony_server() as srv:
        seen: list[list[dict[str, Any]]] = []

        async def watch() -> None:
            while True:
                listed = await telephony_sessions(srv)
                if listed:
                    seen.append(listed)
                await asyncio.sleep(0.1)

        watcher = asyncio.ensure_future(watch())
        try:
            result = await tc.stream_call(
                ws_url(srv),
                {"inbound": tone(1.2)},
                params={"consent": "granted", "events": "streamface"},
            )
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        assert result.close_code == 1000
        assert seen, "the call never showed in GET /sessions"
        (entry,) = seen[-1]
        assert entry["stream_sid"] == result.stream_sid and entry["track"] == "inbound"
        assert entry["synthetic"] is True
        assert result.sessions == {"inbound": entry["id"]}
        assert await telephony_sessions(srv) == []


@pytest.mark.parametrize("params", [{}, {"consent": "denied"}, {"consent": "true"}])
async def test_no_consent_closes_1008_and_creates_nothing(params: dict[str, str]) -> None:
    async with telephony_server() as srv:
        result = await tc.stream_call(
            ws_url(srv), {"inbound": tone(0.2)}, params=params, realtime=False
        )
        assert result.close_code == 1008
        assert "consent" in result.close_reason
        assert srv.sessions == [] and await telephony_sessions(srv) == []


def _media_raw(sid: str, payload: str, chunk: int = 1, seq: int = 2) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": sid,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": "0",
                "payload": payload,
            },
        }
    )


BAD_STREAMS = {
    "malformed JSON": (True, lambda sid: '{"event": "media", ', 1007, "malformed JSON"),
    "bad base64": (True, lambda sid: _media_raw(sid, "%%%not-base64%%%"), 1007, "base64"),
    "media before start": (
        False,
        lambda sid: _media_raw(sid, base64.b64encode(b"\xff" * 160).decode()),
        1002,
        "before 'start'",
    ),
    "oversized": (
        True,
        lambda sid: _media_raw(sid, base64.b64encode(b"\xff" * 60000).decode()),
        1009,
        "",
    ),
}


@pytest.mark.parametrize("case", list(BAD_STREAMS))
async def test_bad_stream_is_closed_while_another_call_goes_on(case: str) -> None:
    started, make, code, words = BAD_STREAMS[case]
    async with telephony_server() as srv:
        good, good_sid = await open_stream(srv, {"consent": "granted"})
        try:
            await good.send(
                json.dumps(tc.media_message(good_sid, "inbound", 1, tc.encode_mulaw(tone(0.02)), 2))
            )
            bad = await connect(ws_url(srv))
            bad_sid = tc.new_stream_sid()
            await bad.send(json.dumps(tc.connected_message()))
            if started:
                await bad.send(
                    json.dumps(tc.start_message(bad_sid, ["inbound"], {"consent": "granted"}))
                )
                assert await wait_for(lambda: len(srv.sessions) == 2, 5)
            await bad.send(make(bad_sid))
            bad_code, reason = await closed_with(bad)
            assert bad_code == code, reason
            assert words in reason
            # the bad call's session is gone; the good call is still live and still takes audio
            listed = await telephony_sessions(srv)
            assert [s["stream_sid"] for s in listed] == [good_sid]
            for chunk in range(2, 30):
                await good.send(
                    json.dumps(
                        tc.media_message(
                            good_sid, "inbound", chunk, tc.encode_mulaw(tone(0.02)), chunk + 1
                        )
                    )
                )
            good_session = srv.sessions[0]
            assert await wait_for(lambda: good_session.speech_seconds > 0.5, 5)
            await good.send(json.dumps(tc.stop_message(good_sid, 100)))
            assert (await closed_with(good))[0] == 1000
        finally:
            await good.close()


async def test_binary_frames_and_disconnects() -> None:
    async with telephony_server() as srv:
        ws, _ = await open_stream(srv, {"consent": "granted"})
        assert await wait_for(lambda: len(srv.hub.calls) == 1, 5)
        await ws.send(b"\x00\x01")
        code, reason = await closed_with(ws)
        assert code == 1003 and "binary" in reason
        assert await wait_for(lambda: not srv.hub.calls, 5)
        # a caller that just vanishes: its session ends too, buffers zeroed
        ws, _ = await open_stream(srv, {"consent": "granted"})
        assert await wait_for(lambda: len(srv.hub.calls) == 1, 5)
        ws.transport.abort()  # no close frame: the TCP connection just drops
        assert await wait_for(lambda: not srv.hub.calls, 10)
        assert all(s.closed for s in srv.sessions)


async def test_whep_viewer_watches_a_telephony_session() -> None:
    async with telephony_server() as srv:
        ws, sid = await open_stream(srv, {"consent": "granted", "events": "streamface"})
        viewer = None
        try:
            session_id = json.loads(await asyncio.wait_for(ws.recv(), 5))["session_id"]
            feeder_done = asyncio.Event()

            async def feed() -> None:
                for chunk in range(1, 200):
                    await ws.send(
                        json.dumps(
                            tc.media_message(
                                sid, "inbound", chunk, tc.encode_mulaw(tone(0.02)), chunk + 1
                            )
                        )
                    )
                    await asyncio.sleep(0.02)
                    if feeder_done.is_set():
                        return

            feeder = asyncio.ensure_future(feed())
            try:
                viewer = await whep_view(srv.url, session_id)
                assert viewer.response["status"] == 201
                track = await asyncio.wait_for(viewer.video, 10)
                frames = await read_frames(track, 15)
                pts = [p for p, _ in frames]
                assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
            finally:
                feeder_done.set()
                await feeder
        finally:
            if viewer is not None:
                await viewer.close()
            await ws.close()


class BrokenAnalysis(FakeSession):
    """A session whose analysis fails: it ends itself (as a real failure would)."""

    def analyze(self) -> Any:
        raise RuntimeError("analysis broke on cue")


async def test_a_track_whose_session_fails_is_dropped_while_the_other_goes_on() -> None:
    def make(n: int) -> FakeSession:
        return (
            BrokenAnalysis(size=64) if n == 1 else FakeSession(size=64)
        )  # the outbound track breaks

    async with telephony_server(make=make) as srv:
        ws, sid = await open_stream(srv, {"consent": "granted"}, ["inbound", "outbound"])
        try:
            seq = 1
            for chunk in range(1, 61):
                for track in ("inbound", "outbound"):
                    seq += 1
                    await ws.send(
                        json.dumps(
                            tc.media_message(sid, track, chunk, tc.encode_mulaw(tone(0.02)), seq)
                        )
                    )
                await asyncio.sleep(0.005)
            assert await wait_for(lambda: len(srv.hub.calls) == 1, 5)
            (listed,) = await telephony_sessions(srv)
            assert listed["track"] == "inbound"
            inbound = srv.sessions[0]
            before = inbound.speech_seconds
            for chunk in range(61, 81):
                for track in ("inbound", "outbound"):
                    seq += 1
                    await ws.send(
                        json.dumps(
                            tc.media_message(sid, track, chunk, tc.encode_mulaw(tone(0.02)), seq)
                        )
                    )
            assert await wait_for(lambda: inbound.speech_seconds > before + 0.3, 5)
            assert not inbound.closed
            await ws.send(json.dumps(tc.stop_message(sid, seq + 1)))
            assert (await closed_with(ws))[0] == 1000
        finally:
            await ws.close()


async def test_stream_closes_when_its_only_session_fails() -> None:
    async with telephony_server(make=lambda n: BrokenAnalysis(size=64)) as srv:
        ws, sid = await open_stream(srv, {"consent": "granted"})
        try:
            for chunk in range(1, 200):
                try:
                    await ws.send(
                        json.dumps(
                            tc.media_message(
                                sid, "inbound", chunk, tc.encode_mulaw(tone(0.02)), chunk + 1
                            )
                        )
                    )
                except ConnectionClosed:
                    break
                await asyncio.sleep(0.002)
            code, reason = await closed_with(ws)
            assert code == 1011 and "analysis failed" in reason
            assert srv.hub.calls == {}
        finally:
            await ws.close()


async def test_quiet_stream_times_out_and_ends_its_session() -> None:
    async with telephony_server(ServerConfig(port=0, audio_timeout_s=0.5)) as srv:
        ws, _ = await open_stream(srv, {"consent": "granted"})
        code, reason = await closed_with(ws)
        assert code == 1001 and "no audio for 0.5 s" in reason
        assert srv.hub.calls == {} and all(s.closed for s in srv.sessions)


async def test_server_at_its_session_limit_closes_1013_and_keeps_nothing() -> None:
    async with telephony_server(ServerConfig(port=0, max_sessions=1)) as srv:
        ws, _ = await open_stream(srv, {"consent": "granted"}, ["inbound", "outbound"])
        code, reason = await closed_with(ws)
        assert code == 1013 and "limit" in reason
        assert srv.hub.calls == {}


async def test_token_protected_server(tmp_path: Path) -> None:
    token = "s3cret-token-123"
    consent = {"consent": "granted"}
    async with telephony_server(ServerConfig(port=0, token=token)) as srv:
        with pytest.raises(tc.ClientError, match="401"):
            await tc.stream_call(ws_url(srv), {"inbound": tone(0.1)}, params=consent, token="wrong-token")
        result = await tc.stream_call(
            ws_url(srv), {"inbound": tone(0.1)}, params=consent, token=token, realtime=False
        )
        assert result.close_code == 1000


async def test_platform_without_headers_sends_the_token_in_start(tmp_path: Path) -> None:
    """Phone platforms cannot set headers on the upgrade: the token may come in ``start``."""
    token = "s3cret-token-123"
    async with telephony_server(ServerConfig(port=0, token=token)) as srv:
        for params in ({"consent": "granted"}, {"consent": "granted", "token": "not-it"}):
            result = await tc.stream_call(ws_url(srv), {"inbound": tone(0.1)}, params=params, realtime=False)
            assert result.close_code == 1008, result
            assert "token" in result.close_reason
        assert srv.sessions == [] and srv.hub.calls == {}
        result = await tc.stream_call(
            ws_url(srv), {"inbound": tone(0.1)}, params={"consent": "granted", "token": token}, realtime=False
        )
        assert result.close_code == 1000
        assert len(srv.sessions) == 1


def test_client_script_usage_errors(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(800, "<i2").tobytes())
    for args, words in [
        (["--tracks", "inbound,outbound", str(wav)], "2 file(s)"),
        (["--tracks", "sideways", str(wav)], "--tracks"),
        ([str(tmp_path / "missing.wav")], "cannot read"),
        (["--url", "ws://127.0.0.1:9/media-stream", str(wav)], "cannot reach"),
    ]:
        out = subprocess.run([sys.executable, str(CLIENT), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (args, out.stderr)
        assert words in out.stderr


async def test_real_sessions_tell_the_two_speakers_of_a_phone_call_apart(shared_voices: dict[Path, str]) -> None:
    """The real `Session` and voice analysis over 8 kHz mu-law: caller and agent get their own traits."""
    from fakes import ShapesEngine, fake_mapper

    from streamface.session import Session

    voices = {p.name: p for p in shared_voices}
    caller = tc.to_phone_audio(*tc.read_wav(voices["flite_female_slt.wav"]))[: 6 * 8000]
    agent = tc.to_phone_audio(*tc.read_wav(voices["flite_male_awb.wav"]))[: 6 * 8000]
    engine = ShapesEngine(64)
    app_sessions: list[Any] = []

    def factory() -> Any:
        app_sessions.append(Session(engine, mapper=fake_mapper))
        return app_sessions[-1]

    app = create_app(ServerConfig(port=0), factory)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"ws://127.0.0.1:{runner.addresses[0][1]}{telephony.PATH}"
        result = await tc.stream_call(
            url, {"inbound": caller, "outbound": agent}, params={"consent": "granted", "events": "streamface"}
        )
    finally:
        await runner.cleanup()
    assert result.close_code == 1000
    last = {e["track"]: e["traits"] for e in result.events if e["type"] == "traits"}
    assert set(last) == {"inbound", "outbound"}, result.events
    assert last["inbound"]["perceived_sex"]["label"] == "female"
    assert last["outbound"]["perceived_sex"]["label"] == "male"
    assert all(t["confidence"] > 0.3 for t in last.values())
    assert len(app_sessions) == 2
