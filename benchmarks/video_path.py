"""The agent's per-frame video path after drawing: RGB -> yuv420p -> VP8 -> RTP payloads.

Issue 18's agent cost, the part that every frame of every session pays after the face is
drawn. The frames are a live-sized talk (default engine, the server's frame size, the
shared voice, fed as the server feeds it), rendered once; then the same frames go, in
alternating blocks on one thread (``time.thread_time``), through

* ``before``: what `FaceTrack` and aiortc did until issue 18's agent-cost work: PyAV's
  swscale (one reused context, one thread) and aiortc's own `Vp8Encoder` (temporal
  denoiser on);
* ``after``: `streamface.server.tracks.rgb_to_yuv420p` (OpenCV) and
  `streamface.server.encoder.FaceVp8Encoder` (denoiser off).

Reported per path: CPU per frame for conversion and for encoding + packetizing, the
bitrate (both at aiortc's 500 kb/s CBR target, no REMB), and the picture the receiver
decodes (aiortc's `Vp8Decoder`) against the rendered one: PSNR of Y (against each path's
own yuv420p) and of RGB (against the rendered RGB, so the conversion's error counts too).

Usage: ``python -m benchmarks.video_path [--seconds 20] [--reps 3] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import fractions
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _frames(seconds: float) -> list[np.ndarray]:
    from benchmarks.frame_step import FPS, voice_48k
    from engines.select import load_engine
    from streamface.face.sprites import layout
    from streamface.server.app import LIVE_SIZE
    from streamface.session import Session

    pcm = voice_48k(seconds + 1.0)
    engine = load_engine("auto", LIVE_SIZE)
    layout(LIVE_SIZE)
    session = Session(engine, fps=FPS, seed=0)
    out, pushed = [], 0
    for k in range(int(seconds * FPS)):
        t = k / FPS
        while pushed * 960 < (t + 1.0 / FPS) * 48000:
            session.push_audio(pcm[pushed * 960 : (pushed + 1) * 960], 48000)
            pushed += 1
        if session.analysis_due():
            session.analyze()
        out.append(np.array(session.render_frame(t), np.uint8))
    session.close()
    engine.close()
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return round(10.0 * np.log10(255.0**2 / max(mse, 1e-9)), 2)


def _path(name: str, rgbs: list[np.ndarray]) -> dict[str, Any]:
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame
    from av import VideoFrame
    from av.video.reformatter import VideoReformatter

    from streamface.server.encoder import FaceVp8Encoder
    from streamface.server.tracks import rgb_to_yuv420p

    if name == "before":
        reformatter = VideoReformatter()

        def convert(rgb: np.ndarray) -> VideoFrame:
            frame = VideoFrame.from_ndarray(rgb, format="rgb24")
            return reformatter.reformat(frame, format="yuv420p", threads=1)

        encoder: Vp8Encoder = Vp8Encoder()
    else:
        convert = rgb_to_yuv420p
        encoder = FaceVp8Encoder()
    time_base = fractions.Fraction(1, 90000)
    convert_s = encode_s = 0.0
    size = 0
    encoded: list[tuple[bytes, int]] = []
    sources = []
    for k, rgb in enumerate(rgbs):
        c0 = time.thread_time()
        frame = convert(rgb)
        c1 = time.thread_time()
        frame.pts, frame.time_base = k * 3000, time_base
        payloads, timestamp = encoder.encode(frame)
        c2 = time.thread_time()
        convert_s += c1 - c0
        encode_s += c2 - c1
        size += sum(len(p) for p in payloads)
        encoded.append((b"".join(vp8_depayload(p) for p in payloads), timestamp))
        sources.append(frame.to_ndarray())
    decoder = Vp8Decoder()
    psnr_y, psnr_rgb = [], []
    for (data, timestamp), source, rgb in zip(encoded, sources, rgbs, strict=True):
        (decoded,) = decoder.decode(JitterFrame(data=data, timestamp=timestamp))
        h = rgb.shape[0]
        psnr_y.append(_psnr(decoded.to_ndarray()[:h], source[:h]))
        psnr_rgb.append(_psnr(decoded.to_ndarray(format="rgb24"), rgb))
    n = len(rgbs)
    return {
        "convert_cpu_ms_per_frame": round(1000 * convert_s / n, 4),
        "encode_cpu_ms_per_frame": round(1000 * encode_s / n, 4),
        "kbps": round(size * 8 * 30 / n / 1000, 1),
        "psnr_y_db_mean": round(float(np.mean(psnr_y)), 2),
        "psnr_y_db_worst": round(float(np.min(psnr_y)), 2),
        "psnr_rgb_db_mean": round(float(np.mean(psnr_rgb)), 2),
    }


def run(quick: bool = False, seconds: float | None = None, reps: int | None = None) -> dict[str, Any]:
    """Both paths on the same frames, alternating ``reps`` times; medians of CPU."""
    from streamface.offline import one_core

    one_core()
    rgbs = _frames(seconds or (6.0 if quick else 20.0))
    reps = reps or (1 if quick else 3)
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(reps):
        for name in runs:
            runs[name].append(_path(name, rgbs))
    out: dict[str, Any] = {"frames": len(rgbs), "size_px": list(rgbs[0].shape[:2]), "reps": reps}
    for name, rows in runs.items():
        med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        med["cpu_ms_per_frame"] = round(med["convert_cpu_ms_per_frame"] + med["encode_cpu_ms_per_frame"], 4)
        out[name] = med
    out["cpu_saved_ms_per_frame"] = round(out["before"]["cpu_ms_per_frame"] - out["after"]["cpu_ms_per_frame"], 4)
    out["cpu_ms_per_frame"] = out["after"]["cpu_ms_per_frame"]
    out["cpu_ms_per_frame_before"] = out["before"]["cpu_ms_per_frame"]
    out["psnr_y_db"] = out["after"]["psnr_y_db_mean"]
    out["psnr_y_db_before"] = out["before"]["psnr_y_db_mean"]
    out["runs"] = runs
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.video_path``: print and (with ``--out``) write the result."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.video_path", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.quick, args.seconds, args.reps)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    if args.out is not None:
        from benchmarks.__main__ import write_single

        print(write_single("video_path", result, args.out, args.quick), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
