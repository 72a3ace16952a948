"""Dev tool: before/after sheets of beards (and, for older men, their brows).

Usage:
    python scripts/beard_sheet.py -o docs/before_after_beards.png --before OLD_CHECKOUT
    python scripts/beard_sheet.py --faces grey -o docs/before_after_greybeard.png --before OLD_CHECKOUT

``--faces colour`` (default): black, brown, blond and red full, boxed and circle beards on
light to dark skin, and a just-grown one; ``--faces grey``: older men with white, grey and
salt-and-pepper beards, a moustache and stubble, and an older woman for the brows. Each
face is a fixed set of parameters, shown whole at 100 % and its brows-to-chin at ``--zoom``
(nearest pixels); with ``--before`` the other checkout's face comes first (left) and this
tree's after it. An old checkout can be made without touching the repository's worktrees:
``mkdir /tmp/base && git archive main streamface benchmarks scripts | tar -x -C /tmp/base``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contact_sheet import PARAMS_RENDER, after_and_before, detail_sheet  # noqa: E402

Faces = tuple[tuple[str, dict[str, object]], ...]

ADULT = {"age": 0.45, "masculinity": 0.95, "hair_grey": 0.0, "hair_style": "side_part"}
COLOUR: tuple[tuple[str, dict[str, object]], ...] = (
    ("black full, light", {"skin_tone": 0.1, "hair_lightness": 0.03, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("brown full, medium", {"skin_tone": 0.4, "hair_lightness": 0.25, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("blond boxed, light", {"skin_tone": 0.15, "hair_lightness": 0.75, "facial_hair": 0.75, "facial_hair_style": "short_boxed"}),
    ("red full, light", {"skin_tone": 0.08, "hair_lightness": 0.55, "hair_red": 0.9, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("black full, dark", {"skin_tone": 0.9, "hair_style": "short_afro", "hair_lightness": 0.03, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("black boxed, tan", {"skin_tone": 0.65, "hair_lightness": 0.05, "facial_hair": 0.7, "facial_hair_style": "short_boxed"}),
    ("brown circle, brown", {"skin_tone": 0.75, "hair_style": "receding", "hair_lightness": 0.2, "facial_hair": 0.7, "facial_hair_style": "circle"}),
    ("just grown black full, light", {"skin_tone": 0.2, "hair_lightness": 0.05, "facial_hair": 0.44, "facial_hair_style": "full"}),
)
"""(label, parameters over `ADULT`) of each face of ``--faces colour``."""

SENIOR = {"age": 0.95, "age_lines": 0.9, "age_sag": 0.8, "masculinity": 0.95, "hair_style": "side_part"}
GREY: tuple[tuple[str, dict[str, object]], ...] = (
    ("white full, light", {"skin_tone": 0.1, "hair_grey": 0.95, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("grey full, medium", {"skin_tone": 0.45, "hair_grey": 0.7, "hair_lightness": 0.1, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("salt+pepper boxed, tan", {"skin_tone": 0.6, "hair_grey": 0.5, "hair_lightness": 0.05, "facial_hair": 0.75, "facial_hair_style": "short_boxed"}),
    ("white full, dark", {"skin_tone": 0.9, "hair_style": "short_afro", "hair_grey": 0.9, "hair_lightness": 0.05, "facial_hair": 0.8, "facial_hair_style": "full"}),
    ("white circle, brown", {"skin_tone": 0.75, "hair_style": "receding", "hair_grey": 0.9, "hair_lightness": 0.05, "facial_hair": 0.7, "facial_hair_style": "circle"}),
    ("white moustache, light", {"skin_tone": 0.25, "hair_grey": 0.9, "facial_hair": 0.65, "facial_hair_style": "moustache"}),
    ("grey stubble, medium", {"skin_tone": 0.5, "hair_grey": 0.9, "facial_hair": 0.38}),
    ("older woman, grey", {"skin_tone": 0.3, "hair_grey": 0.9, "masculinity": 0.05, "hair_style": "bob", "makeup": 0.1}),
)
"""(label, parameters over `SENIOR`) of each face of ``--faces grey``."""

SETS: dict[str, tuple[str, dict[str, object], Faces]] = {
    "colour": ("dark and mid-coloured beards", ADULT, COLOUR),
    "grey": ("grey and white beards and brows", SENIOR, GREY),
}
BROWS_TO_CHIN = (0.3, 0.7, 0.3, 0.72)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="out/beard_sheet.png")
    ap.add_argument("--faces", choices=sorted(SETS), default="colour", help="which set of faces")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("--per-row", type=int, default=2)
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' faces")
    args = ap.parse_args()
    title, base, faces = SETS[args.faces]
    specs = [{**base, **f} for _, f in faces]
    after, before = after_and_before(specs, args.size, Path(args.out), args.before, PARAMS_RENDER)
    sheet = detail_sheet([label for label, _ in faces], after, before, BROWS_TO_CHIN, args.zoom, args.per_row, title)
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
