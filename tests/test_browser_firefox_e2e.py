"""The web client in a real headless Firefox, driven over WebDriver BiDi.

The same call as the Chromium test (``browser_util.check_web_call``): the page is opened
from a real server on loopback, consent is ticked, the call started, and the test checks
what a user would see: video at 25 fps or more (from ``getStats``), a face rather than
the placeholder, with the visible label, and traits in ``#traits``; then Stop ends it.

The capture device is substituted, as Chromium's fake device is in the Chromium test:
Firefox's own fake device only plays a tone, so the server would never hear speech. A
preload script (``script.addPreloadScript``, run before the page's scripts) wraps
``navigator.mediaDevices.getUserMedia``: it still calls Firefox's real ``getUserMedia``
(permission granted by pref, Firefox's fake device), then hands the page, instead of that
device's tone track, an ``AudioContext`` ``MediaStreamDestination`` track that loops the
shared test voice. Everything after that track is Firefox's own: the page's JavaScript,
Firefox's WebRTC stack (Opus encode, ICE, DTLS, SRTP, SCTP data channel), the VP8 decode
and the ``<video>`` element the frames are grabbed from.

Two things a headless machine lacks are supplied: an audio output device (Firefox's audio
graph does not run without one, so neither ``AudioContext`` nor ``getUserMedia`` would
ever resolve), as a private PulseAudio server with a null sink; and the plain host ICE
candidates Firefox offers once a page captures a real microphone (a fake device does not
count), by a pref (see ``PREFS``).

Nothing is downloaded: the browser is the system's ``firefox-esr`` (or ``firefox``), whose
built-in WebDriver BiDi server is spoken to over the ``websockets`` package (no
geckodriver). Without Firefox or PulseAudio the test skips (scripts/install-system-deps
installs both).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from browser_util import TEST_VOICE, BrowserPage, JsonSocket, check_web_call, write_fake_mic
from server_util import running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
PULSEAUDIO = shutil.which("pulseaudio")

PREFS: dict[str, bool | int | str] = {
    # no first-run, welcome or default-browser pages, no session restore
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "browser.aboutwelcome.enabled": False,
    "trailhead.firstrun.didSeeAboutWelcome": True,
    "browser.newtabpage.enabled": False,
    "browser.sessionstore.resume_from_crash": False,
    "toolkit.startup.max_resumed_crashes": -1,
    "browser.tabs.warnOnClose": False,
    # no telemetry, studies or experiments
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.normandy.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "browser.discovery.enabled": False,
    # no update checks or background fetches
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "browser.search.update": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # the remote agent's own recommended prefs on top (the default; said for clarity)
    "remote.prefs.recommended": True,
    # media: grant the microphone without a prompt, fake devices, allow autoplay
    # (the equivalents of Chromium's --use-fake-ui-for-media-stream,
    # --use-fake-device-for-media-stream and --autoplay-policy=no-user-gesture-required)
    "media.navigator.permission.disabled": True,
    "media.navigator.streams.fake": True,
    "media.autoplay.default": 0,
    "media.autoplay.block-webaudio": False,
    # Firefox hides host ICE candidates behind mDNS names unless the page is capturing a
    # real camera or microphone (PeerConnectionImpl: obfuscate &=
    # !IsActivelyCapturingOrHasAPermission); a fake device does not count. A user of this
    # page always has the microphone open before the peer connection exists, so their
    # Firefox offers plain host candidates: this pref puts the test on that same path.
    "media.peerconnection.ice.obfuscate_host_addresses": False,
}

# Runs in every new document before its scripts; __VOICE__ becomes the WAV as base64.
MIC_PRELOAD = """() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const realGetUserMedia = md.getUserMedia.bind(md);
  const mic = { calls: 0, state: null, rate: null, seconds: null, error: null };
  Object.defineProperty(window, '__testMic', { value: mic });
  md.getUserMedia = async function getUserMedia(constraints) {
    mic.calls += 1;
    // Firefox's own capture path first (permission, its fake device) ...
    const device = await realGetUserMedia(constraints);
    if (!constraints || !constraints.audio) return device;
    const deviceTracks = device.getTracks();
    try {
      // ... then the test voice in place of the fake device's tone.
      const bytes = Uint8Array.from(atob(__VOICE__), (c) => c.charCodeAt(0));
      const ctx = new AudioContext();
      const buffer = await ctx.decodeAudioData(bytes.buffer);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.loop = true;
      const sink = ctx.createMediaStreamDestination();
      source.connect(sink);
      source.start();
      await ctx.resume();
      Object.assign(mic, { state: ctx.state, rate: ctx.sampleRate, seconds: buffer.duration });
      ctx.onstatechange = () => { mic.state = ctx.state; };
      const [voice] = sink.stream.getAudioTracks();
      const stopVoice = voice.stop.bind(voice);
      voice.stop = () => {
        stopVoice();
        for (const t of deviceTracks) t.stop();
        source.stop();
        ctx.close();
      };
      // The device's own track stays open (the page keeps capturing, as with a real mic)
      // until the page stops the voice.
      for (const t of device.getAudioTracks()) device.removeTrack(t);
      device.addTrack(voice);
      return device;
    } catch (err) {
      mic.error = String(err);
      for (const t of deviceTracks) t.stop();
      throw err;
    }
  };
}"""


class Bidi(JsonSocket):
    """A minimal WebDriver BiDi client over one WebSocket; keeps the page's console log."""

    def __init__(self, ws: Any) -> None:
        self.log: list[str] = []
        super().__init__(ws)

    def _event(self, msg: dict[str, Any]) -> bool:
        if msg.get("type") != "event":
            return False
        if msg.get("method") == "log.entryAdded":
            entry = msg["params"]
            self.log.append(f"{entry.get('level')}: {entry.get('text')}")
            del self.log[:-20]
        return True

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = await self._request({"method": method, "params": params or {}})
        if reply.get("type") == "error":
            raise RuntimeError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        return reply["result"]


