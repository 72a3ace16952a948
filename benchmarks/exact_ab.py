"""Issue 18, fifth round: exact-output per-frame savings of this tree against ``--base``, in lockstep.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep` (20 ms
chunks of 48 kHz audio, one frame of each in turn, which goes first alternating, each with
its own VP8 encoder), both as shipped except that ``before`` gets the modules this round
changed as commit ``--base`` had them (read with ``git show``): its mouth tracker
(`motion.mouth`), its compositor (`face.sprites.FaceSprites`) and its stream resampler
(`audio.resample`). The changes are meant to
give the same frames: ``frames_differing`` (yuv planes compared) must be 0. Per frame CPU of
ingest, analysis, render + yuv and VP8, and each variant's ``pipeline_to_vp8_x``.
Options: ``--size N``, ``--seconds S``, ``--base REV``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.cells_ab import against_base, main
from benchmarks.motion_ab import draw_with_compositor, old_module

BASE = "6e17055"
"""Main before this round."""


def run(quick: bool = False, size: int | None = None, seconds: float | None = None, base: str = BASE) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    mouth = old_module(base, "streamface/motion/mouth.py")
    sprites = old_module(base, "streamface/face/sprites.py")
    resample = old_module(base, "streamface/audio/resample.py")

    def before(session: Any) -> None:
        motion = session._motion
        motion.mouth = session._mouth = mouth.MouthTracker(history_s=2.0)  # as `Animator` makes it
        draw_with_compositor(session, sprites)
        session._audio._resampler = resample.StreamResampler()

    return against_base(before, base, quick, size, seconds)


if __name__ == "__main__":
    main(run, base=BASE)
