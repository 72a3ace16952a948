"""VMC output: how fast the mouth closes, how often blinks come, what a frame costs.

Targets (issue 16): the mouth closes within 100 ms of silence; blinks every 2-10 s; 60
bundles per second.

* ``mouth_close_ms_*``: each shared voice is cut at each of its 30 loudest 10 ms hops
  (mid-word) and followed by digital silence; audio arrives in 1 ms steps and the VMC
  vowel values (A I U E O) are read every 1 ms until all are zero. Reported: the worst
  and the 95th percentile over all cuts, plus the worst as a 60 Hz receiver sees it (the
  first frame at or after that instant).
* ``blink_interval_s_*``: blink onsets over 10 simulated minutes (1 minute quick), three seeds.
* ``frame_cost_us_*``: one frame's `Animator.at` and OSC bundle, wall time, while audio is
  pushed in 1/60 s chunks (the work ``streamface vmc`` does per frame).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

VOICES = Path(__file__).resolve().parent.parent.parent / "shared" / "voices"
TARGET_CLOSE_MS = 100.0
TARGET_BLINK_S = (2.0, 10.0)
RATE_HZ = 60.0
_VOWELS = slice(0, 5)


def _close_ms(x: np.ndarray, cut: int) -> int | None:
    from streamface.motion.animator import Animator
    from streamface.sinks.vmc import shapes_for

    animator = Animator(fps=RATE_HZ)
    animator.push(x[:cut])
    t0 = cut / 16000
    animator.at(t0)
    silence = np.zeros(16, np.float32)
    for ms in range(0, 400):
        if ms:
            animator.push(silence)
        if max(shapes_for(animator.at(t0 + ms / 1000)).values()[_VOWELS]) == 0.0:
            return ms
    return None


def _mouth_close(quick: bool) -> dict[str, Any]:
    from streamface.audio.decode import decode_file

    voices = sorted(VOICES.glob("*.wav"))[: 3 if quick else None]
    times: list[int] = []
    for voice in voices:
        x = decode_file(voice)
        hop = 160
        rms = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
        for k in np.argsort(-rms)[: 10 if quick else 30]:
            ms = _close_ms(x, (int(k) + 1) * hop)
            times.append(400 if ms is None else ms)
    worst = max(times) if times else None
    frame = 1000.0 / RATE_HZ
    return {
        "voices": len(voices),
        "cuts": len(times),
        "mouth_close_ms_max": worst,
        "mouth_close_ms_p95": float(np.percentile(times, 95)) if times else None,
        "mouth_close_ms_max_at_60hz": None if worst is None else round(math.ceil(worst / frame) * frame, 1),
        "target_close_ms": TARGET_CLOSE_MS,
    }


def _blinks(quick: bool) -> dict[str, Any]:
    from streamface.motion.idle import IdleMotion

    minutes = 1 if quick else 10
    gaps: list[float] = []
    for seed in (0, 1, 2):
        starts = [s for s, _ in IdleMotion(seed).blink_times(60.0 * minutes)]
        gaps.extend(np.diff(starts).tolist())
    return {
        "blink_interval_s_min": round(min(gaps), 2),
        "blink_interval_s_max": round(max(gaps), 2),
        "blink_interval_s_mean": round(float(np.mean(gaps)), 2),
        "blinks": len(gaps) + 3,
        "target_blink_interval_s": list(TARGET_BLINK_S),
    }


def _frame_cost(quick: bool) -> dict[str, Any]:
    from streamface.audio.decode import decode_file
    from streamface.motion.animator import Animator
    from streamface.sinks.vmc import frame_bundle

    voice = VOICES / "flite_female_slt.wav"
    x = decode_file(voice) if voice.exists() else np.zeros(16000 * 5, np.float32)
    frames = int((2 if quick else 10) * RATE_HZ)
    step = int(16000 / RATE_HZ)
    animator = Animator(fps=RATE_HZ)
    costs = []
    for i in range(frames):
        chunk = x[(i * step) % len(x) : (i * step) % len(x) + step]
        start = time.perf_counter()
        animator.push(chunk)
        frame_bundle(animator.at(i / RATE_HZ), i / RATE_HZ)
        costs.append((time.perf_counter() - start) * 1e6)
    return {
        "frame_cost_us_p50": round(float(np.percentile(costs, 50)), 1),
        "frame_cost_us_p95": round(float(np.percentile(costs, 95)), 1),
        "frame_budget_us_at_60hz": round(1e6 / RATE_HZ, 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure the VMC sender's mouth closing, blink spacing and per-frame cost."""
    out: dict[str, Any] = {}
    out.update(_mouth_close(quick))
    out.update(_blinks(quick))
    out.update(_frame_cost(quick))
    return out