class FirefoxPage(BrowserPage):
    """One browsing context (tab)."""

    def __init__(self, bidi: Bidi, context: str) -> None:
        self.bidi = bidi
        self.context = context

    async def js(self, expression: str) -> Any:
        """Evaluate JavaScript (promises awaited) and return its JSON value."""
        # BiDi returns typed remote values; JSON text keeps the result shape CDP gives.
        wrapped = (
            "(async () => { const v = await (" + expression + ");"
            " return v === undefined ? 'null' : JSON.stringify(v); })()"
        )
        result = await self.bidi.send(
            "script.evaluate",
            {
                "expression": wrapped,
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
        )
        if result.get("type") == "exception":
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return json.loads(result["result"]["value"])

    async def diagnostics(self) -> str:
        mic = await self.js("window.__testMic || null")
        return f"test mic {mic}; console {self.bidi.log[-5:]}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of the browser's process group (content processes included)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait()


def _prepare_profile(home: Path, fake_mic: Path) -> tuple[Path, str]:
    """A fresh profile with :data:`PREFS` in user.js, and the preload script with the voice."""
    profile = home / "profile"
    profile.mkdir(parents=True)
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
    )
    voice = base64.b64encode(fake_mic.read_bytes()).decode("ascii")
    return profile, MIC_PRELOAD.replace("__VOICE__", json.dumps(voice))


