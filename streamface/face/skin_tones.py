"""The skin palette: the Monk Skin Tone scale and the lit skin colours drawn from it.

No torch here: the mapping (`face.clothes`) reads the palette too, and it runs where only
the exported engine is installed.
"""

from __future__ import annotations

# The Monk Skin Tone scale (Ellis Monk, 2019; the swatches Google publishes), MST-1 .. MST-10.
MONK_SKIN_TONES: tuple[str, ...] = (
    "#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96",
    "#a07e56", "#825c43", "#604134", "#3a312a", "#292420",
)
"""Reference swatches; the rendered lit skin is each swatch with its chroma raised
(`SKIN_CHROMA`) and a warm cast on the light ones, which reads as living skin under the
soft shading rather than paper."""

SKIN_CHROMA = 1.35
"""How much the swatches' colourfulness is raised for the lit skin colour."""

SKIN_LIFT = 0.9
"""How much the darkest swatches are lightened for the lit skin (factor 1 + lift * (1 - L)^2),
so that their shadow side, not their lit side, sits at the swatch."""


def _hex(code: str) -> tuple[float, float, float]:
    return (int(code[1:3], 16) / 255.0, int(code[3:5], 16) / 255.0, int(code[5:7], 16) / 255.0)


def skin_palette() -> tuple[tuple[float, float, float], ...]:
    """Lit skin colours, one per Monk swatch (same lightness order)."""
    out: list[tuple[float, float, float]] = []
    for code in MONK_SKIN_TONES:
        r, g, b = _hex(code)
        m = (r + g + b) / 3.0
        lift = 1.0 + SKIN_LIFT * (1.0 - m) ** 2
        # The light swatches are nearly neutral; a warm (peach) cast keeps them reading as skin.
        warm = (1.0, 1.0 - 0.07 * m, 1.0 - 0.13 * m)
        lit = [min(1.0, max(0.0, (m + (c - m) * SKIN_CHROMA) * lift * w)) for c, w in zip((r, g, b), warm, strict=True)]
        out.append((lit[0], lit[1], lit[2]))
    return tuple(out)


__all__ = ["MONK_SKIN_TONES", "SKIN_CHROMA", "SKIN_LIFT", "skin_palette"]
