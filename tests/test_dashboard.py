"""The dashboard and OBS pages in a real headless Chromium against a real server.

A phone call with two tracks streams to ``/media-stream``; the dashboard shows the call
with both faces playing over WHEP, traits with confidence and the synthetic notice, and
drops the call when it stops. The OBS page plays only one session's face at the size the
URL asks for, on a transparent background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from server_util import wait_for
from test_browser_e2e import CHROMIUM, chromium
from test_telephony_server import telephony_server, tone, ws_url
from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "clients" / "python"))

import telephony_client as tc  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (scripts/install-system-deps installs it)",
    ),
]


@contextlib.asynccontextmanager
async def phone_call(url: str, tracks: list[str]) -> AsyncIterator[tuple[ClientConnection, str]]:
    """A live call that keeps sending 20 ms of tone per track until the block ends (then stop)."""
    ws = await connect(url)
    sid = tc.new_stream_sid()
    await ws.send(json.dumps(tc.connected_message()))
    await ws.send(json.dumps(tc.start_message(sid, tracks, {"consent": "granted"})))
    seq = [1]

    async def feed() -> None:
        chunk = 0
        while True:
            chunk += 1
            for i, track in enumerate(tracks):
                seq[0] += 1
                pcm = tone(0.02, 200.0 + 90 * i)
                await ws.send(
                    json.dumps(tc.media_message(sid, track, chunk, tc.encode_mulaw(pcm), seq[0]))
                )
            await asyncio.sleep(0.02)

    feeder = asyncio.ensure_future(feed())
    try:
        yield ws, sid
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeder
        with contextlib.suppress(Exception):
            await ws.send(json.dumps(tc.stop_message(sid, seq[0] + 1)))
        await ws.close()


def _silent_wav(path: Path) -> Path:
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(np.zeros(48000, np.int16).tobytes())
    return path


async def test_dashboard_shows_live_calls_with_faces_and_drops_ended_ones(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    async with (
        telephony_server() as srv,
        chromium(profile, _silent_wav(tmp_path / "mic.wav")) as open_page,
    ):
        page = await open_page(srv.url + "/static/dashboard.html")
        await page.until("window.streamface.polls >= 1", 10, "the first poll")
        assert await page.js("document.getElementById('empty').hidden") is False
        assert "AI-generated" in await page.js("document.getElementById('notice').textContent")

        async with phone_call(ws_url(srv), ["inbound", "outbound"]) as (_, sid):
            await page.until(
                "document.querySelectorAll('.call .face').length === 2", 10, "the call's two faces"
            )
            assert await page.js("document.querySelector('.call').dataset.streamSid") == sid
            tracks = await page.js(
                "[...document.querySelectorAll('.face')].map((f) => f.dataset.track)"
            )
            assert tracks == ["inbound", "outbound"]
            assert await page.js("document.getElementById('empty').hidden") is True
            await page.until("window.streamface.playing === 2", 20, "both faces playing over WHEP")
            await page.until(
                "[...document.querySelectorAll('.face .traits')].every((t) => t.textContent.includes('Confidence'))",
                15,
                "traits with confidence",
            )
            text = await page.js("document.querySelector('.call').textContent")
            assert (
                "Caller (inbound)" in text
                and "Agent (outbound)" in text
                and "Perceived sex" in text
            )
            notices = await page.js(
                "[...document.querySelectorAll('.face .notice')].map((n) => n.textContent)"
            )
            assert len(notices) == 2 and all("AI-generated" in n for n in notices)
            size = await page.js("document.querySelector('.face video').videoWidth")
            assert size == 64  # the fake session's frames

            # a second call appears beside it
            async with phone_call(ws_url(srv), ["inbound"]) as (_, sid2):
                await page.until(
                    "document.querySelectorAll('.call').length === 2", 10, "a second call"
                )
            await page.until(
                "document.querySelectorAll('.call').length === 1", 10, "the second call to go"
            )
            assert await page.js("document.querySelector('.call').dataset.streamSid") == sid

        await page.until(
            "document.querySelectorAll('.call').length === 0", 10, "the call to disappear"
        )
        assert await page.js("document.getElementById('empty').hidden") is False
        assert await page.js("window.streamface.playing") == 0
        await asyncio.sleep(0.5)
        assert all(not call.viewers for call in srv.hub.calls.values())


async def test_obs_page_plays_one_session_sized_and_transparent(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    async with (
        telephony_server() as srv,
        chromium(profile, _silent_wav(tmp_path / "mic.wav")) as open_page,
    ):
        async with phone_call(ws_url(srv), ["inbound", "outbound"]):
            assert await wait_for(lambda: len(srv.hub.calls) == 2, 10)
            outbound = next(
                c.id for c in srv.hub.calls.values() if c.live.info["track"] == "outbound"
            )
            page = await open_page(
                f"{srv.url}/static/obs.html?session={outbound}&w=320&h=240&transparent=1"
            )
            await page.until("window.streamface.state === 'playing'", 20, "the face to play")
            assert await page.js("window.streamface.session") == outbound
            assert await page.js("document.querySelectorAll('video').length") == 1
            box = await page.js(
                "(() => { const r = document.getElementById('face').getBoundingClientRect(); return [r.width, r.height]; })()"
            )
            assert box == [320, 240]
            assert (
                await page.js("getComputedStyle(document.body).backgroundColor")
                == "rgba(0, 0, 0, 0)"
            )
            assert await page.js("document.body.textContent.trim()") == ""  # nothing but the face
            viewers = {c.live.info["track"]: len(c.viewers) for c in srv.hub.calls.values()}
            assert viewers == {"inbound": 0, "outbound": 1}
        await page.until("window.streamface.state === 'ended'", 10, "the page to notice the end")
        assert await page.js("document.getElementById('face').hidden") is True
