"""Voice profile cost and accuracy: one 5 s speech buffer on one core; perceived-sex accuracy.

Speed: `VoiceAnalyzer.analyze` on a full 5 s buffer (embedding + pitch + formants +
traits), torch and the process pinned to one core. Target: at most 50 ms (p95 reported
beside p50). The split per stage (embedding, pitch, formants) is reported too, and the
embedding with resemblyzer's own setting (1.3 partials/s, 50 % overlap) for comparison.

Accuracy: perceived sex against each voice's intended sex, on ../shared/voices, on their
8 kHz mu-law telephone copies (plain, and with the 300-3400 Hz band-pass), and on the
widened set in tests/data/voices. Synthetic voices only: real speech is harder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import pinned_to_one_core

TARGET_MS = 50.0
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "voices"
WIDENED = ROOT / "tests" / "data" / "voices"


def _voice_table(folder: Path) -> dict[Path, str]:
    meta = folder / "voices.json"
    if not meta.exists():
        return {}
    voices = json.loads(meta.read_text())["voices"]
    return {folder / name: v["sex"] for name, v in voices.items() if (folder / name).exists()}


def _buffer_5s() -> np.ndarray:
    """Five seconds of speech (a shared or widened voice, repeated if short)."""
    from streamface.voice.analyzer import speech_of_file

    for path in sorted(_voice_table(SHARED)) + sorted(_voice_table(WIDENED)):
        speech = speech_of_file(path)
        if speech.size:
            reps = int(np.ceil(80_000 / speech.size))
            return np.tile(speech, reps)[-80_000:]
    raise RuntimeError("no test voices found")


def _percentiles(ms: list[float]) -> tuple[float, float]:
    arr = np.asarray(ms)
    return round(float(np.percentile(arr, 50)), 2), round(float(np.percentile(arr, 95)), 2)


def _timings(quick: bool) -> dict[str, Any]:
    import torch

    from streamface.voice import encoder, formants, pitch
    from streamface.voice.analyzer import EMBEDDING_LEVEL_DBFS, VoiceAnalyzer

    torch.set_num_threads(1)
    analyzer = VoiceAnalyzer()
    analyzer.warm_up()
    x = _buffer_5s()
    reps = 10 if quick else 60
    for _ in range(3):
        analyzer.analyze(x)
    total, emb, emb_overlap, f0, fmt = [], [], [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        analyzer.analyze(x)
        total.append((time.perf_counter() - t0) * 1000)
    for _ in range(max(5, reps // 3)):
        t0 = time.perf_counter()
        encoder.embed_utterance(x, rate=analyzer.partial_rate, level_dbfs=EMBEDDING_LEVEL_DBFS)
        t1 = time.perf_counter()
        encoder.embed_utterance(x)  # resemblyzer's 1.3 partials/s
        t2 = time.perf_counter()
        track = pitch.track(x)
        t3 = time.perf_counter()
        formants.estimate(x, np.flatnonzero(track.voiced) * 160 + 200)
        t4 = time.perf_counter()
        emb.append((t1 - t0) * 1000)
        emb_overlap.append((t2 - t1) * 1000)
        f0.append((t3 - t2) * 1000)
        fmt.append((t4 - t3) * 1000)
    p50, p95 = _percentiles(total)
    fast = encoder.embed_utterance(x, rate=analyzer.partial_rate)
    slow = encoder.embed_utterance(x)
    return {
        "profile_5s_p50_ms": p50,
        "profile_5s_p95_ms": p95,
        "profile_5s_min_ms": round(min(total), 2),  # the uncontended cost on a shared machine
        "target_profile_ms": TARGET_MS,
        "meets_target": p95 <= TARGET_MS,
        "embedding_p50_ms": _percentiles(emb)[0],
        "embedding_resemblyzer_overlap_p50_ms": _percentiles(emb_overlap)[0],
        "embedding_cosine_fast_vs_overlap": round(float(fast @ slow), 4),
        "pitch_p50_ms": _percentiles(f0)[0],
        "formants_p50_ms": _percentiles(fmt)[0],
    }


def _accuracy(quick: bool) -> dict[str, Any]:
    from streamface.audio.mulaw import telephone_band
    from streamface.voice.analyzer import default_analyzer, speech_of_file

    analyzer = default_analyzer()
    sets = {"shared": _voice_table(SHARED), "widened": _voice_table(WIDENED)}
    conditions = {
        "wideband": lambda s: s,
        "telephone": telephone_band,
        "telephone_300_3400": lambda s: telephone_band(s, bandpass=True),
    }
    out: dict[str, Any] = {}
    table: dict[str, Any] = {}
    for set_name, voices in sets.items():
        items = sorted(voices.items())
        if quick:
            items = items[::3]
        if not items:
            continue
        speech = {p: speech_of_file(p)[-80_000:] for p, _ in items}
        for cond, fn in conditions.items():
            right, wrong, p_true = 0, [], []
            for path, sex in items:
                prof = analyzer.analyze(fn(speech[path]))
                p_f = prof.perceived_sex.p_female
                p_true.append(p_f if sex == "female" else 1.0 - p_f)
                if prof.perceived_sex.label == sex:
                    right += 1
                else:
                    wrong.append(path.name)
            acc = right / len(items)
            out[f"sex_accuracy_{set_name}_{cond}_pct"] = round(100.0 * acc, 1)
            table[f"{set_name}/{cond}"] = {
                "voices": len(items),
                "correct": right,
                "wrong": wrong,
                "mean_p_true_label": round(float(np.mean(p_true)), 3),
            }
    out["target_sex_accuracy_pct"] = 95.0
    out["accuracy_detail"] = table
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Profile timing (one core) and perceived-sex accuracy tables."""
    with pinned_to_one_core():
        result = _timings(quick)
    result.update(_accuracy(quick))
    return result


if __name__ == "__main__":
    print(json.dumps(run(quick=False), indent=2))
