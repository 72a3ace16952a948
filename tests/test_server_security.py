"""The live server refuses what it must: wrong type, garbage, no consent, no token, big bodies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from server_util import running_server, whip_call

from streamface import SYNTHETIC_NOTICE
from streamface.errors import StreamFaceError
from streamface.server.app import create_app
from streamface.server.auth import SYNTHETIC_HEADER, ServerConfig, is_loopback

SDP = {"Content-Type": "application/sdp"}
TOKEN = "s3cret-token-for-tests"


async def _post(url: str, data: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def test_wrong_content_type_is_415() -> None:
    async with running_server() as srv:
        status, headers, body = await _post(
            f"{srv.url}/whip?consent=true", "v=0\r\n", {"Content-Type": "text/plain"}
        )
        assert status == 415 and "application/sdp" in body
        assert SYNTHETIC_NOTICE in headers[SYNTHETIC_HEADER]
        status, _, _ = await _post(
            f"{srv.url}/whep/x", "v=0\r\n", {"Content-Type": "application/json"}
        )
        assert status == 415


@pytest.mark.parametrize(
    "garbage",
    [
        "hello",
        "v=0\r\nthis is not sdp\r\n",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
        b"\xff\xfe\x00garbage",
    ],
)
async def test_garbage_sdp_is_400(garbage: str | bytes) -> None:
    async with running_server() as srv:
        status, _, body = await _post(f"{srv.url}/whip?consent=true", garbage, SDP)
        assert status == 400, body
        assert "error" in body
        assert srv.hub.calls == {}
        assert all(s.closed for s in srv.sessions)  # a session made for it was closed


async def test_no_consent_is_403_and_nothing_is_created(shared_voices: dict[Path, str]) -> None:
    voice = next(iter(shared_voices))
    async with running_server() as srv:
        client = await whip_call(srv.url, voice, consent=False)
        try:
            assert client.response["status"] == 403
            assert "consent" in client.response["body"]
            assert srv.sessions == [] and srv.hub.calls == {}
        finally:
            await client.close()


async def test_consent_header_is_accepted(shared_voices: dict[Path, str]) -> None:
    voice = next(iter(shared_voices))
    async with running_server() as srv:
        client = await whip_call(
            srv.url, voice, consent=False, headers={"StreamFace-Consent": "true"}
        )
        try:
            assert client.response["status"] == 201
        finally:
            await client.close()


def test_non_loopback_without_token_is_refused_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMFACE_TOKEN", raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.org"):
        with pytest.raises(StreamFaceError, match="token"):
            create_app(ServerConfig(host=host), lambda: None)  # type: ignore[arg-type, return-value]
    create_app(ServerConfig(host="0.0.0.0", token=TOKEN), lambda: None)  # type: ignore[arg-type, return-value]
    monkeypatch.setenv("STREAMFACE_TOKEN", TOKEN)
    assert ServerConfig(host="0.0.0.0").with_env_token().token == TOKEN
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")


def test_cli_refuses_non_loopback_without_token() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "STREAMFACE_TOKEN"}
    out = subprocess.run(
        [sys.executable, "-m", "streamface", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2
    assert "token" in out.stderr


async def test_bearer_token_required_when_configured(shared_voices: dict[Path, str]) -> None:
    voice = next(iter(shared_voices))
    async with running_server(ServerConfig(port=0, token=TOKEN)) as srv:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            status, resp_headers, _ = await _post(
                f"{srv.url}/whip?consent=true", "v=0\r\n", {**SDP, **headers}
            )
            assert status == 401
            assert resp_headers["WWW-Authenticate"].startswith("Bearer")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{srv.url}/sessions") as resp:
                assert resp.status == 401
            async with http.get(
                f"{srv.url}/sessions", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as resp:
                assert resp.status == 200
            async with http.get(f"{srv.url}/healthz") as resp:  # probes and the page stay open
                assert resp.status == 200
            async with http.get(f"{srv.url}/") as resp:
                assert resp.status == 200
        client = await whip_call(srv.url, voice, headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            assert client.response["status"] == 201
        finally:
            await client.close()


async def test_oversized_body_is_413() -> None:
    async with running_server(ServerConfig(port=0, max_body_bytes=4096)) as srv:
        status, _, _ = await _post(f"{srv.url}/whip?consent=true", "v=0\r\n" + "a" * 10_000, SDP)
        assert status == 413
        assert srv.sessions == []

        async def chunks():  # no Content-Length: the limit holds while streaming too
            for _ in range(10):
                yield b"a" * 1000

        status, _, _ = await _post(f"{srv.url}/whip?consent=true", chunks(), SDP)
        assert status == 413


async def test_cross_origin_refused_unless_allowed() -> None:
    config = ServerConfig(port=0, allow_origins=("http://allowed.test",))
    async with running_server(config) as srv, aiohttp.ClientSession() as http:
        async with http.get(f"{srv.url}/sessions", headers={"Origin": "http://evil.test"}) as resp:
            assert resp.status == 403
        async with http.get(
            f"{srv.url}/sessions", headers={"Origin": "http://allowed.test"}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == "http://allowed.test"
        async with http.options(
            f"{srv.url}/whip",
            headers={"Origin": "http://allowed.test", "Access-Control-Request-Method": "POST"},
        ) as resp:
            assert resp.status == 204
        async with http.get(f"{srv.url}/sessions", headers={"Origin": srv.url}) as resp:
            assert resp.status == 200  # same origin (the web client itself)


async def test_pages_and_health_state_the_video_is_synthetic() -> None:
    async with running_server() as srv, aiohttp.ClientSession() as http:
        async with http.get(f"{srv.url}/") as resp:
            page = await resp.text()
            assert resp.status == 200 and SYNTHETIC_HEADER in resp.headers
            for element in ('id="consent"', 'id="start"', 'id="face"', 'id="traits"', 'id="stop"'):
                assert element in page
            assert "AI-generated face" in page
        for name in ("app.js", "style.css"):
            async with http.get(f"{srv.url}/static/{name}") as resp:
                assert resp.status == 200
        async with http.get(f"{srv.url}/healthz") as resp:
            body = await resp.json()
            assert body["ok"] is True and body["synthetic"] is True
        async with http.get(f"{srv.url}/static/../app.py") as resp:
            assert resp.status in (403, 404)


async def test_websockets_need_the_token_a_same_origin_and_small_messages() -> None:
    """Every WebSocket route: bearer token, origin check, message size limit (1009)."""
    config = ServerConfig(port=0, token=TOKEN, max_ws_message_bytes=1024)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with running_server(config) as srv, aiohttp.ClientSession() as http:
        call = srv.hub.create("webrtc")
        routes = (f"{srv.url}/sessions/{call.id}/events", f"{srv.url}/media-stream")
        for url in routes:
            for headers, status in (
                ({}, 401),
                ({"Authorization": "Bearer wrong-token"}, 401),
                ({**auth, "Origin": "http://evil.test"}, 403),
            ):
                if not headers and url.endswith("/media-stream"):
                    continue  # phone platforms send no headers: the token comes in-band
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(url, headers=headers)
                assert refused.value.status == status, (url, headers)
        for url in routes:
            async with http.ws_connect(url, headers=auth) as ws:
                await ws.send_str("x" * 5000)
                while True:
                    msg = await ws.receive(timeout=10)
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
                assert ws.close_code == 1009, url  # message too big
        assert srv.hub.calls.keys() == {call.id}  # the oversized stream created nothing


async def test_whep_answer_states_the_video_is_synthetic(shared_voices: dict[Path, str]) -> None:
    from server_util import whep_view

    voice = next(iter(shared_voices))
    async with running_server() as srv:
        caller = await whip_call(srv.url, voice)
        try:
            assert caller.location is not None
            viewer = await whep_view(srv.url, caller.location.rsplit("/", 1)[-1])
            try:
                assert viewer.response["status"] == 201
                assert SYNTHETIC_NOTICE in viewer.response["headers"][SYNTHETIC_HEADER]
            finally:
                await viewer.close()
        finally:
            await caller.close()
