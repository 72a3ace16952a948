"""Dev tool: contact sheets of every hairstyle, facial hair style and beauty-mark spot.

Usage:
    python scripts/hair_sheet.py [--what hair|beard|marks] [-o OUT.png] [--size 256] [--scale 2]
    python scripts/hair_sheet.py --what hair --before /work/main -o docs/before_after_hair.png

``hair``: every style of `params.HAIR_STYLES` (masculine styles on a masculine face,
feminine ones on a feminine face) in three looks: light skin with dark hair, dark skin
with light hair, medium skin with grey hair. ``beard``: every `BEARD_STYLES` row plus
shaving shadow and stubble, in dark, light and grey hair on light and dark skin.
``marks``: the beauty mark along `mole_pos`, and freckles. ``--scale 2`` shows each tile
upscaled (nearest) as the web client shows a 256 px stream at 512 CSS px. With
``--before TREE`` each tile is shown beside the one rendered by another checkout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from face_contact_sheet import after_and_before  # scripts/ is this script's sys.path[0]
from PIL import Image, ImageDraw

# Renders a list of override dicts with whatever streamface is first on the path.
_RENDER = r"""
import json, sys
import numpy as np
import torch
from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.renderer import FaceRenderer

specs, size, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(1)
faces = [FaceParams().with_overrides(s) for s in specs]
anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * len(faces)))
with torch.no_grad():
    imgs = FaceRenderer(size)(torch.from_numpy(params_matrix(faces)), anim)
np.save(out, (imgs.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8))
"""

LOOKS: dict[str, dict[str, float]] = {
    "light skin, dark hair": {"skin_tone": 0.1, "hair_lightness": 0.1, "hair_grey": 0.0},
    "dark skin, light hair": {"skin_tone": 0.85, "hair_lightness": 0.85, "hair_grey": 0.0},
    "mid skin, grey hair": {"skin_tone": 0.45, "hair_lightness": 0.3, "hair_grey": 0.9},
}
FEMININE = {"masculinity": 0.1, "makeup": 0.3, "age": 0.4}
MASCULINE = {"masculinity": 0.9, "makeup": 0.0, "age": 0.45}


def hair_specs() -> list[tuple[str, dict[str, object]]]:
    """(label, overrides) for every hairstyle in every look."""
    from streamface.face.params import HAIR_STYLES, MALE_HAIR_STYLES

    out = []
    for style in HAIR_STYLES:
        base = MASCULINE if style in MALE_HAIR_STYLES else FEMININE
        for look, values in LOOKS.items():
            out.append((f"{style} / {look}", {**base, **values, "hair_style": style, "hair_side": 0.9}))
    return out


def beard_specs() -> list[tuple[str, dict[str, object]]]:
    """(label, overrides) for shaving shadow, stubble and every grown style in each colour."""
    from streamface.face.params import BEARD_STYLES

    amounts = [("shadow", 0.15, "full"), ("stubble", 0.35, "full")] + [(s, 0.85, s) for s in BEARD_STYLES]
    looks = {
        "light skin, dark": {"skin_tone": 0.1, "hair_lightness": 0.1, "hair_grey": 0.0},
        "light skin, white": {"skin_tone": 0.1, "hair_lightness": 0.3, "hair_grey": 1.0},
        "dark skin, dark": {"skin_tone": 0.85, "hair_lightness": 0.1, "hair_grey": 0.0},
        "dark skin, white": {"skin_tone": 0.85, "hair_lightness": 0.3, "hair_grey": 1.0},
    }
    return [
        (f"{name} / {look}", {**MASCULINE, **values, "hair_style": "crew", "facial_hair": fh, "facial_hair_style": style})
        for name, fh, style in amounts
        for look, values in looks.items()
    ]


def mark_specs() -> list[tuple[str, dict[str, object]]]:
    """(label, overrides): the beauty mark along mole_pos on both presentations, and freckles."""
    out: list[tuple[str, dict[str, object]]] = []
    for pos in np.linspace(0.0, 1.0, 11):
        for name, base in (("f", FEMININE), ("m", MASCULINE)):
            out.append((f"mole_pos {pos:.1f} {name}", {**base, "mole": 1.0, "mole_pos": float(pos), "hair_style": "bob" if name == "f" else "crew"}))
    out.append(("freckles", {**FEMININE, "freckles": 1.0, "skin_tone": 0.15, "hair_style": "long"}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", choices=("hair", "beard", "marks"), default="hair")
    ap.add_argument("-o", "--out", default="out/hair_sheet.png")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale of each tile")
    ap.add_argument("--only", default="", help="comma-separated substrings: keep tiles whose label has one")
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' tiles")
    args = ap.parse_args()
    labelled = {"hair": hair_specs, "beard": beard_specs, "marks": mark_specs}[args.what]()
    if args.only:
        keys = args.only.split(",")
        labelled = [(lab, s) for lab, s in labelled if any(k in lab for k in keys)]
    labels, specs = [lab for lab, _ in labelled], [s for _, s in labelled]
    out = Path(args.out)
    after, before = after_and_before(specs, args.size, out, args.before, code=_RENDER)
    s = args.size * args.scale
    per = 2 if before is not None else 1
    cols = min(args.cols, len(specs))
    rows = (len(specs) + cols - 1) // cols
    label_h = 16
    sheet = Image.new("RGB", (cols * (per * s + 6), rows * (s + label_h)), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    for i, label in enumerate(labels):
        x, y = (i % cols) * (per * s + 6), (i // cols) * (s + label_h)
        tiles = [before[i], after[i]] if before is not None else [after[i]]
        for j, tile in enumerate(tiles):
            img = Image.fromarray(tile)
            if args.scale > 1:
                img = img.resize((s, s), Image.Resampling.NEAREST)
            sheet.paste(img, (x + j * s, y))
        draw.text((x + 4, y + s + 2), label + (" (old | new)" if before is not None else ""), fill=(190, 190, 190))
    sheet.save(out)
    print(out)


if __name__ == "__main__":
    main()
