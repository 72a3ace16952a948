"""Live server speed: audio-to-mouth latency (p50, p95), first speech to first face, RSS.

The server runs as its own process (``streamface serve`` on a free loopback port, the
default engine and live size); callers are aiortc peers in this process sending a shared
voice over WHIP and receiving the face. The server measures itself (``timing`` in
``GET /sessions``): an audio frame's arrival to the hand-off of the first video frame
rendered after it, intervals between frames handed to the encoder, and the first loud
audio to the first frame showing a face.

Targets (issue 5): latency p95 <= 60 ms; first speech to first face <= 1.5 s. Concurrent
sessions (the knee) and RSS per added session are measured by `benchmarks.load`; here the
server's RSS is reported idle (engine loaded) and with the one session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

VOICE = Path(__file__).resolve().parents[2] / "shared" / "voices" / "flite_female_slt.wav"
INTERVAL_P99_MS = 50.0
LATENCY_P95_MS = 60.0
SPEECH_TO_FACE_S = 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(port: int) -> Any:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamface", "serve", "--port", str(port), "--max-sessions", "32"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _wait_healthy(base: str, proc: subprocess.Popen[bytes], within_s: float = 120.0) -> None:
    end = time.monotonic() + within_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < end:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"server exited: {err[-1500:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    raise TimeoutError("server did not come up")


class _Caller:
    """One aiortc peer: the voice in (looped), the face out (frames counted)."""

    def __init__(self) -> None:
        from aiortc import RTCPeerConnection

        self.pc = RTCPeerConnection()
        self.frames: list[float] = []
        self.location: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._player: Any = None

    async def start(self, base: str, voice: Path) -> None:
        from aiortc import RTCSessionDescription
        from aiortc.contrib.media import MediaPlayer

        self._player = MediaPlayer(str(voice), loop=True)
        self.pc.addTransceiver(self._player.audio, direction="sendonly")
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{base}/whip?consent=true",
                data=self.pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp"},
            ) as resp,
        ):
            if resp.status != 201:
                raise RuntimeError(f"WHIP {resp.status}: {await resp.text()}")
            self.location = resp.headers["Location"]
            answer = await resp.text()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def _on_track(self, track: Any) -> None:
        if track.kind == "video":
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames.append(loop.time())

    async def stop(self, base: str) -> None:
        if self.location:
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as http, http.delete(base + self.location):
                    pass
        await self.pc.close()
        if self._player is not None and self._player.audio is not None:
            self._player.audio.stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def received_fps(self, since: float) -> float:
        ts = [t for t in self.frames if t >= since]
        return 0.0 if len(ts) < 2 else (len(ts) - 1) / (ts[-1] - ts[0])


async def _sessions(base: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/sessions") as resp:
        return list((await resp.json())["sessions"])


async def _round(
    base: str, n: int, seconds: float, warmup: float, server_pid: int | None = None
) -> dict[str, Any]:
    """Run ``n`` concurrent callers; the server's timing of each, after a warm-up."""
    from benchmarks.serving import rss_mb

    callers = [_Caller() for _ in range(n)]
    try:
        await asyncio.gather(*(c.start(base, VOICE) for c in callers))
        await asyncio.sleep(warmup)
        since = asyncio.get_running_loop().time()
        await asyncio.sleep(seconds)
        sessions = await _sessions(base)
        fps = [c.received_fps(since) for c in callers]
        rss = rss_mb(server_pid) if server_pid else None
    finally:
        await asyncio.gather(*(c.stop(base) for c in callers), return_exceptions=True)
    timing = [s["timing"] for s in sessions]
    p99 = [t["frame_interval_ms_p99"] for t in timing if t["frame_interval_ms_p99"] is not None]
    return {
        "sessions": n,
        "frame_interval_ms_p99_worst": max(p99) if p99 else None,
        "received_fps_min": round(min(fps), 1) if fps else 0.0,
        "audio_to_frame_ms_p50": [t["audio_to_frame_ms_p50"] for t in timing],
        "audio_to_frame_ms_p95": [t["audio_to_frame_ms_p95"] for t in timing],
        "speech_to_face_s": [t["speech_to_face_s"] for t in timing],
        "rss_mb": rss,
    }


async def _run(quick: bool) -> dict[str, Any]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    from benchmarks.serving import rss_mb

    with _server(port) as proc:
        await _wait_healthy(base, proc)
        await asyncio.sleep(1.0)
        rss_idle = rss_mb(proc.pid)
        # one caller from a cold session: latency and first speech to first face
        single = await _round(base, 1, seconds=4.0 if quick else 8.0, warmup=2.0, server_pid=proc.pid)
        rss_one = single.pop("rss_mb", None)
    latency = single["audio_to_frame_ms_p95"][0]
    s2f = single["speech_to_face_s"][0]
    return {
        "audio_to_mouth_ms_p50": single["audio_to_frame_ms_p50"][0],
        "audio_to_mouth_ms_p95": latency,
        "audio_to_mouth_ms_p95_target": LATENCY_P95_MS,
        "meets_latency_target": latency is not None and latency <= LATENCY_P95_MS,
        "first_speech_to_face_s": s2f,
        "first_speech_to_face_s_target": SPEECH_TO_FACE_S,
        "meets_speech_to_face_target": s2f is not None and s2f <= SPEECH_TO_FACE_S,
        "frame_interval_ms_p99_1_session": single["frame_interval_ms_p99_worst"],
        "received_fps_1_session": single["received_fps_min"],
        "server_rss_idle_mb": rss_idle,
        "server_rss_1_session_mb": rss_one,
        "frame_size_px": _frame_size(),
        "engine": "auto",
    }


def _frame_size() -> int:
    from streamface.server.app import LIVE_SIZE

    return LIVE_SIZE


def run(quick: bool = False) -> dict[str, Any]:
    """Measure the live server (loopback only, bounded in sessions and time)."""
    if not VOICE.exists():
        return {"skipped": f"voice not found: {VOICE}"}
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, default=float))
