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
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.frame_step import FPS, FrameStepper, voice_48k


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
            (``frames_differing``; the comparison is not timed) and, with two variants,
            how much their RGB frames differ (`differences`).
    """
    import torch
    from aiortc.codecs.vpx import Vp8Encoder

    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from streamface.face.sprites import layout
    from streamface.server.app import LIVE_SIZE
    from streamface.session import Session
    from streamface.voice.analyzer import default_analyzer

    torch.set_num_threads(1)
    names = tuple(variants)
    size = size or LIVE_SIZE
    seconds = seconds or (6.0 if quick else 20.0)
    frames_n = int(seconds * FPS)
    pcm = voice_48k(seconds + 1.0)
    layout(size)
    default_analyzer().warm_up()
    steppers: dict[str, FrameStepper] = {}
    for name, (parts, configure) in variants.items():
        engine = OnnxRuntimeEngine(size)
        if not parts:
            engine.model = dataclasses.replace(engine.model, parts=())  # cells and morphs by `animate`
        session = Session(engine, fps=FPS, seed=0)
        if configure is not None:
            configure(session)
        session.render_frame(0.0)
        steppers[name] = FrameStepper(session, pcm, frames_n)
    encoders = {name: Vp8Encoder() for name in names}
    differing = 0
    diffs: list[tuple[bool, np.ndarray]] = []
    for k in range(frames_n):
        planes: list[bytes] = []
        for name in names if k % 2 else names[::-1]:
            yuv = steppers[name].frame(k)
            steppers[name].encode(encoders[name], yuv, k)
            if compare:
                planes.append(b"".join(bytes(p) for p in yuv.planes))
        differing += compare and len(set(planes)) > 1
        if compare and len(names) == 2:
            first, second = (steppers[name] for name in names)
            assert first.last_rgb is not None and second.last_rgb is not None
            err = np.abs(first.last_rgb.astype(np.int16) - second.last_rgb)
            diffs.append((first.last_settled and second.last_settled, err))
    out: dict[str, Any] = {"engine": "onnxruntime", "frame_size_px": size, "frames": frames_n}
    if compare:
        out["frames_differing"] = differing
    if diffs:
        out.update(differences(diffs))
    for name, stepper in steppers.items():
        out.update({f"{name}_{key}": value for key, value in stepper.metrics().items()})
        stepper.session.close()
        stepper.session.engine.close()
    return out


def differences(diffs: list[tuple[bool, np.ndarray]]) -> dict[str, Any]:
    """How much two variants' RGB frames differ, over the frames where either morphs and
    over the settled ones: (whether both settled, |a - b| uint levels per pixel and channel)
    per frame."""
    out: dict[str, Any] = {}
    for kind, want in (("morphing", False), ("settled", True)):
        errs = [e for settled, e in diffs if settled == want]
        if not errs:
            continue
        means = [float(e.mean()) for e in errs]
        out[f"{kind}_frames_compared"] = len(errs)
        out[f"{kind}_max_abs_diff"] = max(int(e.max()) for e in errs)
        out[f"{kind}_mean_abs_diff"] = round(float(np.mean(means)), 4)
        out[f"{kind}_worst_frame_mean_abs_diff"] = round(max(means), 4)
        out[f"{kind}_p999_abs_diff"] = round(float(max(np.percentile(e, 99.9) for e in errs)), 1)
        out[f"{kind}_pixels_over_8_levels"] = int(sum(int((e.max(axis=-1) > 8).sum()) for e in errs))
    return out


def against_base(
    before: Configure, base: str, quick: bool = False, size: int | None = None, seconds: float | None = None
) -> dict[str, Any]:
    """`lockstep` of a session changed by ``before`` (modules of revision ``base``) against
    this tree's, both drawing patches, frames compared; ``base`` recorded in the results."""
    out = lockstep({"before": (True, before), "now": (True, None)}, quick, size, seconds, compare=True)
    out["base"] = base
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
