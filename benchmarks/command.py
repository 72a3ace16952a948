"""`streamface render` and `portrait` as a user runs them: whole commands, wall clock.

Issue 18: the command's own summary line times only its render loop, while a user waits
for the interpreter, the imports, the engine, the voice analysis, the encoder and the
C2PA signature too. This area runs the installed command line as a subprocess
(``python -m streamface render CLIP -o OUT.mp4``, the README's way) and reports the
wall time against the clip's length, for an 8 s clip (a shared voice) and a 30 s one
(two recordings of the same voice, repeated), and ``portrait`` on the 8 s clip. Each
command runs once first to fill the model cache (the ONNX export happens once per
install), then ``reps`` times; the median counts. The child's CPU time (user + system)
is reported beside the wall time: over 1.0 per wall second means two cores were busy.

A second part times the stages of a render inside one process, the way
`streamface.cli.render.run` does them: interpreter start, imports, decoding, engine
load, signer set-up, the render loop (analysis, frames, encoding) and the C2PA signature.

``--tree PATH`` (repeatable) runs the same measurements against other source trees (for
example a checkout of the commit before a change), alternating between them so that a
change in the machine's load hits all of them alike:

    python -m benchmarks.command --tree /tmp/base --tree . --reps 3
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "voices"
VOICE = SHARED / "flite_female_slt.wav"
VOICE_2 = SHARED / "flite_female_slt_2.wav"
TARGET_8S_X = 1.0
"""The whole 8 s command in less wall time than the clip lasts."""
TARGET_30S_X = 3.0
"""A 30 s clip at least 3x real time, whole command."""

STAGES_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
clip, out = sys.argv[1], sys.argv[2]
import streamface.cli
from streamface.cli import render as cli_render
parser = streamface.cli.build_parser()
t_parser = time.perf_counter()
from streamface.offline import load_audio, one_core
audio = load_audio(clip)
t_decode = time.perf_counter()
from engines.select import load_engine
from streamface.provenance import OutputSigner
from streamface.session import Session
t_imports = time.perf_counter()
one_core()
engine = load_engine("auto", 512)
t_engine = time.perf_counter()
signer = OutputSigner(__import__("pathlib").Path(out))
t_signer = time.perf_counter()
session = Session(engine, seed=0, fps=30.0)
t_session = time.perf_counter()
signed = []
def timed_signer(path):
    s = time.perf_counter(); signer(path); signed.append(time.perf_counter() - s)
stats = cli_render.render_to_file(session, audio, __import__("pathlib").Path(out), fps=30.0, size=512, progress=False, signer=timed_signer)
t_render = time.perf_counter()
session.close(); engine.close()
print(json.dumps({
    "parser_and_cli_imports_s": t_parser - t0,
    "decode_s": t_decode - t_parser,
    "engine_session_imports_s": t_imports - t_decode,
    "engine_load_s": t_engine - t_imports,
    "signer_setup_s": t_signer - t_engine,
    "session_setup_s": t_session - t_signer,
    "render_loop_s": t_render - t_session - signed[0],
    "c2pa_sign_s": signed[0],
    "in_process_s": t_render - t0,
    "torch_imported": "torch" in sys.modules,
    "scipy_imported": "scipy" in sys.modules,
    "analyses": session.analyses,
}))
"""


def make_clips(folder: Path) -> dict[str, Path]:
    """The 8 s shared voice and a 30 s clip of the same speaker (16-bit WAV)."""
    from streamface.audio.decode import decode_file

    clips = {"8s": VOICE}
    parts = [decode_file(VOICE), decode_file(VOICE_2) if VOICE_2.exists() else decode_file(VOICE)]
    samples: list[np.ndarray] = []
    total = 0
    while total < 30 * 16000:
        part = parts[len(samples) % 2]
        samples.append(part)
        total += part.size
    x = np.concatenate(samples)[: 30 * 16000]
    path = folder / "voice_30s.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    clips["30s"] = path
    return clips


def clip_seconds(path: Path) -> float:
    from streamface.audio.decode import decode_file

    return decode_file(path).size / 16000


