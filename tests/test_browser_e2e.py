"""The web client in a real headless Chromium, driven over the DevTools protocol.

Chromium's fake microphone plays a shared test voice; the page is opened from a real
server on loopback, consent is ticked, the call started, and the test checks what a user
would see: video at 25 fps or more (from ``getStats``), a face rather than the
placeholder, with the visible label, and traits in ``#traits``. The checks are
``browser_util.check_web_call``, shared with the Firefox test (test_browser_firefox_e2e.py).

Nothing is downloaded: the browser is the system's ``chromium`` and the protocol is spoken
over the ``websockets`` package. Without chromium the test skips (CI installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from browser_util import TEST_VOICE, BrowserPage, JsonSocket, check_web_call, write_fake_mic
from server_util import running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Cdp(JsonSocket):
    """A minimal Chrome DevTools Protocol client (flattened sessions) over one WebSocket."""

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        msg: dict[str, Any] = {"method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        reply = await self._request(msg)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]


class Page(BrowserPage):
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


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/install-system-deps installs it)"
)
async def test_web_client_in_chromium(shared_voices: dict[Path, str], tmp_path: Path) -> None:
    from streamface.server.app import default_session_factory

    voice = next(p for p in shared_voices if p.name == TEST_VOICE)
    fake_mic = write_fake_mic(voice, tmp_path / "mic.wav")
    profile = tmp_path / "profile"
    profile.mkdir()
    async with (
        running_server(session_factory=default_session_factory()) as srv,
        chromium(profile, fake_mic) as open_page,
    ):
        page = await open_page(srv.url + "/")
        await check_web_call(page, srv)
