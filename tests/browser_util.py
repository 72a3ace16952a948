"""What the real-browser end-to-end tests share: the fake microphone's audio, the page's
JavaScript probes (frame rate from ``getStats``, a frame grab), the pixel checks, and the
call that both browsers must get through (consent, start, video, a face, traits, stop).

Each browser test supplies a :class:`BrowserPage` (its own protocol: DevTools for
Chromium, WebDriver BiDi for Firefox) and runs :func:`check_web_call` on it, so both
browsers are held to exactly the same checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly
from server_util import RunningServer, get_json, wait_for

FAKE_AUDIO_RATE = 48_000  # Chromium's fake capture is happiest with 48 kHz 16-bit WAV

TEST_VOICE = "flite_female_slt.wav"  # the shared voice both browsers' microphones play


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

PAGE_STATE = (
    "JSON.stringify({s: window.streamface && window.streamface.stage,"
    " m: document.getElementById('message').textContent})"
)


def image(grab: dict[str, Any]) -> np.ndarray:
    """A :data:`GRAB` result as an RGB array."""
    return np.asarray(grab["px"], dtype=np.uint8).reshape(grab["h"], grab["w"], 4)[..., :3]


def label_pixels(img: np.ndarray) -> int:
    """Yellow label text in the bottom-left quarter (the label's first line is yellow)."""
    h, w = img.shape[:2]
    corner = img[h // 2 :, : w // 2].astype(np.int16)
    r, g, b = corner[..., 0], corner[..., 1], corner[..., 2]
    return int(np.count_nonzero((r > 170) & (g > 140) & (b < 110) & (r - b > 100)))


class BrowserPage:
    """One browser tab; subclasses speak their browser's protocol in :meth:`js`."""

    async def js(self, expression: str) -> Any:
        """Evaluate a JavaScript expression (promises awaited) and return its JSON value."""
        raise NotImplementedError

    async def diagnostics(self) -> str:
        """Extra browser-specific state for failure messages."""
        return ""

    async def until(self, expression: str, within_s: float, what: str) -> Any:
        """Poll an expression until it is truthy."""
        loop = asyncio.get_running_loop()
        end = loop.time() + within_s
        while True:
            value = await self.js(expression)
            if value:
                return value
            if loop.time() > end:
                state = await self.js(PAGE_STATE)
                extra = await self.diagnostics()
                raise AssertionError(
                    f"timed out waiting for {what}; page state {state}"
                    + (f"; {extra}" if extra else "")
                )
            await asyncio.sleep(0.25)


async def check_web_call(page: BrowserPage, srv: RunningServer) -> None:
    """Consent, start a call, and check what the user sees; then stop it.

    ``page`` has the web client loaded from ``srv``, with a microphone that plays the test
    voice.
    """
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
    placeholder = image(await page.js(GRAB))

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
    face = image(await page.js(GRAB))
    assert face.shape == placeholder.shape
    diff = float(np.abs(face.astype(np.int16) - placeholder.astype(np.int16)).mean())
    assert diff > 3.0, f"the face looks like the placeholder (mean difference {diff:.2f})"
    assert label_pixels(face) > 20, "the visible label is missing from the frame"

    (entry,) = (await _sessions(srv.url))["sessions"]
    assert entry["stage"] != "listening" and entry["speech_seconds"] > 0

    # "Another look": the same voice, other skin, hair and features; kept for the next call.
    assert await page.js("document.getElementById('look').disabled") is False
    await page.js("document.getElementById('look').click()")
    await page.until("document.getElementById('message').textContent.includes('Another look')", 10, "a new look")
    look = await page.js("window.streamface.look")
    assert isinstance(look, int) and look > 0
    assert await page.js("localStorage.getItem('streamface.look')") == str(look)
    (entry,) = (await _sessions(srv.url))["sessions"]
    assert entry["look"] == look
    await asyncio.sleep(1.5)  # the face morphs to the new look
    other = image(await page.js(GRAB))
    change = float(np.abs(other.astype(np.int16) - face.astype(np.int16)).mean())
    assert change > 2.0, f"another look left the face as it was (mean difference {change:.2f})"
    # "My voice's look" goes back to the voice's own look, for this call and the next.
    assert await page.js("document.getElementById('own-look').disabled") is False
    await page.js("document.getElementById('own-look').click()")
    await page.until("document.getElementById('message').textContent.includes('own look')", 10, "the voice's look")
    assert await page.js("window.streamface.look") == 0
    assert await page.js("localStorage.getItem('streamface.look')") == "0"
    assert await page.js("document.getElementById('own-look').disabled") is True
    (entry,) = (await _sessions(srv.url))["sessions"]
    assert entry["look"] == 0

    await page.js("document.getElementById('stop').click()")
    assert await wait_for(lambda: not srv.hub.calls, 10.0), "stop did not end the session"


async def _sessions(base: str) -> Any:
    status, body = await get_json(f"{base}/sessions")
    assert status == 200
    return body


class JsonSocket:
    """Request/reply plumbing shared by the CDP and BiDi clients: one WebSocket, ids, futures.

    Subclasses build the messages (`_request`) and may watch events (`_event`).
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    def _event(self, msg: dict[str, Any]) -> bool:
        """Handle a message that is not a reply; True when it was one of those."""
        return False

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            if self._event(msg):
                continue
            future = self._waiting.pop(msg.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(msg)

    async def _request(self, msg: dict[str, Any], timeout_s: float = 30.0) -> dict[str, Any]:
        """Send ``msg`` with the next id and wait for the reply to it."""
        self._next += 1
        msg = {"id": self._next, **msg}
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self._ws.send(json.dumps(msg))
        return await asyncio.wait_for(future, timeout_s)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()
