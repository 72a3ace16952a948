"""Issue 18: the live pipeline of an earlier commit against this tree, in lockstep.

`benchmarks.cells_ab.lockstep` swaps modules inside one process, which works while the
change is in a few leaf modules; a change across the session, the compositor, the engine
and the ingest needs the whole earlier tree. Here each side runs in its own process:
``before`` imports ``streamface`` and ``engines`` from ``git archive <base>`` (unpacked
in a temporary folder), ``now`` from this tree, and both run this file's worker (the same
measuring code). The coordinator steps them one frame at a time, which goes first
alternating, as `lockstep` does, so that a machine whose load drifts (shared cores)
weighs on both alike.

Each worker is driven like `benchmarks.vp8`: 20 ms chunks of 48 kHz audio, an analysis
when due, a frame every 1/30 s converted to yuv420p as `FaceTrack` does, then aiortc's
VP8 encoder. Per frame CPU (``time.process_time`` of the worker, one thread) of ingest,
analysis, render + yuv (split into settled and morphing frames by the side's own morph)
and VP8, each side's ``pipeline_to_vp8_x`` = (ingest + analysis + render + yuv) / VP8,
and ``frames_differing``: frames whose yuv420p planes differ between the sides (their
hashes compared, not timed). Options: ``--base REV`` (default `BASE`), ``--size N``,
``--seconds S``, ``--now REV`` (the ``now`` side from a revision too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BASE = "310bdbc"
"""The tree before issue 18's third round (main after the motion and cadence work)."""


def _worker(size: int, seconds: float, voice: str) -> None:
    """One side: read ``frame k`` lines on stdin, answer each with the frame's yuv hash."""
    import importlib.util

    import torch
    from aiortc.codecs.vpx import Vp8Encoder

    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from streamface.face.sprites import layout
    from streamface.session import Session
    from streamface.voice.analyzer import default_analyzer

    # this tree's stepper, by path: the side's ``benchmarks`` package may predate it
    spec = importlib.util.spec_from_file_location("frame_step", Path(__file__).with_name("frame_step.py"))
    assert spec is not None and spec.loader is not None
    frame_step = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frame_step)

    torch.set_num_threads(1)
    frames_n = int(seconds * frame_step.FPS)
    layout(size)
    default_analyzer().warm_up()
    engine = OnnxRuntimeEngine(size)
    session = Session(engine, fps=frame_step.FPS, seed=0)
    stepper = frame_step.FrameStepper(session, frame_step.voice_48k(seconds + 1.0, Path(voice)), frames_n)
    encoder = Vp8Encoder()
    print("ready", flush=True)
    for line in sys.stdin:
        k = int(line.split()[1])
        yuv = stepper.frame(k)
        stepper.encode(encoder, yuv, k)
        print(hashlib.blake2b(b"".join(bytes(p) for p in yuv.planes), digest_size=16).hexdigest(), flush=True)
        if k == frames_n - 1:
            break
    print(json.dumps({
        **stepper.metrics(),
        "face_changes": [[round(t, 3), reason] for t, reason in session.face_changes],
        "prepares": session.prepares,
    }), flush=True)
    session.close()
    engine.close()


def _voice() -> Path:
    from benchmarks.frame_step import VOICE

    return VOICE


def _tree(rev: str, into: Path) -> Path:
    """This repository at ``rev`` unpacked into ``into`` (tracked files only)."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _start(tree: Path, size: int, seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = ["rev_ab", "--worker", "--size", str(size), "--seconds", str(seconds), "--voice", str(_voice())]
    code = f"import runpy, sys; sys.argv = {argv!r}; runpy.run_path({__file__!r}, run_name='__main__')"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tree, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"worker in {tree} did not start: {line!r}")
    return proc


def _ask(proc: subprocess.Popen[str], line: str) -> str:
    stdin: IO[str] | None = proc.stdin
    stdout: IO[str] | None = proc.stdout
    assert stdin is not None and stdout is not None
    stdin.write(line + "\n")
    stdin.flush()
    answer = stdout.readline().strip()
    if not answer:
        raise RuntimeError(f"a worker ended early (exit {proc.wait()})")
    return answer


def run(
    quick: bool = False,
    size: int | None = None,
    seconds: float | None = None,
    base: str = BASE,
    now: str | None = None,
) -> dict[str, Any]:
    """Both sides in lockstep; results under ``before_*`` and ``now_*``.

    Args:
        quick: A 6 s talk (default 60 s).
        size: Frame size (default 256).
        now: A revision for the ``now`` side too (None: this working tree).
    """
    size = size or 256
    seconds = seconds or (6.0 if quick else 60.0)
    fps = 30
    frames_n = int(seconds * fps)
    with tempfile.TemporaryDirectory(prefix="rev-ab-") as tmp, tempfile.TemporaryDirectory(prefix="rev-ab-") as tmp_now:
        after = ROOT if now is None else _tree(now, Path(tmp_now))
        sides = {"before": _start(_tree(base, Path(tmp)), size, seconds), "now": _start(after, size, seconds)}
        names = list(sides)
        differing = 0
        for k in range(frames_n):
            order = names if k % 2 else names[::-1]
            hashes = {name: _ask(sides[name], f"frame {k}") for name in order}
            differing += len(set(hashes.values())) > 1
        out: dict[str, Any] = {"base": base, "now": now or "working tree", "engine": "onnxruntime", "frame_size_px": size, "frames": frames_n,
                               "frames_differing": differing}
        for name, proc in sides.items():
            assert proc.stdout is not None
            result = json.loads(proc.stdout.readline())
            proc.wait()
            out.update({f"{name}_{key}": value for key, value in result.items()})
    return out


def main() -> None:
    """Command line: ``[--base REV] [--now REV] [--size N] [--seconds S] [--quick]``; JSON out."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=BASE, help="git revision of the 'before' side")
    parser.add_argument("--now", default=None, help="git revision of the 'now' side (default: this tree)")
    parser.add_argument("--size", type=int, default=256, help="frame size in pixels")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the talk")
    parser.add_argument("--quick", action="store_true", help="a 6 s talk")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--voice", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.size, args.seconds, args.voice)
        return
    seconds = 6.0 if args.quick else args.seconds
    print(json.dumps(run(size=args.size, seconds=seconds, base=args.base, now=args.now), indent=2))


if __name__ == "__main__":
    main()
