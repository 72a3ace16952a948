"""Faults and bad input against a live server on loopback, with another call going on.

Each case leaves the server up (``/healthz``), leaves a concurrent call unaffected (it
keeps receiving video at about 30 fps and keeps its session), and gives the offender a
clear error: a peer that vanishes without closing, oversized SDP (over the body limit,
or many m-lines under it), oversized WebSocket messages on ``/sessions/{id}/events`` and
``/media-stream``, invalid audio in a telephony stream, and an engine that raises
mid-call (a driver error, CUDA out of memory): the call goes on with the CPU engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from fakes import FakeEngine, fake_mapper, fixed_profile
from server_util import (
    ClientPeer,
    RunningServer,
    get_json,
    read_frames,
    running_server,
    wait_for,
    whip_call,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from engines.select import FallbackEngine, load_engine
from streamface.server import telephony
from streamface.server.auth import ServerConfig

pytestmark = pytest.mark.slow

SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
def voice(shared_voices: dict[Path, str]) -> Path:
    return next(p for p in shared_voices if p.name == "flite_female_slt.wav")


async def healthy(srv: RunningServer) -> bool:
    status, body = await get_json(f"{srv.url}/healthz")
    return status == 200 and body["ok"] is True


class Watcher:
    """Reads a client's video all along (so no frames queue up) and keeps arrival times."""

    def __init__(self, client: ClientPeer) -> None:
        self.client = client
        self.arrivals: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        track = await asyncio.wait_for(self.client.video, 10)
        self._task = asyncio.ensure_future(self._read(track))
        assert await wait_for(lambda: len(self.arrivals) >= 5, within_s=10.0)

    async def _read(self, track: Any) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.arrivals.append(loop.time())

    async def fps(self, seconds: float = 1.5) -> float:
        """Frames per second that arrive during the next ``seconds``."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(seconds)
        return sum(1 for t in self.arrivals if t >= start) / (loop.time() - start)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.asynccontextmanager
async def watching(*clients: ClientPeer) -> AsyncIterator[list[Watcher]]:
    """Watch the clients' video for the block's duration."""
    watchers = [Watcher(c) for c in clients]
    try:
        for w in watchers:
            await w.start()
        yield watchers
    finally:
        for w in watchers:
            await w.stop()


def session_id(client: ClientPeer) -> str:
    assert client.location is not None
    return client.location.rsplit("/", 1)[1]


async def assert_unaffected(srv: RunningServer, good: Watcher) -> None:
    """The server answers, the good call is still listed and still gets ~30 fps."""
    assert await healthy(srv)
    assert session_id(good.client) in srv.hub.calls
    fps = await good.fps()
    assert 25 < fps < 35, f"the unaffected call gets {fps:.1f} fps"


async def test_vanished_peer_ends_only_its_session(voice: Path) -> None:
    async with running_server() as srv:
        gone = await whip_call(srv.url, voice)
        good = await whip_call(srv.url, voice)
        try:
            await read_frames(await asyncio.wait_for(gone.video, 10), 5)
            async with watching(good) as (seen,):
                ice = gone.pc.getTransceivers()[0].sender.transport.transport
                await ice.stop()  # no DTLS close, no DELETE: packets just stop
                assert await wait_for(lambda: session_id(gone) not in srv.hub.calls, within_s=10.0)
                await assert_unaffected(srv, seen)
                assert len(srv.hub.calls) == 1
        finally:
            await gone.close()
            await good.close()


class UnpacedTone(MediaStreamTrack):
    """A 220 Hz tone in 20 ms frames at 48 kHz, handed out as fast as asked (no pacing)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.pts = 0
        t = np.arange(960) / 48000
        self._pcm = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)

    async def recv(self) -> AudioFrame:
        await asyncio.sleep(0)  # yield to the loop, nothing more
        frame = AudioFrame.from_ndarray(self._pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, 48000)
        self.pts += 960
        return frame


