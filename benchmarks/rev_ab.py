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
    import fractions
    import time

    import torch
    from aiortc.codecs.vpx import Vp8Encoder

    from benchmarks import vp8 as bench_vp8
    from benchmarks.vp8 import FPS, _voice_48k
    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from streamface.face.sprites import layout
    from streamface.server.tracks import _render_yuv
    from streamface.session import Session
    from streamface.voice.analyzer import default_analyzer

    torch.set_num_threads(1)
    bench_vp8.VOICE = Path(voice)  # this tree's voice: the other tree's path is relative to its folder
    frames_n = int(seconds * FPS)
    pcm = _voice_48k(seconds + 1.0)
    chunk = 960
    layout(size)
    default_analyzer().warm_up()
    engine = OnnxRuntimeEngine(size)
    session = Session(engine, fps=FPS, seed=0)
    encoder = Vp8Encoder()
    time_base = fractions.Fraction(1, 90000)
    acc = dict.fromkeys(("ingest", "analysis", "render", "vp8", "settled", "morphing"), 0.0)
    n = dict.fromkeys(("settled", "morphing", "analyses"), 0)
    pushed = 0
    print("ready", flush=True)
    for line in sys.stdin:
        k = int(line.split()[1])
        t = k / FPS
        c0 = time.process_time()
        while pushed * chunk < (t + 1.0 / FPS) * 48000:
            session.push_audio(pcm[pushed * chunk : (pushed + 1) * chunk], 48000)
            pushed += 1
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
        encoder.encode(yuv)
        c4 = time.process_time()
        digest = hashlib.blake2b(b"".join(bytes(p) for p in yuv.planes), digest_size=16).hexdigest()
        acc["ingest"] += c1 - c0
        acc["analysis"] += c2 - c1
        acc["render"] += c3 - c2
        acc["vp8"] += c4 - c3
        kind = "settled" if settled else "morphing"
        acc[kind] += c3 - c2
        n[kind] += 1
        print(digest, flush=True)
        if k == frames_n - 1:
            break

    def ms(total: float, count: int = frames_n) -> float:
        return round(total / max(count, 1) * 1e3, 3)

    pipeline = acc["ingest"] + acc["analysis"] + acc["render"]
    vp8 = max(acc["vp8"], 1e-9)
    print(json.dumps({
        "analyses": n["analyses"],
        "face_changes": [[round(t, 3), reason] for t, reason in session.face_changes],
        "sprite_frames": session.sprite_frames,
        "composed_morph_frames": session.morph_frames,
        "prepares": session.prepares,
        "ingest_cpu_ms_per_frame": ms(acc["ingest"]),
        "analysis_cpu_ms_per_frame": ms(acc["analysis"]),
        "render_yuv_cpu_ms_per_frame": ms(acc["render"]),
        "settled_render_yuv_cpu_ms_per_frame": ms(acc["settled"], n["settled"]),
        "settled_frames": n["settled"],
        "morphing_render_yuv_cpu_ms_per_frame": ms(acc["morphing"], n["morphing"]),
        "morphing_frames": n["morphing"],
        "vp8_encode_cpu_ms_per_frame": ms(acc["vp8"]),
        "pipeline_cpu_ms_per_frame": ms(pipeline),
        "pipeline_to_vp8_x": round(pipeline / vp8, 3),
    }), flush=True)
    session.close()
    engine.close()


def _voice() -> Path:
    from benchmarks.vp8 import VOICE

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
