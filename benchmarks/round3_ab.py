"""Issue 18, third round: split part graphs, a new session settled from the start and a
refilled resampler frame, in lockstep.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep` (one
process, one frame of each in turn, each with its own VP8 encoder), both as shipped except
that ``before`` draws every eye and mouth patch with the whole part graph (its engine's
split graphs switched off, `engines.face_split`) and gets its `ParamMorph` (a new
session's first 0.3 s counted as a morph) and `StreamResampler` (a new PyAV frame per
chunk) from commit ``--base``. The compositor's warp into the frame (no copy) is in both. The JSON counts the frames
whose pictures differ (only the listening placeholder's first second may: its cells are
drawn from the first frame on instead of the tenth). Per frame CPU of ingest, analysis,
render + yuv and VP8, and each variant's ``pipeline_to_vp8_x``. Options: ``--size N``,
``--seconds S``, ``--base REV``.

`benchmarks.rev_ab` compares whole trees instead (one process each, which costs both
sides more per frame than one process does).
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks.cells_ab import lockstep
from benchmarks.motion_ab import old_module

BASE = "310bdbc"
"""Main before this round."""


def run(quick: bool = False, size: int | None = None, seconds: float | None = None, base: str = BASE) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    morph = old_module(base, "streamface/motion/morph.py")
    resample = old_module(base, "streamface/audio/resample.py")

    def before(session: Any) -> None:
        session.engine._splits = {}  # every patch by the whole graph
        session._morph = morph.ParamMorph(session._placeholder)
        session._audio._resampler = resample.StreamResampler()

    out = lockstep({"before": (True, before), "now": (True, None)}, quick, size, seconds, compare=True)
    out["base"] = base
    return out


if __name__ == "__main__":
    import json

    args = sys.argv[1:]

    def _opt(name: str) -> str | None:
        return args[args.index(name) + 1] if name in args else None

    size_arg, seconds_arg = _opt("--size"), _opt("--seconds")
    result = run(
        quick="--quick" in args,
        size=None if size_arg is None else int(size_arg),
        seconds=None if seconds_arg is None else float(seconds_arg),
        base=_opt("--base") or BASE,
    )
    print(json.dumps(result, indent=2))
