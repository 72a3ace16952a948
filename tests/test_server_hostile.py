"""Hostile and churning clients (issue 19): one bad caller must not hurt the others.

Real servers on 127.0.0.1 with real clients: a telephony flooder beside a well-behaved
call, ping-only sockets, foreign ``Host`` headers (DNS rebinding), event subscribers
that pile up or vanish mid-stream, and aiortc callers in subprocesses killed with
SIGKILL while the server's OS thread count is watched. The units of the budgets and
the liveness deadlines run on fake clocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from fakes import FakeSession
from server_util import RunningServer, get_json, running_server, wait_for
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamface.errors import StreamFaceError
from streamface.server import telephony
from streamface.server.auth import ServerConfig, allowed_hosts, split_host
from streamface.server.budget import AudioBudget, BudgetPolicy, FloodError, MessageBudget
from streamface.server.liveness import Liveness, LivenessError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "clients" / "python"))

import telephony_client as tc  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


# ---- budgets (units) --------------------------------------------------------------------


def test_real_time_audio_is_never_dropped() -> None:
    clock = FakeClock()
    budget = AudioBudget(clock=clock)
    for _ in range(3000):  # a minute of 20 ms chunks, on time
        clock.t += 0.02
        assert budget.admit(0.02) == pytest.approx(0.02)
    assert budget.dropped_s == 0.0 and budget.dropped_chunks == 0


def test_a_late_burst_within_the_jitter_allowance_is_kept_whole() -> None:
    clock = FakeClock()
    budget = AudioBudget(clock=clock)
    clock.t += 10.0  # the network held 2 s back, then delivers it at once
    assert budget.admit(2.0) == pytest.approx(2.0)
    assert budget.dropped_s == 0.0


def test_excess_is_dropped_counted_and_a_prefix_kept() -> None:
    clock = FakeClock()
    budget = AudioBudget(BudgetPolicy(rate=1.25, burst=3.0, flood=20.0, leak=1.0), clock=clock)
    assert budget.admit(6.0) == pytest.approx(3.0)  # the first 3 s of a 6 s chunk fit
    assert budget.dropped_s == pytest.approx(3.0) and budget.dropped_chunks == 1
    clock.t += 1.0
    assert budget.admit(6.0) == pytest.approx(1.25)  # 1 s later: 1.25 s more
    assert budget.accepted_s == pytest.approx(4.25)


def test_twice_real_time_is_trimmed_but_not_closed() -> None:
    clock = FakeClock()
    budget = AudioBudget(clock=clock)
    for _ in range(10 * 60 * 100):  # ten minutes of 20 ms chunks every 10 ms: 2x real time
        clock.t += 0.01
        budget.admit(0.02)
        budget.check()  # never raises: trimmed, not closed
    assert budget.dropped_s > 0.0
    assert budget.accepted_s == pytest.approx(1.25 * 600 + 3.0, rel=0.01)


def test_a_flood_closes_within_a_second() -> None:
    clock = FakeClock()
    budget = AudioBudget(clock=clock)
    with pytest.raises(FloodError, match="audio flood"):
        for _ in range(100):  # 6 s chunks every 10 ms: 600x real time
            clock.t += 0.01
            budget.admit(6.0)
            budget.check()
    assert clock.t - 100.0 < 1.0


def test_three_times_real_time_closes_in_the_end() -> None:
    clock = FakeClock()
    budget = AudioBudget(clock=clock)
    with pytest.raises(FloodError):
        for _ in range(60 * 150):
            clock.t += 0.02 / 3
            budget.admit(0.02)
            budget.check()
    assert 10.0 < clock.t - 100.0 < 60.0


def test_message_budget_allows_platform_rates_and_closes_a_message_flood() -> None:
    clock = FakeClock()
    messages = MessageBudget(clock=clock)
    for _ in range(60 * 110):  # two tracks of 20 ms chunks plus marks, for a minute
        clock.t += 1 / 110
        assert messages.admit()
    with pytest.raises(FloodError, match="message flood"):
        for _ in range(10_000):
            clock.t += 0.0001  # 10 000 messages a second
            messages.admit()


def test_budget_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        BudgetPolicy(rate=0.0, burst=1.0, flood=1.0, leak=1.0)


# ---- liveness (units) -------------------------------------------------------------------


def test_liveness_deadlines_move_only_with_the_protocol() -> None:
    clock = FakeClock()
    live = Liveness(handshake_s=5.0, audio_s=10.0, what="'start'", clock=clock)
    clock.t += 4.0
    live.check()
    live.heard()  # audio before the handshake does not count
    clock.t += 1.5
    with pytest.raises(LivenessError, match="no 'start' within 5 s") as err:
        live.check()
    assert err.value.close_code == 1008
    live.opened()
    clock.t += 9.0
    live.heard()
    clock.t += 9.0
    live.check()
    clock.t += 1.5
    with pytest.raises(LivenessError, match="no audio for 10 s") as err:
        live.check()
    assert err.value.close_code == 1001


# ---- helpers ----------------------------------------------------------------------------


def telephony_server(config: ServerConfig | None = None) -> Any:
    return running_server(config, lambda: FakeSession(size=64))


def ws_url(srv: RunningServer) -> str:
    return srv.url.replace("http://", "ws://") + telephony.PATH


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * 8000)) / 8000
    return (np.sin(2 * np.pi * freq * t) * 0.3 * 32767).astype(np.int16)


async def open_stream(url: str, **kwargs: Any) -> tuple[ClientConnection, str]:
    ws = await connect(url, max_size=2**20, **kwargs)
    sid = tc.new_stream_sid()
    await ws.send(json.dumps(tc.connected_message()))
    await ws.send(json.dumps(tc.start_message(sid, ["inbound"], {"consent": "granted"})))
    return ws, sid


async def close_of(ws: ClientConnection, within: float) -> tuple[int | None, str]:
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(within):
            async for _ in ws:
                pass
    return ws.close_code, ws.close_reason or ""


# ---- 1. a telephony flood ---------------------------------------------------------------


@pytest.mark.slow
async def test_flooding_caller_is_trimmed_counted_and_closed_while_others_go_on() -> None:
    big = tc.encode_mulaw(tone(5.9))  # ~6 s of audio: the largest message the server takes
    async with telephony_server() as srv:
        calm, calm_sid = await open_stream(ws_url(srv))
        flood, flood_sid = await open_stream(ws_url(srv))
        try:
            assert await wait_for(lambda: len(srv.hub.calls) == 2, 5.0)
            lives = {c.live.info["stream_sid"]: c.live for c in srv.hub.calls.values()}
            flooded, victim = lives[flood_sid], lives[calm_sid]
            health: list[int] = []

            async def calm_call() -> None:
                seq = 2
                for chunk in range(1, 151):  # 3 s of real-time 20 ms chunks
                    seq += 1
                    msg = tc.media_message(calm_sid, "inbound", chunk, tc.encode_mulaw(tone(0.02)), seq)
                    await calm.send(json.dumps(msg))
                    await asyncio.sleep(0.02)

            async def probe() -> None:
                async with aiohttp.ClientSession() as http:
                    for _ in range(10):
                        async with asyncio.timeout(2.0), http.get(srv.url + "/healthz") as resp:
                            health.append(resp.status)
                        await asyncio.sleep(0.05)

            async def flooder() -> int:
                sent, seq = 0, 2
                started = time.monotonic()
                with contextlib.suppress(ConnectionClosed):
                    while sent < 400 and time.monotonic() - started < 10.0:
                        seq += 1
                        await flood.send(json.dumps(tc.media_message(flood_sid, "inbound", seq, big, seq)))
                        sent += 1
                return sent

            started = time.monotonic()
            sent, *_ = await asyncio.gather(flooder(), calm_call(), probe())
            code, reason = await close_of(flood, 5.0)
            elapsed = time.monotonic() - started
            assert code == 1008 and "audio flood" in reason
            assert sent > 0
            # what was kept is bounded by the budget; the excess was dropped and counted
            kept = flooded.session._speech  # type: ignore[attr-defined]  # FakeSession
            assert flooded.closed and flooded.stats.audio_over_budget_s > 15.0
            # closed after a handful of its messages, not after what it went on sending
            assert 3 <= flooded.stats.audio_over_budget_chunks <= 10
            assert kept <= 3.0 + 1.25 * elapsed + 0.5
            assert health == [200] * 10
            # the calm call was never touched: all its audio in, still live
            assert not victim.closed and victim.stats.audio_over_budget_s == 0.0
            assert victim.stats.audio_frames >= 150
        finally:
            await calm.close()
            await flood.close()


# ---- 2. liveness ------------------------------------------------------------------------


@pytest.mark.slow
async def test_ping_only_sockets_are_closed_with_a_reason() -> None:
    config = ServerConfig(port=0, handshake_timeout_s=1.0, audio_timeout_s=1.5)
    async with telephony_server(config) as srv:
        # connected + start, then only WebSocket pings (every 0.2 s)
        talker, _ = await open_stream(ws_url(srv), ping_interval=0.2)
        # pings but never says connected
        mute = await connect(ws_url(srv), ping_interval=0.2)
        started = time.monotonic()
        code, reason = await close_of(talker, 5.0)
        assert (code, reason) == (1001, "no audio for 1.5 s")
        assert time.monotonic() - started < 3.0
        code, reason = await close_of(mute, 5.0)
        assert (code, reason) == (1008, "no 'connected' and 'start' within 1 s")
        assert srv.hub.calls == {} and all(s.closed for s in srv.sessions)


@pytest.mark.slow
async def test_with_the_defaults_a_ping_only_socket_is_closed_within_20_s() -> None:
    async with telephony_server() as srv:
        ws, _ = await open_stream(ws_url(srv), ping_interval=1.0)
        started = time.monotonic()
        code, reason = await close_of(ws, 20.0)
        assert code == 1001 and reason.startswith("no audio for")
        assert time.monotonic() - started < 20.0
        assert srv.hub.calls == {}


# ---- 3. DNS rebinding -------------------------------------------------------------------


def test_allowed_hosts_default_to_loopback_and_the_bound_address() -> None:
    assert allowed_hosts(ServerConfig()) == {"localhost", "127.0.0.1", "::1"}
    bound = ServerConfig(host="192.168.1.5", token="t0ken-1234", allow_hosts=("Face.Example.",))
    assert allowed_hosts(bound) == {"localhost", "127.0.0.1", "::1", "192.168.1.5", "face.example"}
    assert split_host("[::1]:8080") == ("::1", 8080)
    assert split_host("LOCALHOST") == ("localhost", None)
    with pytest.raises(ValueError):
        split_host("localhost:99999")


def test_allow_host_must_be_a_bare_host() -> None:
    for bad in ("http://face.example", "face.example:8080", "a b"):
        with pytest.raises(StreamFaceError, match="--allow-host"):
            ServerConfig(allow_hosts=(bad,)).validate()


def test_cli_takes_allow_host(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streamface", "serve", "--allow-host", "http://x.example"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2 and "--allow-host" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


async def test_foreign_host_is_refused_before_routing_on_http_and_websocket() -> None:
    config = ServerConfig(port=0, allow_hosts=("face.example",))
    async with running_server(config) as srv:
        port = srv.url.rsplit(":", 1)[1]
        evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        async with aiohttp.ClientSession() as http:
            for method, path in (
                ("GET", "/sessions"), ("GET", "/healthz"), ("GET", "/"),
                ("GET", "/static/app.js"), ("POST", "/whip?consent=true"), ("GET", "/nowhere"),
            ):
                async with http.request(method, srv.url + path, headers=evil, data="v=0\r\n") as resp:
                    assert resp.status == 421, (method, path)
                    body = await resp.json()
                    assert "Host" in body["error"] and "--allow-host" in body["error"]
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(srv.url + telephony.PATH, headers=evil)
            assert err.value.status == 421
            # loopback names, the bound address and allowed names are answered
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", "face.example", f"[::1]:{port}"):
                async with http.get(srv.url + "/sessions", headers={"Host": host}) as resp:
                    assert resp.status == 200, host
            assert srv.hub.calls == {}


async def test_same_origin_does_not_trust_the_clients_host() -> None:
    async with running_server() as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        async with aiohttp.ClientSession() as http:
            # this server under either loopback name is same-origin
            for origin in (srv.url, f"http://localhost:{port}"):
                async with http.get(srv.url + "/sessions", headers={"Origin": origin}) as resp:
                    assert resp.status == 200, origin
            # another local port (another app's page) and a matching-but-foreign pair are not
            other = {"Origin": f"http://127.0.0.1:{port + 1}"}
            async with http.get(srv.url + "/sessions", headers=other) as resp:
                assert resp.status == 403
            foreign_pair = {"Host": f"localhost:{port}", "Origin": f"http://evil.example:{port}"}
            async with http.post(srv.url + "/whip?consent=true", headers=foreign_pair) as resp:
                assert resp.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(srv.url + telephony.PATH, headers=other)
            assert err.value.status == 403


# ---- 5. event subscribers, departing subscribers, internal error text -------------------


async def test_event_subscribers_are_capped_per_session() -> None:
    async with running_server(ServerConfig(port=0, max_event_subscribers=2)) as srv:
        call = srv.hub.create("test")
        url = f"{srv.url}/sessions/{call.id}/events"
        async with aiohttp.ClientSession() as http:
            first = await http.ws_connect(url)
            second = await http.ws_connect(url)
            assert (await first.receive_json())["type"] == "hello"
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(url)
            assert err.value.status == 503
            async with http.get(url) as resp:  # the reason, as a plain GET sees it
                assert resp.status == 503 and "limit of 2 event subscribers" in (await resp.json())["error"]
            await first.close()
            assert await wait_for(lambda: call.subscribers == 1, 5.0)
            third = await http.ws_connect(url)
            assert (await third.receive_json())["type"] == "hello"
            await second.close()
            await third.close()
        await srv.hub.end(call.id, "test over")


async def test_a_subscriber_leaving_mid_stream_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_server() as srv:
        call = srv.hub.create("test")
        host, port = srv.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            (
                f"GET /sessions/{call.id}/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        assert (await reader.readline()).startswith(b"HTTP/1.1 101")
        assert await wait_for(lambda: call.subscribers == 1, 5.0)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # a reset, as a tab that crashed leaves it
        with caplog.at_level(logging.DEBUG):
            for i in range(200):
                call.live.emit({"type": "stage", "stage": f"s{i}", "pad": "x" * 2000})
                await asyncio.sleep(0.005)
            assert await wait_for(lambda: call.subscribers == 0, 5.0)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        await srv.hub.end(call.id, "test over")


async def test_bad_sdp_400_does_not_echo_the_parser() -> None:
    offer = "v=0\r\no=- 0 x IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    async with running_server() as srv, aiohttp.ClientSession() as http:
        async with http.post(
            srv.url + "/whip?consent=true", data=offer, headers={"Content-Type": "application/sdp"}
        ) as resp:
            assert resp.status == 400
            text = await resp.text()
        assert "unusable SDP offer" in text
        assert "invalid literal" not in text and "base 10" not in text and "'0 x'" not in text
        assert srv.hub.calls == {}


# ---- 4. churn: native threads and memory of ended calls ----------------------------------


HAS_PROC = os.path.isdir("/proc/self/task")


# Worker threads of bounded pools (ours, asyncio's default executor that aiortc encodes
# in): they start on demand up to their limit, so a busier round may add some. Not a leak.
POOL_THREADS = ("sf-", "asyncio_", "ThreadPoolExecutor-")


def _os_threads() -> Counter[str]:
    """This process's OS threads by name, less the workers of bounded pools."""
    names: Counter[str] = Counter()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names[Path(f"/proc/self/task/{task}/comm").read_text().strip()] += 1
    # Python threads have the process's name at the OS level (before Python 3.14)
    pooled = sum(1 for t in threading.enumerate() if t.name.startswith(POOL_THREADS))
    names[Path("/proc/self/comm").read_text().strip()] -= pooled
    return names


