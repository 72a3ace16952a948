"""Our pitch and formants against Praat's (praat-parselmouth) on the real-speech set.

There is no ground-truth F0 or formant track for these recordings, so "more accurate" is
judged where the truth is known: the speakers' documented sex. For each method, per
speaker (median over that speaker's 16 kHz clips, tune and held-out alike since nothing
is fitted here): how well F0 and vocal-tract length separate the sexes (the share of
speakers a single best threshold gets right, and the gap between the closest woman and
man), how far the two methods' F0 agree (octave errors show as >20 % apart), and the
time each takes for one 5 s buffer on one core (p95; budget for the whole profile 50 ms).

Praat settings: ``to_pitch`` (autocorrelation, 75-600 Hz), ``to_formant_burg`` (5
formants, ceiling 5000 Hz, or 5500 Hz above a 180 Hz median F0, Praat's advice for
women; on telephone-band audio 4 formants under 3700 Hz and F1-F3 used, as ours does),
formants at the voiced frames, VTL by the same spacing regression as ours.

Usage: ``python -m benchmarks.praat_compare``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks import pinned_to_one_core
from benchmarks.real_voices import REAL, load_manifest

SR = 16_000


def _praat(x: np.ndarray) -> tuple[float | None, float | None]:
    import parselmouth

    from streamface.voice import formants

    snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=SR)
    pitch = snd.to_pitch(time_step=0.01, pitch_floor=75.0, pitch_ceiling=600.0)
    f0 = pitch.selected_array["frequency"]
    voiced = f0[f0 > 0]
    if voiced.size < 10:
        return None, None
    f0_med = float(np.median(voiced))
    if formants.is_band_limited(x):  # telephone band: F1-F3 below a 3.7 kHz ceiling
        ceiling, count, nform, weights = 3700.0, 4.0, 3, np.array([0.5, 1.0, 1.0])
    else:
        ceiling = 5500.0 if f0_med > 180.0 else 5000.0
        count, nform, weights = 5.0, 4, np.array([0.5, 1.0, 1.0, 1.0])
    fmt = snd.to_formant_burg(time_step=0.01, max_number_of_formants=count,
                              maximum_formant=ceiling)
    times = pitch.xs()[f0 > 0]
    table = np.array([[fmt.get_value_at_time(n, t) for n in range(1, nform + 1)] for t in times])
    table[table[:, 0] > 1300.0] = np.nan
    per_frame = formants.spacing(table, weights)
    good = np.isfinite(per_frame) & (np.isfinite(table).sum(axis=1) >= 3)
    if good.sum() < 3:
        return f0_med, None
    return f0_med, formants.SPEED_OF_SOUND_CM_S / (2.0 * float(np.median(per_frame[good])))


def _ours(x: np.ndarray) -> tuple[float | None, float | None]:
    from streamface.voice.analyzer import measure

    cues = measure(x)[2]
    return cues.f0_median_hz, cues.vtl_cm


def _separation(values: dict[str, float], sexes: dict[str, str]) -> dict[str, Any]:
    """Best single-threshold accuracy over speakers, and the closest woman-man gap."""
    spk = [s for s in values if values[s] is not None]
    v = np.array([values[s] for s in spk])
    female = np.array([sexes[s] == "female" for s in spk])
    best = 0.0
    for t in np.unique(v):
        for sign in (1, -1):
            pred = sign * (v - t) >= 0
            best = max(best, float(np.mean(pred == female)))
    fem, mal = v[female], v[~female]
    return {
        "speakers": len(spk),
        "best_threshold_right_pct": round(100 * best, 1),
        "female_median": round(float(np.median(fem)), 2),
        "male_median": round(float(np.median(mal)), 2),
        "female_range": [round(float(fem.min()), 2), round(float(fem.max()), 2)],
        "male_range": [round(float(mal.min()), 2), round(float(mal.max()), 2)],
    }


def _time_ms(fn: Any, x: np.ndarray, reps: int) -> dict[str, float]:
    fn(x)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn(x)
        ts.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(float(np.percentile(ts, 50)), 1),
            "p95_ms": round(float(np.percentile(ts, 95)), 1)}


def run(quick: bool = False) -> dict[str, Any]:
    """Compare both methods on the 16 kHz clips of every real speaker."""
    manifest = load_manifest()
    if manifest is None:
        return {"skipped": "real-speech set not built: bash tests/data/make_real_voices.sh"}
    from streamface.voice.analyzer import last_speech

    clips = [c for c in manifest["clips"] if c["band"] == "16k"]
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    sexes: dict[str, str] = {}
    f0_ratio = []
    buffer5 = None
    for c in clips:
        x = last_speech(REAL / c["file"])
        if buffer5 is None or x.size > buffer5.size:
            buffer5 = x
        sexes[c["speaker"]] = c["sex"]
        for name, fn in (("ours", _ours), ("praat", _praat)):
            f0, vtl = fn(x)
            if f0:
                per[c["speaker"]][f"{name}_f0"].append(f0)
            if vtl:
                per[c["speaker"]][f"{name}_vtl"].append(vtl)
        if per[c["speaker"]]["ours_f0"] and per[c["speaker"]]["praat_f0"]:
            f0_ratio.append(per[c["speaker"]]["ours_f0"][-1] / per[c["speaker"]]["praat_f0"][-1])
    out: dict[str, Any] = {"clips": len(clips), "speakers": len(sexes)}
    for key in ("ours_f0", "praat_f0", "ours_vtl", "praat_vtl"):
        med = {s: (float(np.median(v[key])) if v[key] else None) for s, v in per.items()}
        out[key] = _separation(med, sexes)
    r = np.array(f0_ratio)
    out["f0_agreement"] = {
        "median_ratio_ours_over_praat": round(float(np.median(r)), 3),
        "clips_more_than_20pct_apart": int(np.sum(np.abs(np.log(r)) > np.log(1.2))),
    }
    assert buffer5 is not None
    reps = 5 if quick else 20
    with pinned_to_one_core():
        out["time_5s_buffer"] = {"ours_pitch_formants": _time_ms(_ours, buffer5[-5 * SR:], reps),
                                 "praat_pitch_formants": _time_ms(_praat, buffer5[-5 * SR:], reps)}
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
