"""Which drawn cue makes face-api read a resting portrait as sad, surprised or fearful (issue 13)?

    python -m benchmarks.pleasant_probe --cases female/young_adult/118,male/senior/7 [--variants base,...]
        [--scan 0-7,100-131,200-231] [--sheet out.png] [--out benchmarks/results/pleasant_probe]

``--scan`` renders the given seeds' faces as they are and lists every face whose top
expression is not neutral or happy (the misread set). ``--cases`` names faces
(sex/band/seed) to probe: each variant changes one drawn cue (after `geometry`, through
`face_quality.edited_geometry`, or by wrapping one layer function), renders those faces and
both judges read them. The table gives, per variant and per named group of faces (the
misread faces and a control set), how many face-api reads pleasant, its mean probability
of neutral + happy and of sad, and both judges' sex reads. A sensitivity probe, not a
tuning loop: a cue that moves the reads is only worth drawing if a person also sees a
better portrait.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality, faceapi_judge  # noqa: E402
from benchmarks.face_quality import PLEASANT, Case  # noqa: E402
from streamface.face import shapes as sh  # noqa: E402
from streamface.face.render import eyes, facial_hair, mouth  # noqa: E402
from streamface.face.render.common import Geometry, col  # noqa: E402

Variant = Callable[[], contextlib.AbstractContextManager[None]]


def read_rows(cases: list[Case]) -> list[dict[str, Any]]:
    """face-api's full row per case (``expressions``: every expression's probability)."""
    return faceapi_judge.read_rows(cases, timeout_s=1800)


def geo(edit: Callable[[Geometry], None]) -> Variant:
    """A variant that edits every face's geometry."""
    return lambda: face_quality.edited_geometry(edit)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any, *more: tuple[Any, str]) -> Iterator[None]:
    """Replace ``module.name`` (and the same name in ``more``'s modules) for the block."""
    targets = [(module, name), *more]
    saved = [getattr(m, n) for m, n in targets]
    for m, n in targets:
        setattr(m, n, value)
    try:
        yield
    finally:
        for (m, n), old in zip(targets, saved, strict=True):
            setattr(m, n, old)


def _moustache(follow: float = 0.0, droop: float = 0.012, half: float = 1.12) -> Callable[[Geometry, Tensor, Tensor], Tensor]:
    """The moustache as drawn before this probe (the defaults: ends drooping past the mouth
    corners), with its ends bent up ``follow`` x the resting smile, its lower edge dropping
    ``droop`` at the ends, ``half`` x the mouth's half-width long. The renderer now draws
    ``follow=0.5, droop=0`` ("must_lip"), except on a horseshoe, which keeps the old ends."""

    def moustache_d(g: Geometry, x: Tensor, y: Tensor) -> Tensor:
        my, mw = g["mouth_y"], g["mouth_w"]
        t = torch.clamp(x / (mw * half), -1.0, 1.0)
        t2 = t * t
        lift = follow * mouth.SMILE * torch.clamp(x / mw, -1.12, 1.12) ** 2
        top = my - g["lip_t"] - 0.027 - 0.008 * g["b_length"] + 0.024 * t2 - lift
        bottom = my - 0.004 + (droop + 0.018 * g["b_horseshoe"]) * t2 - lift
        d = torch.maximum(top - y, y - bottom)
        return sh.smax(d, torch.abs(x) - mw * half, 0.012)

    return moustache_d


def moustache_variant(**kw: float) -> Variant:
    """A variant drawing the moustache (beard layer and mouth layer alike) as `_moustache` (kw)."""
    return lambda: _patched(facial_hair, "moustache_d", _moustache(**kw), (mouth, "moustache_d"))


def _chin_patch(fall: float) -> Callable[[Geometry, Tensor, Tensor, Tensor], Tensor]:
    """The renderer's chin patch with its top falling ``fall`` at the mouth's corners (0.03 now)."""

    def chin_patch_d(g: Geometry, x: Tensor, y: Tensor, ext: Tensor) -> Tensor:
        my, mw = g["mouth_y"], g["mouth_w"]
        oval = torch.clamp(2.0 - 2.0 * g["b_moustache"], 0.0, 1.0) * (1.0 - g["b_strap"])
        chin_d = sh.ellipse(
            x, y, 0.0, g["chin_y"] - 0.035 - 0.01 * oval + 0.5 * ext, mw * 0.85,
            0.075 - 0.018 * oval + (1.0 - 0.7 * oval) * ext,
        )
        lip_line = my + g["lip_t"] + 0.006 + (0.002 + fall * (x / mw) ** 2) * oval
        return sh.smax(chin_d, lip_line - y, 0.012 + 0.018 * oval)

    return chin_patch_d


