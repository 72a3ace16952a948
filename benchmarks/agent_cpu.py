"""The agent's own CPU per live session, split by thread, for one or more source trees.

The knee of `benchmarks.load` moves with everything else on the machine; the agent's own
process CPU time per session-second moves much less. This area starts ``streamface
serve`` from each tree in turn (alternating, ``--reps`` times), connects ``--sessions``
aiortc callers (`benchmarks.serving`: the shared voice in over WHIP, the face back),
waits ``--warmup`` seconds and then measures over ``--seconds``:

* the server process's CPU time per session-second and per frame handed out (frames
  handed, not 30 fps assumed: a saturated machine resends frames instead of rendering);
* the same split by thread (``/proc/PID/task``), grouped by the Python thread's name when
  ``py-spy`` is installed (``MainThread`` is the event loop: RTP, SRTP, audio ingest;
  ``sf-render`` drawing and YUV; ``asyncio`` aiortc's encoder pool; ``sf-analyze`` voice
  analysis; ``audio-decoder`` aiortc's Opus decoding);
* audio to mouth p95 and frame-interval p99 per session, as the server times them.

Usage: ``python -m benchmarks.agent_cpu --tree BEFORE --tree AFTER [--sessions 2]
[--reps 3] [--out benchmarks/results]``. Medians per tree are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import serving

ROOT = Path(__file__).resolve().parents[1]


def _task_cpu(pid: int) -> dict[int, float]:
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _thread_names(pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name (numbered pool suffixes dropped), via py-spy."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return {}
    try:
        text = subprocess.run(
            [spy, "dump", "--pid", str(pid), "--nonblocking"],
            capture_output=True, text=True, timeout=30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names: dict[int, str] = {}
    for m in re.finditer(r'^Thread (\d+) \([^)]*\): "([^"]*)"', text, re.MULTILINE):
        names[int(m.group(1))] = re.sub(r"_\d+$", "", m.group(2))
    return names


async def _measure(tree: Path, sessions: int, seconds: float, warmup: float) -> dict[str, Any]:
    with serving.server(max_sessions=max(sessions, 4), tree=tree) as srv:
        await serving.wait_healthy(srv)
        await asyncio.sleep(1.0)
        callers = await serving.start_callers(srv.base, sessions)
        try:
            await asyncio.sleep(warmup)
            t0 = {s["id"]: s["timing"] for s in await serving.sessions(srv.base)}
            a, c0, w0 = _task_cpu(srv.pid), serving.cpu_seconds(srv.pid), time.monotonic()
            await asyncio.sleep(seconds)
            b, c1, w1 = _task_cpu(srv.pid), serving.cpu_seconds(srv.pid), time.monotonic()
            t1 = await serving.sessions(srv.base)
            names = _thread_names(srv.pid)
        finally:
            await serving.stop_callers(srv.base, callers)
    wall = w1 - w0
    assert c0 is not None and c1 is not None, "needs /proc"
    handed = sum(s["timing"]["frames_handed"] - t0[s["id"]]["frames_handed"] for s in t1)
    rendered = sum(s["timing"]["frames_rendered"] - t0[s["id"]]["frames_rendered"] for s in t1)
    threads: collections.defaultdict[str, float] = collections.defaultdict(float)
    for tid, cpu in b.items():
        threads[names.get(tid, "other")] += cpu - a.get(tid, 0.0)
    return {
        "agent_cpu_ms_per_session_s": round(1000 * (c1 - c0) / (wall * sessions), 1),
        "agent_cpu_ms_per_frame_handed": round(1000 * (c1 - c0) / max(handed, 1), 3),
        "fps_handed": round(handed / wall / sessions, 2),
        "fps_rendered": round(rendered / wall / sessions, 2),
        "thread_cpu_ms_per_frame_handed": {
            k: round(1000 * v / max(handed, 1), 3) for k, v in sorted(threads.items(), key=lambda kv: -kv[1])
        },
        "audio_to_mouth_ms_p95": [s["timing"]["audio_to_frame_ms_p95"] for s in t1],
        "frame_interval_ms_p99": [s["timing"]["frame_interval_ms_p99"] for s in t1],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def run(
    quick: bool = False,
    trees: list[Path] | None = None,
    reps: int | None = None,
    sessions: int = 2,
    seconds: float | None = None,
    warmup: float | None = None,
) -> dict[str, Any]:
    """Measure each tree ``reps`` times, alternating; per-run rows and per-tree medians."""
    if not serving.VOICE.exists():
        return {"skipped": f"voice not found: {serving.VOICE}"}
    trees = [Path(t).resolve() for t in (trees or [ROOT])]
    reps = reps or (1 if quick else 3)
    seconds = seconds or (8.0 if quick else 20.0)
    warmup = warmup if warmup is not None else (4.0 if quick else 15.0)
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in trees}
    for rep in range(reps):
        for tree in trees:
            row = asyncio.run(_measure(tree, sessions, seconds, warmup))
            runs[str(tree)].append(row)
            print(f"  agent_cpu: {tree.name} rep {rep + 1}: {json.dumps(row)}", file=sys.stderr, flush=True)
    per_tree: dict[str, dict[str, Any]] = {}
    for key_tree, rows in runs.items():
        names = {k for r in rows for k in r["thread_cpu_ms_per_frame_handed"]}
        per_tree[key_tree] = {
            key: round(_median([r[key] for r in rows]), 3)
            for key in ("agent_cpu_ms_per_session_s", "agent_cpu_ms_per_frame_handed", "fps_handed")
        }
        per_tree[key_tree]["thread_cpu_ms_per_frame_handed"] = {
            k: round(_median([r["thread_cpu_ms_per_frame_handed"].get(k, 0.0) for r in rows]), 3)
            for k in sorted(names)
        }
        per_tree[key_tree]["audio_to_mouth_ms_p95_median"] = _median(
            [v for r in rows for v in r["audio_to_mouth_ms_p95"] if v is not None] or [float("nan")]
        )
    return {
        "trees": [str(t) for t in trees],
        "sessions": sessions,
        "seconds": seconds,
        "warmup_s": warmup,
        "reps": reps,
        "per_tree": per_tree,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.agent_cpu``: alternate trees, print medians, write JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.agent_cpu", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tree", action="append", type=Path, help="source tree (repeatable)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--name", default="agent_cpu", help="results file stem")
    args = parser.parse_args(argv)
    result = run(args.quick, args.tree, args.reps, args.sessions, args.seconds, args.warmup)
    print(json.dumps(result.get("per_tree", result), indent=2))
    if args.out is not None:
        from benchmarks.__main__ import write_single

        print(write_single(args.name, result, args.out, args.quick), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
