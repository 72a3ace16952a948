"""End to end: the example Pipecat bot (clients/pipecat/bot.py) over SmallWebRTCTransport.

A real aiortc peer on loopback posts its offer (with consent) to the bot's HTTP endpoint,
sends a shared test voice as its microphone, and receives the face track. The real
`Session` runs on the ONNX Runtime CPU engine.

Measured (the issue's targets): frames received at >= 25 fps, audio-to-mouth latency in
the processor p95 <= 60 ms, first face <= 1.5 s after speech starts. A p95 over target on a
machine whose load average exceeds twice its cores is reported as an expected failure
with the load, not a pass (`python -m benchmarks --only pipecat` measures it at length).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import aiohttp
import numpy as np
import pytest

pytest.importorskip("pipecat")

from aiohttp import web  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaPlayer  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402
from conftest import SHARED_VOICES  # noqa: E402
from server_util import wait_for  # noqa: E402

BOT = Path(__file__).resolve().parent.parent / "clients" / "pipecat" / "bot.py"
VOICE = SHARED_VOICES / "flite_female_slt.wav"
SIZE = 256


def load_bot() -> ModuleType:
    spec = importlib.util.spec_from_file_location("streamface_pipecat_bot", BOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def post_offer(base: str, pc: RTCPeerConnection, consent: bool) -> tuple[int, dict]:
    await pc.setLocalDescription(await pc.createOffer())
    payload = {"sdp": pc.localDescription.sdp, "type": "offer"}
    if consent:
        payload["consent"] = True
    async with aiohttp.ClientSession() as http, http.post(f"{base}/api/offer", json=payload) as resp:
        return resp.status, await resp.json()


@pytest.mark.slow
async def test_pipecat_bot_sends_the_face_back_over_small_webrtc() -> None:
    if not VOICE.exists():
        pytest.skip(f"shared voice not found: {VOICE}")
    bot = load_bot()
    # the engine loads (and exports its ONNX model) before the call, as a deployed bot's would
    from streamface.adapters.sessions import shared_session_factory

    await asyncio.get_running_loop().run_in_executor(None, shared_session_factory, "auto", SIZE)
    app = bot.make_app(SIZE)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"

    refused = RTCPeerConnection()
    refused.addTransceiver("audio", direction="sendrecv")
    status, _ = await post_offer(base, refused, consent=False)
    await refused.close()
    assert status == 403 and app[bot.BOTS] == []

    pc = RTCPeerConnection()
    video: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda track: video.set_result(track) if track.kind == "video" and not video.done() else None)
    player = MediaPlayer(str(VOICE), loop=True)
    assert player.audio is not None
    pc.addTransceiver(player.audio, direction="sendrecv")  # SmallWebRTC: audio first,
    pc.addTransceiver("video", direction="sendrecv")  # then video
    try:
        status, answer = await post_offer(base, pc, consent=True)
        assert status == 200, answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        track = await asyncio.wait_for(video, 10.0)
        _, _, face = app[bot.BOTS][0]
        loop = asyncio.get_running_loop()
        arrivals: list[float] = []
        frames: list[np.ndarray] = []
        async with asyncio.timeout(30.0):
            while len(arrivals) < 30 * 6:  # ~6 s of video
                frame = await track.recv()
                arrivals.append(loop.time())
                if len(arrivals) % 30 == 0:
                    frames.append(frame.to_ndarray(format="rgb24"))
        assert face.clock is not None
        stats = face.clock.stats
        window = np.array(arrivals[30:])  # past the connection's start-up
        fps_received = (len(window) - 1) / (window[-1] - window[0])
        summary = stats.summary()
        print(f"pipecat e2e: {fps_received:.1f} fps received, {summary}")
        assert fps_received >= 25.0, fps_received
        assert stats.speech_to_face_s is not None and stats.speech_to_face_s <= 1.5, summary
        assert frames[-1].shape == (SIZE, SIZE, 3)
        assert face.clock.session.stage != "listening"
        # the last frames differ (the face moves) and are not the placeholder's grey
        assert float(np.abs(frames[-1].astype(int) - frames[-2].astype(int)).mean()) > 0.1
        p95 = summary["audio_to_frame_ms_p95"]
        assert p95 is not None
        load = os.getloadavg()[0]
        if p95 > 60.0 and load > 2 * (os.cpu_count() or 1):
            # every late render costs a frame of lag; on a machine this oversubscribed the
            # number says more about the neighbours than about the processor
            late_verdict = f"audio-to-mouth p95 {p95} ms > 60 ms with load average {load:.1f}"
        else:
            late_verdict = ""
            assert p95 <= 60.0, summary
    finally:
        await pc.close()
        if player.audio is not None:
            player.audio.stop()
        await wait_for(lambda: not app[bot.TASKS], 10.0)
        await runner.cleanup()
    assert not app[bot.TASKS]  # the pipeline ended when the caller left
    assert face.clock is not None and face.clock.closed
    if late_verdict:
        pytest.xfail(late_verdict)
