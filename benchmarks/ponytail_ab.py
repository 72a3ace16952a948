"""The ponytail before and after (issue 13): a contact sheet and both judges, paired.

    python -m benchmarks.ponytail_ab [--ref main] [--sheet docs/before_after_ponytail.png] [--judge]

Renders the same 24 women's faces (every skin tone third and age band) with
`hair_style=ponytail`, once with the renderer's hair layer as it is in git revision ``--ref``
and once as it is in the working tree. ``--sheet`` writes the first six, old above new,
at 384 px each (100 %); ``--judge`` reads all of them (at 512 px) with dlib and face-api and prints
the paired reads (detection, sex, expression) per skin tone third.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality  # noqa: E402
from benchmarks.face_quality import PLEASANT, TONES, Case  # noqa: E402
from streamface.face.params import FaceParams  # noqa: E402

FACES: tuple[tuple[str, int], ...] = (
    ("young_adult", 1), ("adult", 6), ("senior", 0), ("adult", 108), ("young_adult", 113), ("adult", 5),
    ("senior", 3), ("young_adult", 100), ("adult", 111), ("senior", 2), ("young_adult", 105), ("senior", 115),
    ("young_adult", 7), ("adult", 102), ("senior", 109), ("young_adult", 110), ("adult", 4), ("senior", 101),
    ("young_adult", 106), ("adult", 112), ("senior", 103), ("young_adult", 107), ("adult", 118), ("senior", 120),
)
"""(age band, seed) of the women drawn: eight each of light, medium and dark skin tones."""

SIZE = 384


def faces() -> list[tuple[str, int, FaceParams]]:
    """The faces as `face_quality.render_cases` makes them, in a ponytail."""
    from streamface.face.mapping import params_for_profile

    out = []
    for band, seed in FACES:
        profile = face_quality.synthetic_profile(face_quality.SEXES["female"], band, seed)
        face = params_for_profile(profile, identity=face_quality._identity(seed), look=face_quality._look(seed))
        out.append((band, seed, face.with_overrides({"hair_style": "ponytail"})))
    return out


@contextlib.contextmanager
def hair_at(ref: str | None) -> Iterator[None]:
    """Draw with `streamface/face/render/hair.py` as it is in git revision ``ref`` (None: as is)."""
    if ref is None:
        yield
        return
    from streamface.face.render import compose

    root = Path(__file__).resolve().parent.parent
    text = subprocess.run(
        ["git", "show", f"{ref}:streamface/face/render/hair.py"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hair_ref.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location("streamface.face.render.hair_ref", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "tail_layer"):  # (before the tail was a layer of its own)
            module.tail_layer = lambda g, img, x, y, px: img  # type: ignore[attr-defined]
        original = compose.hair
        compose.hair = module  # type: ignore[assignment]
        try:
            yield
        finally:
            compose.hair = original


def render(ref: str | None, size: int = SIZE) -> list[Case]:
    """The faces drawn with the hair layer of ``ref`` (None: the working tree)."""
    chosen = faces()
    with hair_at(ref):
        images = face_quality.render_faces([f for _, _, f in chosen], size)
    return [Case("female", band, seed, face.skin_tone, img) for (band, seed, face), img in zip(chosen, images, strict=True)]


def sheet(before: list[Case], after: list[Case], path: Path, n: int = 6) -> None:
    """Old above new, ``n`` faces side by side at full size."""
    top = np.concatenate([c.image for c in before[:n]], axis=1)
    bottom = np.concatenate([c.image for c in after[:n]], axis=1)
    gap = np.full((8, top.shape[1], 3), 255, np.uint8)
    Image.fromarray(np.concatenate([top, gap, bottom], axis=0)).save(path, optimize=True)


def reads(cases: list[Case]) -> list[dict[str, Any]]:
    """Both judges' detection, sex read and (face-api) top expression per face."""
    from benchmarks import faceapi_judge

    rows = faceapi_judge.read_rows(cases, timeout_s=1800)
    dlib = face_quality.read_faces(cases)
    out = []
    for c, row, d in zip(cases, rows, dlib, strict=True):
        fa = None
        if row["detected"]:
            p = float(row["gender_probability"])
            fa = p if row["gender"] == "female" else 1.0 - p
        out.append({
            "face": f"{c.band}/{c.seed}", "tone": c.skin_tone, "fa_detected": bool(row["detected"]),
            "fa_p_female": fa, "expression": row.get("expression"),
            "p_pleasant": sum((row.get("expressions") or {}).get(k, 0.0) for k in PLEASANT),
            "dlib_detected": d.detected, "dlib_p_female": d.p_female,
        })
    return out


def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.2f}"


def report(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Per face and per skin tone third: the paired reads, old -> new."""
    lines = ["face            tone  fa det  fa p_female   expression (p pleasant)          dlib det  dlib p_female"]
    for b, a in zip(before, after, strict=True):
        lines.append(
            f"{b['face']:<15} {b['tone']:.2f}  {int(b['fa_detected'])}->{int(a['fa_detected'])}   "
            f"{_fmt(b['fa_p_female'])}->{_fmt(a['fa_p_female'])}   "
            f"{b['expression']!s:>9} ({b['p_pleasant']:.2f}) -> {a['expression']!s:>9} ({a['p_pleasant']:.2f})   "
            f"{int(b['dlib_detected'])}->{int(a['dlib_detected'])}     {_fmt(b['dlib_p_female'])}->{_fmt(a['dlib_p_female'])}"
        )

    def count(rows: list[dict[str, Any]]) -> str:
        fa_det = sum(r["fa_detected"] for r in rows)
        fa_sex = sum(r["fa_p_female"] is not None and r["fa_p_female"] >= 0.5 for r in rows)
        pleasant = sum(r["fa_detected"] and r["expression"] in PLEASANT for r in rows)
        dl_det = sum(r["dlib_detected"] for r in rows)
        dl_sex = sum(r["dlib_p_female"] is not None and r["dlib_p_female"] >= 0.5 for r in rows)
        mean_pl = np.mean([r["p_pleasant"] for r in rows if r["fa_detected"]] or [float("nan")])
        fa_mean = np.mean([r["fa_p_female"] for r in rows if r["fa_p_female"] is not None] or [float("nan")])
        dl_mean = np.mean([r["dlib_p_female"] for r in rows if r["dlib_p_female"] is not None] or [float("nan")])
        return (
            f"face-api det {fa_det} female {fa_sex} (p {fa_mean:.3f}) pleasant {pleasant} (p {mean_pl:.3f}); "
            f"dlib det {dl_det} female {dl_sex} (p {dl_mean:.3f})"
        )

    for name, lo, hi in (*TONES, ("all", 0.0, 1.01)):
        sel = [i for i, r in enumerate(before) if lo <= r["tone"] < hi]
        lines.append(f"{name:<7} n={len(sel):<2} before: {count([before[i] for i in sel])}")
        lines.append(f"{'':<12} after:  {count([after[i] for i in sel])}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="main", help="git revision whose hair layer is 'before'")
    ap.add_argument("--sheet", type=Path, help="write the contact sheet here")
    ap.add_argument("--judge", action="store_true", help="read before and after with both judges")
    args = ap.parse_args()
    before, after = render(args.ref), render(None)
    if args.sheet:
        sheet(before, after, args.sheet)
    if args.judge:
        # (At the benchmark's own size: `face_quality` reads 512 px portraits.)
        print(report(reads(render(args.ref, 512)), reads(render(None, 512))))


if __name__ == "__main__":
    main()