def _glasses(glare: float = 0.10, thin: float = 1.0) -> Callable[..., Tensor]:
    """The renderer's frames with the lens glare ``glare`` strong and the rim ``thin`` x as thick."""

    def glasses(g: Geometry, img: Tensor, x: Tensor, y: Tensor, px: float) -> Tensor:
        ax = torch.abs(x)
        lw, lh, ly = eyes.lens(g)
        n = 2.0 + 2.5 * g["glasses_shape"]
        d = sh.superellipse(ax, y, g["eye_dx"], ly, lw, lh, n)
        thick = (0.005 + 0.004 * (1.0 - torch.clamp(g["glasses_tint"] * 2.0 - 1.0, 0.0, 1.0))) * thin
        rim = sh.fill(torch.abs(d) - thick, px)
        inner_edge = g["eye_dx"] - lw * 0.9
        bridge = sh.fill(torch.abs(y - ly + lh * 0.35 - 0.025 * (ax / (inner_edge + 1e-3)) ** 2) - thick * 0.8, px)
        bridge = bridge * sh.fill(ax - inner_edge, px)
        shine = sh.fill(d, px) * torch.exp(-(((x * 0.6 + y - ly + 0.02) / 0.012) ** 2)) * glare
        out = sh.over(img, col(1.0, 1.0, 1.0).to(x), shine * g["glasses"])
        return sh.over(out, g["glasses_col"], torch.maximum(rim, bridge) * g["glasses"])

    return glasses


def _lens(shorter: float) -> Callable[[Geometry], tuple[Tensor, Tensor, Tensor]]:
    """The renderer's lens, ``shorter`` less tall (top and bottom bars closer to the eye)."""
    original = eyes.lens

    def lens(g: Geometry) -> tuple[Tensor, Tensor, Tensor]:
        lw, lh, ly = original(g)
        return lw, lh - shorter, ly

    return lens


def _lens_move(top: float, bottom: float) -> Callable[[Geometry], tuple[Tensor, Tensor, Tensor]]:
    """The renderer's lens with its top bar ``top`` lower and its bottom bar ``bottom`` higher."""
    original = eyes.lens

    def lens(g: Geometry) -> tuple[Tensor, Tensor, Tensor]:
        lw, lh, ly = original(g)
        return lw, lh - 0.5 * (top + bottom), ly + 0.5 * (top - bottom)

    return lens


def _brow_flat_on_rim(g: Geometry) -> None:
    g["brow_arch"] = g["brow_arch"] * (1.0 - 0.5 * eyes.on_rim(g))


def _glasses_firm(g: Geometry) -> None:
    g["glasses"] = sh.smoothstep(0.4, 0.5, g["glasses"])


def _set(key: str, value: float) -> Callable[[Geometry], None]:
    def edit(g: Geometry) -> None:
        g[key] = torch.full_like(g[key], value)

    return edit


def _hair_darker(g: Geometry) -> None:
    g["hair"] = g["hair"] * 0.6


VARIANTS: dict[str, Variant] = {
    "base": _nothing,
    "no_must": geo(_set("b_moustache", 0.0)),
    "no_chin": geo(_set("b_chin", 0.0)),
    "hair_darker": geo(_hair_darker),
    "must_old": moustache_variant(),
    "must_follow": moustache_variant(follow=1.0),
    "must_follow_half": moustache_variant(follow=0.5),
    "must_follow_075": moustache_variant(follow=0.75),
    "must_lip": moustache_variant(follow=0.5, droop=0.0),
    "must_level": moustache_variant(droop=0.0),
    "must_short": moustache_variant(half=1.0),
    "lens_short": lambda: _patched(eyes, "lens", _lens(0.008)),
    "lens_top_down": lambda: _patched(eyes, "lens", _lens_move(0.016, 0.0)),
    "lens_bottom_up": lambda: _patched(eyes, "lens", _lens_move(0.0, 0.016)),
    "lens_short_12": lambda: _patched(eyes, "lens", _lens(0.012)),
    "brow_flat_rim": geo(_brow_flat_on_rim),
    "no_glare": lambda: _patched(eyes, "glasses", _glasses(glare=0.0)),
    "rim_thin": lambda: _patched(eyes, "glasses", _glasses(thin=0.6)),
    "glasses_copy": lambda: _patched(eyes, "glasses", _glasses()),
    "glasses_firm": geo(_glasses_firm),
    "smile_030": lambda: _patched(mouth, "SMILE", 0.030),
    "chin_level": lambda: _patched(facial_hair, "chin_patch_d", _chin_patch(0.0)),
}


def render(keys: list[tuple[str, str, int]]) -> list[Case]:
    """The named faces (sex, band, seed), rendered as `face_quality.render_cases` does."""
    by_seed: dict[tuple[str, str], list[int]] = {}
    for sex, band, seed in keys:
        by_seed.setdefault((sex, band), []).append(seed)
    cases: dict[tuple[str, str, int], Case] = {}
    for (sex, band), seeds in by_seed.items():
        for c in face_quality.render_cases(seeds, 512, bands=(band,), sexes=(sex,)):
            cases[(c.sex, c.band, c.seed)] = c
    return [cases[k] for k in keys]


