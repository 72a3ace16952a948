#!/usr/bin/env python3
"""Measure the numbers in docs/MODEL_CARD.md: perceived sex and age band, where they hold and fail.

Usage::

    .venv/bin/python scripts/model_card_eval.py [--out results.json]

Runs the voice analyzer (`streamface.voice.analyzer`, default settings, the last 5 s of
speech of each file, as `streamface portrait` does) over:

* the shared voices (``../shared/voices``) and the widened set (``tests/data/voices``),
  each as recorded, as an 8 kHz G.711 mu-law telephone copy (plain and 300-3400 Hz
  band-passed), and with white noise at 10 dB and 0 dB SNR (seeded);
* edge cases synthesised here with espeak-ng and sox (Debian packages): female voices at
  the lowest espeak pitches and pitch-shifted down, male voices at the highest pitches
  and pitch-shifted up, and child-like voices (adult voices shifted up 6-10 semitones,
  which raises F0 and the formants together, as a shorter vocal tract does).

Every voice is synthetic: real human speech, children and real phone lines are harder.
Nothing is written except ``--out``; the edge-case audio lives in a temporary folder that
is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "voices"
WIDENED = ROOT / "tests" / "data" / "voices"
SENTENCE = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well."
)


def voice_table(folder: Path) -> dict[Path, str]:
    meta = folder / "voices.json"
    if not meta.exists():
        return {}
    voices = json.loads(meta.read_text())["voices"]
    return {folder / n: v["sex"] for n, v in sorted(voices.items()) if (folder / n).exists()}


def add_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    power = float(np.mean(x.astype(np.float64) ** 2)) or 1e-12
    noise = rng.standard_normal(x.size) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(x + noise, -1.0, 1.0).astype(np.float32)


def edge_cases(tmp: Path) -> dict[str, dict[Path, str]]:
    """Synthesise the edge-case sets; name -> {file: intended sex (or "child")}."""
    sets: dict[str, dict[Path, str]] = {"low_female": {}, "high_male": {}, "child_like": {}}

    def espeak(name: str, voice: str, *flags: str) -> Path:
        out = tmp / f"{name}.wav"
        raw = tmp / f"{name}.raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "160", *flags, "-w", str(raw), SENTENCE], check=True)
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "norm", "-3"], check=True)
        raw.unlink()
        return out

    def shift(src: Path, name: str, cents: int) -> Path:
        out = tmp / f"{name}.wav"
        subprocess.run(["sox", "-D", str(src), "-r", "16000", "-c", "1", "-b", "16", str(out), "pitch", str(cents), "rate", "16000", "norm", "-3"], check=True)
        return out

    for variant in ("f1", "f2", "f3", "f4", "f5"):
        for pitch in (0, 15):
            sets["low_female"][espeak(f"espeak_{variant}_p{pitch}", f"en-us+{variant}", "-p", str(pitch))] = "female"
    for variant in ("m1", "m2", "m3", "m4", "m5", "m6", "m7"):
        for pitch in (85, 99):
            sets["high_male"][espeak(f"espeak_{variant}_p{pitch}", f"en-us+{variant}", "-p", str(pitch))] = "male"
    shared = voice_table(SHARED)
    for src, sex in shared.items():
        if sex == "female":
            for cents in (-300, -500):
                sets["low_female"][shift(src, f"{src.stem}_down{-cents}", cents)] = "female"
        else:
            for cents in (300, 500):
                sets["high_male"][shift(src, f"{src.stem}_up{cents}", cents)] = "male"
        for cents in (600, 800, 1000):
            sets["child_like"][shift(src, f"{src.stem}_child{cents}", cents)] = "child"
    return sets


def evaluate(
    voices: dict[Path, str], transform: Callable[[np.ndarray, int], np.ndarray]
) -> dict[str, Any]:
    from streamface.errors import StreamFaceError
    from streamface.voice.analyzer import default_analyzer, last_speech

    analyzer = default_analyzer()
    rows = []
    for i, (path, truth) in enumerate(voices.items()):
        try:
            prof = analyzer.analyze(transform(last_speech(path), i))
        except StreamFaceError as exc:
            rows.append({"file": path.name, "truth": truth, "error": str(exc)})
            continue
        probs = prof.age_band.probs
        rows.append(
            {
                "file": path.name,
                "truth": truth,
                "p_female": round(prof.perceived_sex.p_female, 3),
                "sex": prof.perceived_sex.label,
                "age_band": max(probs, key=lambda k: probs[k]),
                "p_child": round(probs.get("child", 0.0), 3),
                "confidence": round(prof.confidence, 3),
                "f0_hz": None if prof.f0_median_hz is None else round(prof.f0_median_hz),
                "vtl_cm": None if prof.vtl_cm is None else round(prof.vtl_cm, 1),
            }
        )
    ok = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {"voices": len(rows), "analysed": len(ok)}
    adults = [r for r in ok if r["truth"] in ("female", "male")]
    if adults:
        right = [r for r in adults if r["sex"] == r["truth"]]
        out["sex_accuracy_pct"] = round(100 * len(right) / len(adults), 1)
        out["mean_p_true_sex"] = round(
            float(np.mean([r["p_female"] if r["truth"] == "female" else 1 - r["p_female"] for r in adults])), 3
        )
        out["sex_wrong"] = [r["file"] for r in adults if r["sex"] != r["truth"]]
        out["adult_called_child_pct"] = round(100 * sum(r["age_band"] == "child" for r in adults) / len(adults), 1)
    children = [r for r in ok if r["truth"] == "child"]
    if children:
        out["child_detected_pct"] = round(100 * sum(r["age_band"] == "child" for r in children) / len(children), 1)
        out["mean_p_child"] = round(float(np.mean([r["p_child"] for r in children])), 3)
        out["child_sex_labels"] = {
            s: sum(r["sex"] == s for r in children) for s in ("female", "male")
        }
    if ok:
        out["mean_confidence"] = round(float(np.mean([r["confidence"] for r in ok])), 3)
        out["age_bands"] = {b: sum(r["age_band"] == b for r in ok) for b in ("child", "young_adult", "adult", "senior")}
    out["rows"] = rows
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write every row as JSON here")
    args = parser.parse_args()

    import torch

    from streamface.audio.mulaw import telephone_band

    torch.set_num_threads(1)
    conditions: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
        "wideband": lambda x, i: x,
        "telephone": lambda x, i: telephone_band(x),
        "telephone_300_3400": lambda x, i: telephone_band(x, bandpass=True),
        "noise_10db": lambda x, i: add_noise(x, 10.0, i),
        "noise_0db": lambda x, i: add_noise(x, 0.0, i),
    }
    results: dict[str, Any] = {}
    for set_name, voices in (("shared", voice_table(SHARED)), ("widened", voice_table(WIDENED))):
        for cond, fn in conditions.items():
            results[f"{set_name}/{cond}"] = evaluate(voices, fn)
    if shutil.which("espeak-ng") and shutil.which("sox"):
        with tempfile.TemporaryDirectory(prefix="streamface-eval-") as tmp:
            for set_name, voices in edge_cases(Path(tmp)).items():
                for cond in ("wideband", "telephone"):
                    results[f"edge_{set_name}/{cond}"] = evaluate(voices, conditions[cond])
    else:
        print("espeak-ng or sox missing: edge cases skipped", file=sys.stderr)

    keys = ("voices", "sex_accuracy_pct", "mean_p_true_sex", "adult_called_child_pct",
            "child_detected_pct", "mean_p_child", "mean_confidence")
    print("| set / condition | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, res in results.items():
        print(f"| {name} | " + " | ".join(str(res.get(k, "")) for k in keys) + " |")
    for name, res in results.items():
        if res.get("sex_wrong"):
            print(f"{name}: wrong sex for {', '.join(res['sex_wrong'])}")
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
