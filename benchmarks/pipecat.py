"""The Pipecat example bot over SmallWebRTC, measured from a real aiortc caller.

``python -m benchmarks --only pipecat`` (opt-in). The bot (clients/pipecat/bot.py) runs on
loopback with the default engine at 256 px; one aiortc peer posts its offer with consent,
sends a shared test voice (looped) and receives the face track. Reported: frames received
per second (after the first second), the processor's audio-to-mouth latency, first speech
to first face, resent frames. Targets (issue 15): >= 25 fps, p95 <= 60 ms, <= 1.5 s.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BOT = REPO / "clients" / "pipecat" / "bot.py"
VOICE = REPO.parent / "shared" / "voices" / "flite_female_slt.wav"
SIZE = 256
TARGETS = {"target_fps_received": 25.0, "target_audio_to_frame_ms_p95": 60.0, "target_speech_to_face_s": 1.5}


def _bot() -> Any:
    spec = importlib.util.spec_from_file_location("streamface_pipecat_bot", BOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def measure(seconds: float) -> dict[str, Any]:
    """One call of ``seconds`` seconds of received video; the numbers."""
    import aiohttp
    from aiohttp import web
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    from streamface.adapters.sessions import shared_session_factory

    bot = _bot()
    await asyncio.get_running_loop().run_in_executor(None, shared_session_factory, "auto", SIZE)
    runner = web.AppRunner(bot.make_app(SIZE))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    pc = RTCPeerConnection()
    video: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda t: video.set_result(t) if t.kind == "video" and not video.done() else None)
    player = MediaPlayer(str(VOICE), loop=True)
    pc.addTransceiver(player.audio, direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer", "consent": True}
        async with aiohttp.ClientSession() as http, http.post(f"http://127.0.0.1:{port}/api/offer", json=offer) as resp:
            answer = await resp.json()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        track = await asyncio.wait_for(video, 10.0)
        loop = asyncio.get_running_loop()
        arrivals: list[float] = []
        end = loop.time() + seconds + 1.0
        while loop.time() < end:
            await track.recv()
            arrivals.append(loop.time())
        face = runner.app[bot.BOTS][0][2]
        stats = face.clock.stats
        window = np.array(arrivals[30:])
        out: dict[str, Any] = {
            "fps_received": round((len(window) - 1) / (window[-1] - window[0]), 2),
            **stats.summary(),
            "seconds": seconds,
            "size": SIZE,
            **TARGETS,
        }
    finally:
        await pc.close()
        if player.audio is not None:
            player.audio.stop()
        await runner.cleanup()
    out["meets_targets"] = bool(
        out["fps_received"] >= TARGETS["target_fps_received"]
        and (out["audio_to_frame_ms_p95"] or 1e9) <= TARGETS["target_audio_to_frame_ms_p95"]
        and (out["speech_to_face_s"] or 1e9) <= TARGETS["target_speech_to_face_s"]
    )
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark harness's entry: one call, 8 s (quick) or 30 s of video."""
    return asyncio.run(measure(8.0 if quick else 30.0))


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
