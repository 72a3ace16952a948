"""`streamface portrait AUDIO -o FACE.png`: the labelled face for a voice, as one image.

The voice is profiled (perceived sex, age band, speaker embedding), mapped to face
parameters, rendered in the neutral pose, labelled "AI-generated" in the pixels, and
written atomically: the output name never holds a half-written file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamface.errors import StreamFaceError
from streamface.face.framing import Framer, FrameSize, parse_frame_size

logger = logging.getLogger(__name__)

IMAGE_FORMATS: dict[str, str] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""Output extensions and the Pillow format each is written in."""

MIN_SIZE, MAX_SIZE = 64, 2048


def add_parser(subparsers: Any) -> None:
    """Declare ``streamface portrait``."""
    from engines.select import ENGINE_NAMES

    parser = subparsers.add_parser(
        "portrait",
        help="render the labelled synthetic face for a voice as an image",
        description=(
            "Render the face a voice suggests (a statistical portrait of perceived sex and "
            "age, never the speaker's real face) with a visible AI-generated label."
        ),
    )
    parser.add_argument("audio", type=Path, metavar="AUDIO", help="speech audio file (wav, mp3, ...)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FACE.png",
                        help="output image; .png or .jpg")
    parser.add_argument("--size", default="512", metavar="N|WxH",
                        help=f"N for a square image or WIDTHxHEIGHT up to 2:1 (e.g. 1280x720), "
                        f"sides {MIN_SIZE}..{MAX_SIZE} (default 512)")
    parser.add_argument("--engine", choices=ENGINE_NAMES, default="auto",
                        help="generator backend (default auto: TensorRT, torch CUDA, ONNX Runtime)")
    parser.add_argument("--params-out", type=Path, metavar="FACE.json",
                        help="also write the face parameters and inferred traits as JSON")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a face parameter, e.g. --set hair_style=bun (repeatable)")
    from streamface.cli.render import add_look_argument

    add_look_argument(parser)


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """``["name=value", ...]`` -> ``{name: value}``; raises StreamFaceError when malformed."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise StreamFaceError(f"--set needs NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def check_size(size: int | str) -> FrameSize:
    """The image size (N or WxH), or StreamFaceError when malformed or out of range."""
    return parse_frame_size(size)


def image_format(path: Path) -> str:
    """Pillow format for an output path, from its extension."""
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StreamFaceError(
            f"cannot write {path.name}: use one of {', '.join(IMAGE_FORMATS)} as the extension"
        )
    return fmt


def write_atomic(
    path: Path,
    write: Callable[[Path], None],
    finalize: Callable[[Path], None] | None = None,
) -> Path:
    """Write a file through a temporary sibling and rename it into place.

    Args:
        path: Final path; its folder is created when missing.
        write: Writes the content to the temporary path it is given (same extension).
        finalize: Runs on the complete temporary file before the rename (e.g. signing).

    Raises:
        StreamFaceError: The folder or file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise StreamFaceError(f"cannot write {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if finalize is not None:
            finalize(tmp)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise StreamFaceError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_image(
    image: np.ndarray, path: Path, finalize: Callable[[Path], None] | None = None
) -> Path:
    """Write a uint8 [H, W, 3] RGB image atomically as PNG or JPEG (by extension)."""
    from PIL import Image

    fmt = image_format(path)
    options: dict[str, Any] = {"quality": 95} if fmt == "JPEG" else {"optimize": False}

    def write(tmp: Path) -> None:
        Image.fromarray(np.ascontiguousarray(image), "RGB").save(tmp, format=fmt, **options)

    return write_atomic(path, write, finalize)


def save_json(data: dict[str, Any], path: Path) -> Path:
    """Write JSON atomically."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return write_atomic(path, write)


def run(args: argparse.Namespace) -> int:
    """Profile the voice, render its labelled face, write the image (and JSON)."""
    from streamface.face.params import FaceParams

    size = check_size(args.size)
    image_format(args.output)  # fail on a bad extension before any work
    if args.params_out is not None and args.params_out.suffix.lower() != ".json":
        raise StreamFaceError(f"--params-out must name a .json file, got {args.params_out.name}")
    overrides = parse_overrides(args.overrides)
    FaceParams().with_overrides(overrides)  # unknown names and bad values fail before any work
    if not args.audio.is_file():
        raise StreamFaceError(f"no such audio file: {args.audio}")

    from engines.select import load_engine
    from streamface import SYNTHETIC_NOTICE
    from streamface.face.animation import NEUTRAL
    from streamface.face.label import draw_label
    from streamface.offline import load_audio, recording_face
    from streamface.provenance import OutputSigner

    audio = load_audio(args.audio)  # bad input fails here, before any engine loads
    engine = load_engine(args.engine, size.face, per_frame=False)  # one still: `render` only
    try:
        signer = OutputSigner(args.output)  # bad signing credentials fail before rendering
        # The face a call with this speech shows at its end (as `render`'s last frame).
        params, profile = recording_face(audio, engine, look=args.look, name=args.audio.name)
        face = FaceParams.from_vector(params).with_overrides(overrides)
        frame = engine.render(face.to_vector()[None, :], NEUTRAL.to_vector()[None, :])[0]
    finally:
        engine.close()
    framed = Framer(size).compose(np.array(frame, dtype=np.uint8))
    image = draw_label(np.array(framed))  # the label is drawn into the pixels, always

    # Provenance: the file is signed (C2PA) before it appears under its name.
    save_image(image, args.output, finalize=signer)
    traits = profile.traits_json()
    if args.params_out is not None:
        save_json(
            {
                "notice": SYNTHETIC_NOTICE,
                "image": str(args.output),
                "size": str(size),
                "look": args.look,
                "engine": engine.name,
                "params": face.to_dict(),
                "hair_style_name": face.hair_style_name,
                "overrides": overrides,
                "traits": traits,
            },
            args.params_out,
        )
    sex = traits["perceived_sex"]
    age = traits["age_band"]
    print(
        f"wrote {args.output} ({size}, {engine.name}): perceived {sex['label']} "
        f"(p_female {sex['p_female']:.2f}), {age['label']}, confidence {traits['confidence']:.2f}; "
        f"{signer.summary()}"
    )
    return 0
