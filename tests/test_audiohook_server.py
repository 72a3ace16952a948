"""``/audiohook`` end to end on loopback: a client written from the AudioHook spec, a real server.

Stereo gives a session per party (listed with source audiohook, conversation id and
channel, watchable over WHEP); the upgrade is authenticated by X-API-KEY and an RFC 9421
signature; no consent, bad input and silence get the protocol's disconnect and a clean
close while the server goes on; two test voices give two faces of the expected sexes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeSession
from server_util import RunningServer, get_json, read_frames, serving_app, wait_for, whep_view
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamface.server import audiohook
from streamface.server.app import create_app
from streamface.server.audiohook import AudioHookConfig
from streamface.server.auth import ServerConfig

REPO = Path(__file__).resolve().parent.parent
CLIENT = REPO / "clients" / "python" / "audiohook_client.py"
sys.path.insert(0, str(CLIENT.parent))

import audiohook_client as ah  # noqa: E402
from telephony_client import ClientError  # noqa: E402

pytestmark = pytest.mark.slow

KEY = "audiohook-test-key-0123"
SECRET = "VGhpcyBpcyB0aGUgY2xpZW50IHNlY3JldCBvZiB0ZXN0cyE="
GRANTED = {"consent": "granted"}


@contextlib.asynccontextmanager
async def audiohook_server(
    ah_config: AudioHookConfig | None = None,
    config: ServerConfig | None = None,
    make: Callable[[int], Any] | None = None,
) -> Any:
    """The app on a free loopback port with small fake sessions (or ``make(n)``)."""
    made = itertools.count()
    sessions: list[Any] = []

    def factory() -> Any:
        n = next(made)
        sessions.append(make(n) if make else FakeSession(size=64))
        return sessions[-1]

    app = create_app(config or ServerConfig(port=0), factory, ah_config)
    async with serving_app(app) as (url, _):
        yield RunningServer(url, app, sessions)


def ws_url(srv: RunningServer) -> str:
    return srv.url.replace("http://", "ws://") + audiohook.PATH


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * 8000)) / 8000
    return (np.sin(2 * np.pi * freq * t) * 0.3 * 32767).astype(np.int16)


async def audiohook_sessions(srv: RunningServer) -> list[dict[str, Any]]:
    status, body = await get_json(srv.url + "/sessions")
    assert status == 200
    return [s for s in body["sessions"] if s["source"] == "audiohook"]


async def test_stereo_session_gets_a_session_per_party_listed_and_ended() -> None:
    async with audiohook_server() as srv:
        listed: list[dict[str, Any]] = []

        async def look() -> None:
            listed.extend(await audiohook_sessions(srv))

        result = await ah.run_session(ws_url(srv), [tone(1.0, 200), tone(1.0, 300)], custom=GRANTED,
                                      conversation_id="conv-42", realtime=False, before_close=look)
        assert result.closed and result.close_code == 1000, result
        assert result.opened == {"startPaused": False, "media": [
            {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]}
        assert {(s["conversation_id"], s["channel"]) for s in listed} == {("conv-42", "external"),
                                                                          ("conv-42", "internal")}
        assert all(s["audiohook_session"] == result.messages[0]["id"] for s in listed)
        # every server message acknowledges the client's seq and counts its own from 1
        assert [m["seq"] for m in result.messages] == list(range(1, len(result.messages) + 1))
        assert result.messages[-1]["type"] == "closed"
        assert await wait_for(lambda: not srv.hub.calls, 5.0)
        assert len(srv.sessions) == 2 and all(s.rates == {8000} for s in srv.sessions)


async def test_mono_session_and_ping_pong() -> None:
    async with audiohook_server() as srv:
        ws = await connect(ws_url(srv))
        client = ah.Client()
        try:
            await ws.send(client.message("open", ah.open_parameters("c-mono", False, GRANTED)))
            opened = client.got(await ws.recv())
            assert opened["parameters"]["media"][0]["channels"] == ["external"]
            await ws.send(ah.frames([tone(0.2)])[0])
            await ws.send(client.message("ping", {"rtt": "PT0.05S"}))
            pong = client.got(await ws.recv())
            assert pong["type"] == "pong" and pong["clientseq"] == 2
            assert [s["channel"] for s in await audiohook_sessions(srv)] == ["external"]
            await ws.send(client.message("close", {"reason": "end"}))
            assert client.got(await ws.recv())["type"] == "closed"
        finally:
            await ws.close()


async def test_connection_probe_is_answered_without_a_session() -> None:
    async with audiohook_server() as srv:
        ws = await connect(ws_url(srv))
        client = ah.Client()
        try:
            params = ah.open_parameters("00000000-0000-0000-0000-000000000000", True, {})
            await ws.send(client.message("open", params))
            opened = client.got(await ws.recv())
            assert opened["type"] == "opened" and opened["parameters"]["media"] == []
            assert srv.hub.calls == {}
            await ws.send(client.message("close", {"reason": "end"}))
            assert client.got(await ws.recv())["type"] == "closed"
        finally:
            await ws.close()


async def test_whep_viewer_watches_an_audiohook_session() -> None:
    async with audiohook_server() as srv:
        call = asyncio.ensure_future(
            ah.run_session(ws_url(srv), [tone(4.0), tone(4.0, 330)], custom=GRANTED, realtime=True)
        )
        viewer = None
        try:
            assert await wait_for(lambda: len(srv.hub.calls) == 2, 5.0)
            (session,) = [s for s in await audiohook_sessions(srv) if s["channel"] == "internal"]
            viewer = await whep_view(srv.url, session["id"])
            assert viewer.response["status"] == 201
            track = await asyncio.wait_for(viewer.video, 10)
            frames = await read_frames(track, 10)
            pts = [p for p, _ in frames]
            assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
        finally:
            if viewer is not None:
                await viewer.close()
            result = await call
        assert result.closed and result.close_code == 1000


@pytest.mark.parametrize("custom", [{}, {"consent": "denied"}, {"consent": True}])
async def test_no_consent_disconnects_unauthorized_and_creates_nothing(custom: dict[str, Any]) -> None:
    async with audiohook_server() as srv:
        result = await ah.run_session(ws_url(srv), [tone(0.5), tone(0.5)], custom=custom, realtime=False)
        assert result.opened is None
        assert result.disconnect is not None and result.disconnect["reason"] == "unauthorized"
        assert "consent" in result.disconnect["info"]
        assert [m["type"] for m in result.messages] == ["disconnect", "closed"]
        assert result.closed and result.close_code == 1000
        assert srv.hub.calls == {} and srv.sessions == []


async def raw(srv: RunningServer, steps: Callable[[ClientConnection, ah.Client], Any]) -> tuple[
        dict[str, Any], ah.Client, ClientConnection]:
    """Run ``steps`` on a fresh connection, then expect ``disconnect``, answer ``close``, expect ``closed``."""
    ws = await connect(ws_url(srv))
    client = ah.Client()
    try:
        await steps(ws, client)
        async with asyncio.timeout(5):
            while (message := client.got(await ws.recv()))["type"] != "disconnect":
                pass
        await ws.send(client.message("close", {"reason": "disconnect"}))
        async with asyncio.timeout(5):
            assert client.got(await ws.recv())["type"] == "closed"
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(5):
                await ws.recv()
    finally:
        await ws.close()
    return message["parameters"], client, ws


async def _open(ws: ClientConnection, client: ah.Client, media_stereo: bool = True) -> None:
    await ws.send(client.message("open", ah.open_parameters("c-bad", media_stereo, GRANTED)))
    assert client.got(await ws.recv())["type"] == "opened"


async def malformed_json(ws: ClientConnection, client: ah.Client) -> None:
    await _open(ws, client)
    await ws.send("{\"version\": \"2\", oops")


async def wrong_seq(ws: ClientConnection, client: ah.Client) -> None:
    await _open(ws, client)
    client.seq += 3
    await ws.send(client.message("ping"))


async def audio_before_open(ws: ClientConnection, client: ah.Client) -> None:
    await ws.send(b"\xff" * 1600)


async def unsupported_format(ws: ClientConnection, client: ah.Client) -> None:
    params = ah.open_parameters("c-bad", True, GRANTED)
    params["media"] = [{"type": "audio", "format": "L16", "channels": ["external"], "rate": 16000}]
    await ws.send(client.message("open", params))


async def oversized_frame(ws: ClientConnection, client: ah.Client) -> None:
    await _open(ws, client)
    await ws.send(b"\xff" * 20000)


async def audio_flood(ws: ClientConnection, client: ah.Client) -> None:
    """40 s of stereo audio at once: far past the budget's jitter allowance and flood limit."""
    await _open(ws, client)
    for _ in range(40):
        await ws.send(b"\xff" * 16000)  # 1 s of stereo PCMU each