async def test_whip_sender_faster_than_real_time_is_trimmed_then_closed(voice: Path) -> None:
    async with running_server() as srv:
        good = await whip_call(srv.url, voice)
        fast = UnpacedTone()
        flood = await whip_call(srv.url, voice, audio=fast)
        try:
            async with watching(good) as (seen,):
                sid = session_id(flood)
                live = srv.hub.calls[sid].live
                started = asyncio.get_running_loop().time()
                assert await wait_for(lambda: live.closed, within_s=15.0)
                elapsed = asyncio.get_running_loop().time() - started
                assert live.close_reason is not None and "audio flood" in live.close_reason
                assert live.stats.audio_over_budget_s > 15.0
                sent_s = fast.pts / 48000
                assert sent_s > 20.0, f"the sender only managed {sent_s:.1f} s of audio"
                # what reached the session is bounded by the budget, not by what was sent
                kept = srv.sessions[-1]._speech  # type: ignore[attr-defined]  # FakeSession
                assert kept <= 3.0 + 1.25 * (elapsed + 1.0)
                await assert_unaffected(srv, seen)
                assert session_id(good) in srv.hub.calls
        finally:
            fast.stop()
            await flood.close()
            await good.close()


async def _post(url: str, data: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=SDP) as resp:
        return resp.status, await resp.json(content_type=None)


async def _offer(audio_lines: int, pad_bytes: int = 0) -> str:
    pc = RTCPeerConnection()
    try:
        for _ in range(audio_lines):
            pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = str(pc.localDescription.sdp)
    finally:
        await pc.close()
    pad = "".join(f"a=x-padding:{'p' * 60}\r\n" for _ in range(pad_bytes // 74 + 1))
    return sdp + (pad if pad_bytes else "")


async def test_oversized_sdp_is_refused_clearly(voice: Path) -> None:
    async with running_server() as srv:  # the default 64 KiB body limit
        good = await whip_call(srv.url, voice)
        seen = Watcher(good)
        try:
            await seen.start()
            big = await _offer(1, pad_bytes=200_000)  # a real offer, padded past the limit
            status, body = await _post(f"{srv.url}/whip?consent=true", big)
            assert status == 413 and "65536 bytes" in body["error"]
            many = await _offer(40)  # under the limit, but 40 audio m-lines
            assert len(many.encode()) < 64 * 1024
            status, body = await _post(f"{srv.url}/whip?consent=true", many)
            assert status == 400 and "40 audio m-lines" in body["error"]
            status, body = await _post(
                f"{srv.url}/whip?consent=true", "v=0\r\n" + "x" * 60_000 + "\r\n"
            )
            assert status == 400 and "error" in body
            assert len(srv.hub.calls) == 1
            assert all(s.closed for s in srv.sessions[1:])  # what was made for them is gone
            await assert_unaffected(srv, seen)
        finally:
            await seen.stop()
            await good.close()


async def test_oversized_events_message_closes_only_that_socket(voice: Path) -> None:
    config = ServerConfig(port=0, max_ws_message_bytes=4096)
    async with running_server(config) as srv:
        watched = await whip_call(srv.url, voice)
        good = await whip_call(srv.url, voice)
        try:
            async with watching(watched, good) as (seen_watched, seen_good):
                url = f"{srv.url}/sessions/{session_id(watched)}/events"
                async with aiohttp.ClientSession() as http:
                    async with http.ws_connect(url) as ws:
                        hello = await ws.receive_json(timeout=5)
                        assert hello["type"] == "hello"
                        await ws.send_str("x" * 10_000)
                        async with asyncio.timeout(5):
                            while not ws.closed:
                                await ws.receive()
                        assert ws.close_code == 1009  # message too big
                    async with http.ws_connect(url) as ws:  # a new listener still works
                        assert (await ws.receive_json(timeout=5))["type"] == "hello"
                await assert_unaffected(srv, seen_watched)  # the watched call itself goes on
                await assert_unaffected(srv, seen_good)
        finally:
            await watched.close()
            await good.close()


def _start(sid: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": sid,
            "start": {
                "streamSid": sid,
                "callSid": "CA" + sid[2:],
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"consent": "granted"},
            },
        }
    )


def _media(sid: str, payload: str) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": "2",
            "streamSid": sid,
            "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload},
        }
    )


BAD_TELEPHONY: dict[str, tuple[Callable[[str], str], int, str]] = {
    "oversized message": (lambda sid: _media(sid, "/" * 1_000_000), 1009, ""),
    "empty audio": (lambda sid: _media(sid, ""), 1007, "payload"),
    "audio not base64": (lambda sid: _media(sid, "not*base64"), 1007, "base64"),
}


