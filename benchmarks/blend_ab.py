"""Issue 18, sixth round: a morph frame composed from its keyframes' pictures no longer
makes the blended face it does not use, against ``--base``, in lockstep.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep`, both as
shipped except that ``before`` renders with `Session.render_frame` and `Session._prepare` as
commit ``--base`` had them (read with ``git show``): every morph frame there cross-fades the
two keyframes' prepared faces (`Engine.blend`, about 3 ms at 256 px on ONNX Runtime), which
only a frame the engine draws whole reads. The frames must be the same:
``frames_differing`` (yuv planes compared) must be 0. Per frame CPU of ingest, analysis,
render + yuv and VP8, and each variant's ``pipeline_to_vp8_x``.
Options: ``--size N``, ``--seconds S``, ``--base REV``.
"""

from __future__ import annotations

import types
from typing import Any

from benchmarks.cells_ab import against_base, main
from benchmarks.motion_ab import old_module

BASE = "395eaff"
"""Main before this round."""


def run(quick: bool = False, size: int | None = None, seconds: float | None = None, base: str = BASE) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    old = old_module(base, "streamface/session.py").Session

    def before(session: Any) -> None:
        for name in ("render_frame", "_prepare"):
            setattr(session, name, types.MethodType(getattr(old, name), session))

    return against_base(before, base, quick, size, seconds)


if __name__ == "__main__":
    main(run, BASE)