def _env(tree: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["STREAMFACE_CACHE_DIR"] = str(cache)
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one command; raises when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def commands(clips: dict[str, Path], out: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "version": [py, "-m", "streamface", "--version"],
        "render_8s": [py, "-m", "streamface", "render", str(clips["8s"]), "-o", str(out / "r8.mp4")],
        "render_30s": [py, "-m", "streamface", "render", str(clips["30s"]), "-o", str(out / "r30.mp4")],
        "portrait_8s": [py, "-m", "streamface", "portrait", str(clips["8s"]), "-o", str(out / "p.png")],
    }


def run(
    quick: bool = False, trees: list[Path] | None = None, reps: int | None = None
) -> dict[str, Any]:
    """Measure the whole commands (and a render's stages) for each source tree."""
    trees = [Path(t).resolve() for t in (trees or [ROOT])]
    reps = reps or (1 if quick else 2)
    results: dict[str, Any] = {"trees": [str(t) for t in trees], "reps": reps}
    with tempfile.TemporaryDirectory(prefix="sf-command-") as tmp:
        folder = Path(tmp)
        clips = make_clips(folder)
        seconds = {name: clip_seconds(path) for name, path in clips.items()}
        results["clip_seconds"] = {k: round(v, 2) for k, v in seconds.items()}
        cmds = commands(clips, folder)
        caches = {t: folder / f"cache-{i}" for i, t in enumerate(trees)}
        for tree in trees:  # fill each tree's model cache (the one-time export)
            timed(cmds["render_8s"], _env(tree, caches[tree]), folder)
            timed(cmds["portrait_8s"], _env(tree, caches[tree]), folder)
        walls: dict[tuple[Path, str], list[float]] = {}
        cpus: dict[tuple[Path, str], list[float]] = {}
        stages: dict[Path, list[dict[str, Any]]] = {t: [] for t in trees}
        for _ in range(reps):
            for name, cmd in cmds.items():
                for tree in trees:
                    wall, cpu = timed(cmd, _env(tree, caches[tree]), folder)
                    walls.setdefault((tree, name), []).append(wall)
                    cpus.setdefault((tree, name), []).append(cpu)
            for tree in trees:
                done = subprocess.run(
                    [sys.executable, "-c", STAGES_SCRIPT, str(clips["8s"]), str(folder / "s.mp4")],
                    env=_env(tree, caches[tree]), cwd=folder, capture_output=True, text=True, timeout=900,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"stage timing failed: {done.stderr[-2000:]}")
                stages[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
        per_tree: dict[str, Any] = {}
        for tree in trees:
            row: dict[str, Any] = {}
            for name in cmds:
                wall = statistics.median(walls[(tree, name)])
                cpu = statistics.median(cpus[(tree, name)])
                row[f"{name}_wall_s"] = round(wall, 2)
                row[f"{name}_cpu_s"] = round(cpu, 2)
                clip = name.rpartition("_")[2]
                if name.startswith("render") and clip in seconds:
                    row[f"{name}_x_realtime"] = round(seconds[clip] / wall, 2)
            keys = [k for k in stages[tree][0] if k.endswith("_s")]
            row["stages_8s"] = {k: round(statistics.median(s[k] for s in stages[tree]), 3) for k in keys}
            row["stages_8s"]["torch_imported"] = stages[tree][0]["torch_imported"]
            row["stages_8s"]["scipy_imported"] = stages[tree][0]["scipy_imported"]
            per_tree[str(tree)] = row
        results["per_tree"] = per_tree
    main = per_tree[str(trees[-1])]
    results.update({k: v for k, v in main.items() if not isinstance(v, dict)})
    results["stages_8s"] = main["stages_8s"]
    results["target_render_8s_x"] = TARGET_8S_X
    results["target_render_30s_x"] = TARGET_30S_X
    if len(trees) > 1:
        first = per_tree[str(trees[0])]
        results["speedup_vs_first_tree"] = {
            name: round(first[f"{name}_wall_s"] / main[f"{name}_wall_s"], 2) for name in cmds
        }
    with contextlib.suppress(OSError):
        results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.command", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tree", action="append", type=Path, help="source tree (repeatable)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON with the machine here")
    args = parser.parse_args()
    result = run(quick=args.quick, trees=args.tree, reps=args.reps)
    print(json.dumps(result, indent=2))
    if args.out:
        from benchmarks.__main__ import write_single

        print(write_single("command", result, args.out, args.quick), file=sys.stderr)
