"""The live agent's audio side per frame: ingest (20 ms chunks of 48 kHz) and voice analysis.

Issue 18 asks for everything the agent does per frame except encoding to cost at most
1.5x one VP8 encode; this area isolates the two parts that are not rendering. A `Session`
with a renderless engine is fed 30 s of speech (the shared voices, one after another, so
the speaker changes) the way the server feeds it, 20 ms of 48 kHz int16 per push, with an
analysis whenever one is due; the speaker encoder is loaded first. CPU time
(``time.process_time``, one thread) per push and per analysis, and both amortised per
30 fps frame. ``--tree PATH`` (repeatable) measures other source trees in turn, each in its
own process, alternating.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "voices"

SCRIPT = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1] + "/tests")
from fakes import FakeEngine
from streamface.audio.decode import decode_file
from streamface.audio import resample_array
from streamface.session import Session
from streamface.voice.analyzer import default_analyzer
from streamface.offline import one_core
one_core()
default_analyzer().warm_up()
voices = [decode_file(p) for p in sys.argv[2:]]
x = np.concatenate(voices)[: 30 * 16000]
pcm = (np.clip(resample_array(x, 16000, 48000), -1, 1) * 32767).astype(np.int16)
session = Session(FakeEngine(64), fps=30)
push, analyze, per_analysis = 0.0, 0.0, []
for i in range(0, pcm.size - 960 + 1, 960):
    c = time.process_time()
    session.push_audio(pcm[i : i + 960], 48000)
    push += time.process_time() - c
    if session.analysis_due():
        c = time.process_time()
        session.analyze()
        dt = time.process_time() - c
        analyze += dt
        per_analysis.append(dt)
frames = pcm.size / 48000 * 30
chunks = pcm.size // 960
full = per_analysis[len(per_analysis) // 2 :]
print(json.dumps({
    "seconds": pcm.size / 48000,
    "analyses": len(per_analysis),
    "ingest_ms_per_chunk": 1e3 * push / chunks,
    "ingest_ms_per_frame": 1e3 * push / frames,
    "analysis_ms_median": 1e3 * float(np.median(per_analysis)),
    "analysis_ms_median_full_buffer": 1e3 * float(np.median(full)),
    "analysis_ms_per_frame": 1e3 * analyze / frames,
}))
session.close()
"""


def run(quick: bool = False, trees: list[Path] | None = None, reps: int | None = None) -> dict[str, Any]:
    """Ingest and analysis CPU per frame for each source tree (median of ``reps`` runs)."""
    trees = [Path(t).resolve() for t in (trees or [ROOT])]
    reps = reps or (1 if quick else 3)
    voices = [str(p) for p in sorted(SHARED.glob("*.wav"))[:6]]
    if not voices:
        return {"error": f"no shared voices in {SHARED}"}
    samples: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    for _ in range(reps):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run(
                [sys.executable, "-c", SCRIPT, str(tree), *voices],
                env=env, capture_output=True, text=True, timeout=900, cwd=tree,
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            samples[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    per_tree = {}
    for tree, runs in samples.items():
        keys = runs[0].keys()
        per_tree[str(tree)] = {
            k: round(sorted(r[k] for r in runs)[len(runs) // 2], 3) for k in keys
        }
    result: dict[str, Any] = {"trees": [str(t) for t in trees], "reps": reps, "per_tree": per_tree}
    result.update(per_tree[str(trees[-1])])
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.agent_audio", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    res = run(quick=args.quick, trees=args.tree, reps=args.reps)
    print(json.dumps(res, indent=2))
    if args.out:
        from benchmarks.__main__ import write_single

        print(write_single("agent_audio", res, args.out, args.quick), file=sys.stderr)
