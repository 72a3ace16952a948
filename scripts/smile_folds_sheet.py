"""Dev tool: a before/after sheet of the smile folds (`skin.FOLD_BOW`).

Usage:
    python scripts/smile_folds_sheet.py -o docs/before_after_smile_folds.png --before OLD_CHECKOUT

Faces with age lines and mouths of every width (men clean-shaven and stubbled, women),
each whole at 100 % and its nose-to-chin region enlarged; with ``--before`` the other
checkout's faces come first (left) and this tree's after them (right).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contact_sheet import PARAMS_RENDER, after_and_before, detail_sheet  # noqa: E402

MAN = {"masculinity": 1.0, "hair_style": 11.0, "hair_lightness": 0.1, "age": 0.6, "age_lines": 0.45}
WOMAN = {"masculinity": 0.0, "hair_style": 2.0, "hair_lightness": 0.3, "age": 0.6, "age_lines": 0.45}
FACES: tuple[tuple[str, dict[str, float]], ...] = (
    ("man, narrow mouth, clean-shaven", {**MAN, "lip_width": 0.0, "nose_width": 0.9, "facial_hair": 0.0, "skin_tone": 0.2}),
    ("man, narrow mouth, stubble", {**MAN, "lip_width": 0.1, "nose_width": 0.7, "facial_hair": 0.3, "skin_tone": 0.45}),
    ("man, average mouth, stubble", {**MAN, "lip_width": 0.5, "facial_hair": 0.3, "skin_tone": 0.8}),
    ("older man, wide mouth", {**MAN, "lip_width": 0.9, "age": 0.9, "age_lines": 0.8, "hair_grey": 0.7, "facial_hair": 0.25, "skin_tone": 0.3}),
    ("woman, narrow mouth", {**WOMAN, "lip_width": 0.1, "nose_width": 0.6, "skin_tone": 0.15}),
    ("older woman, average mouth", {**WOMAN, "lip_width": 0.5, "age": 0.9, "age_lines": 0.8, "hair_grey": 0.8, "skin_tone": 0.6}),
)
BOX = (0.36, 0.64, 0.44, 0.66)
"""From under the nose to the chin (fractions of the frame)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/before_after_smile_folds.png"))
    parser.add_argument("--before", type=Path, default=None, help="another checkout, drawn on the left")
    parser.add_argument("--size", type=int, default=384, help="face size in pixels (shown at 100 %%)")
    parser.add_argument("--zoom", type=int, default=3)
    args = parser.parse_args()
    specs = [spec for _, spec in FACES]
    after, before = after_and_before(specs, args.size, args.out, args.before, PARAMS_RENDER)
    labels = [label for label, _ in FACES]
    detail_sheet(labels, after, before, BOX, args.zoom, 2, "smile folds").save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
