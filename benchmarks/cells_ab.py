"""Issue 18's per-frame work, the drawing of patches against the way before it, in lockstep.

Two live-sized sessions on the same audio, driven like `benchmarks.vp8` (20 ms chunks of
48 kHz audio, an analysis when due, a frame every 1/30 s converted to yuv420p as
`FaceTrack` does, then aiortc's VP8 encoder, each session with its own), one frame of one
then the same frame of the other (which goes first alternates), so that a machine whose
load drifts (shared cores) weighs on both alike:

* ``now``: as shipped: sprite cells and morph frames from the engine's eye and mouth
  patches (`Engine.animate_part`), the VAD deciding frames in batches, the mouth analysed
  when a frame reads it;
* ``before``: the same code with those three switched off: every cell and every morph
  frame drawn by a whole ``engine.animate`` (an engine that draws no parts), the ingest
  deciding each chunk's frames at once, the mouth analysing each chunk as it comes.

Per frame CPU (``time.process_time``, one thread) of ingest, analysis, render + yuv (split
into settled and morphing frames and the last third) and VP8, and each variant's
``pipeline_to_vp8_x`` = (ingest + analysis + render + yuv) / VP8. Options: ``--size N``,
``--seconds S``.
"""

from __future__ import annotations

import dataclasses
import fractions
import time
from collections.abc import Callable
from typing import Any

from benchmarks.vp8 import FPS, _voice_48k


