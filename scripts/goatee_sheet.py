"""Dev tool: a before/after sheet of the benchmark grid's goatee and circle-beard men.

Usage:
    python scripts/goatee_sheet.py -o OUT.png [--before OLD_CHECKOUT] [--size 256] [--zoom 3]

Each face is the benchmark's own (`benchmarks.face_quality`: the same profile, identity and
look for a seed), shown whole at 100 % and its lower face at ``--zoom`` (nearest pixels); with
``--before`` the other checkout's face comes first (left) and this tree's after it (right).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contact_sheet import after_and_before, detail_sheet  # noqa: E402

FACES: tuple[tuple[str, int], ...] = (
    ("senior", 110), ("senior", 125), ("senior", 214), ("senior", 224),
    ("senior", 116), ("senior", 220), ("senior", 112), ("adult", 125),
    ("young_adult", 110), ("young_adult", 112), ("senior", 201), ("adult", 103),
)
"""(band, seed) of men with a goatee (the first ten) or a circle beard (the last two):
grey, white and dark hair on light, medium and dark skin, a just-grown one (0.42-0.47)."""

# Renders (band, seed) men of the benchmark grid with whatever checkout is first on the path.
_RENDER = r"""
import json, sys
import numpy as np
from benchmarks import face_quality as fq
from streamface.face.mapping import params_for_profile

specs, size, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
faces = [params_for_profile(fq.synthetic_profile(fq.SEXES["male"], b, s), identity=fq._identity(s), look=fq._look(s))
         for b, s in specs]
np.save(out, fq.render_faces(faces, size))
"""


LOWER_FACE = (0.33, 0.67, 0.5, 0.74)
"""The mouth and chin of a portrait (a fixed box of its frame)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="out/goatee_sheet.png")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--zoom", type=int, default=3)
    ap.add_argument("--per-row", type=int, default=2)
    ap.add_argument("--faces", default="", help="band:seed,... instead of the default faces (e.g. adult:201)")
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' faces")
    args = ap.parse_args()
    faces = [(b, int(s)) for b, s in (f.split(":") for f in args.faces.split(","))] if args.faces else list(FACES)
    after, before = after_and_before([list(f) for f in faces], args.size, Path(args.out), args.before, _RENDER)
    labels = [f"{band} #{seed}" for band, seed in faces]
    sheet = detail_sheet(labels, after, before, LOWER_FACE, args.zoom, args.per_row, "goatee and circle beards")
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
