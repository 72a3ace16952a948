"""How far each identity draw moves face-api's face descriptor (issue 13, distinct people).

    python -m benchmarks.descriptor_sensitivity [--band adult] [--out benchmarks/results/descriptor_sensitivity]

For each sex, a base face has every identity draw (`mapping.LATENTS`) at its middle
(0.5). Then one draw at a time goes to each end of its range (0.01 and 0.99, through the
real mapping, so the range is the one speakers actually get) and face-api's 128-d
faceRecognitionNet descriptor of the low face is compared with that of the high face.
The table lists the distances, largest first.

If the effects were independent and added in quadrature, two speakers whose draws are
independent uniforms would sit at about sqrt(sum(effect**2) * E[(u1 - u2)**2]) apart
(1/6 for uniform draws): the "predicted pair distance" printed under the table, to set
beside `face_quality.distinct_summary`'s median.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality, faceapi_judge  # noqa: E402
from benchmarks.face_quality import Case  # noqa: E402
from streamface.face.mapping import LATENTS, face_from_latents  # noqa: E402
from streamface.face.params import FaceParams  # noqa: E402

ENDS = (0.01, 0.99)
PAIR_SPREAD = 1.0 / 6.0
"""E[(u1 - u2)**2] for two independent uniform draws."""


def probe_faces(band: str) -> list[tuple[str, str, float, FaceParams]]:
    """(sex, latent, draw, face): the base face of each sex, then each latent at each end."""
    rows = []
    for sex, p_female in face_quality.SEXES.items():
        profile = face_quality.synthetic_profile(p_female, band, 0)
        base = {name: 0.5 for name in LATENTS}
        rows.append((sex, "base", 0.5, face_from_latents(profile, base)))
        for name in LATENTS:
            for end in ENDS:
                rows.append((sex, name, end, face_from_latents(profile, {**base, name: end})))
    return rows


def measure(band: str = "adult", size: int = 512) -> dict[str, Any]:
    """Render the probe faces, read their descriptors and tabulate end-to-end distances."""
    rows = probe_faces(band)
    images = face_quality.render_faces([face for *_, face in rows], size)
    cases = [Case(sex, band, i, face.skin_tone, img) for i, ((sex, *_, face), img) in enumerate(zip(rows, images, strict=True))]
    verdicts = faceapi_judge.read_faces(cases)
    desc = {
        (sex, name, end): (np.asarray(v.descriptor) if v.descriptor is not None else None)
        for (sex, name, end, _), v in zip(rows, verdicts, strict=True)
    }
    effects: dict[str, dict[str, float | None]] = {}
    for name in LATENTS:
        effects[name] = {}
        for sex in face_quality.SEXES:
            lo, hi = desc[(sex, name, ENDS[0])], desc[(sex, name, ENDS[1])]
            effects[name][sex] = None if lo is None or hi is None else round(float(np.linalg.norm(lo - hi)), 3)
    missed = sum(not v.detected for v in verdicts)
    predicted = {}
    for sex in face_quality.SEXES:
        total = sum((e[sex] or 0.0) ** 2 for e in effects.values())
        predicted[sex] = round(math.sqrt(total * PAIR_SPREAD), 3)
    return {"band": band, "size": size, "faces": len(rows), "undetected": missed,
            "effects": effects, "predicted_pair_distance": predicted}


def markdown(result: dict[str, Any]) -> str:
    """The result as a table, largest mean effect first."""
    sexes = list(face_quality.SEXES)

    def mean(e: dict[str, float | None]) -> float:
        vals = [v for v in e.values() if v is not None]
        return float(np.mean(vals)) if vals else float("nan")

    lines = [
        f"# Descriptor sensitivity ({result['band']} faces, {result['size']} px, face-api faceRecognitionNet)",
        "",
        "Distance between the descriptors of a face with one identity draw at 0.01 and at 0.99,",
        "every other draw at 0.5 (`python -m benchmarks.descriptor_sensitivity`).",
        f"Faces: {result['faces']}, undetected: {result['undetected']}.",
        "",
        "| draw | " + " | ".join(sexes) + " | mean |",
        "|---|" + "---|" * (len(sexes) + 1),
    ]
    for name, e in sorted(result["effects"].items(), key=lambda kv: -mean(kv[1])):
        cells = ["-" if e[s] is None else f"{e[s]:.3f}" for s in sexes]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean(e):.3f} |")
    pred = ", ".join(f"{s} {v:.3f}" for s, v in result["predicted_pair_distance"].items())
    lines += ["", f"Predicted pair distance (quadrature, independent uniform draws): {pred}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--band", default="adult", choices=face_quality.BANDS)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    a = ap.parse_args(argv)
    result = measure(a.band, a.size)
    face_quality.report_probe(result, markdown(result), a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
