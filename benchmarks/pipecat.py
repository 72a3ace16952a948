"""The Pipecat example bot over SmallWebRTC, measured from a real aiortc caller.

``python -m benchmarks --only pipecat`` (opt-in). The bot (clients/pipecat/bot.py) runs in
its own process on loopback with the default engine at 256 px, as deployed; one aiortc
peer (this process) posts its offer with consent,
sends a shared test voice (looped) and receives the face track. Reported: frames received
per second (after the first second), the processor's audio-to-mouth latency, first speech
to first face, resent frames (the bot's ``GET /api/stats``). Targets (issue 15): >= 25 fps, p95 <= 60 ms, <= 1.5 s.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BOT = REPO / "clients" / "pipecat" / "bot.py"
VOICE = REPO.parent / "shared" / "voices" / "flite_female_slt.wav"
SIZE = 256
TARGETS = {"target_fps_received": 25.0, "target_audio_to_frame_ms_p95": 60.0, "target_speech_to_face_s": 1.5}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _get(http: Any, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        return resp.status, await resp.json()


async def start_bot(size: int = SIZE) -> tuple[asyncio.subprocess.Process, str]:
    """The example bot in its own process on a free loopback port, once its engine is ready."""
    import aiohttp

    port = _free_port()
    bot = await asyncio.create_subprocess_exec(
        sys.executable, str(BOT), "--port", str(port), "--size", str(size),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(600):  # the engine loads (and may export its model) first
            try:
                if (await _get(http, f"{base}/api/health"))[0] == 200:
                    return bot, base
            except aiohttp.ClientError:
                pass
            if bot.returncode is not None:
                break
            await asyncio.sleep(0.2)
    await stop_bot(bot)
    raise RuntimeError("the Pipecat bot did not get ready")


async def stop_bot(bot: asyncio.subprocess.Process) -> None:
    """End the bot process (SIGTERM, then SIGKILL after 10 s)."""
    if bot.returncode is None:
        bot.terminate()
        try:
            await asyncio.wait_for(bot.wait(), 10.0)
        except TimeoutError:
            bot.kill()
            await bot.wait()


async def measure(seconds: float) -> dict[str, Any]:
    """One call of ``seconds`` seconds of received video to the bot in its own process."""
    import aiohttp
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    bot, base = await start_bot()
    pc = RTCPeerConnection()
    player = MediaPlayer(str(VOICE), loop=True)
    try:
        async with aiohttp.ClientSession() as http:
            video: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            pc.on("track", lambda t: video.set_result(t) if t.kind == "video" and not video.done() else None)
            assert player.audio is not None
            pc.addTransceiver(player.audio, direction="sendrecv")
            pc.addTransceiver("video", direction="sendrecv")
            await pc.setLocalDescription(await pc.createOffer())
            offer = {"sdp": pc.localDescription.sdp, "type": "offer", "consent": True}
            async with http.post(f"{base}/api/offer", json=offer) as resp:
                answer = await resp.json()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
            track = await asyncio.wait_for(video, 10.0)
            loop = asyncio.get_running_loop()
            arrivals: list[float] = []
            end = loop.time() + seconds + 1.0
            while loop.time() < end:
                await track.recv()
                arrivals.append(loop.time())
            _, stats = await _get(http, f"{base}/api/stats")
        (call,) = stats["live"]
        window = np.array(arrivals[30:])
        out: dict[str, Any] = {
            "fps_received": round((len(window) - 1) / (window[-1] - window[0]), 2),
            **{k: v for k, v in call.items() if k not in ("pc_id", "stage")},
            "seconds": seconds,
            "size": SIZE,
            **TARGETS,
        }
    finally:
        await pc.close()
        if player.audio is not None:
            player.audio.stop()
        await stop_bot(bot)
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
