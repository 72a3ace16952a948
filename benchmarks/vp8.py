"""The pipeline's per-frame CPU time against VP8 encoding alone of the same frames.

A software WebRTC video path cannot be cheaper than encoding its frames: aiortc encodes
every video frame with its `aiortc.codecs.vpx.Vp8Encoder` (PyAV's libvpx, realtime
deadline, ``cpu-used -6``, one thread at this size, 500 kb/s CBR, then RTP packetizing),
so that is the floor. This area drives one live-sized `Session` (default engine, the
server's frame size) the way the live server does: 20 ms chunks of 48 kHz audio (the
shared voice), an analysis whenever one is due, a frame at 30 fps converted to yuv420p
exactly as `FaceTrack` does; then it encodes those same frames with aiortc's encoder.
CPU time (``time.process_time``) is measured per stage, one thread throughout.

``pipeline_to_vp8_x`` = (ingest + analysis + render + yuv) / VP8 per frame; the render
path alone (no analysis) is ``render_to_vp8_x``. Below 1 the face costs less than the
encoder any WebRTC video needs.
"""

from __future__ import annotations

from typing import Any

from benchmarks.frame_step import FPS, FrameStepper, voice_48k


def run(quick: bool = False, size: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    """Measure the per-frame CPU of the pipeline and of VP8 encoding of its frames.

    The pipeline runs twice on the same audio: as shipped (a settled face composed from
    the engine's cached pictures, a morphing one from its keyframes' pictures and the
    engine's eye and mouth patches, `streamface.face.sprites`) and with ``engine.animate``
    for every frame (``engine_only_*``), so that both ratios come from the same run.
    ``settled_*`` / ``morphing_*`` split the render + yuv cost by the frames' kind;
    ``last_third_*`` is the last third of the run (a face whose cells are mostly cached).
    Options: ``--size N``, ``--seconds S``.
    """
    shipped = _pipeline(quick, size, seconds, sprites=True)
    engine_only = _pipeline(quick, size, seconds, sprites=False)
    keep = ("render_yuv_cpu_ms_per_frame", "pipeline_cpu_ms_per_frame", "vp8_encode_cpu_ms_per_frame",
            "pipeline_to_vp8_x", "render_to_vp8_x", "settled_render_to_vp8_x", "settled_frames",
            "last_third_render_yuv_cpu_ms_per_frame", "last_third_render_to_vp8_x")
    return {**shipped, **{f"engine_only_{k}": engine_only[k] for k in keep}}


def _pipeline(quick: bool, size: int | None, seconds: float | None, sprites: bool) -> dict[str, Any]:
    import torch
    from aiortc.codecs.vpx import Vp8Encoder

    from engines.select import load_engine
    from streamface.face.sprites import layout
    from streamface.server.app import LIVE_SIZE
    from streamface.session import Session
    from streamface.voice.analyzer import default_analyzer

    torch.set_num_threads(1)
    size = size or LIVE_SIZE
    seconds = seconds or (6.0 if quick else 20.0)
    frames_n = int(seconds * FPS)
    engine = load_engine("auto", size)
    layout(size)  # as a server does at its first session, before frames are due
    session = Session(engine, fps=FPS, seed=0, sprites=sprites)
    session.render_frame(0.0)  # warm-up (engine, label fonts)
    default_analyzer().warm_up()  # the speaker encoder loads once per process, not per frame
    stepper = FrameStepper(session, voice_48k(seconds + 1.0), frames_n)
    frames = [stepper.frame(k) for k in range(frames_n)]
    stage = session.stage
    session.close()
    engine_name = engine.name
    engine.close()
    # encoded after the pipeline, so that the encoder's caches see only its own work
    encoder = Vp8Encoder()
    payload_bytes = sum(stepper.encode(encoder, frame, k) for k, frame in enumerate(frames))
    return {
        "engine": engine_name,
        "frame_size_px": size,
        "frames": frames_n,
        "final_stage": stage,
        **stepper.metrics(),
        "vp8_kbps": round(payload_bytes * 8 / seconds / 1000, 1),
        "encoder": "aiortc.codecs.vpx.Vp8Encoder (PyAV libvpx)",
    }


if __name__ == "__main__":
    import json
    import sys

    args = sys.argv[1:]

    def _opt(name: str) -> float | None:
        return float(args[args.index(name) + 1]) if name in args else None

    size_arg, seconds_arg = _opt("--size"), _opt("--seconds")
    print(json.dumps(run(quick="--quick" in args, size=None if size_arg is None else int(size_arg), seconds=seconds_arg), indent=2))
