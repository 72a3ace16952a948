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

import fractions
import time
from pathlib import Path
from typing import Any

import numpy as np

FPS = 30
VOICE = Path(__file__).resolve().parents[2] / "shared" / "voices" / "flite_female_slt.wav"


def _voice_48k(seconds: float) -> np.ndarray:
    from streamface.audio import decode_file, resample_array

    if VOICE.exists():
        x = decode_file(VOICE)
    else:  # syllable-like noise bursts
        rng = np.random.default_rng(0)
        env = np.repeat(rng.random(200) > 0.4, 800).astype(np.float32)
        x = (rng.standard_normal(env.size) * 0.1 * env).astype(np.float32)
    reps = int(np.ceil(seconds * 16000 / x.size))
    x = np.tile(x, reps)[: int(seconds * 16000)]
    pcm = np.clip(resample_array(x, 16000, 48000) * 32767, -32768, 32767)
    return pcm.astype(np.int16)


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
    from av import VideoFrame

    from engines.select import load_engine
    from streamface.face.sprites import layout
    from streamface.server.app import LIVE_SIZE
    from streamface.server.tracks import _render_yuv
    from streamface.session import Session

    torch.set_num_threads(1)
    size = size or LIVE_SIZE
    seconds = seconds or (6.0 if quick else 20.0)
    frames_n = int(seconds * FPS)
    pcm = _voice_48k(seconds + 1.0)
    chunk = 960  # 20 ms at 48 kHz
    engine = load_engine("auto", size)
    layout(size)  # as a server does at its first session, before frames are due
    session = Session(engine, fps=FPS, seed=0, sprites=sprites)
    session.render_frame(0.0)  # warm-up (engine, label fonts)
    from streamface.voice.analyzer import default_analyzer

    default_analyzer().warm_up()  # the speaker encoder loads once per process, not per frame
    cpu = {"ingest": 0.0, "analysis": 0.0, "render": 0.0}
    by_kind = {"settled": [0.0, 0], "morphing": [0.0, 0], "last_third": [0.0, 0]}
    frames: list[VideoFrame] = []
    pushed = 0
    analyses = 0
    for k in range(frames_n):
        t = k / FPS
        c0 = time.process_time()
        while pushed * chunk < (t + 1.0 / FPS) * 48000:
            session.push_audio(pcm[pushed * chunk : (pushed + 1) * chunk], 48000)
            pushed += 1
        c1 = time.process_time()
        if session.analysis_due():
            session.analyze()
            analyses += 1
        c2 = time.process_time()
        settled = session._morph.at(t)[1]
        yuv, _ = _render_yuv(session.render_frame, t)
        c3 = time.process_time()
        cpu["ingest"] += c1 - c0
        cpu["analysis"] += c2 - c1
        cpu["render"] += c3 - c2
        kind = by_kind["settled" if settled else "morphing"]
        kind[0] += c3 - c2
        kind[1] += 1
        if k >= frames_n * 2 // 3:
            by_kind["last_third"][0] += c3 - c2
            by_kind["last_third"][1] += 1
        frames.append(yuv)
    stage = session.stage
    sprite_frames = session.sprite_frames
    morph_frames = session.morph_frames
    session.close()
    engine_name = engine.name
    engine.close()

    encoder = Vp8Encoder()
    payload_bytes = 0
    time_base = fractions.Fraction(1, 90000)
    encode_cpu = 0.0
    for k, frame in enumerate(frames):
        frame.pts = k * 3000
        frame.time_base = time_base
        c0 = time.process_time()
        payloads, _ = encoder.encode(frame)
        encode_cpu += time.process_time() - c0
        payload_bytes += sum(len(p) for p in payloads)

    def ms(seconds_total: float, n: int = frames_n) -> float:
        return round(seconds_total / max(n, 1) * 1e3, 3)

    pipeline = cpu["ingest"] + cpu["analysis"] + cpu["render"]
    vp8 = max(encode_cpu, 1e-9)
    vp8_frame = vp8 / frames_n
    settled_s, settled_n = by_kind["settled"]
    morph_s, morph_n = by_kind["morphing"]
    tail_s, tail_n = by_kind["last_third"]
    return {
        "engine": engine_name,
        "frame_size_px": size,
        "frames": frames_n,
        "analyses": analyses,
        "final_stage": stage,
        "sprite_frames": sprite_frames,
        "composed_morph_frames": morph_frames,
        "ingest_cpu_ms_per_frame": ms(cpu["ingest"]),
        "analysis_cpu_ms_per_frame": ms(cpu["analysis"]),
        "render_yuv_cpu_ms_per_frame": ms(cpu["render"]),
        "settled_frames": settled_n,
        "settled_render_yuv_cpu_ms_per_frame": ms(settled_s, settled_n),
        "morphing_render_yuv_cpu_ms_per_frame": ms(morph_s, morph_n),
        "last_third_render_yuv_cpu_ms_per_frame": ms(tail_s, tail_n),
        "pipeline_cpu_ms_per_frame": ms(pipeline),
        "vp8_encode_cpu_ms_per_frame": ms(encode_cpu),
        "vp8_kbps": round(payload_bytes * 8 / seconds / 1000, 1),
        "pipeline_to_vp8_x": round(pipeline / vp8, 2),
        "render_to_vp8_x": round(cpu["render"] / vp8, 2),
        "settled_render_to_vp8_x": round(settled_s / max(settled_n, 1) / vp8_frame, 2),
        "morphing_render_to_vp8_x": round(morph_s / max(morph_n, 1) / vp8_frame, 2),
        "last_third_render_to_vp8_x": round(tail_s / max(tail_n, 1) / vp8_frame, 2),
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
