"""A man's moustache sits above his mouth line (issue 13, seen at 100 %).

A short dark moustache on light skin (benchmark face male/young_adult/126) came down onto
the mouth line: one dark band from its top to the lips' seam, read as an open mouth slot.
It now stops `facial_hair.MOUSTACHE_GAP` higher, with a hair-tip lower edge, and a lit
sliver of upper lip shows between it and the seam.
"""

from __future__ import annotations

import numpy as np

from benchmarks.face_quality import render_cases

SIZE = 512


def test_a_dark_moustache_leaves_a_lit_sliver_of_lip_above_the_mouth_line() -> None:
    """Centre column of face 126 at rest: under the moustache's dark run a row lighter than
    the seam below it (main: dark straight down into the seam, 0 levels)."""
    case = render_cases([126], SIZE, bands=("young_adult",), sexes=("male",))[0]
    lum = case.image[:, SIZE // 2 - 6 : SIZE // 2 + 7].astype(float).mean(axis=(1, 2))
    rows = np.arange(SIZE)
    dark = rows[(lum < 60) & (rows > SIZE // 2) & (rows < SIZE * 3 // 5)]
    assert dark.size > 3  # the moustache is there
    below = lum[dark[-1] + 1 :]
    lip = int(np.argmax(below > 150))  # the lower lip
    between = below[:lip]
    sliver = float(between.max()) - float(between[int(np.argmax(between)) :].min())
    assert sliver >= 20.0, f"no lit upper lip between moustache and mouth line ({sliver:.0f} levels)"
