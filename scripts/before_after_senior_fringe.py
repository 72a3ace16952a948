"""Dev tool: the before/after sheet of older women's fringes (docs/before_after_senior_fringe.png).

    git stash && python scripts/before_after_senior_fringe.py before; git stash pop
    python scripts/before_after_senior_fringe.py after
    python scripts/before_after_senior_fringe.py draw docs/before_after_senior_fringe.png

(Or check out the old revision for ``before``.) Renders the benchmark's senior women
(`face_quality.render_cases`) at 512 px, reads them with dlib, and draws each head at
100 %, old above new, with dlib's p_female under it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality  # noqa: E402

SEEDS = (101, 103, 118, 125, 216, 108)
OUT = Path("out/senior_fringe")


def main() -> None:
    tag = sys.argv[1]
    OUT.mkdir(parents=True, exist_ok=True)
    if tag != "draw":
        cases = face_quality.render_cases(SEEDS, 512, bands=("senior",), sexes=("female",))
        pf = [v.p_female for v in face_quality.read_faces(cases)]
        np.save(OUT / f"{tag}.npy", np.stack([c.image for c in cases]))
        (OUT / f"{tag}.json").write_text(json.dumps(pf))
        return
    w, h, t = 320, 320, 22
    sheet = Image.new("RGB", (w * len(SEEDS), 2 * (h + t)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, name in enumerate(("before", "after")):
        imgs, pf = np.load(OUT / f"{name}.npy"), json.loads((OUT / f"{name}.json").read_text())
        for i, seed in enumerate(SEEDS):
            sheet.paste(Image.fromarray(imgs[i][40 : 40 + h, 96 : 96 + w]), (w * i, r * (h + t)))
            draw.text((w * i + 6, r * (h + t) + h + 4), f"{name}: female/senior/{seed}  dlib p_female {pf[i]:.2f}", fill="black")
    sheet.save(sys.argv[2])


if __name__ == "__main__":
    main()
