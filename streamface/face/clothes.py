"""Clothes that read as clothes: the top is never drawn in the colour of the skin.

The top's hue, saturation and lightness are uniform draws (`face.identity`); a draw near
the skin's own colour (a tan top on tan skin, a beige one on light skin) leaves the
shoulders looking bare. The mapping moves such a top's lightness, as little as it must,
until it stands apart from the skin by `MIN_TOP_SKIN_DELTA_E`.
"""

from __future__ import annotations

import functools

import numpy as np

from streamface.face.skin_tones import skin_palette

MIN_TOP_SKIN_DELTA_E = 20.0
"""Least CIELAB distance (ΔE 76) between the lit top and the lit skin. Looked at on a tan
top over tan skin: at 10 the shoulders read bare, from about 17 the top reads as cloth.
About 4 % of the draws are nearer than this, 12 % on the darkest third of skin tones."""


TOP_SATURATION = (0.1, 0.55)
"""The lit top's HSV saturation: offset and scale of ``top_saturation`` (`render.geometry`)."""

TOP_VALUE = (0.18, 0.72)
"""The lit top's HSV value: offset and scale of ``top_lightness`` (`render.geometry`)."""


@functools.lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    return np.asarray(skin_palette(), np.float64)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in 0..1 [..., 3] -> CIELAB (D65) [..., 3]."""
    c = np.clip(np.asarray(rgb, np.float64), 0.0, 1.0)
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def skin_lab(tone: float) -> np.ndarray:
    """The lit skin colour of a ``skin_tone`` (the renderer's piecewise-linear palette) in CIELAB."""
    pal = _palette()
    pos = float(np.clip(tone, 0.0, 1.0)) * (len(pal) - 1)
    i = min(int(pos), len(pal) - 2)
    rgb = pal[i] + (pal[i + 1] - pal[i]) * (pos - i)
    return srgb_to_lab(rgb)


def top_rgb(hue: float | np.ndarray, saturation: float | np.ndarray, lightness: float | np.ndarray) -> np.ndarray:
    """The lit top colour for its parameters (the renderer's formula, `render.geometry`) [..., 3]."""
    h, s, v = (np.asarray(x, np.float64) for x in (hue, saturation, lightness))
    s = TOP_SATURATION[0] + TOP_SATURATION[1] * s
    v = TOP_VALUE[0] + TOP_VALUE[1] * v
    p = (h[..., None] + np.array([0.0, 2.0 / 3.0, 1.0 / 3.0])) % 1.0
    k = np.clip(np.abs(p * 6.0 - 3.0) - 1.0, 0.0, 1.0)
    return v[..., None] * (1.0 - s[..., None] + s[..., None] * k)


def top_skin_delta_e(tone: float, hue: float, saturation: float, lightness: float) -> float:
    """CIELAB distance between the lit top and the lit skin."""
    return float(np.linalg.norm(srgb_to_lab(top_rgb(hue, saturation, lightness)) - skin_lab(tone)))


def top_lightness_apart(tone: float, hue: float, saturation: float, lightness: float) -> float:
    """``lightness`` moved the least it must for the top to stand apart from the skin.

    Unchanged when it already does; otherwise the nearest lightness in 0..1 (steps of
    0.01) whose top is at least `MIN_TOP_SKIN_DELTA_E` from the skin.
    """
    if top_skin_delta_e(tone, hue, saturation, lightness) >= MIN_TOP_SKIN_DELTA_E:
        return lightness
    grid = np.linspace(0.0, 1.0, 101)
    tops = srgb_to_lab(top_rgb(np.full_like(grid, hue), np.full_like(grid, saturation), grid))
    de = np.linalg.norm(tops - skin_lab(tone), axis=-1)
    ok = grid[de >= MIN_TOP_SKIN_DELTA_E]
    if ok.size == 0:
        return lightness
    return float(ok[np.argmin(np.abs(ok - lightness))])
