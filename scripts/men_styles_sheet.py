"""Dev tool: the 13 masculine hairstyles side by side on one man, and how far apart they are.

Usage:
    python scripts/men_styles_sheet.py [-o OUT.png] [--size 256] [--before OLD_CHECKOUT]

Renders every `MALE_HAIR_STYLES` style on the same man in four looks (light and dark skin,
dark and light hair), prints each look's minimum and median mean absolute pixel difference
(0..255, whole frame) between two styles and writes a sheet of the heads: one row per
look, or with ``--before`` the other checkout's row above this one's
(`docs/before_after_mstyles.png`).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from face_contact_sheet import after_and_before  # scripts/ is this script's sys.path[0]
from hair_sheet import _RENDER
from PIL import Image, ImageDraw

LOOKS: dict[str, dict[str, float]] = {
    "light skin dark hair": {"skin_tone": 0.2, "hair_lightness": 0.1},
    "light skin light hair": {"skin_tone": 0.2, "hair_lightness": 0.85},
    "dark skin dark hair": {"skin_tone": 0.8, "hair_lightness": 0.1},
    "dark skin light hair": {"skin_tone": 0.8, "hair_lightness": 0.85},
}
MAN = {"masculinity": 0.9, "makeup": 0.0, "age": 0.45, "glasses": 0.0, "facial_hair": 0.0, "hair_grey": 0.0, "hair_thinning": 0.0}


def spread(tiles: np.ndarray) -> tuple[float, float]:
    """Minimum and median over every pair of tiles of their mean absolute difference."""
    t = tiles.astype(np.float32)
    d = [float(np.abs(t[i] - t[j]).mean()) for i, j in itertools.combinations(range(len(t)), 2)]
    return min(d), float(np.median(d))


def main() -> None:
    from streamface.face.params import MALE_HAIR_STYLES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="out/men_styles_sheet.png")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' rows")
    args = ap.parse_args()
    n = len(MALE_HAIR_STYLES)
    specs = [{**MAN, **look, "hair_style": s} for look in LOOKS.values() for s in MALE_HAIR_STYLES]
    after, before = after_and_before(specs, args.size, Path(args.out), args.before, _RENDER)
    s = args.size
    head = (slice(s // 64, s * 150 // 256), slice(s * 52 // 256, s * 204 // 256))
    rows, labels = [], []
    for k, look in enumerate(LOOKS):
        for name, renders in (("before", before), ("after", after)):
            if renders is None:
                continue
            tiles = renders[k * n : (k + 1) * n]
            lo, med = spread(tiles)
            print(f"{look:22s} {name:6s} min {lo:5.2f}  median {med:5.2f}")
            rows.append(np.concatenate([t[head] for t in tiles], axis=1))
            labels.append(f"{look}\n{name}")
    h, w = rows[0].shape[:2]
    sheet = Image.new("RGB", (110 + w, 16 + h * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        sheet.paste(Image.fromarray(row), (110, 16 + i * h))
        draw.text((4, 16 + i * h + h // 2 - 12), label.replace(" skin ", " skin\n"), fill=(0, 0, 0))
    for j, style in enumerate(MALE_HAIR_STYLES):
        draw.text((110 + j * (w // n) + 4, 2), style, fill=(0, 0, 0))
    sheet.save(args.out, optimize=True)


if __name__ == "__main__":
    main()
