"""The dashboard in a real headless Chromium shows an AudioHook call: customer and agent faces.

A stereo AudioHook session streams to ``/audiohook``; the dashboard groups both channels
under one contact-center call, titles the faces by party (customer first), plays both
over WHEP, and drops the call when the session closes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_audiohook_server import GRANTED, audiohook_server, tone, ws_url
from test_browser_e2e import CHROMIUM, chromium
from test_dashboard import _silent_wav

from streamface.server import audiohook

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "clients" / "python"))

import audiohook_client as ah  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (scripts/install-system-deps installs it)",
    ),
]


async def test_dashboard_shows_an_audiohook_call_with_customer_and_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audiohook, "IDLE_TIMEOUT_S", 60.0)
    profile = tmp_path / "profile"
    profile.mkdir()
    async with (
        audiohook_server() as srv,
        chromium(profile, _silent_wav(tmp_path / "mic.wav")) as open_page,
    ):
        page = await open_page(srv.url + "/static/dashboard.html")
        await page.until("window.streamface.polls >= 1", 10, "the first poll")
        seen: dict[str, object] = {}

        async def look() -> None:
            await page.until(
                "document.querySelectorAll('.call .face').length === 2", 10, "the call's two faces"
            )
            seen["tracks"] = await page.js(
                "[...document.querySelectorAll('.face')].map((f) => f.dataset.track)"
            )
            seen["text"] = await page.js("document.querySelector('.call').textContent")
            await page.until("window.streamface.playing === 2", 20, "both faces playing over WHEP")

        # one second of audio, then the session stays open (and quiet) while the page looks
        result = await ah.run_session(
            ws_url(srv), [tone(1.0), tone(1.0, 330)], custom=GRANTED,
            conversation_id="conv-dash", realtime=False, before_close=look,
        )
        assert result.closed and result.close_code == 1000
        assert seen["tracks"] == ["external", "internal"]
        text = str(seen["text"])
        assert "Contact-center call conv-dash" in text
        assert "Customer (external)" in text and "Agent (internal)" in text
        await page.until(
            "document.querySelectorAll('.call').length === 0", 10, "the call to disappear"
        )
