"""The live server with batched rendering forced on, end to end on loopback.

Real sessions on the real ONNX Runtime engine wrapped in a `BatchingEngine`, real aiortc
callers over WHIP: every caller gets its face at 30 fps, the frames of one tick are
rendered by shared engine calls (the batcher's own counters say so), and a caller that
hangs up leaves the others batching without it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from server_util import get_json, read_frames, running_server, wait_for, whip_call

from engines.batching import BatchingEngine
from streamface.server.tracks import FrameGrid

pytestmark = pytest.mark.slow

VOICES = ("flite_female_slt.wav", "flite_male_awb.wav", "espeak_female_f2.wav")


async def test_batched_server_delivers_every_callers_face(shared_voices: dict[Path, str]) -> None:
    from streamface.server.app import default_session_factory

    factory = default_session_factory(batch="on", batch_window_ms=10.0)
    voices = [next(p for p in shared_voices if p.name == name) for name in VOICES]
    async with running_server(session_factory=factory) as srv:
        clients = [await whip_call(srv.url, voice) for voice in voices]
        try:
            assert all(c.response["status"] == 201 for c in clients)
            tracks = [await asyncio.wait_for(c.video, 15) for c in clients]
            assert len(srv.hub.grids) == 1, "the sessions of one engine share one frame grid"
            ((engine, grid),) = srv.hub.grids.values()
            assert isinstance(engine, BatchingEngine) and isinstance(grid, FrameGrid)
            assert all(isinstance(getattr(s, "engine", None), BatchingEngine) for s in srv.sessions)
            await asyncio.gather(*(read_frames(t, 10, within_s=30) for t in tracks))
            before = engine.stats.calls, engine.stats.batches
            received = await asyncio.gather(*(read_frames(t, 60, within_s=30) for t in tracks))
            for frames in received:
                pts = [p for p, _ in frames]
                assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
                fps = (len(frames) - 1) / (frames[-1][1] - frames[0][1])
                # A tick whose render is late sends VP8 receivers nothing (no re-encoded
                # duplicate), so three callers on a busy 2-core machine can see a few gaps;
                # the 30 fps frame clock itself is test_server_live's.
                assert 15 <= fps <= 36, f"received {fps:.1f} fps"
            calls = engine.stats.calls - before[0]
            batches = engine.stats.batches - before[1]
            assert calls >= 100, "the sessions rendered through the batcher"
            assert calls / batches > 1.5, f"{calls} calls in {batches} engine calls: not batched"
            status, stats = await get_json(srv.url + "/internal/stats")
            assert status == 200
            assert stats["batching"]["onnxruntime"]["batches"] >= batches

            # one caller leaves; the others keep their faces, still batched together
            await clients[0].close()
            await wait_for(lambda: len(srv.hub.calls) == 2, 15)
            assert len(srv.hub.calls) == 2
            before = engine.stats.calls, engine.stats.batches
            again = await asyncio.gather(*(read_frames(t, 45, within_s=30) for t in tracks[1:]))
            assert all(len(f) == 45 for f in again)
            calls = engine.stats.calls - before[0]
            assert calls / max(1, engine.stats.batches - before[1]) > 1.3
        finally:
            for c in clients:
                await c.close()
