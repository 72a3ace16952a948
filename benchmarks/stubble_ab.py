"""Before / after light stubble on every grown man (`mapping.STUBBLE_FLOOR`, issue 13).

    python -m benchmarks.stubble_ab [--seed-list 225,210,...] [--sheet docs/before_after_stubble.png] [--judge]

"Before" is the same mapping with the floor at 0 (main's: a shaving shadow alone on a third
of the men), so both sides are the same benchmark men (`face_quality.render_cases`, every
age band of each seed). ``--sheet`` draws the lower two thirds of each face at 100 %, before
over after; ``--judge`` reads both sides with both judges (`men_probe.read`) and prints the
paired counts of men read as men and face-api's pleasant reads.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import face_quality, men_probe  # noqa: E402
from benchmarks.face_quality import Case  # noqa: E402
from streamface.face import mapping  # noqa: E402

SHEET_SEEDS = "225,210,200,105,131,215"


@contextlib.contextmanager
def floor(value: float) -> Iterator[None]:
    """Map faces with ``value`` as the stubble floor (0: main's mapping)."""
    old = mapping.STUBBLE_FLOOR
    mapping.STUBBLE_FLOOR = value
    try:
        yield
    finally:
        mapping.STUBBLE_FLOOR = old


def render(seeds: list[int], before: bool) -> list[Case]:
    with floor(0.0 if before else mapping.STUBBLE_FLOOR):
        return face_quality.render_cases(seeds, 512, sexes=("male",))


def sheet(before: list[Case], after: list[Case], path: Path, bands: tuple[str, ...] = ("young_adult", "adult")) -> None:
    """Lower two thirds of each face (256 x 300 px of the 512 px render), before over after."""
    cols = []
    for b, a in zip(before, after, strict=True):
        if b.band not in bands:
            continue
        pair = []
        for case, label in ((b, "before"), (a, "after")):
            tile = Image.fromarray(case.image[150:450, 128:384].copy())
            ImageDraw.Draw(tile).text((4, 4), f"{label} {case.band} {case.seed}", fill=(20, 20, 20))
            pair.append(np.asarray(tile))
        cols.append(np.concatenate(pair, axis=0))
    Image.fromarray(np.concatenate(cols, axis=1)).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed-list", default=SHEET_SEEDS)
    ap.add_argument("--sheet", type=Path)
    ap.add_argument("--judge", action="store_true")
    a = ap.parse_args()
    seeds = face_quality.parse_seeds(a.seed_list)
    before, after = render(seeds, True), render(seeds, False)
    if a.sheet:
        sheet(before, after, a.sheet)
    if a.judge:
        for name, cases in (("before", before), ("after", after)):
            pf, expressions = men_probe.read(cases)
            right = {j: sum(v is not None and v < 0.5 for v in pf[j]) for j in pf}
            pleasant = sum(e in face_quality.PLEASANT for e in expressions)
            print(f"{name:7s} men read as men: dlib {right['dlib']}/{len(cases)}, face-api {right['faceapi']}/{len(cases)}; pleasant {pleasant}/{len(cases)}")


if __name__ == "__main__":
    main()
