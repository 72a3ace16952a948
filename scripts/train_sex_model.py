#!/usr/bin/env python3
"""Fit the perceived-sex cue fusion (`streamface/voice/sex_model.json`) on tuning voices only.

Usage::

    .venv/bin/python scripts/train_sex_model.py [--check]

Training data: the synthetic voices (``../shared/voices`` and ``tests/data/voices``, each
as recorded and as 8 kHz mu-law copies, plain and 300-3400 Hz band-passed) and the *tune* speakers of the real set
(``tests/data/real_voices``, built by ``tests/data/make_real_voices.sh``; both bands, and
a band-passed line copy).
Held-out real speakers are never read here. Each speaker (a synthetic voice counts as
one) carries the same total weight, so a speaker with many clips does not dominate.

The model is an L2-regularised logistic regression over the 256-d GE2E speaker embedding
(what `VoiceAnalyzer` computes anyway, level-normalised, so no extra cost at run time).
Fitting is deterministic (Newton's method from zero; no sampling, nothing random), so a
rerun gives the same weights. ``--check`` refits and fails when the committed file
differs by more than rounding.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamface.audio.mulaw import telephone_band  # noqa: E402
from streamface.voice import encoder  # noqa: E402
from streamface.voice.analyzer import (  # noqa: E402
    EMBEDDING_LEVEL_DBFS,
    EMBEDDING_PARTIAL_RATE,
    last_speech,
)

SYNTHETIC = (ROOT.parent / "shared" / "voices", ROOT / "tests" / "data" / "voices")
REAL = ROOT / "tests" / "data" / "real_voices"
MODEL = ROOT / "streamface" / "voice" / "sex_model.json"
L2 = 0.05
"""Ridge penalty (per unit-norm embedding): enough to keep 8 real and ~50 synthetic
speakers from being memorised, little enough for decisive log-odds on clear voices."""


def synthetic_items() -> list[dict[str, Any]]:
    items = []
    for folder in SYNTHETIC:
        meta = folder / "voices.json"
        if not meta.exists():
            continue
        for name, v in sorted(json.loads(meta.read_text())["voices"].items()):
            if (folder / name).exists():
                speaker = f"synthetic:{v.get('speaker', name)}"
                items.append({"path": folder / name, "sex": v["sex"], "speaker": speaker,
                              "band": "16k"})
                for bandpass in (False, True):
                    items.append({"path": folder / name, "sex": v["sex"], "speaker": speaker,
                                  "band": "8k-mulaw", "telephone": True, "bandpass": bandpass})
    return items


PITCH_MEN = ("Adam", "Alex", "Benjamin", "Boris", "Caleb", "David", "Ed", "Gustave", "John",
             "Max", "Paul", "Zac")
PITCH_WOMEN = ("anika", "Steph2", "Steph3", "Auntie")
PITCH_TEXT = "Please call Stella. Ask her to bring these things with her from the store."


def pitch_items(folder: Path) -> list[dict[str, Any]]:
    """Voices whose F0 crosses into the other sex's range with their own formants kept.

    espeak-ng's ``-p`` moves F0 only: men at pitch 92 of 99, women at 5, each also at its
    default pitch. Without them every synthetic voice's F0 gives its sex away and the fit
    learns pitch instead of timbre. espeak-ng variants not used by the evaluation sets
    (those use f1-f5 / m1-m7 and the named voices of tests/data/voices).
    """
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed to train (bash scripts/install-system-deps)")
    items = []
    for sex, variants, pitch in (("male", PITCH_MEN, 92), ("female", PITCH_WOMEN, 5)):
        for variant in variants:
            for p in (pitch, None):
                path = folder / f"{variant}_{p}.wav"
                flags = [] if p is None else ["-p", str(p)]
                subprocess.run(["espeak-ng", "-v", f"en-us+{variant}", "-s", "160", *flags,
                                "-w", str(path), PITCH_TEXT], check=True)
                speaker = f"synthetic-pitch:{variant}"
                items.append({"path": path, "sex": sex, "speaker": speaker, "band": "16k"})
                items.append({"path": path, "sex": sex, "speaker": speaker,
                              "band": "8k-mulaw", "telephone": True})
    return items


def real_items(split: str) -> list[dict[str, Any]]:
    manifest = REAL / "manifest.json"
    if not manifest.exists():
        raise SystemExit(f"{manifest} missing: run tests/data/make_real_voices.sh first")
    clips = json.loads(manifest.read_text())["clips"]
    items = []
    for c in clips:
        if c["split"] == split:
            item = {"path": REAL / c["file"], "sex": c["sex"], "speaker": f"real:{c['speaker']}",
                    "band": c["band"]}
            items.append(item)
            if c["band"] == "16k":  # and a 300-3400 Hz line copy, as for the synthetic voices
                items.append({**item, "band": "8k-bandpass", "telephone": True, "bandpass": True})
    return items


def embedding_of(item: dict[str, Any]) -> np.ndarray:
    x = last_speech(item["path"])
    if item.get("telephone"):
        x = telephone_band(x, bandpass=bool(item.get("bandpass")))
    return encoder.embed_utterance(x, rate=EMBEDDING_PARTIAL_RATE, level_dbfs=EMBEDDING_LEVEL_DBFS)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> np.ndarray:
    """Weighted L2 logistic regression by Newton's method; last column is the bias."""
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (w * (p - y)) + penalty * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return beta


def train() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        items = synthetic_items() + pitch_items(Path(tmp)) + real_items("tune")
        rows, labels, speakers = [], [], []
        for it in items:
            rows.append([float(v) for v in embedding_of(it)])
            labels.append(1.0 if it["sex"] == "female" else 0.0)
            speakers.append(it["speaker"])
    x = np.array([r + [1.0] for r in rows])
    y = np.array(labels)
    counts: dict[str, int] = {}
    for s in speakers:
        counts[s] = counts.get(s, 0) + 1
    w = np.array([1.0 / counts[s] for s in speakers])
    beta = fit(x, y, w, L2)
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    right = float(np.sum(w * ((p >= 0.5) == (y == 1.0))) / np.sum(w))
    real = sorted({s for s in speakers if s.startswith("real:")})
    return {
        "about": "Perceived-sex cue fusion: logit = sum(weights * features) + bias; "
                 "made by scripts/train_sex_model.py (do not edit by hand).",
        "features": "GE2E embedding (256, L2-normalised)",
        "weights": [round(float(b), 5) for b in beta[:-1]],
        "bias": round(float(beta[-1]), 5),
        "l2": L2,
        "trained_on": {
            "synthetic_voices": len({s for s in speakers if s.startswith("synthetic:")}),
            "synthetic_pitch_crossed_voices": len(
                {s for s in speakers if s.startswith("synthetic-pitch:")}),
            "real_tune_speakers": [s.split(":", 1)[1] for s in real],
            "clips": len(items),
            "speaker_weighted_training_accuracy": round(right, 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed model differs")
    args = parser.parse_args(argv)
    model = train()
    text = json.dumps(model, indent=1) + "\n"
    if args.check:
        old = json.loads(MODEL.read_text()) if MODEL.exists() else {"weights": []}
        same = len(old["weights"]) == len(model["weights"]) and np.allclose(
            old["weights"], model["weights"], atol=2e-5
        )
        print("sex model up to date" if same else "sex model differs from a refit")
        return 0 if same else 1
    MODEL.write_text(text)
    print(json.dumps(model["trained_on"], indent=1))
    return 0 if all(math.isfinite(v) for v in model["weights"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
