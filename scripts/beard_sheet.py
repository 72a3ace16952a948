"""Dev tool: a before/after sheet of men with dark and mid-coloured grown beards.

Usage:
    python scripts/beard_sheet.py -o docs/before_after_beards.png --before OLD_CHECKOUT

Each face is a fixed set of parameters (`FACES`: black, brown, blond and red full, boxed,
circle and horseshoe beards on light to dark skin), shown whole at 100 % and its
brows-to-chin at ``--zoom`` (nearest pixels);
with ``--before`` the other checkout's face comes first (left) and this tree's after it.
An old checkout can be made without touching the repository's worktrees:
``mkdir /tmp/base && git archive main streamface benchmarks scripts | tar -x -C /tmp/base``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contact_sheet import after_and_before  # noqa: E402

ADULT = {"age": 0.45, "masculinity": 0.95, "hair_grey": 0.0, "hair_style": "side_part"}
FACES: tuple[tuple[str, dict[str, object]], ...] = (
    ("black full, light", {"skin_tone": 0.1, "hair_lightness": 0.03, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("brown full, medium", {"skin_tone": 0.4, "hair_lightness": 0.25, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("blond boxed, light", {"skin_tone": 0.15, "hair_lightness": 0.75, "facial_hair": 0.75, "facial_hair_style": "short_boxed"}),
    ("red full, light", {"skin_tone": 0.08, "hair_lightness": 0.55, "hair_red": 0.9, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("black full, dark", {"skin_tone": 0.9, "hair_style": "short_afro", "hair_lightness": 0.03, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("black boxed, tan", {"skin_tone": 0.65, "hair_lightness": 0.05, "facial_hair": 0.7, "facial_hair_style": "short_boxed"}),
    ("brown circle, brown", {"skin_tone": 0.75, "hair_style": "receding", "hair_lightness": 0.2, "facial_hair": 0.7, "facial_hair_style": "circle"}),
    ("just grown black full, light", {"skin_tone": 0.2, "hair_lightness": 0.05, "facial_hair": 0.44, "facial_hair_style": "full"}),
)
"""(label, parameters over `ADULT`) of each face."""

# Renders parameter overrides with whatever checkout is first on the path.
_RENDER = r"""
import json, sys
from benchmarks import face_quality as fq
import numpy as np
from streamface.face.params import FaceParams

specs, size, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
np.save(out, fq.render_faces([FaceParams().with_overrides(s) for s in specs], size))
"""


def detail(img: np.ndarray, zoom: int) -> np.ndarray:
    """Brows to chin of a portrait (a fixed box of its frame), enlarged ``zoom`` times."""
    s = img.shape[0]
    crop = img[int(s * 0.3) : int(s * 0.72), int(s * 0.3) : int(s * 0.7)]
    return np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="out/beard_sheet.png")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("--per-row", type=int, default=2)
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' faces")
    args = ap.parse_args()
    specs = [{**ADULT, **f} for _, f in FACES]
    after, before = after_and_before(specs, args.size, Path(args.out), args.before, _RENDER)
    tiles = []
    for i in range(len(specs)):
        pair = [before[i], after[i]] if before is not None else [after[i]]
        tiles.append([t for img in pair for t in (img, detail(img, args.zoom))])
    s, zh = args.size, detail(after[0], args.zoom).shape
    cell_w = sum(t.shape[1] for t in tiles[0]) + 4 * (len(tiles[0]) - 1)
    cell_h = max(s, zh[0]) + 16
    rows = -(-len(specs) // args.per_row)
    sheet = Image.new("RGB", (args.per_row * (cell_w + 12), rows * cell_h + 24), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    title = "before (left pair) | after (right pair)" if before is not None else "after"
    draw.text((6, 6), f"dark and mid-coloured beards ({title}): whole face at 100 %, brows to chin at {args.zoom}x", fill=(230, 230, 230))
    for i, ((label, _), row_tiles) in enumerate(zip(FACES, tiles, strict=True)):
        x, y = (i % args.per_row) * (cell_w + 12), 24 + (i // args.per_row) * cell_h
        for t in row_tiles:
            sheet.paste(Image.fromarray(t), (x, y))
            x += t.shape[1] + 4
        draw.text(((i % args.per_row) * (cell_w + 12) + 4, y + max(s, zh[0]) + 2), label, fill=(170, 170, 170))
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
