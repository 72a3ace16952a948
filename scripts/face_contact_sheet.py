"""Dev tool: contact sheets of faces for synthetic voice profiles, and before/after sheets.

Usage:
    python scripts/face_contact_sheet.py [-o OUT.png] [--seeds 6] [--size 256]
    python scripts/face_contact_sheet.py --before /work/main -o docs/before_after.png

Profiles are confident (perceived sex x age band) with seeded random speaker embeddings,
so a sheet shows what the mapping and renderer do across voices. With ``--before TREE``
the same profiles are also rendered by the renderer of another checkout (run in a
subprocess with that tree first on the path) and each face is shown beside its old one.
The official gallery for real voices is ``streamface gallery``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

SEXES = (("female", 0.95), ("male", 0.05))
BANDS = ("young_adult", "adult", "senior")

# Renders a list of (p_female, band, seed) with whatever streamface is first on the path;
# uses only API that every version of the renderer has.
_RENDER = r"""
import json, sys
import numpy as np
import torch
from streamface.face.animation import NEUTRAL
from streamface.face.mapping import params_for_profile
from streamface.face.params import params_matrix
from streamface.face.renderer import FaceRenderer
from streamface.voice.profile import AGE_BANDS, EMBEDDING_DIM, AgeBand, PerceivedSex, VoiceProfile

specs, size, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(1)
faces = []
for p_female, band, seed in specs:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
    emb /= np.linalg.norm(emb)
    probs = {b: (0.85 if b == band else 0.05) for b in AGE_BANDS}
    profile = VoiceProfile(5.0, 150.0, None, None, None, -20.0, PerceivedSex(p_female), AgeBand(probs), 0.9, emb)
    faces.append(params_for_profile(profile))
anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * len(faces)))
with torch.no_grad():
    imgs = FaceRenderer(size)(torch.from_numpy(params_matrix(faces)), anim)
np.save(out, (imgs.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8))
"""


def render(tree: Path, specs: list[Any], size: int, out: Path, code: str = _RENDER) -> np.ndarray:
    """Run the render script ``code`` on ``specs`` with the checkout at ``tree``; [N, size, size, 3] uint8."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([sys.executable, "-c", code, json.dumps(specs), str(size), str(out)], env=env, check=True, cwd=tree)
    return np.load(out)


def after_and_before(
    specs: list[Any], size: int, out: Path, before: Path | None, code: str = _RENDER
) -> tuple[np.ndarray, np.ndarray | None]:
    """The faces rendered by this checkout and, given ``before``, by that checkout too.

    Makes ``out``'s folder; the renders pass through a scratch ``.npy`` beside ``out``.
    """
    here = Path(__file__).resolve().parent.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".npy").resolve()
    try:
        after = render(here, specs, size, tmp, code)
        return after, (render(before.resolve(), specs, size, tmp, code) if before else None)
    finally:
        tmp.unlink(missing_ok=True)


# Renders FaceParams overrides (dicts of parameter values or names) with whatever checkout
# is first on the path.
PARAMS_RENDER = r"""
import json, sys
from benchmarks import face_quality as fq
import numpy as np
from streamface.face.params import FaceParams

specs, size, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
np.save(out, fq.render_faces([FaceParams().with_overrides(s) for s in specs], size))
"""


def zoomed(img: np.ndarray, box: tuple[float, float, float, float], zoom: int) -> np.ndarray:
    """The part ``box`` = (x0, x1, y0, y1), fractions of the frame, enlarged ``zoom`` times (nearest)."""
    h, w = img.shape[:2]
    x0, x1, y0, y1 = box
    crop = img[int(h * y0) : int(h * y1), int(w * x0) : int(w * x1)]
    return np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)


def detail_sheet(
    labels: list[str],
    after: np.ndarray,
    before: np.ndarray | None,
    box: tuple[float, float, float, float],
    zoom: int,
    per_row: int,
    title: str,
) -> Image.Image:
    """Each face whole at 100 % and its ``box`` at ``zoom``, before (left) and after (right)
    when ``before`` is given, ``per_row`` faces to a row, labelled."""
    tiles = []
    for i in range(len(labels)):
        pair = [before[i], after[i]] if before is not None else [after[i]]
        tiles.append([t for img in pair for t in (img, zoomed(img, box, zoom))])
    s, zh = after.shape[1], zoomed(after[0], box, zoom).shape[0]
    cell_w = sum(t.shape[1] for t in tiles[0]) + 4 * (len(tiles[0]) - 1)
    cell_h = max(s, zh) + 16
    rows = -(-len(labels) // per_row)
    sheet = Image.new("RGB", (per_row * (cell_w + 12), rows * cell_h + 24), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    which = "before (left pair) | after (right pair)" if before is not None else "after"
    draw.text((6, 6), f"{title} ({which}): whole face at 100 %, detail at {zoom}x", fill=(230, 230, 230))
    for i, (label, row_tiles) in enumerate(zip(labels, tiles, strict=True)):
        x0, y = (i % per_row) * (cell_w + 12), 24 + (i // per_row) * cell_h
        x = x0
        for t in row_tiles:
            sheet.paste(Image.fromarray(t), (x, y))
            x += t.shape[1] + 4
        draw.text((x0 + 4, y + max(s, zh) + 2), label, fill=(170, 170, 170))
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default="out/face_contact_sheet.png")
    ap.add_argument("--seeds", type=int, default=4, help="speakers per sex and age band")
    ap.add_argument("--first-seed", type=int, default=300)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--before", type=Path, help="another checkout whose renderer gives the 'before' faces")
    args = ap.parse_args()
    specs = [(p, band, args.first_seed + i) for band in BANDS for _, p in SEXES for i in range(args.seeds)]
    out = Path(args.out)
    after, before = after_and_before(specs, args.size, out, args.before)
    s = args.size
    per_face = 2 if before is not None else 1
    cols = len(SEXES) * args.seeds
    label_h = 18
    rows = len(BANDS)
    sheet = Image.new("RGB", (cols * per_face * s + (cols - 1) * 6, rows * (s + label_h) + 30), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    title = "before (left of each pair) / after" if before is not None else "faces for synthetic profiles"
    draw.text((6, 8), f"StreamFace - {title}; rows: {', '.join(BANDS)}; left half female, right half male", fill=(230, 230, 230))
    for i, (p, band, seed) in enumerate(specs):
        row, col = BANDS.index(band), i % cols
        x, y = col * (per_face * s + 6), 30 + row * (s + label_h)
        tiles = [before[i], after[i]] if before is not None else [after[i]]
        for j, tile in enumerate(tiles):
            sheet.paste(Image.fromarray(tile), (x + j * s, y))
        draw.text((x + 4, y + s + 2), f"p_female {p:.2f}, {band.replace('_', ' ')}, #{seed}", fill=(170, 170, 170))
    sheet.save(out)
    print(out)


if __name__ == "__main__":
    main()