def run(quick: bool = False, size: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    """Run both variants in lockstep; per-variant results under ``before_*`` and ``now_*``."""

    def before(session: Any) -> None:
        from streamface.audio.ingest import AudioIngest
        from streamface.session import BUFFER_SECONDS

        session._audio = AudioIngest(BUFFER_SECONDS)  # each chunk's frames decided at once
        session._mouth._queue_samples = 0  # the mouth analysed at every push

    return lockstep({"before": (False, before), "now": (True, None)}, quick, size, seconds)


Configure = Callable[[Any], None]
"""Changes a new `Session` into a variant's (None: as shipped)."""


def lockstep(
    variants: dict[str, tuple[bool, Configure | None]],
    quick: bool = False,
    size: int | None = None,
    seconds: float | None = None,
    compare: bool = False,
) -> dict[str, Any]:
    """Drive one session per variant in lockstep; results under ``<variant>_*``.

    Args:
        variants: name -> (whether its engine draws eye and mouth patches, a function that
            changes its new session, or None).
        compare: Also count the frames on which the variants' pictures differ
            (``frames_differing``; the comparison is not timed).
    """
    import torch
    from aiortc.codecs.vpx import Vp8Encoder

    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from streamface.face.sprites import layout
    from streamface.server.app import LIVE_SIZE
    from streamface.server.tracks import _render_yuv
    from streamface.session import Session
    from streamface.voice.analyzer import default_analyzer

    torch.set_num_threads(1)
    names = tuple(variants)
    size = size or LIVE_SIZE
    seconds = seconds or (6.0 if quick else 20.0)
    frames_n = int(seconds * FPS)
    pcm = _voice_48k(seconds + 1.0)
    chunk = 960
    layout(size)
    default_analyzer().warm_up()
    sessions: dict[str, Session] = {}
    for name, (parts, configure) in variants.items():
        engine = OnnxRuntimeEngine(size)
        if not parts:
            engine.model = dataclasses.replace(engine.model, parts=())  # cells and morphs by `animate`
        session = Session(engine, fps=FPS, seed=0)
        if configure is not None:
            configure(session)
        session.render_frame(0.0)
        sessions[name] = session
    zero = {"ingest": 0.0, "analysis": 0.0, "render": 0.0, "vp8": 0.0, "settled": 0.0, "morphing": 0.0, "last_third": 0.0}
    cpu = {name: dict(zero) for name in names}
    counts = {name: {"settled": 0, "morphing": 0, "last_third": 0, "analyses": 0} for name in names}
    pushed = dict.fromkeys(names, 0)
    encoders = {name: Vp8Encoder() for name in names}
    time_base = fractions.Fraction(1, 90000)
    differing = 0
    for k in range(frames_n):
        t = k / FPS
        planes: list[bytes] = []
        for name in names if k % 2 else names[::-1]:
            session, acc, n = sessions[name], cpu[name], counts[name]
            c0 = time.process_time()
            while pushed[name] * chunk < (t + 1.0 / FPS) * 48000:
                session.push_audio(pcm[pushed[name] * chunk : (pushed[name] + 1) * chunk], 48000)
                pushed[name] += 1
            c1 = time.process_time()
            if session.analysis_due():
                session.analyze()
                n["analyses"] += 1
            c2 = time.process_time()
            settled = session._morph.at(t)[1]
            yuv, _ = _render_yuv(session.render_frame, t)
            c3 = time.process_time()
            yuv.pts = k * 3000
            yuv.time_base = time_base
            encoders[name].encode(yuv)
            c4 = time.process_time()
            if compare:
                planes.append(b"".join(bytes(p) for p in yuv.planes))
            acc["ingest"] += c1 - c0
            acc["analysis"] += c2 - c1
            acc["render"] += c3 - c2
            acc["vp8"] += c4 - c3
            kind = "settled" if settled else "morphing"
            acc[kind] += c3 - c2
            n[kind] += 1
            if k >= frames_n * 2 // 3:
                acc["last_third"] += c3 - c2
                n["last_third"] += 1
        differing += compare and len(set(planes)) > 1
    out: dict[str, Any] = {"engine": "onnxruntime", "frame_size_px": size, "frames": frames_n}
    if compare:
        out["frames_differing"] = differing
    for name in names:
        session, acc, n = sessions[name], cpu[name], counts[name]
        vp8 = max(acc["vp8"], 1e-9) / frames_n

        def ms(total: float, count: int = frames_n) -> float:
            return round(total / max(count, 1) * 1e3, 3)

        pipeline = acc["ingest"] + acc["analysis"] + acc["render"]
        out.update({
            f"{name}_analyses": n["analyses"],
            f"{name}_sprite_frames": session.sprite_frames,
            f"{name}_composed_morph_frames": session.morph_frames,
            f"{name}_ingest_cpu_ms_per_frame": ms(acc["ingest"]),
            f"{name}_analysis_cpu_ms_per_frame": ms(acc["analysis"]),
            f"{name}_render_yuv_cpu_ms_per_frame": ms(acc["render"]),
            f"{name}_settled_render_yuv_cpu_ms_per_frame": ms(acc["settled"], n["settled"]),
            f"{name}_morphing_render_yuv_cpu_ms_per_frame": ms(acc["morphing"], n["morphing"]),
            f"{name}_morphing_frames": n["morphing"],
            f"{name}_last_third_render_yuv_cpu_ms_per_frame": ms(acc["last_third"], n["last_third"]),
            f"{name}_vp8_encode_cpu_ms_per_frame": ms(acc["vp8"]),
            f"{name}_pipeline_cpu_ms_per_frame": ms(pipeline),
            f"{name}_pipeline_to_vp8_x": round(pipeline / frames_n / vp8, 2),
            f"{name}_ingest_analysis_to_vp8_x": round((acc["ingest"] + acc["analysis"]) / frames_n / vp8, 2),
            f"{name}_render_to_vp8_x": round(acc["render"] / frames_n / vp8, 2),
            f"{name}_settled_render_to_vp8_x": round(acc["settled"] / max(n["settled"], 1) / vp8, 2),
            f"{name}_morphing_render_to_vp8_x": round(acc["morphing"] / max(n["morphing"], 1) / vp8, 2),
            f"{name}_last_third_render_to_vp8_x": round(acc["last_third"] / max(n["last_third"], 1) / vp8, 2),
        })
        out[f"{name}_face_changes"] = len(session.face_changes)
        session.close()
        session.engine.close()
    return out


def main(run: Any, base: str | None = None) -> None:
    """Command line of a lockstep area: ``[--size N] [--seconds S] [--quick]``; JSON out.

    ``base``: the area's default git revision of its "before" modules; given, the command
    line takes ``--base REV`` too and passes it on to ``run``.
    """
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=None, help="frame size in pixels")
    parser.add_argument("--seconds", type=float, default=None, help="length of the talk")
    parser.add_argument("--quick", action="store_true", help="a short run")
    if base is not None:
        parser.add_argument("--base", default=base, help=f"revision of the old modules (default {base})")
    args = parser.parse_args()
    extra = {} if base is None else {"base": args.base}
    print(json.dumps(run(quick=args.quick, size=args.size, seconds=args.seconds, **extra), indent=2))


if __name__ == "__main__":
    main(run)