@pytest.mark.parametrize("case", list(BAD_TELEPHONY))
async def test_bad_telephony_stream_leaves_webrtc_call_alone(voice: Path, case: str) -> None:
    make, code, words = BAD_TELEPHONY[case]
    async with running_server() as srv:
        good = await whip_call(srv.url, voice)
        try:
            async with watching(good) as (seen,):
                ws = await connect(srv.url.replace("http://", "ws://") + telephony.PATH)
                sid = "MZ" + "0" * 32
                await ws.send(
                    json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
                )
                await ws.send(_start(sid))
                assert await wait_for(lambda: len(srv.hub.calls) == 2, 5)
                await ws.send(make(sid))
                try:
                    async with asyncio.timeout(5):
                        async for _ in ws:
                            pass
                except ConnectionClosed:
                    pass
                await ws.close()
                assert ws.close_code == code, ws.close_reason
                assert words in (ws.close_reason or "")
                assert await wait_for(lambda: len(srv.hub.calls) == 1, 5)
                await assert_unaffected(srv, seen)
        finally:
            await good.close()


# ------------------------------------------------------------------ engine failing mid-call

LIVE = 64


class QuickAnalyzer:
    """A `VoiceAnalyzer` stand-in: a fixed profile at once (the real GE2E model's first
    run takes seconds on a loaded machine and is not what these tests are about)."""

    def analyze(self, speech: np.ndarray) -> Any:
        return fixed_profile(speech.size / 16000, np.full(256, 1 / 16, dtype=np.float32))


def live_session(engine: Any) -> Any:
    """A real `Session` on ``engine`` with the quick analyzer and the fake mapper."""
    from streamface.session import Session

    return Session(engine, mapper=fake_mapper, analyzer=QuickAnalyzer())


def _gpu_fake_engine(error: Exception, fail_at: int) -> tuple[FallbackEngine, list[FakeEngine]]:
    """A fake GPU engine that fails on cue, wrapped by the real `load_engine` fallback."""
    made: list[FakeEngine] = []

    def gpu(size: int, **_: Any) -> FakeEngine:
        made.append(FakeEngine(size, name="torch", fail_at=fail_at, error=error))
        return made[-1]

    def cpu(size: int, **_: Any) -> FakeEngine:
        made.append(FakeEngine(size, name="onnxruntime"))
        return made[-1]

    engine = load_engine("torch", LIVE, loaders={"torch": gpu, "onnxruntime": cpu})
    assert isinstance(engine, FallbackEngine)
    return engine, made


def _cuda_oom() -> Exception:
    torch = pytest.importorskip("torch")
    return torch.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"
    )


@pytest.mark.parametrize(
    "make_error",
    [
        pytest.param(lambda: RuntimeError("CUDA error: an illegal memory access"), id="driver"),
        pytest.param(_cuda_oom, id="cuda-oom"),
        pytest.param(lambda: RuntimeError("CUDA out of memory. Tried to allocate"), id="oom-text"),
    ],
)
async def test_engine_failing_mid_call_falls_back_to_cpu_and_calls_go_on(
    voice: Path, make_error: Callable[[], Exception], caplog: pytest.LogCaptureFixture
) -> None:
    engine, made = _gpu_fake_engine(make_error(), fail_at=60)  # about 1 s into the calls
    gpu = made[0]

    def factory() -> Any:  # real sessions sharing one engine, as `streamface serve` does
        return live_session(engine)

    async with running_server(session_factory=factory) as srv:
        first = await whip_call(srv.url, voice)
        second = await whip_call(srv.url, voice)
        try:
            async with watching(first, second) as seen:
                assert await wait_for(lambda: engine.fell_back, within_s=10.0)
                assert await wait_for(lambda: len(made) == 2, within_s=1.0)
                cpu = made[1]
                # the two sessions render at once: each may hit the failing engine once
                # before the switch, never more
                assert gpu.closed and 1 <= gpu.failures <= 2 and engine.name == "onnxruntime"
                rendered = [c.live.stats.frames_rendered for c in srv.hub.calls.values()]
                animated = cpu.calls.count("animate")
                fps = await asyncio.gather(*(w.fps(2.0) for w in seen))
                assert all(25 < f < 35 for f in fps), f"{fps} fps after the fallback"
                # the frames are fresh renders by the CPU engine, not the last one resent
                assert cpu.calls.count("animate") - animated >= 2 * 2.0 * 30 * 0.8
                now = [c.live.stats.frames_rendered for c in srv.hub.calls.values()]
                assert all(b - a >= 2.0 * 30 * 0.8 for a, b in zip(rendered, now, strict=True))
                assert {session_id(first), session_id(second)} == set(srv.hub.calls)
                assert all(c.live.close_reason is None for c in srv.hub.calls.values())
                assert await healthy(srv)
        finally:
            await first.close()
            await second.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "engines.select"]
    assert any("switching to onnxruntime" in w for w in warnings)


