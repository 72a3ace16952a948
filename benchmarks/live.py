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
import json
import sys
import time
from typing import Any

from benchmarks.serving import (
    VOICE,
    rss_mb,
    server,
    sessions,
    start_callers,
    stop_callers,
    wait_healthy,
)

LATENCY_P95_MS = 60.0
SPEECH_TO_FACE_S = 1.5


async def _one_call(base: str, seconds: float, warmup: float, server_pid: int) -> dict[str, Any]:
    """One caller from a cold session; the server's timing of it after a warm-up."""
    (caller,) = await start_callers(base, 1)
    try:
        await asyncio.sleep(warmup)
        since = time.monotonic()
        await asyncio.sleep(seconds)
        (entry,) = await sessions(base)
        received = caller.window(since)
        rss = rss_mb(server_pid)
    finally:
        await stop_callers(base, [caller])
    return {**entry["timing"], "received_fps": received["received_fps"], "rss_mb": rss}


async def _run(quick: bool) -> dict[str, Any]:
    with server() as srv:
        await wait_healthy(srv)
        await asyncio.sleep(1.0)
        rss_idle = rss_mb(srv.pid)
        one = await _one_call(srv.base, 4.0 if quick else 8.0, 2.0, srv.pid)
    latency = one["audio_to_frame_ms_p95"]
    s2f = one["speech_to_face_s"]
    return {
        "audio_to_mouth_ms_p50": one["audio_to_frame_ms_p50"],
        "audio_to_mouth_ms_p95": latency,
        "audio_to_mouth_ms_p95_target": LATENCY_P95_MS,
        "meets_latency_target": latency is not None and latency <= LATENCY_P95_MS,
        "first_speech_to_face_s": s2f,
        "first_speech_to_face_s_target": SPEECH_TO_FACE_S,
        "meets_speech_to_face_target": s2f is not None and s2f <= SPEECH_TO_FACE_S,
        "frame_interval_ms_p99_1_session": one["frame_interval_ms_p99"],
        "received_fps_1_session": one["received_fps"],
        "server_rss_idle_mb": rss_idle,
        "server_rss_1_session_mb": one["rss_mb"],
        "frame_size_px": _frame_size(),
        "engine": "auto",
    }


def _frame_size() -> int:
    from streamface.server.app import LIVE_SIZE

    return LIVE_SIZE


def run(quick: bool = False) -> dict[str, Any]:
    """Measure the live server (loopback only, one session, bounded in time)."""
    if not VOICE.exists():
        return {"skipped": f"voice not found: {VOICE}"}
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, default=float))
