"""Ingest cost per 20 ms frame: check + resample + VAD + speech buffer, on one core.

Live audio arrives as 20 ms chunks; each chunk is one `AudioIngest.push`. Two inputs:
48 kHz stereo int16 (a WebRTC caller) and 8 kHz mono int16 (a phone call). The audio is
a shared test voice with silence between repetitions, so both VAD paths are exercised.
Target: at most 0.5 ms per frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import pinned_to_one_core
from streamface.audio import AudioIngest, decode_file, resample_array

TARGET_MS = 0.5
_VOICES = Path(__file__).resolve().parent.parent.parent / "shared" / "voices"


def _speech_16k() -> np.ndarray:
    """A few seconds of speech and silence at 16 kHz (synthetic if no voices are found)."""
    voices = sorted(_VOICES.glob("*.wav"))
    if voices:
        speech = decode_file(voices[0])
    else:  # vowel-like bursts: a buzz through two formant-ish resonances, on and off
        t = np.arange(4 * 16000) / 16000
        f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
        buzz = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / 16000)) * 0.2
        speech = (buzz * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    gap = np.zeros(16000, dtype=np.float32)
    return np.concatenate([speech, gap, speech, gap])


def _measure(x16k: np.ndarray, rate: int, channels: int, max_frames: int) -> dict[str, float]:
    x = resample_array(x16k, 16000, rate)
    pcm = np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)
    if channels == 2:
        pcm = np.repeat(pcm[:, None], 2, axis=1)
    step = rate // 50  # 20 ms
    n = min(len(pcm) // step, max_frames)
    ingest = AudioIngest()
    # Warm up: first-call costs (filter graph set-up) are not the steady state.
    for i in range(min(25, n)):
        ingest.push(pcm[i * step : (i + 1) * step], rate)
    ingest.close()
    times = np.empty(n)
    for i in range(n):
        chunk = pcm[i * step : (i + 1) * step]
        t0 = time.perf_counter()
        ingest.push(chunk, rate)
        times[i] = time.perf_counter() - t0
    speech = ingest.stats.speech_frames / max(ingest.stats.frames, 1)
    ingest.close()
    ms = times * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p95_ms": round(float(np.percentile(ms, 95)), 4),
        "max_ms": round(float(ms.max()), 4),
        "frames": int(n),
        "speech_fraction": round(float(speech), 3),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure per-frame ingest cost; returns p50/p95 per input kind and the target."""
    with pinned_to_one_core():
        x = _speech_16k()
        max_frames = 300 if quick else 5000
        if not quick:
            x = np.tile(x, 4)
        results = {
            "48k_stereo_int16": _measure(x, 48000, 2, max_frames),
            "8k_mono_int16": _measure(x, 8000, 1, max_frames),
        }
    out: dict[str, Any] = {}
    for name, res in results.items():
        out[f"frame_{name}_p50_ms"] = res["p50_ms"]
        out[f"frame_{name}_p95_ms"] = res["p95_ms"]
    out["target_frame_ms"] = TARGET_MS
    out["meets_target"] = all(r["p95_ms"] <= TARGET_MS for r in results.values())
    out["detail"] = results
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=False), indent=2))