async def test_cpu_engine_failing_ends_only_its_call(voice: Path) -> None:
    """With no fallback left the failing call ends with a reason; the other goes on."""
    broken = FakeEngine(LIVE, name="onnxruntime", fail_at=30)
    made = iter([broken, FakeEngine(LIVE, name="onnxruntime")])
    async with running_server(session_factory=lambda: live_session(next(made))) as srv:
        bad = await whip_call(srv.url, voice)
        good = await whip_call(srv.url, voice)
        try:
            async with watching(good) as (seen,):
                live = srv.hub.calls[session_id(bad)].live
                assert await wait_for(lambda: session_id(bad) not in srv.hub.calls, within_s=10.0)
                assert live.close_reason == "render failed: RuntimeError"
                await assert_unaffected(srv, seen)
        finally:
            await bad.close()
            await good.close()


def test_fake_engine_frames_are_live_sized() -> None:
    """The fake engines above draw frames the live path can encode (even sizes)."""
    engine, _ = _gpu_fake_engine(RuntimeError("x"), fail_at=10_000)
    face = engine.prepare(np.full((1, 8), 0.5, np.float32))
    frame = engine.animate(face, np.zeros((1, 13), np.float32))
    assert frame.shape == (1, LIVE, LIVE, 3) and frame.dtype == np.uint8


# ------------------------------------------------------------------ internal stats


def _lan_address() -> str | None:
    """This machine's address on a non-loopback interface (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_internal_stats_counts_tasks_and_threads_and_is_loopback_only(voice: Path) -> None:
    async with running_server() as srv:
        status, idle = await get_json(f"{srv.url}/internal/stats")
        assert status == 200
        for key in ("tasks", "threads", "os_threads", "rss_bytes", "sessions", "background_tasks"):
            assert key in idle
        assert idle["sessions"] == 0 and idle["rss_bytes"] > 0
        client = await whip_call(srv.url, voice)
        try:
            await read_frames(await asyncio.wait_for(client.video, 10), 10)
            status, busy = await get_json(f"{srv.url}/internal/stats?intervals=5")
            assert busy["sessions"] == 1 and busy["tasks"] > idle["tasks"]
            (entry,) = busy["live"]
            assert entry["frames_handed"] >= 10 and len(entry["frame_interval_ms"]) == 5
            assert {"frames_resent", "frames_late", "audio_drawn", "audio_to_frame_ms"} <= set(entry)
            status, listing = await get_json(f"{srv.url}/sessions")
            timing = listing["sessions"][0]["timing"]
            assert timing["frames_handed"] >= 10
            assert {"frames_resent", "frames_late", "audio_to_frame_ms_p50"} <= set(timing)
            status, _ = await get_json(f"{srv.url}/internal/stats?intervals=x")
            assert status == 400
        finally:
            await client.close()
        assert await wait_for(lambda: not srv.hub.calls, 10)
        await asyncio.sleep(0.5)
        status, after = await get_json(f"{srv.url}/internal/stats")
        assert after["tasks"] <= idle["tasks"], "a finished call left asyncio tasks behind"

    address = _lan_address()
    if address is None:
        pytest.skip("no non-loopback interface to test the refusal from")
    from aiohttp import web

    from streamface.server.app import create_app

    token = "internal-stats-token"
    app = create_app(ServerConfig(host=address, port=0, token=token), lambda: None)  # type: ignore[arg-type, return-value]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        headers = {"Authorization": f"Bearer {token}"}
        status, body = await get_json(f"http://{address}:{port}/internal/stats", headers)
        assert status == 404  # a client on another address learns nothing
        status, _ = await get_json(f"http://{address}:{port}/internal/stats")
        assert status == 401  # and without the token it is not even asked
    finally:
        await runner.cleanup()
