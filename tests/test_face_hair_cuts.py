"""Short cuts and curls as a person sees them at 100 % (issue 13, "Face 2.0").

Clipped sides (crew, undercut, high fade) are short dark hair over the skin, drawn opaque
(a fainter cap showed the skin through as a grey-green patch); a young man's bald style is
a shaved head with no tabs of hair left at the temples; coils are open strokes, not closed
rings (which read as bubbles or scales).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from face_pixels import col_of, row_of

from streamface.face.animation import NEUTRAL
from streamface.face.params import FaceParams, params_matrix
from streamface.face.render import hair
from streamface.face.renderer import FaceRenderer

SIZE = 256
_col = functools.partial(col_of, size=SIZE)
_row = functools.partial(row_of, size=SIZE)
MASC = {"masculinity": 0.9, "makeup": 0.0, "age": 0.3, "skin_tone": 0.1, "hair_lightness": 0.1}


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _params(*overrides: dict[str, object]) -> torch.Tensor:
    return torch.from_numpy(params_matrix([FaceParams().with_overrides(o) for o in overrides]))


def _render(renderer: FaceRenderer, *overrides: dict[str, object]) -> np.ndarray:
    """[N, S, S, 3] float frames at rest."""
    params = _params(*overrides)
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * params.shape[0]))
    with torch.no_grad():
        return renderer(params, anim).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("style", ["crew", "undercut", "high_fade"])
def test_short_hair_is_opaque(renderer: FaceRenderer, style: str) -> None:
    """At the temples, below the top's long hair, a short cut covers the skin fully."""
    face = {**MASC, "hair_style": style}
    g = renderer._geometry(_params(face))
    x, y, px = renderer.xs, renderer.ys, renderer.px
    with torch.no_grad():
        f = hair.front(g, x, y, px)
        d = hair.silhouette(g, x, y)[0]
    cy, rx = float(g["cy"]), float(g["rx"])
    ax = torch.abs(x).expand_as(d)
    yy = y.expand_as(d)
    # Where the sides are clipped: beside the temples, well inside the hair's outline and
    # above its lower edge (away from the anti-aliased seams).
    zone = (ax > 0.84 * rx) & (yy > cy - 0.09) & (d < -3 * px) & (f["y_line"] - yy > 3 * px)
    mask = zone[0, 0].numpy()
    assert mask.sum() >= 10, f"only {mask.sum()} pixels of clipped side"
    a = f["a"][0, 0].numpy()[mask]
    assert a.mean() > 0.97, f"{style}: clipped sides {a.mean():.2f} opaque (the skin shows through)"
    # ... and reads as short dark hair: darker than the bare forehead beside it.
    img = _render(renderer, face)[0]
    lum = img @ np.array([0.3, 0.59, 0.11])
    forehead = lum[_row(float(g["brow_y"]) - 0.03), _col(0.0)]
    assert lum[mask].mean() < 0.9 * forehead, f"{style}: clipped sides {lum[mask].mean():.3f} vs forehead {forehead:.3f}"


def _hair_pixels(renderer: FaceRenderer, face: dict[str, object]) -> np.ndarray:
    """Above the ears and beside the brows: pixels whose colour follows the hair colour."""
    img = _render(renderer, {**face, "hair_lightness": 0.05}, {**face, "hair_lightness": 0.9})
    change = np.abs(img[0] - img[1]).max(axis=-1)
    beside = np.abs(renderer.xs[0, 0, 0].numpy()) > 0.22
    return (change > 0.05)[: _row(-0.14)] & beside


def test_young_bald_head_is_shaved_clean(renderer: FaceRenderer) -> None:
    """A young man's bald style leaves no tabs of hair at the temples; an old man's keeps
    his horseshoe of hair above the ears."""
    young = _hair_pixels(renderer, {**MASC, "hair_style": "bald"})
    assert young.sum() <= 3, f"{young.sum()} hair pixels on a young shaved head"
    old = _hair_pixels(renderer, {**MASC, "hair_style": "bald", "age": 0.97, "hair_grey": 0.0})
    assert old.sum() > 100, f"an old bald man's horseshoe: only {old.sum()} hair pixels"


def test_coils_are_open_strokes_not_rings() -> None:
    """Each coil's shadow stroke runs round under about half of its ring (a C, open on one
    side), never most of it: closed rings with a lit inside read as bubbles or scales."""
    r = FaceRenderer(512)
    g = r._geometry(_params({**MASC, "masculinity": 0.1, "hair_style": "afro", "hair_lightness": 0.8}))
    x, y = r.xs, r.ys
    rows, cols = slice(row_of(-0.62, 512), row_of(-0.45, 512)), slice(col_of(-0.2, 512), col_of(0.2, 512))
    xs, ys = x.expand(1, 1, 512, 512)[..., rows, cols], y.expand(1, 1, 512, 512)[..., rows, cols]
    with torch.no_grad():
        _, hcy, hrx, hry = hair.silhouette(g, xs, ys)
        lum = hair.colour(g, xs, ys, hcy, hrx, hry).mean(dim=1)[0].numpy()
        cr, cdx, cdy, turn = (t[0, 0].numpy() for t in hair.coils(xs, ys))
    angle = np.floor((np.arctan2(cdy, cdx) + np.pi) / (2 * np.pi) * 12).astype(int) % 12
    closed = []
    for coil in np.unique(np.round(turn, 3)):
        mine = np.round(turn, 3) == coil
        ring = mine & (cr > 0.45) & (cr < 0.95)
        if len(np.unique(angle[ring])) < 12:
            continue  # a coil cut by the patch's edge
        ref = np.median(lum[mine & (cr < 1.0)])
        dark = [lum[ring & (angle == k)].min() < 0.93 * ref for k in range(12)]
        closed.append(np.mean(dark))
    assert len(closed) >= 10
    assert np.mean(closed) < 0.6, f"coil strokes run round {np.mean(closed):.0%} of the ring"


@pytest.mark.parametrize("mix", [0.05, 0.12, 0.24, 0.3])
def test_a_blended_ponytail_grows_from_its_root_and_is_never_a_thread(mix: float) -> None:
    """An uncertain presentation blends a woman's ponytail into a man's cut: a part of a
    ponytail is a shorter tail, never one a pixel or two wide (a dashed line down the neck)."""
    renderer = FaceRenderer(512)
    face = {**MASC, "hair_style": "receding", "hair_style_alt": "ponytail", "hair_mix": mix}
    g = renderer._geometry(_params(face))
    with torch.no_grad():
        d = hair.tail(g, renderer.xs, renderer.ys)[0][0, 0]  # (drawn as a layer of its own)
    covered = (d < 0).numpy()
    assert covered.any(), "no tail at all"
    below_ears = covered[row_of(float(g["cy"]) + 0.12, 512):, :]  # rows below the ears
    widths = [int(row.sum()) for row in below_ears if row.any()]
    threads = [w for w in widths if w <= 3]  # a rounded tip has a row or two this thin
    assert len(threads) <= 3, (len(threads), len(widths))
