"""Dev tool: a before/after sheet of every moustache style, at rest and talking.

Usage:
    python scripts/moustache_styles_sheet.py -o docs/before_after_moustache2.png --before OLD_CHECKOUT [--zoom 2]

One man (`BASE`) with each style that has a moustache on light and dark skin, and with a
grey beard; each face's mouth and nose region at rest and on an open "A", enlarged ``--zoom``
times (nearest pixels, so 100 % pixels stay visible). With ``--before`` the other
checkout's two tiles come first (left) and this tree's after them (right).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contact_sheet import after_and_before, zoomed  # noqa: E402

BASE = {
    "masculinity": 1.0, "age": 0.55, "facial_hair": 0.9, "hair_style": 11.0, "hair_lightness": 0.07,
    "nose_length": 0.75, "nose_width": 0.5, "lip_fullness": 0.4, "lip_width": 0.15, "chin_length": 0.7,
}
"""A grown man's face (short hair, a full-grown beard, an average nose and lips)."""
STYLES = (("full", 0), ("short_boxed", 1), ("goatee", 2), ("circle", 3), ("moustache", 4), ("horseshoe", 6))
SKINS = (("light", 0.2), ("dark", 0.92))
GREY = {"hair_lightness": 0.4, "hair_grey": 0.7, "skin_tone": 0.3}
"""A grey beard, shown full and as a moustache alone."""
BOX = (0.37, 0.63, 0.455, 0.635)
"""The nose's underside, the moustache and the mouth (fractions of a 512 px frame)."""

# Renders FaceParams overrides at rest and on an open "A" with whatever checkout is first on
# the path: [2 N, size, size, 3] uint8, each face's two frames in a row.
_RENDER = r"""
import json, sys
import numpy as np
import torch
from streamface.face.animation import FaceAnimation
from streamface.face.params import FaceParams, params_matrix
from streamface.face.renderer import FaceRenderer

specs, size, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(1)
anims = [FaceAnimation(), FaceAnimation(mouth_open=0.5, v_a=1.0, v_rest=0.0)]
params = params_matrix([FaceParams().with_overrides(s) for s in specs for _ in anims])
anim = torch.from_numpy(np.stack([a.to_vector() for _ in specs for a in anims])).float()
with torch.no_grad():
    imgs = FaceRenderer(size)(torch.from_numpy(params), anim)
np.save(out, (imgs.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8))
"""


def faces() -> list[tuple[str, dict[str, float]]]:
    """(label, FaceParams overrides) of every face on the sheet."""
    out = [(f"{name}, {skin} skin", {**BASE, "facial_hair_style": float(i), "skin_tone": tone}) for skin, tone in SKINS for name, i in STYLES]
    out += [(f"{name}, grey", {**BASE, **GREY, "facial_hair_style": float(i)}) for name, i in (("full", 0), ("moustache", 4))]
    return out


def sheet(labels: list[str], after: np.ndarray, before: np.ndarray | None, zoom: int, per_row: int) -> Image.Image:
    """Each face's region at rest and talking, before (left pair) and after (right pair)."""
    tiles = []
    for i in range(len(labels)):
        frames = ([before[2 * i], before[2 * i + 1]] if before is not None else []) + [after[2 * i], after[2 * i + 1]]
        tiles.append([zoomed(f, BOX, zoom) for f in frames])
    tw, th = tiles[0][0].shape[1], tiles[0][0].shape[0]
    gaps = [4, 12, 4] if before is not None else [4]
    cell_w = tw * len(tiles[0]) + sum(gaps)
    rows = -(-len(labels) // per_row)
    img = Image.new("RGB", (per_row * (cell_w + 16), rows * (th + 18) + 24), (24, 24, 28))
    draw = ImageDraw.Draw(img)
    which = "before: rest, talking | after: rest, talking" if before is not None else "rest, talking"
    draw.text((6, 6), f"moustaches ({which}), at {zoom}x", fill=(230, 230, 230))
    for i, (label, row) in enumerate(zip(labels, tiles, strict=True)):
        x, y = (i % per_row) * (cell_w + 16), 24 + (i // per_row) * (th + 18)
        x0 = x
        for j, t in enumerate(row):
            img.paste(Image.fromarray(t), (x, y))
            x += tw + (gaps[j] if j < len(gaps) else 0)
        draw.text((x0 + 4, y + th + 3), label, fill=(170, 170, 170))
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="out/moustache_sheet.png")
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("--per-row", type=int, default=2)
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' faces")
    args = ap.parse_args()
    named = faces()
    after, before = after_and_before([f for _, f in named], 512, Path(args.out), args.before, _RENDER)
    sheet([n for n, _ in named], after, before, args.zoom, args.per_row).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
