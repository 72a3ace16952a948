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

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contact_sheet import after_and_before  # noqa: E402

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


def lower_face(img: np.ndarray, zoom: int) -> np.ndarray:
    """The mouth and chin of a portrait (a fixed box of its frame), enlarged ``zoom`` times."""
    s = img.shape[0]
    crop = img[int(s * 0.5) : int(s * 0.74), int(s * 0.33) : int(s * 0.67)]
    return np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)


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
    specs = [list(f) for f in faces]
    after, before = after_and_before(specs, args.size, Path(args.out), args.before, _RENDER)
    tiles = []
    for i in range(len(specs)):
        pair = [before[i], after[i]] if before is not None else [after[i]]
        tiles.append([t for img in pair for t in (img, lower_face(img, args.zoom))])
    s, zh = args.size, lower_face(after[0], args.zoom).shape
    cell_w = sum(t.shape[1] for t in tiles[0]) + 4 * (len(tiles[0]) - 1)
    cell_h = max(s, zh[0]) + 16
    rows = -(-len(specs) // args.per_row)
    sheet = Image.new("RGB", (args.per_row * (cell_w + 12), rows * cell_h + 24), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    title = "before | after" if before is not None else "after"
    draw.text((6, 6), f"goatee and circle beards ({title}): whole face at 100 %, lower face at {args.zoom}x", fill=(230, 230, 230))
    for i, ((band, seed), row_tiles) in enumerate(zip(faces, tiles, strict=True)):
        x, y = (i % args.per_row) * (cell_w + 12), 24 + (i // args.per_row) * cell_h
        for t in row_tiles:
            sheet.paste(Image.fromarray(t), (x, y))
            x += t.shape[1] + 4
        draw.text(((i % args.per_row) * (cell_w + 12) + 4, y + max(s, zh[0]) + 2), f"{band} #{seed}", fill=(170, 170, 170))
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