def read(cases: list[Case]) -> list[dict[str, Any]]:
    """Both judges' reads per case: face-api's expressions and both sex reads."""
    rows = read_rows(cases)
    dlib = face_quality.read_faces(cases)
    out = []
    for c, row, d in zip(cases, rows, dlib, strict=True):
        ex = row.get("expressions") or {}
        fa_female = None
        if row["detected"]:
            p = float(row["gender_probability"])
            fa_female = p if row["gender"] == "female" else 1.0 - p
        out.append({
            "face": f"{c.sex}/{c.band}/{c.seed}", "tone": round(c.skin_tone, 2), "detected": bool(row["detected"]),
            "expression": row.get("expression"), "expressions": ex,
            "faceapi_p_female": fa_female, "faceapi_age": row.get("age"),
            "dlib_p_female": d.p_female, "dlib_age": d.age,
        })
    return out


def summary(reads: list[dict[str, Any]]) -> dict[str, Any]:
    """Pleasant count, mean p(neutral+happy), p(sad), p(surprised+fearful), sex reads."""
    det = [r for r in reads if r["detected"]]

    def mean(f: Callable[[dict[str, Any]], float]) -> float:
        return round(float(np.mean([f(r) for r in det])), 3) if det else float("nan")

    def right(r: dict[str, Any], key: str) -> bool:
        p = r[key]
        return p is not None and (p >= 0.5) == r["face"].startswith("female")

    return {
        "n": len(reads), "detected": len(det),
        "pleasant": sum(r["expression"] in PLEASANT for r in det),
        "p_pleasant": mean(lambda r: sum(r["expressions"].get(n, 0.0) for n in PLEASANT)),
        "p_sad": mean(lambda r: r["expressions"].get("sad", 0.0)),
        "p_startled": mean(lambda r: r["expressions"].get("surprised", 0.0) + r["expressions"].get("fearful", 0.0)),
        "p_angry": mean(lambda r: r["expressions"].get("angry", 0.0) + r["expressions"].get("disgusted", 0.0)),
        "sex_dlib": sum(right(r, "dlib_p_female") for r in reads),
        "sex_faceapi": sum(right(r, "faceapi_p_female") for r in reads),
    }


def parse_cases(text: str) -> list[tuple[str, str, int]]:
    """"female/senior/118,male/adult/4" -> [("female", "senior", 118), ("male", "adult", 4)]."""
    out = []
    for part in text.split(","):
        sex, band, seed = part.strip().split("/")
        out.append((sex, band, int(seed)))
    return out


def scan(seeds: list[int], out: Path | None) -> None:
    """Read the seeds' faces as they are; print and save the misread ones."""
    cases = face_quality.render_cases(seeds, 512)
    reads = read(cases)
    misread = [r for r in reads if r["detected"] and r["expression"] not in PLEASANT]
    for r in misread:
        top = sorted(r["expressions"].items(), key=lambda kv: -kv[1])[:3]
        print(f"{r['face']:24s} tone {r['tone']:.2f} " + " ".join(f"{k} {v:.2f}" for k, v in top))
    s = summary(reads)
    print(json.dumps(s))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"summary": s, "reads": reads}, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scan", help="seeds to read as they are (e.g. 0-7,100-131,200-231)")
    ap.add_argument("--cases", help="faces to probe, sex/band/seed, comma-separated")
    ap.add_argument("--control", default="", help="control faces, same form, reported as their own group")
    ap.add_argument("--variants", default="base")
    ap.add_argument("--sheet", type=Path, help="save each variant's faces as a PNG strip (name-VARIANT.png)")
    ap.add_argument("--out", type=Path, help="write the result as OUT.json and the table as OUT.md")
    a = ap.parse_args()
    if a.scan:
        scan(face_quality.parse_seeds(a.scan), a.out)
        return
    groups = {"probed": parse_cases(a.cases)}
    if a.control:
        groups["control"] = parse_cases(a.control)
    keys = [k for g in groups.values() for k in g]
    result: dict[str, Any] = {"groups": {n: [f"{s}/{b}/{d}" for s, b, d in g] for n, g in groups.items()}, "variants": {}}
    lines = [f"{'variant':16s} {'group':8s} {'pleasant':>9s} {'p_pleas':>8s} {'p_sad':>6s} {'p_surp':>6s} {'p_angr':>6s} {'sex dlib':>9s} {'sex fapi':>9s}"]
    for name in a.variants.split(","):
        with VARIANTS[name]():
            cases = render(keys)
        reads = read(cases)
        result["variants"][name] = reads
        if a.sheet:
            strip = np.concatenate([c.image[::2, ::2] for c in cases], axis=1)
            Image.fromarray(strip).save(a.sheet.with_name(f"{a.sheet.stem}-{name}.png"))
        i = 0
        for gname, g in groups.items():
            s = summary(reads[i : i + len(g)])
            i += len(g)
            line = (f"{name:16s} {gname:8s} {s['pleasant']:>5d}/{s['detected']:<3d} {s['p_pleasant']:8.3f} {s['p_sad']:6.3f} "
                    f"{s['p_startled']:6.3f} {s['p_angry']:6.3f} {s['sex_dlib']:>5d}/{s['n']:<3d} {s['sex_faceapi']:>5d}/{s['n']:<3d}")
            print(line, flush=True)
            lines.append(line)
    face_quality.report_probe(result, "\n".join(lines) + "\n", a.out)


if __name__ == "__main__":
    main()
