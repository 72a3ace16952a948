"""Issue 18, third round: this tree's per-frame changes against the modules of ``--base``,
in lockstep in one process.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep` (one
frame of each in turn, each with its own VP8 encoder), both as shipped except that
``before`` runs the modules this round changed as commit ``--base`` had them (read with
``git show``): its engine draws every eye and mouth patch with the whole part graph (the
split graphs of `engines.face_split` switched off), and it gets `ParamMorph` (a new
session's first 0.3 s counted as a morph), `StreamResampler` and `prepare_chunk` (the
ingest's), and `FaceSprites` (the session's compositors) from ``--base``. The JSON counts
the frames whose pictures differ (only the listening placeholder's first second may: its
cells are drawn from the first frame on instead of the tenth). Per frame CPU of ingest,
analysis, render + yuv and VP8, and each variant's ``pipeline_to_vp8_x``. Options:
``--size N``, ``--seconds S``, ``--base REV``.

`benchmarks.rev_ab` compares whole trees instead (one process each, which costs both
sides more per frame than one process does).
"""

from __future__ import annotations

from typing import Any

from benchmarks.cells_ab import against_base, main
from benchmarks.motion_ab import draw_with_compositor, old_module

BASE = "310bdbc"
"""Main before this round."""


def run(quick: bool = False, size: int | None = None, seconds: float | None = None, base: str = BASE) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    from streamface.session import BUFFER_SECONDS, INGEST_FRAME_BATCH

    morph = old_module(base, "streamface/motion/morph.py")
    resample = old_module(base, "streamface/audio/resample.py")
    ingest = old_module(base, "streamface/audio/ingest.py")
    for name in ("prepare_chunk", "StreamResampler"):  # the old ingest with the old resampler's
        setattr(ingest, name, getattr(resample, name))
    sprites = old_module(base, "streamface/face/sprites.py")

    def before(session: Any) -> None:
        session.engine._splits = {}  # every patch by the whole graph
        session._morph = morph.ParamMorph(session._placeholder)
        session._audio = ingest.AudioIngest(BUFFER_SECONDS, frame_batch=INGEST_FRAME_BATCH)
        draw_with_compositor(session, sprites)

    return against_base(before, base, quick, size, seconds)


if __name__ == "__main__":
    main(run, base=BASE)