def _caller(base: str, voice: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.whip_caller", base, "--voice", str(voice)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return proc


async def _churn_round(srv: RunningServer, voice: Path, n: int, abrupt: int) -> list[Any]:
    loop = asyncio.get_running_loop()
    procs = [_caller(srv.url, voice) for _ in range(n)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), 60)
            assert line.startswith(b"session "), line
        assert await wait_for(lambda: len(srv.hub.calls) == n, 10.0)
        lives = [weakref.ref(c.live) for c in srv.hub.calls.values()]
        await asyncio.sleep(1.0)
        for i, proc in enumerate(procs):
            proc.send_signal(signal.SIGKILL if i < abrupt else signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(loop.run_in_executor(None, proc.wait), 30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # killed callers are noticed when their audio stops (live.AUDIO_TIMEOUT_S) or ICE fails
    assert await wait_for(lambda: not srv.hub.calls, 30.0)
    return lives


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC, reason="needs /proc to count OS threads")
async def test_churn_with_killed_callers_returns_threads_and_frees_sessions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    voice = REPO / "tests" / "data" / "voices" / "espeak_alicia_us.flac"
    # the way a killed caller ends, sooner: each of the three rounds waits for it (6 s shipped;
    # the callers send their looped voice all along, so a live one never goes 3 s without)
    monkeypatch.setattr("streamface.server.live.AUDIO_TIMEOUT_S", 3.0)
    async with running_server(session_factory=lambda: FakeSession(size=64)) as srv:
        await _churn_round(srv, voice, 2, abrupt=1)  # warm-up: pools start their threads
        await asyncio.sleep(3.0)
        baseline = _os_threads()
        lives: list[Any] = []
        for _ in range(2):
            lives += await _churn_round(srv, voice, 3, abrupt=2)
        # the hub collects cyclic garbage a moment after calls end; nothing here does
        assert await wait_for(lambda: all(ref() is None for ref in lives), 10.0)
        def threads_back() -> bool:
            return abs(_os_threads().total() - baseline.total()) <= 2

        assert await wait_for(threads_back, 10.0), (
            f"{_os_threads().total()} OS threads after churn, {baseline.total()} before; "
            f"new: {_os_threads() - baseline}, gone: {baseline - _os_threads()}; "
            f"Python threads: {sorted(t.name for t in threading.enumerate())}"
        )
        assert srv.hub.collections >= 2
        assert [type(t).__name__ for t in srv.hub.tasks] == []
        status, body = await get_json(srv.url + "/sessions")
        assert status == 200 and body["sessions"] == []


async def test_feed_audio_lets_the_loop_run_between_slices() -> None:
    from streamface.server.live import LiveSession

    fake = FakeSession(size=64)
    live = LiveSession("feed", fake, source="test")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    samples = tone(6.0).astype(np.float32) / 32768.0
    await live.feed_audio(samples, 8000, slice_s=0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert ticks >= 29  # the loop ran between every two of the 30 slices
    assert fake._speech == pytest.approx(6.0)
    assert live.stats.audio_frames == 30
    await live.close("test over")


@pytest.mark.slow
async def test_whip_caller_that_goes_silent_but_stays_connected_is_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from server_util import whip_call

    from streamface.server import live as live_module

    monkeypatch.setattr(live_module, "AUDIO_TIMEOUT_S", 2.0)
    voice = REPO / "tests" / "data" / "voices" / "espeak_alicia_us.flac"
    async with running_server(session_factory=lambda: FakeSession(size=64)) as srv:
        client = await whip_call(srv.url, voice)
        try:
            assert await wait_for(lambda: len(srv.hub.calls) == 1, 5.0)
            live = next(iter(srv.hub.calls.values())).live
            assert await wait_for(lambda: live.stats.audio_frames > 20, 10.0)
            assert client.player is not None and client.player.audio is not None
            client.player.audio.stop()  # RTP stops; ICE and DTLS stay up (consent checks go on)
            assert await wait_for(lambda: live.closed, 10.0)
            assert live.close_reason == "no audio for 2 s"
            assert srv.hub.calls == {}
        finally:
            await client.close()
