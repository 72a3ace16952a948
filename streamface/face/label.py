"""The visible label every frame carries: the face is AI-generated, not the speaker's.

The label is drawn into the pixels (not metadata), in the bottom-left corner: yellow and
white text on a near-opaque black panel, legible on any background and at 320 px width.
Its overlay (premultiplied colour and alpha) is rendered once per frame size with Pillow's
bundled scalable font and cached, so each frame costs one small integer alpha blend.

There is deliberately no switch to leave the label out.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

LABEL_LINES: tuple[str, ...] = ("AI-GENERATED FACE", "not the speaker's real appearance")
"""The label's wording, one entry per line."""

_LINE_COLORS: tuple[tuple[int, int, int], ...] = ((255, 214, 0), (255, 255, 255))
_PANEL_ALPHA = 0.85  # the panel lets a hint of the frame through, the text is opaque
_MIN_FONT_PX = 12  # smallest size that stays legible (cap height ~9 px)
_FONT_FRACTION = 0.032  # font size as a fraction of the image's shorter side
_MAX_WIDTH_FRACTION = 0.9  # the panel never takes more of the width than this


@dataclass(frozen=True)
class _Overlay:
    """A cached, premultiplied RGBA patch and where it goes."""

    x0: int
    y0: int
    inv_alpha: np.ndarray  # uint16 [h, w, 1], 256 - alpha (alpha in 0..256)
    premul: np.ndarray  # uint16 [h, w, 3], colour * alpha
    text_mask: np.ndarray  # bool [h, w], pixels (nearly) fully covered by text
    panel_mask: np.ndarray  # bool [h, w], panel pixels away from any text
    font_px: int  # font size the text was set in

    @property
    def box(self) -> tuple[int, int, int, int]:
        h, w = self.text_mask.shape
        return (self.x0, self.y0, self.x0 + w, self.y0 + h)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # Pillow built without FreeType
        logger.warning("FreeType unavailable; the label uses Pillow's small bitmap font")
        return ImageFont.load_default()


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


@functools.lru_cache(maxsize=32)
def _overlay(
    width: int,
    height: int,
    lines: tuple[str, ...] = LABEL_LINES,
    colors: tuple[tuple[int, int, int], ...] = _LINE_COLORS,
    top: bool = False,
) -> _Overlay:
    # Sized by the shorter side, so a wide (16:9) frame gets the square frame's label.
    size = max(_MIN_FONT_PX, round(min(width, height) * _FONT_FRACTION))
    font = _font(size)
    pad = max(3, size // 3)
    # Shrink the font if the widest line would not fit (only for tiny images).
    while size > 6 and _text_width(font, max(lines, key=len)) + 2 * pad > width * _MAX_WIDTH_FRACTION:
        size -= 1
        font = _font(size)
        pad = max(2, size // 3)
    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (size, 2)
    line_h = ascent + descent
    gap = max(1, size // 6)
    box_w = min(width, max(_text_width(font, t) for t in lines) + 2 * pad)
    box_h = min(height, len(lines) * line_h + (len(lines) - 1) * gap + 2 * pad)
    margin = max(2, width // 80)
    x0 = min(margin, width - box_w)
    y0 = min(margin, height - box_h) if top else max(0, height - box_h - margin)

    rgb = np.zeros((box_h, box_w, 3), np.float32)
    alpha = np.full((box_h, box_w), _PANEL_ALPHA, np.float32)
    text_cover = np.zeros((box_h, box_w), np.float32)
    for i, (text, color) in enumerate(zip(lines, colors, strict=False)):
        mask_img = Image.new("L", (box_w, box_h), 0)
        ImageDraw.Draw(mask_img).text((pad, pad + i * (line_h + gap)), text, fill=255, font=font)
        cover = np.asarray(mask_img, np.float32) / 255.0
        rgb += cover[..., None] * np.asarray(color, np.float32)
        text_cover = np.maximum(text_cover, cover)
    alpha = np.maximum(alpha, text_cover)
    a256 = np.rint(alpha * 256).astype(np.uint16)
    premul = np.rint(rgb * a256[..., None]).astype(np.uint16)
    # Panel pixels at least two pixels away from any stroke (survive video compression).
    near_text = text_cover > 0.05
    grown = near_text.copy()
    for dy in (-2, -1, 0, 1, 2):
        for dx in (-2, -1, 0, 1, 2):
            grown |= np.roll(np.roll(near_text, dy, 0), dx, 1)
    for arr in (a256, premul):
        arr.setflags(write=False)
    return _Overlay(
        x0=x0,
        y0=y0,
        inv_alpha=(256 - a256)[..., None],
        premul=premul,
        text_mask=text_cover >= 0.8 * float(text_cover.max()),
        panel_mask=~grown,
        font_px=size,
    )


def label_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The label's pixel box ``(x0, y0, x1, y1)`` in a frame of this size."""
    return _overlay(int(width), int(height)).box


def draw_label(image: np.ndarray) -> np.ndarray:
    """Draw the AI-generated label into an RGB frame.

    Args:
        image: uint8 [H, W, 3] RGB. Drawn in place when writable, otherwise copied.

    Returns:
        The labelled frame (the same array when drawn in place).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"draw_label needs uint8 [H, W, 3], got {image.dtype} {image.shape}")
    if not image.flags.writeable:
        image = image.copy()
    height, width = image.shape[:2]
    return _blend(image, _overlay(width, height))


def draw_badge(image: np.ndarray, text: str) -> np.ndarray:
    """Draw a small status badge (e.g. "listening…") in the top-left corner, in place.

    Args:
        image: uint8 [H, W, 3] RGB, writable.
        text: One short line; each distinct text is rendered once and cached.
    """
    height, width = image.shape[:2]
    return _blend(image, _overlay(width, height, (text,), ((255, 255, 255),), True))


def _blend(image: np.ndarray, ov: _Overlay) -> np.ndarray:
    x0, y0, x1, y1 = ov.box
    region = image[y0:y1, x0:x1]
    blended = (region.astype(np.uint16) * ov.inv_alpha + ov.premul) >> 8
    region[...] = blended.astype(np.uint8)
    return image


def label_present(image: np.ndarray, *, min_contrast: float = 80.0) -> bool:
    """Whether a frame carries the label (tolerant of lossy video compression).

    Compares, inside the label box, the mean brightness of pixels fully covered by text
    with that of the panel away from the text: the label makes the first bright and the
    second dark; an unlabelled face or a blank frame does not.

    Args:
        image: uint8 [H, W, 3] RGB frame, e.g. decoded from a video.
        min_contrast: Least difference of mean luma (0..255) that counts as present.
    """
    height, width = image.shape[:2]
    ov = _overlay(width, height)
    x0, y0, x1, y1 = ov.box
    luma = image[y0:y1, x0:x1].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if not ov.text_mask.any() or not ov.panel_mask.any():
        return False
    text = float(luma[ov.text_mask].mean())
    panel = float(luma[ov.panel_mask].mean())
    return text - panel >= min_contrast
