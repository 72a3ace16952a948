"""Mouth regions of a few men at rest and talking, for docs/before_after_moustache.png.

    python -m benchmarks.moustache_sheet strip OUT.png          # with this tree's renderer
    python -m benchmarks.moustache_sheet join OLD.png NEW.png OUT.png

Draw one strip with the old renderer (a checkout of main) and one with the new, then join
them: old on the left, new on the right, each face's mouth region at 3x (nearest
neighbour, so 100 % pixels stay visible), at rest and on three visemes.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.face_quality import SEXES, _identity, _look, synthetic_profile  # noqa: E402
from streamface.face.animation import FaceAnimation  # noqa: E402
from streamface.face.mapping import params_for_profile  # noqa: E402
from streamface.face.renderer import FaceRenderer  # noqa: E402

FACES = (("young_adult", 126), ("adult", 126), ("young_adult", 108), ("adult", 108), ("adult", 5), ("senior", 20))
"""The benchmark men shown (male/band/seed), each with a moustache: 126's short dark one first."""
BOX = (196, 236, 316, 306)
"""The mouth region of a 512 px frame."""
SCALE = 3


def _anims() -> list[FaceAnimation]:
    rest = FaceAnimation()
    talk = [FaceAnimation(mouth_open=0.5, v_a=1.0), FaceAnimation(mouth_open=0.6, v_ou=1.0), FaceAnimation(mouth_open=0.4, v_ei=1.0)]
    return [rest] + [dataclasses.replace(a, v_rest=0.0) for a in talk]


def strip(out: Path) -> None:
    """Each face a row: its mouth region at rest and on A, O/U and E/I."""
    torch.set_num_threads(1)
    renderer = FaceRenderer(512)
    anims = _anims()
    w, h = (BOX[2] - BOX[0]) * SCALE, (BOX[3] - BOX[1]) * SCALE
    sheet = Image.new("RGB", (w * len(anims), h * len(FACES)))
    for i, (band, seed) in enumerate(FACES):
        face = params_for_profile(synthetic_profile(SEXES["male"], band, seed), identity=_identity(seed), look=_look(seed))
        params = torch.from_numpy(np.stack([face.to_vector()] * len(anims))).float()
        anim = torch.from_numpy(np.stack([a.to_vector() for a in anims])).float()
        with torch.inference_mode():
            img = (renderer(params, anim).clamp(0, 1) * 255).byte().permute(0, 2, 3, 1).numpy()
        for j in range(len(anims)):
            sheet.paste(Image.fromarray(img[j]).crop(BOX).resize((w, h), Image.NEAREST), (w * j, h * i))
    sheet.save(out)


def join(old: Path, new: Path, out: Path) -> None:
    """Old and new strips side by side under a caption."""
    a, b = Image.open(old), Image.open(new)
    sheet = Image.new("RGB", (a.width + b.width + 12, a.height + 24), "white")
    sheet.paste(a, (0, 24))
    sheet.paste(b, (a.width + 12, 24))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 6), "old (main)", fill="black")
    draw.text((a.width + 16, 6), "new", fill="black")
    sheet.save(out)


if __name__ == "__main__":
    if sys.argv[1] == "strip":
        strip(Path(sys.argv[2]))
    else:
        join(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
