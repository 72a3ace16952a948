"""One session driven frame by frame as the live server drives it, its CPU timed per stage.

Shared by the areas that weigh the live pipeline against VP8 encoding (`benchmarks.vp8`,
`benchmarks.cells_ab` and its lockstep users, `benchmarks.rev_ab`): before each frame,
20 ms chunks of 48 kHz audio up to the frame's time; an analysis when one is due; the
frame converted to yuv420p exactly as `FaceTrack` does; then, where the area encodes in
step, aiortc's VP8 encoder. CPU time is ``time.process_time`` (one thread).

``pipeline_to_vp8_x`` = (ingest + analysis + render + yuv) / VP8 per frame. Render time is
split into settled and morphing frames (by the session's own morph) and the last third of
the run (a face whose cells are mostly cached).

This module imports only ``streamface`` and third-party packages, never other benchmark
modules: `benchmarks.rev_ab` loads it by path beside an earlier tree's ``streamface``.
"""

from __future__ import annotations

import fractions
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from aiortc.codecs.vpx import Vp8Encoder
    from av import VideoFrame

    from streamface.session import Session

FPS = 30
CHUNK = 960
"""Samples per audio push: 20 ms at 48 kHz, as WebRTC delivers Opus frames."""
VOICE = Path(__file__).resolve().parents[2] / "shared" / "voices" / "flite_female_slt.wav"
TIME_BASE = fractions.Fraction(1, 90000)


def voice_48k(seconds: float, voice: Path = VOICE) -> np.ndarray:
    """``seconds`` of int16 48 kHz speech: ``voice`` looped, or syllable-like noise bursts."""
    from streamface.audio import decode_file, resample_array

    if voice.exists():
        x = decode_file(voice)
    else:
        rng = np.random.default_rng(0)
        env = np.repeat(rng.random(200) > 0.4, 800).astype(np.float32)
        x = (rng.standard_normal(env.size) * 0.1 * env).astype(np.float32)
    reps = int(np.ceil(seconds * 16000 / x.size))
    x = np.tile(x, reps)[: int(seconds * 16000)]
    pcm = np.clip(resample_array(x, 16000, 48000) * 32767, -32768, 32767)
    return pcm.astype(np.int16)


class FrameStepper:
    """Steps one `Session` through ``frames`` frames at 30 fps and adds up its CPU per stage."""

    def __init__(self, session: Session, pcm: np.ndarray, frames: int) -> None:
        self.session = session
        self.frames = frames
        self._pcm = pcm
        self._pushed = 0
        self.cpu = dict.fromkeys(("ingest", "analysis", "render", "vp8", "settled", "morphing", "last_third"), 0.0)
        self.count = dict.fromkeys(("settled", "morphing", "last_third", "analyses"), 0)
        self.last_rgb: np.ndarray | None = None
        """The RGB frame of the latest `frame` (for comparing variants; not timed)."""
        self.last_settled = True
        """Whether the latest frame's face was settled (not morphing)."""

    def frame(self, k: int) -> VideoFrame:
        """Frame ``k``: the audio up to its end, a due analysis, the yuv420p frame."""
        from streamface.server.tracks import rgb_to_yuv420p

        session, t = self.session, k / FPS
        c0 = time.process_time()
        while self._pushed * CHUNK < (t + 1.0 / FPS) * 48000:
            session.push_audio(self._pcm[self._pushed * CHUNK : (self._pushed + 1) * CHUNK], 48000)
            self._pushed += 1
        c1 = time.process_time()
        if session.analysis_due():
            session.analyze()
            self.count["analyses"] += 1
        c2 = time.process_time()
        settled = session._morph.at(t)[1]
        # what `FaceTrack`'s render thread does before encoding (public in every tree)
        rgb = np.ascontiguousarray(session.render_frame(t), dtype=np.uint8)
        yuv = rgb_to_yuv420p(rgb)
        c3 = time.process_time()
        self.last_rgb, self.last_settled = rgb, settled
        self.cpu["ingest"] += c1 - c0
        self.cpu["analysis"] += c2 - c1
        self.cpu["render"] += c3 - c2
        kind = "settled" if settled else "morphing"
        self.cpu[kind] += c3 - c2
        self.count[kind] += 1
        if k >= self.frames * 2 // 3:
            self.cpu["last_third"] += c3 - c2
            self.count["last_third"] += 1
        return yuv

    def encode(self, encoder: Vp8Encoder, frame: VideoFrame, k: int) -> int:
        """Encode frame ``k`` as aiortc does, adding its CPU time; the payload bytes."""
        frame.pts = k * 3000
        frame.time_base = TIME_BASE
        c0 = time.process_time()
        payloads, _ = encoder.encode(frame)
        self.cpu["vp8"] += time.process_time() - c0
        return sum(len(p) for p in payloads)

    def metrics(self) -> dict[str, Any]:
        """Per-frame CPU (ms) per stage and each against one VP8 encode (``*_to_vp8_x``)."""
        acc, n, frames = self.cpu, self.count, self.frames
        vp8 = max(acc["vp8"], 1e-9) / frames

        def ms(total: float, count: int = frames) -> float:
            return round(total / max(count, 1) * 1e3, 3)

        def x(total: float, count: int = frames) -> float:
            return round(total / max(count, 1) / vp8, 3)

        pipeline = acc["ingest"] + acc["analysis"] + acc["render"]
        session = self.session
        return {
            "analyses": n["analyses"],
            "face_changes": len(session.face_changes),
            "sprite_frames": session.sprite_frames,
            "composed_morph_frames": session.morph_frames,
            "ingest_cpu_ms_per_frame": ms(acc["ingest"]),
            "analysis_cpu_ms_per_frame": ms(acc["analysis"]),
            "render_yuv_cpu_ms_per_frame": ms(acc["render"]),
            "settled_frames": n["settled"],
            "settled_render_yuv_cpu_ms_per_frame": ms(acc["settled"], n["settled"]),
            "morphing_frames": n["morphing"],
            "morphing_render_yuv_cpu_ms_per_frame": ms(acc["morphing"], n["morphing"]),
            "last_third_render_yuv_cpu_ms_per_frame": ms(acc["last_third"], n["last_third"]),
            "vp8_encode_cpu_ms_per_frame": ms(acc["vp8"]),
            "pipeline_cpu_ms_per_frame": ms(pipeline),
            "pipeline_to_vp8_x": x(pipeline),
            "ingest_analysis_to_vp8_x": x(acc["ingest"] + acc["analysis"]),
            "render_to_vp8_x": x(acc["render"]),
            "settled_render_to_vp8_x": x(acc["settled"], n["settled"]),
            "morphing_render_to_vp8_x": x(acc["morphing"], n["morphing"]),
            "last_third_render_to_vp8_x": x(acc["last_third"], n["last_third"]),
        }
