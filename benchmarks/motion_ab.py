"""Issue 18: the per-frame motion and the resampler's output, as an earlier commit had them,
against this tree, in lockstep.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep` (20 ms
chunks of 48 kHz audio, one frame of each in turn, each with its own VP8 encoder), both
as shipped except that ``before`` gets its mouth tracker (`motion.mouth`), idle motion
(`motion.idle`) and stream resampler (`audio.resample`) from the modules of commit
``--base`` (read with ``git show``; default: the tree before this work). The changes are
meant to give the same numbers: the JSON says whether both sessions' frames were equal.
Per frame CPU of ingest, analysis, render + yuv and VP8, and each variant's
``pipeline_to_vp8_x``. Options: ``--size N``, ``--seconds S``, ``--base REV``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.cells_ab import against_base, main

BASE = "8307201"
"""The merge of the cadence work, before the motion and resampler changes."""
ROOT = Path(__file__).resolve().parent.parent


def old_module(rev: str, path: str) -> ModuleType:
    """The module at ``path`` as commit ``rev`` had it, under a name of its own."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    name = f"_{rev}_" + path.removesuffix(".py").replace("/", "_")
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def draw_with_compositor(session: Any, sprites: ModuleType) -> None:
    """Make ``session`` draw its frames with ``sprites.FaceSprites`` (an older compositor)."""
    import streamface.session as session_module

    render = session.render_frame

    def render_frame(t: float) -> Any:
        # The session module's compositor class is the old one for this session's frames
        # (lockstep runs one frame at a time, in one thread).
        shipped = session_module.FaceSprites
        setattr(session_module, "FaceSprites", sprites.FaceSprites)  # noqa: B010 - a class, not a variable
        try:
            return render(t)
        finally:
            setattr(session_module, "FaceSprites", shipped)  # noqa: B010

    session.render_frame = render_frame


def run(quick: bool = False, size: int | None = None, seconds: float | None = None, base: str = BASE) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    mouth = old_module(base, "streamface/motion/mouth.py")
    idle = old_module(base, "streamface/motion/idle.py")
    resample = old_module(base, "streamface/audio/resample.py")

    def before(session: Any) -> None:
        motion = session._motion
        motion.mouth = session._mouth = mouth.MouthTracker()
        motion.idle = idle.IdleMotion(0)  # the seed lockstep's sessions have
        session._audio._resampler = resample.StreamResampler()

    return against_base(before, base, quick, size, seconds)


if __name__ == "__main__":
    main(run, base=BASE)
