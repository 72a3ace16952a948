"""Dev tool: render a contact sheet of faces for synthetic voice profiles.

Usage: python scripts/face_contact_sheet.py [-o OUT.png] [--n 24] [--size 256]

Profiles get random (seeded) speaker embeddings and a spread of perceived sex and age
bands, so the sheet shows what the mapping and renderer do across voices. The official
gallery for real voices is `streamface gallery`.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw

from streamface.face.animation import NEUTRAL
from streamface.face.mapping import params_for_profile
from streamface.face.params import params_matrix
from streamface.face.renderer import FaceRenderer
from streamface.voice.profile import AGE_BANDS, EMBEDDING_DIM, AgeBand, PerceivedSex, VoiceProfile


def _profile(i: int, rng: np.random.Generator) -> VoiceProfile:
    emb = np.abs(rng.standard_normal(EMBEDDING_DIM))
    p_female = [0.02, 0.98, 0.2, 0.8, 0.5][i % 5]
    band = AGE_BANDS[(i // 5) % 4] if i % 7 else "young_adult"
    probs = {b: (0.7 if b == band else 0.1) for b in AGE_BANDS}
    return VoiceProfile(5.0, 150.0, None, None, None, -20.0, PerceivedSex(p_female), AgeBand(probs), 0.8,
                        (emb / np.linalg.norm(emb)).astype(np.float32))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", default="out/face_contact_sheet.png")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    profiles = [_profile(i, rng) for i in range(args.n)]
    faces = [params_for_profile(p) for p in profiles]
    renderer = FaceRenderer(args.size)
    anim = torch.from_numpy(np.stack([NEUTRAL.to_vector()] * len(faces)))
    with torch.no_grad():
        imgs = renderer(torch.from_numpy(params_matrix(faces)), anim)
    arr = (imgs.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    cols = 6
    rows = (len(arr) + cols - 1) // cols
    s = args.size
    sheet = Image.new("RGB", (cols * s, rows * s), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (img, prof) in enumerate(zip(arr, profiles, strict=True)):
        x, y = (i % cols) * s, (i // cols) * s
        sheet.paste(Image.fromarray(img), (x, y))
        draw.text((x + 4, y + 4), f"pF={prof.perceived_sex.p_female:.2f} {prof.age_band.label}", fill="black")
    from pathlib import Path

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)


if __name__ == "__main__":
    main()
