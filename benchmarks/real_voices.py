"""Perceived sex on recorded human speech, reported per speaker (the model card's numbers).

Reads the real-speech set built by ``tests/data/make_real_voices.sh`` (speakers from
Debian and PyPI packages, documented sex, split by speaker) and profiles every clip as
`streamface portrait` does (last 5 s of speech, default analyzer), at 16 kHz and as the
8 kHz G.711 mu-law copy. A speaker's answer is the mean p(female) over that speaker's
clips in a band: one vote per speaker, never per file. Targets (held-out speakers): at
least 97 % right overall and 95 % for each sex, in each band. Also reported: per
language, per native band (recorded at 16 kHz or telephone-band 8 kHz), the wrong
speakers by name, and how many wrong answers came with low confidence.

Usage: ``python -m benchmarks.real_voices [--split heldout|tune|all]``.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "real_voices"
BANDS = ("16k", "8k-mulaw")
TARGET_PCT = 97.0
TARGET_PER_SEX_PCT = 95.0
LOW_CONFIDENCE = 0.6
"""A profile below this confidence is "low confidence" (the face says it is unsure)."""


def load_manifest(folder: Path = REAL) -> dict[str, Any] | None:
    """The built set's manifest, or None when the set has not been built."""
    path = folder / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def profile_clips(clips: list[dict[str, Any]], folder: Path = REAL) -> list[dict[str, Any]]:
    """Profile each clip; returns the clips with p_female, confidence, F0 and tract added."""
    from streamface.voice.analyzer import profile_file

    out = []
    for clip in clips:
        prof = profile_file(folder / clip["file"])
        out.append({
            **clip,
            "p_female": prof.perceived_sex.p_female,
            "confidence": prof.confidence,
            "f0_hz": prof.f0_median_hz,
            "vtl_cm": prof.vtl_cm,
        })
    return out


def per_speaker(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (speaker, band): mean p(female) of its clips, the call and whether right."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["speaker"], r["band"])].append(r)
    rows = []
    for (speaker, band), rs in sorted(groups.items()):
        p = float(np.mean([r["p_female"] for r in rs]))
        label = "female" if p >= 0.5 else "male"
        f0s = [r["f0_hz"] for r in rs if r["f0_hz"]]
        vtls = [r["vtl_cm"] for r in rs if r["vtl_cm"]]
        rows.append({
            "speaker": speaker,
            "band": band,
            "sex": rs[0]["sex"],
            "split": rs[0]["split"],
            "languages": sorted({r["language"] for r in rs}),
            "native_rate": rs[0]["native_rate"],
            "clips": len(rs),
            "clips_right": sum((r["p_female"] >= 0.5) == (r["sex"] == "female") for r in rs),
            "p_female": round(p, 3),
            "confidence": round(float(np.mean([r["confidence"] for r in rs])), 3),
            "f0_hz": round(float(np.median(f0s)), 1) if f0s else None,
            "vtl_cm": round(float(np.median(vtls)), 2) if vtls else None,
            "label": label,
            "right": label == rs[0]["sex"],
        })
    return rows


def _pct(rows: list[dict[str, Any]]) -> float | None:
    return round(100.0 * sum(r["right"] for r in rows) / len(rows), 1) if rows else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy per band, per sex, per language and per native band; failures named."""
    out: dict[str, Any] = {}
    for band in BANDS:
        b = [r for r in rows if r["band"] == band]
        wrong = [r for r in b if not r["right"]]
        langs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in b:
            for lang in r["languages"]:
                langs[lang].append(r)
        out[band] = {
            "speakers": len(b),
            "right_pct": _pct(b),
            "female_right_pct": _pct([r for r in b if r["sex"] == "female"]),
            "male_right_pct": _pct([r for r in b if r["sex"] == "male"]),
            "by_language_pct": {k: _pct(v) for k, v in sorted(langs.items())},
            "by_native_rate_pct": {
                f"{rate // 1000} kHz source": _pct([r for r in b if r["native_rate"] == rate])
                for rate in sorted({r["native_rate"] for r in b})
            },
            "wrong": [f"{r['speaker']} ({r['sex']}, F0 {r['f0_hz']} Hz, tract {r['vtl_cm']} cm,"
                      f" p_female {r['p_female']}, confidence {r['confidence']})" for r in wrong],
            "wrong_with_low_confidence": (
                f"{sum(r['confidence'] < LOW_CONFIDENCE for r in wrong)}/{len(wrong)}"),
            "low_confidence_speakers": sorted(
                r["speaker"] for r in b if r["confidence"] < LOW_CONFIDENCE),
        }
    return out


def run(quick: bool = False, split: str = "heldout") -> dict[str, Any]:
    """The benchmark entry (``python -m benchmarks --only real_voices``)."""
    manifest = load_manifest()
    if manifest is None:
        return {"skipped": "real-speech set not built: bash tests/data/make_real_voices.sh"}
    clips = [c for c in manifest["clips"] if split == "all" or c["split"] == split]
    rows = per_speaker(profile_clips(clips))
    summary = summarise(rows)
    verdicts = {}
    for band in BANDS:
        s = summary[band]
        verdicts[band] = bool(
            s["right_pct"] is not None and s["right_pct"] >= TARGET_PCT
            and (s["female_right_pct"] or 0) >= TARGET_PER_SEX_PCT
            and (s["male_right_pct"] or 0) >= TARGET_PER_SEX_PCT
        )
    flat: dict[str, Any] = {}
    for band, key in (("16k", "16k"), ("8k-mulaw", "8k_mulaw")):
        s = summary[band]
        flat[f"{split}_{key}_right_pct"] = s["right_pct"]
        flat[f"{split}_{key}_female_right_pct"] = s["female_right_pct"]
        flat[f"{split}_{key}_male_right_pct"] = s["male_right_pct"]
    return {
        **flat,
        "target_right_pct": TARGET_PCT,
        "target_per_sex_pct": TARGET_PER_SEX_PCT,
        "split": split,
        "speakers": len({r["speaker"] for r in rows}),
        "female_speakers": len({r["speaker"] for r in rows if r["sex"] == "female"}),
        "male_speakers": len({r["speaker"] for r in rows if r["sex"] == "male"}),
        "targets": {"right_pct": TARGET_PCT, "per_sex_pct": TARGET_PER_SEX_PCT},
        "meets_target": verdicts,
        "summary": summary,
        "per_speaker": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_voices", description=__doc__)
    parser.add_argument("--split", choices=("heldout", "tune", "all"), default="heldout")
    args = parser.parse_args(argv)
    print(json.dumps(run(split=args.split), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