@pytest.mark.parametrize(
    ("steps", "words", "code"),
    [
        (malformed_json, "malformed JSON", 400),
        (wrong_seq, "seq 5 where 2 was expected", 400),
        (audio_before_open, "audio before open", 409),
        (unsupported_format, "unsupported media", 415),
        (oversized_frame, "over the 16000-byte limit", 413),
        (audio_flood, "audio flood", 429),
    ],
    ids=[
        "malformed-json", "wrong-seq", "audio-before-open", "unsupported-format",
        "oversized-frame", "audio-flood",
    ],
)
async def test_bad_input_gets_error_disconnect_and_a_clean_close(steps: Any, words: str, code: int) -> None:
    async with audiohook_server() as srv:
        params, client, ws = await raw(srv, steps)
        assert params["reason"] == "error" and words in params["info"], params
        errors = [m["parameters"] for m in client.received if m["type"] == "error"]
        assert len(errors) == 1 and errors[0]["code"] == code and words in errors[0]["message"]
        assert ws.close_code == 1000
        assert await wait_for(lambda: not srv.hub.calls, 5.0)
        # the server goes on
        result = await ah.run_session(ws_url(srv), [tone(0.3)], custom=GRANTED, realtime=False)
        assert result.closed and result.close_code == 1000


async def test_a_client_that_vanishes_mid_call_ends_its_sessions() -> None:
    async with audiohook_server() as srv:
        ws = await connect(ws_url(srv))
        client = ah.Client()
        await ws.send(client.message("open", ah.open_parameters("c-gone", True, GRANTED)))
        assert client.got(await ws.recv())["type"] == "opened"
        for frame in ah.frames([tone(0.5), tone(0.5)]):
            await ws.send(frame)
        assert len(srv.hub.calls) == 2
        ws.transport.abort()  # no close message, no close frame
        assert await wait_for(lambda: not srv.hub.calls, 5.0)
        assert all(s.closed for s in srv.sessions)


