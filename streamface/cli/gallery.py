"""`streamface gallery VOICES... -o docs/gallery.png`: a contact sheet of faces for voices.

The quality record: one tile per voice with the face StreamFace renders for it (neutral
pose) and a caption with the file name and the inferred traits (perceived sex as
p_female, age band, confidence). A header carries the synthetic-media notice. Next to the
sheet, a JSON file (same name, ``.json``) lists each voice's traits and face parameters.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamface.errors import StreamFaceError

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")
"""Files a folder argument contributes."""

_CAPTION_BG = (24, 24, 28)
_TEXT = (235, 235, 235)
_MUTED = (170, 170, 178)


def add_parser(subparsers: Any) -> None:
    """Declare ``streamface gallery``."""
    from engines.select import ENGINE_NAMES

    parser = subparsers.add_parser(
        "gallery",
        help="contact sheet of the faces for a set of voices, with their inferred traits",
        description="Render one captioned tile per voice into a contact sheet (the quality record).",
    )
    parser.add_argument("voices", nargs="+", type=Path, metavar="VOICE",
                        help="audio files, or folders of them")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="SHEET.png",
                        help="contact sheet image (.png or .jpg); traits go to SHEET.json")
    parser.add_argument("--cols", type=int, default=6, help="tiles per row (default 6)")
    parser.add_argument("--tile", type=int, default=256, metavar="N",
                        help="tile size in pixels (default 256)")
    parser.add_argument("--engine", choices=ENGINE_NAMES, default="auto", help="generator backend")


def collect_voices(items: list[Path]) -> list[Path]:
    """Expand folders to their audio files (sorted); keep files; drop duplicates."""
    out: list[Path] = []
    for item in items:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                logger.warning("no audio files in %s", item)
            out.extend(found)
        elif item.is_file():
            out.append(item)
        else:
            raise StreamFaceError(f"no such voice file or folder: {item}")
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in out:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    if not unique:
        raise StreamFaceError("no voices to render")
    return unique


@dataclass
class Entry:
    """One voice on the sheet."""

    path: Path
    traits: dict[str, Any] | None = None
    params: np.ndarray | None = None
    face: dict[str, float] | None = None
    error: str | None = None


def caption_lines(entry: Entry) -> tuple[str, str]:
    """The two caption lines of a tile: file name, then traits (or the error)."""
    if entry.traits is None:
        return entry.path.name, f"no face: {entry.error}"
    sex = entry.traits["perceived_sex"]
    age = entry.traits["age_band"]
    return (
        entry.path.name,
        f"p_female {sex['p_female']:.2f} · {age['label'].replace('_', ' ')} · "
        f"conf {entry.traits['confidence']:.2f}",
    )


def compose_sheet(tiles: list[np.ndarray | None], captions: list[tuple[str, str]], cols: int, tile: int) -> np.ndarray:
    """Lay tiles out in a grid with captions under each and a header with the notice."""
    from PIL import Image, ImageDraw, ImageFont

    from streamface import SYNTHETIC_NOTICE

    def font(px: int) -> Any:
        try:
            return ImageFont.load_default(size=px)
        except (TypeError, OSError):  # Pillow without FreeType
            return ImageFont.load_default()

    cols = max(1, min(cols, len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    pad = max(4, tile // 32)
    cap_px = max(10, tile // 19)
    cap_h = 2 * cap_px + 3 * pad
    head_px = max(12, tile // 14)
    head_h = 2 * head_px + 4 * pad
    width = cols * tile + (cols + 1) * pad
    height = head_h + rows * (tile + cap_h + pad) + pad
    sheet = Image.new("RGB", (width, height), _CAPTION_BG)
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, pad), f"StreamFace - faces for {len(tiles)} voices", fill=_TEXT, font=font(head_px))
    draw.text((pad, 2 * pad + head_px), SYNTHETIC_NOTICE, fill=(255, 214, 0), font=font(max(10, head_px * 3 // 4)))
    small, smaller = font(cap_px), font(max(9, cap_px - 2))
    for i, (image, (line1, line2)) in enumerate(zip(tiles, captions, strict=True)):
        r, c = divmod(i, cols)
        x = pad + c * (tile + pad)
        y = head_h + r * (tile + cap_h + pad)
        if image is not None:
            sheet.paste(Image.fromarray(image, "RGB").resize((tile, tile), Image.Resampling.LANCZOS), (x, y))
        else:
            draw.rectangle((x, y, x + tile - 1, y + tile - 1), fill=(60, 60, 66))
        draw.text((x + 2, y + tile + pad), _fit(draw, line1, small, tile - 4), fill=_TEXT, font=small)
        draw.text((x + 2, y + tile + 2 * pad + cap_px), _fit(draw, line2, smaller, tile - 4), fill=_MUTED, font=smaller)
    return np.asarray(sheet)


def _fit(draw: Any, text: str, font: Any, width: int) -> str:
    """Truncate with an ellipsis until the text fits the width."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def run(args: argparse.Namespace) -> int:
    """Profile each voice, render the faces in batches, compose and write the sheet."""
    from tqdm import tqdm

    from engines.select import load_engine
    from streamface import SYNTHETIC_NOTICE
    from streamface.cli.portrait import image_format, save_image, save_json
    from streamface.face.animation import NEUTRAL
    from streamface.face.params import FaceParams
    from streamface.offline import load_audio, recording_face
    from streamface.provenance import OutputSigner

    image_format(args.output)
    if args.cols < 1:
        raise StreamFaceError(f"--cols must be at least 1, got {args.cols}")
    if not 64 <= args.tile <= 1024:
        raise StreamFaceError(f"--tile must be between 64 and 1024, got {args.tile}")
    entries = [Entry(p) for p in collect_voices(list(args.voices))]

    engine = load_engine(args.engine, args.tile)
    images: dict[int, np.ndarray] = {}
    try:
        signer = OutputSigner(args.output)  # bad signing credentials fail before any work
        for entry in tqdm(entries, desc="voices", unit="voice"):
            try:
                # The face a call with this speech shows at its end, as `portrait` draws it.
                face, profile = recording_face(load_audio(entry.path), engine, name=entry.path.name)
            except StreamFaceError as exc:
                entry.error = str(exc)
                logger.warning("%s: %s", entry.path.name, exc)
                continue
            entry.traits = profile.traits_json()
            entry.params = face
            entry.face = FaceParams.from_vector(face).to_dict()
        good = [e for e in entries if e.params is not None]
        if not good:
            raise StreamFaceError("none of the voices gave a face")
        batch = 8
        for start in range(0, len(good), batch):
            chunk = good[start : start + batch]
            rows = np.stack([e.params for e in chunk if e.params is not None])
            anim = np.repeat(NEUTRAL.to_vector()[None, :], len(chunk), axis=0)
            for e, frame in zip(chunk, engine.render(rows, anim), strict=True):
                images[id(e)] = frame
    finally:
        engine.close()

    sheet = compose_sheet(
        [images.get(id(e)) for e in entries], [caption_lines(e) for e in entries], args.cols, args.tile
    )
    save_image(sheet, args.output, finalize=signer)  # signed (C2PA) before it appears
    save_json(
        {
            "notice": SYNTHETIC_NOTICE,
            "engine": engine.name,
            "voices": [
                {"file": e.path.name, "traits": e.traits, "params": e.face, "error": e.error}
                for e in entries
            ],
        },
        args.output.with_suffix(".json"),
    )
    print(f"wrote {args.output} ({len(good)} faces, {len(entries) - len(good)} skipped) and "
          f"{args.output.with_suffix('.json')}; {signer.summary()}")
    return 0
