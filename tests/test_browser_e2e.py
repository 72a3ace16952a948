"""The web client in a real headless Chromium, driven over the DevTools protocol.

Chromium's fake microphone plays a shared test voice; the page is opened from a real
server on loopback, consent is ticked, the call started, and the test checks what a user
would see: video at 25 fps or more (from ``getStats``), a face rather than the
placeholder, with the visible label, and traits in ``#traits``.

Nothing is downloaded: the browser is the system's ``chromium`` and the protocol is spoken
over the ``websockets`` package. Without chromium the test skips (CI installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.signal import resample_poly
from server_util import get_json, running_server, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FAKE_AUDIO_RATE = 48_000  # Chromium's fake capture is happiest with 48 kHz 16-bit WAV


def write_fake_mic(voice: Path, out: Path) -> Path:
    """The voice as 48 kHz mono 16-bit WAV (what ``--use-file-for-fake-audio-capture`` takes)."""
    with wave.open(str(voice)) as src:
        rate = src.getframerate()
        pcm = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
        if src.getnchannels() > 1:
            pcm = pcm.reshape(-1, src.getnchannels()).mean(axis=1).astype(np.int16)
    if rate != FAKE_AUDIO_RATE:
        pcm = np.clip(resample_poly(pcm.astype(np.float32), FAKE_AUDIO_RATE, rate), -32768, 32767)
    with wave.open(str(out), "wb") as dst:
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(FAKE_AUDIO_RATE)
        dst.writeframes(np.asarray(pcm, dtype=np.int16).tobytes())
    return out


class Cdp:
    """A minimal Chrome DevTools Protocol client (flattened sessions) over one WebSocket."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            future = self._waiting.pop(msg.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(msg)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self._ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()


class Page:
    """One browser tab."""

    def __init__(self, cdp: Cdp, session: str) -> None:
        self.cdp = cdp
        self.session = session

    async def js(self, expression: str) -> Any:
        """Evaluate JavaScript (promises awaited) and return its JSON value."""
        result = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            self.session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, within_s: float, what: str) -> Any:
        """Poll an expression until it is truthy."""
        loop = asyncio.get_running_loop()
        end = loop.time() + within_s
        while True:
            value = await self.js(expression)
            if value:
                return value
            if loop.time() > end:
                state = await self.js(
                    "JSON.stringify({s: window.streamface && window.streamface.stage, m: document.getElementById('message').textContent})"
                )
                raise AssertionError(f"timed out waiting for {what}; page state {state}")
            await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def chromium(profile: Path, fake_mic: Path) -> AsyncIterator[Callable[[str], Any]]:
    """A headless Chromium with a fake microphone; yields ``open(url) -> Page``."""
    import websockets

    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_mic}",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    proc = await asyncio.to_thread(
        subprocess.Popen, args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    cdp: Cdp | None = None
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
                break
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"chromium exited: {err[-2000:]}")
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        cdp = Cdp(ws)

        async def open_page(url: str) -> Page:
            assert cdp is not None
            target = await cdp.send("Target.createTarget", {"url": "about:blank"})
            attached = await cdp.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            page = Page(cdp, attached["sessionId"])
            await cdp.send("Page.enable", session=page.session)
            await cdp.send("Page.navigate", {"url": url}, page.session)
            await page.until(
                "document.readyState === 'complete' && !!window.streamface", 20, "page load"
            )
            return page

        yield open_page
    finally:
        if cdp is not None:
            with contextlib.suppress(Exception):
                await cdp.send("Browser.close")
            await cdp.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


GRAB = """(() => {
  const v = document.getElementById('face');
  if (!v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  return {w: c.width, h: c.height, px: Array.from(d)};
})()"""

FPS = """(async () => {
  const pc = window.streamface.pc;
  const video = async () => {
    let out = null;
    (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') out = r; });
    return out;
  };
  const a = await video();
  await new Promise((r) => setTimeout(r, 4000));
  const b = await video();
  return {decoded: (b.framesDecoded - a.framesDecoded) / ((b.timestamp - a.timestamp) / 1000),
          reported: b.framesPerSecond || 0, width: b.frameWidth, height: b.frameHeight};
})()"""


def _image(grab: dict[str, Any]) -> np.ndarray:
    return np.asarray(grab["px"], dtype=np.uint8).reshape(grab["h"], grab["w"], 4)[..., :3]


def _label_pixels(img: np.ndarray) -> int:
    """Yellow label text in the bottom-left quarter (the label's first line is yellow)."""
    h, w = img.shape[:2]
    corner = img[h // 2 :, : w // 2].astype(np.int16)
    r, g, b = corner[..., 0], corner[..., 1], corner[..., 2]
    return int(np.count_nonzero((r > 170) & (g > 140) & (b < 110) & (r - b > 100)))


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/install-system-deps installs it)"
)
async def test_web_client_in_chromium(shared_voices: dict[Path, str], tmp_path: Path) -> None:
    from streamface.server.app import default_session_factory

    voice = next(p for p in shared_voices if p.name == "flite_female_slt.wav")
    fake_mic = write_fake_mic(voice, tmp_path / "mic.wav")
    profile = tmp_path / "profile"
    profile.mkdir()
    async with (
        running_server(session_factory=default_session_factory()) as srv,
        chromium(profile, fake_mic) as open_page,
    ):
        page = await open_page(srv.url + "/")
        assert await page.js("document.getElementById('start').disabled") is True
        assert "AI-generated face" in await page.js("document.getElementById('notice').textContent")
        assert srv.hub.calls == {}  # nothing captured before consent and start

        await page.js("document.getElementById('consent').click()")
        assert await page.js("document.getElementById('start').disabled") is False
        await page.js("document.getElementById('start').click()")
        await page.until(
            "window.streamface.pc && window.streamface.pc.connectionState === 'connected'",
            20,
            "connection",
        )
        await page.until("document.getElementById('face').videoWidth > 0", 20, "video")
        placeholder = _image(await page.js(GRAB))

        stats = await page.js(FPS)
        assert stats["decoded"] >= 25, f"video plays at {stats}"

        await page.until(
            "window.streamface.stage && window.streamface.stage !== 'listening'", 30, "a face"
        )
        await page.until(
            "document.getElementById('traits').textContent.includes('Confidence')", 20, "traits"
        )
        traits = await page.js("document.getElementById('traits').textContent")
        assert "Perceived sex" in traits and "%" in traits
        await asyncio.sleep(1.5)  # the face morphs in from the placeholder
        face = _image(await page.js(GRAB))
        assert face.shape == placeholder.shape
        diff = float(np.abs(face.astype(np.int16) - placeholder.astype(np.int16)).mean())
        assert diff > 3.0, f"the face looks like the placeholder (mean difference {diff:.2f})"
        assert _label_pixels(face) > 20, "the visible label is missing from the frame"

        (entry,) = (await _sessions(srv.url))["sessions"]
        assert entry["stage"] != "listening" and entry["speech_seconds"] > 0

        await page.js("document.getElementById('stop').click()")
        assert await wait_for(lambda: not srv.hub.calls, 10.0), "stop did not end the session"


async def _sessions(base: str) -> Any:
    status, body = await get_json(f"{base}/sessions")
    assert status == 200
    return body