async def test_a_server_at_its_session_limit_disconnects_and_keeps_nothing() -> None:
    async with audiohook_server(config=ServerConfig(port=0, max_sessions=1)) as srv:
        result = await ah.run_session(ws_url(srv), [tone(0.3), tone(0.3)], custom=GRANTED, realtime=False)
        assert result.opened is None and result.disconnect is not None
        assert result.disconnect["reason"] == "error" and "limit of 1 sessions" in result.disconnect["info"]
        assert result.closed and result.close_code == 1000
        assert await wait_for(lambda: not srv.hub.calls, 5.0)


async def test_a_client_that_does_not_answer_disconnect_is_closed_with_the_faults_code() -> None:
    async with audiohook_server() as srv:
        ws = await connect(ws_url(srv))
        try:
            await ws.send(b"\xff" * 160)
            types = [json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] for _ in range(2)]
            assert types == ["error", "disconnect"]
            with contextlib.suppress(ConnectionClosed):
                async with asyncio.timeout(10):
                    await ws.recv()
            assert ws.close_code == 1003 and "audio before open" in (ws.close_reason or "")
        finally:
            await ws.close()


async def test_a_silent_session_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audiohook, "IDLE_TIMEOUT_S", 0.5)
    async with audiohook_server() as srv:

        async def go_quiet(ws: ClientConnection, client: ah.Client) -> None:
            await _open(ws, client)

        params, _, _ = await raw(srv, go_quiet)
        assert params["reason"] == "error" and "no message for 0.5 s" in params["info"]
        assert await wait_for(lambda: not srv.hub.calls, 5.0)


async def test_api_key_and_signature_are_checked_before_the_upgrade() -> None:
    async with audiohook_server(AudioHookConfig(KEY, SECRET)) as srv:
        url = ws_url(srv)
        ok = await ah.run_session(url, [tone(0.3)], api_key=KEY, secret=SECRET, custom=GRANTED, realtime=False)
        assert ok.closed and ok.close_code == 1000
        for kwargs, words in [
            ({}, "X-API-KEY"),
            ({"api_key": "wrong-key-wrong"}, "X-API-KEY"),
            ({"api_key": KEY}, "missing Signature-Input"),
            ({"api_key": KEY, "secret": "d3Jvbmcgc2VjcmV0"}, "does not match"),
        ]:
            with pytest.raises(ClientError, match=f"HTTP 401.*{words}"):
                await ah.run_session(url, [tone(0.3)], custom=GRANTED, realtime=False, **kwargs)
        assert srv.hub.calls == {} and len(srv.sessions) == 1  # refusals made none