@contextlib.asynccontextmanager
async def null_audio_sink(folder: Path) -> AsyncIterator[str]:
    """A private PulseAudio server with one null sink; yields its ``PULSE_SERVER`` value.

    Firefox's audio graph only runs (``AudioContext`` leaves "suspended", ``getUserMedia``
    resolves) with an output device; a headless machine has none. The server listens on
    a Unix socket in ``folder`` (mode 0700) only, loads nothing but the null sink and that
    socket, and is stopped (by its pid) on exit.
    """
    assert PULSEAUDIO is not None
    folder.mkdir(mode=0o700, parents=True)  # noqa: ASYNC240 (instant, before anything runs)
    socket = folder / "native"
    env = {
        **os.environ,
        "HOME": str(folder),
        "XDG_RUNTIME_DIR": str(folder),
        "PULSE_RUNTIME_PATH": str(folder / "run"),
        "PULSE_STATE_PATH": str(folder / "state"),
    }
    log = folder / "pulseaudio.log"
    args = [
        PULSEAUDIO,
        "-n",  # no default script: only the modules below
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--use-pid-file=no",
        "--realtime=false",
        "--high-priority=false",
        "--log-target=stderr",
        "--load=module-null-sink sink_name=streamface_null",
        f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
    ]
    with log.open("wb") as out:
        proc = await asyncio.to_thread(
            subprocess.Popen, args, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        for _ in range(100):
            if socket.exists():
                break
            if proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {log.read_text(errors='replace')[-2000:]}")
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("pulseaudio did not open its socket within 5 s")
        yield f"unix:{socket}"
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def firefox(
    home: Path, fake_mic: Path, pulse_server: str
) -> AsyncIterator[Callable[[str], Any]]:
    """A headless Firefox whose pages' microphone plays ``fake_mic``; yields ``open(url)``.

    Its audio goes to ``pulse_server`` (see :func:`null_audio_sink`).

    The profile (and a private HOME) live under ``home``, which is removed afterwards.
    """
    import websockets

    assert FIREFOX is not None
    profile, preload = _prepare_profile(home, fake_mic)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "MOZ_CRASHREPORTER_DISABLE": "1",
        "MOZ_HEADLESS": "1",
        "PULSE_SERVER": pulse_server,
    }
    args = [
        FIREFOX,
        "--headless",
        "--no-remote",
        "--profile",
        str(profile),
        "--remote-debugging-port=0",
        "about:blank",
    ]
    log = home / "firefox.log"  # a file, not a pipe: Firefox is chatty and a full pipe blocks it
    with log.open("wb") as out:
        proc = await asyncio.to_thread(
            subprocess.Popen,
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group, so nothing outlives the test
        )
    bidi: Bidi | None = None
    try:
        port_file = profile / "WebDriverBiDiServer.json"
        server: dict[str, Any] = {}
        for _ in range(600):
            with contextlib.suppress(OSError, ValueError):
                server = json.loads(port_file.read_text())
            if server.get("ws_port"):
                break
            if proc.poll() is not None:
                err = log.read_text(errors="replace")
                raise RuntimeError(f"firefox exited ({proc.returncode}): {err[-2000:]}")
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("firefox did not start its WebDriver BiDi server within 60 s")
        ws = await websockets.connect(f"ws://127.0.0.1:{server['ws_port']}/session", max_size=None)
        bidi = Bidi(ws)
        await bidi.send("session.new", {"capabilities": {}})
        await bidi.send("session.subscribe", {"events": ["log.entryAdded"]})
        await bidi.send("script.addPreloadScript", {"functionDeclaration": preload})

        async def open_page(url: str) -> FirefoxPage:
            assert bidi is not None
            created = await bidi.send("browsingContext.create", {"type": "tab"})
            page = FirefoxPage(bidi, created["context"])
            await bidi.send(
                "browsingContext.navigate",
                {"context": page.context, "url": url, "wait": "complete"},
            )
            await page.until(
                "document.readyState === 'complete' && !!window.streamface", 20, "page load"
            )
            return page

        yield open_page
    finally:
        if bidi is not None:
            with contextlib.suppress(Exception):
                await bidi.send("browser.close")
            await bidi.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(proc.wait, 15)
        _kill_group(proc)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(
    FIREFOX is None,
    reason="firefox-esr (or firefox) is not installed (scripts/install-system-deps installs it)",
)
@pytest.mark.skipif(
    PULSEAUDIO is None,
    reason="pulseaudio is not installed: Firefox's audio graph needs an output device "
    "(a private null sink); scripts/install-system-deps installs it",
)
async def test_web_client_in_firefox(shared_voices: dict[Path, str], tmp_path: Path) -> None:
    from streamface.server.app import default_session_factory

    voice = next(p for p in shared_voices if p.name == TEST_VOICE)
    fake_mic = write_fake_mic(voice, tmp_path / "mic.wav")
    home = tmp_path / "firefox"
    async with (
        null_audio_sink(tmp_path / "pulse") as pulse_server,
        running_server(session_factory=default_session_factory()) as srv,
        firefox(home, fake_mic, pulse_server) as open_page,
    ):
        page = await open_page(srv.url + "/")
        assert await page.js("window.__testMic.calls") == 0  # the substitute is in place
        await check_web_call(page, srv)
        mic = await page.js("window.__testMic")
        assert mic["calls"] == 1 and mic["error"] is None, f"test mic {mic}"
    assert not home.exists(), "the Firefox profile was left behind"
