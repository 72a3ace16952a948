"""Face-api descriptor distances of faces drawn for the same and for different speakers.

    python -m benchmarks.identity_faces [--compare OLD_BASIS.json]

For every clip of the held-out recorded speakers (wideband copies, `identity_corpus`),
the identity code of its first second of speech (a session's first face) and of the
whole clip chooses what the voice cannot tell; perceived sex comes from the speaker's
documented sex and the age band is "adult" for all, so only the identity draws differ.
Each face is rendered at 512 px with the torch reference renderer and read by face-api's
128-d recognition net (`benchmarks/faceapi_judge.py`). Reported per speaker: the
distances between faces of two clips of one speaker (two calls; the issue's target is
< 0.4) and between faces of different speakers of the same sex (target >= 0.6 for 90 %).
``--compare`` also renders the first design (whole 5-bit code of an older basis keying
every draw) from the same clips.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.identity_corpus import DEFAULT_CACHE, real_corpus

RESULTS = Path(__file__).resolve().parent / "results"


def _v1_latents(basis: dict) -> object:
    """The first design's draws: BLAKE2b of the whole 5-bit code of ``basis``."""

    def latents(code: object, names: object, look: int = 0) -> dict[str, float]:
        out = {}
        for name in names:  # type: ignore[attr-defined]
            msg = f"5:{code}:{int(look)}:{name}".encode()
            d = hashlib.blake2b(msg, key=b"streamface-identity-v1", digest_size=8).digest()
            out[name] = ((int.from_bytes(d, "big") >> 11) + 0.5) / float(1 << 53)
        return out

    return latents


def _old_code(basis: dict, emb: np.ndarray) -> int:
    above = (emb - basis["centre"]) @ basis["axes"][:5].T > basis["thresholds"][:5]
    return int(sum(1 << i for i, f in enumerate(above) if f))


def render(rows: list[dict], key: str, old: dict | None = None) -> np.ndarray:
    """512 px faces (uint8 [n, H, W, 3]) for the rows' codes from embedding ``key``."""
    import torch

    from benchmarks.face_quality import synthetic_profile
    from streamface.face import mapping
    from streamface.face.animation import NEUTRAL
    from streamface.face.identity import identity_code
    from streamface.face.renderer import FaceRenderer

    faces = []
    saved = mapping.identity_latents
    try:
        if old is not None:
            mapping.identity_latents = _v1_latents(old)  # type: ignore[assignment]
        for i, r in enumerate(rows):
            profile = synthetic_profile(0.95 if r["sex"] == "female" else 0.05, "adult", i)
            code = _old_code(old, r[key]) if old is not None else identity_code(r[key])
            faces.append(mapping.params_for_profile(profile, identity=code))
    finally:
        mapping.identity_latents = saved  # type: ignore[assignment]
    params = np.stack([f.to_vector() for f in faces])
    anim = np.repeat(NEUTRAL.to_vector()[None], len(faces), axis=0)
    renderer = FaceRenderer(512)
    out = []
    with torch.inference_mode():
        for i in range(0, len(faces), 8):
            img = renderer(torch.from_numpy(params[i: i + 8]), torch.from_numpy(anim[i: i + 8]))
            out.append((img.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8))
    return np.concatenate(out)


def descriptors(images: np.ndarray) -> list[np.ndarray | None]:
    from benchmarks.face_quality import Case
    from benchmarks.faceapi_judge import read_faces

    verdicts = read_faces([Case("x", "adult", i, 0.0, img) for i, img in enumerate(images)])
    return [np.asarray(v.descriptor) if v.descriptor else None for v in verdicts]


def distances(rows: list[dict], desc: list[np.ndarray | None]) -> dict:
    same: dict[str, list[float]] = defaultdict(list)
    diff: list[float] = []
    for i, j in itertools.combinations(range(len(rows)), 2):
        if desc[i] is None or desc[j] is None:
            continue
        d = float(np.linalg.norm(desc[i] - desc[j]))  # type: ignore[operator]
        a, b = rows[i], rows[j]
        if a["speaker"] == b["speaker"]:
            same[a["speaker"]].append(d)
        elif a["sex"] == b["sex"]:
            diff.append(d)
    pooled = np.concatenate([np.array(v) for v in same.values()])
    d = np.array(diff)
    # How often one speaker's two faces are closer than two different speakers' faces
    # (0.5: no better than chance; 1: always), with ties counted half.
    closer = float(np.mean([(np.mean(d > x) + 0.5 * np.mean(d == x)) for x in pooled]))
    per = {k: {"median": round(float(np.median(v)), 3), "below_0_4": round(float(np.mean(np.array(v) < 0.4)), 2),
               "pairs": len(v)} for k, v in sorted(same.items())}
    return {
        "same_speaker": per,
        "same_speaker_below_0_4_mean_over_speakers": round(float(np.mean([p["below_0_4"] for p in per.values()])), 3),
        "same_speaker_median_of_medians": round(float(np.median([p["median"] for p in per.values()])), 3),
        "different_speakers_same_sex_at_least_0_6": round(float(np.mean(np.array(diff) >= 0.6)), 3),
        "different_speakers_median": round(float(np.median(diff)), 3),
        "pairs_different": len(diff),
        "same_closer_than_different": round(closer, 3),
        "faces_detected": int(sum(d is not None for d in desc)),
        "faces": len(desc),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, help="an older basis JSON (5-bit whole-code draws)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    rows = [r for r in real_corpus(args.cache) if r["split"] == "heldout" and r["band"] == "16k"]
    for r in rows:
        for k in ("emb", "emb_1s"):
            r[k] = np.asarray(r[k], np.float64)
    result: dict = {"about": __doc__.splitlines()[0], "clips": len(rows),
                    "speakers": len({r["speaker"] for r in rows})}
    runs: list[tuple[str, str, dict | None]] = [("families_first_second", "emb_1s", None),
                                                ("families_whole_clip", "emb", None)]
    if args.compare:
        data = json.loads(args.compare.read_text())
        old = {k: np.asarray(data[k], np.float64) for k in ("centre", "axes", "thresholds")}
        runs.append(("old_code5_first_second", "emb_1s", old))
    for name, key, old_basis in runs:
        result[name] = distances(rows, descriptors(render(rows, key, old_basis)))
        print(name, json.dumps({k: v for k, v in result[name].items() if k != "same_speaker"}), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "identity_faces.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