async def test_a_replayed_signed_upgrade_is_refused() -> None:
    async with audiohook_server(AudioHookConfig(KEY, SECRET)) as srv:
        url = ws_url(srv)
        headers = {"Audiohook-Organization-Id": "o", "Audiohook-Correlation-Id": "c",
                   "Audiohook-Session-Id": "s", "X-API-KEY": KEY}
        headers.update(ah.sign_headers(url, headers, SECRET, nonce="same-nonce"))
        first = await connect(url, additional_headers=headers)
        await first.close()
        with pytest.raises(Exception, match="401"):
            await connect(url, additional_headers=headers)


async def test_without_an_audiohook_key_the_bearer_token_applies() -> None:
    token = "server-token-123"
    async with audiohook_server(config=ServerConfig(port=0, token=token)) as srv:
        with pytest.raises(ClientError, match="HTTP 401.*bearer"):
            await ah.run_session(ws_url(srv), [tone(0.3)], custom=GRANTED, realtime=False)
        ws = await connect(ws_url(srv), additional_headers={"Authorization": f"Bearer {token}"})
        await ws.close()


def test_bad_config_is_refused() -> None:
    with pytest.raises(Exception, match="too short"):
        create_app(ServerConfig(port=0), FakeSession, AudioHookConfig("short"))
    with pytest.raises(Exception, match="needs the API key"):
        create_app(ServerConfig(port=0), FakeSession, AudioHookConfig(None, SECRET))
    with pytest.raises(Exception, match="base64"):
        create_app(ServerConfig(port=0), FakeSession, AudioHookConfig(KEY, "not base64!"))


async def test_example_client_script_streams_two_wavs(tmp_path: Path) -> None:
    import wave

    paths = []
    for name, freq in (("ext.wav", 200), ("int.wav", 300)):
        path = tmp_path / name
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(16000)
            t = np.arange(8000) / 16000
            wav.writeframes((np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes())
        paths.append(str(path))
    async with audiohook_server(AudioHookConfig(KEY, SECRET)) as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CLIENT), "--url", ws_url(srv), "--key", KEY, "--secret", SECRET,
            "--consent", "granted", "--fast", *paths,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert '"type": "opened"' in out.decode() and "closed: 1000" in out.decode()


def test_client_script_usage_errors(tmp_path: Path) -> None:
    for args, words in [
        (["a.wav", "b.wav", "c.wav"], "one or two"),
        (["--secret", SECRET, "a.wav"], "--secret needs --key"),
        ([str(tmp_path / "missing.wav")], "cannot read"),
    ]:
        out = subprocess.run([sys.executable, str(CLIENT), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (args, out.stderr)
        assert words in out.stderr


async def test_real_sessions_give_the_customer_and_the_agent_their_own_faces(
    shared_voices: dict[Path, str],
) -> None:
    """The real `Session` over stereo mu-law: a female customer (left) and a male agent (right)."""
    from fakes import ShapesEngine, fake_mapper

    from streamface.session import Session

    voices = {p.name: p for p in shared_voices}
    customer = ah.to_phone_audio(*ah.read_wav(voices["flite_female_slt.wav"]))[: 6 * 8000]
    agent = ah.to_phone_audio(*ah.read_wav(voices["espeak_male_m1.wav"]))[: 6 * 8000]
    engine = ShapesEngine(64)
    traits: dict[str, Any] = {}

    async with audiohook_server(make=lambda n: Session(engine, mapper=fake_mapper)) as srv:

        async def settle() -> None:
            async def both() -> bool:
                for s in await audiohook_sessions(srv):
                    if s["traits"] is not None and s["speech_seconds"] >= 4.0:
                        traits[s["channel"]] = s["traits"]
                return len(traits) == 2

            for _ in range(200):
                if await both():
                    return
                await asyncio.sleep(0.1)

        # In real time: faster than 1.25x real time, the server's audio budget drops the excess.
        result = await ah.run_session(ws_url(srv), [customer, agent], custom=GRANTED, realtime=True,
                                      before_close=settle)
    assert result.closed and result.close_code == 1000
    assert set(traits) == {"external", "internal"}, traits
    assert traits["external"]["perceived_sex"]["label"] == "female"
    assert traits["internal"]["perceived_sex"]["label"] == "male"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--audiohook-key", "short"], "too short"),
        (["--audiohook-secret", SECRET], "needs the API key"),
        (["--audiohook-key", KEY, "--audiohook-secret", "not base64!"], "base64"),
    ],
)
def test_serve_refuses_a_bad_audiohook_config_before_loading_anything(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamface.cli import main

    monkeypatch.delenv("STREAMFACE_AUDIOHOOK_KEY", raising=False)
    monkeypatch.delenv("STREAMFACE_AUDIOHOOK_SECRET", raising=False)
    assert main(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
