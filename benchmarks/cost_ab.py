"""Issue 18, fourth round: this tree's per-frame changes against the modules of ``--base``,
in lockstep in one process.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep` (one
frame of each in turn, which goes first alternating, each with its own VP8 encoder), both
as shipped except that ``before`` composes its frames with `FaceSprites` as commit
``--base`` had it (read with ``git show``): a morph frame's eye and mouth patches drawn for
the blended face by the whole part graph, where ``now`` cross-fades the two keyframes'
cached cells. Per frame CPU of ingest, analysis, render + yuv and VP8, each variant's
``pipeline_to_vp8_x``, and how much the two sessions' RGB frames differ (morphing and
settled frames apart: `benchmarks.cells_ab.differences`). Options: ``--size N``,
``--seconds S``, ``--base REV``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.cells_ab import against_base, main
from benchmarks.motion_ab import draw_with_compositor, old_module

BASE = "f446e15"
"""Main before this round."""


def run(quick: bool = False, size: int | None = None, seconds: float | None = None, base: str = BASE) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    sprites = old_module(base, "streamface/face/sprites.py")

    def before(session: Any) -> None:
        draw_with_compositor(session, sprites)

    return against_base(before, base, quick, size, seconds)


if __name__ == "__main__":
    main(run, base=BASE)
