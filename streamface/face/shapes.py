"""Differentiable 2-D drawing helpers for the face renderer.

Everything here is plain tensor arithmetic (no Python control flow on values, no
data-dependent shapes), so the renderer that uses it exports to ONNX with standard ops.
Coordinates are normalised: x and y run from -1 to 1 across the image (y downwards).
Shapes are signed distances (negative inside); `fill` turns one into an anti-aliased
coverage with an edge about one pixel wide.
"""

from __future__ import annotations

import torch
from torch import Tensor

_CONSTANTS: dict[tuple[tuple[float, ...], tuple[int, ...], torch.device, torch.dtype], Tensor] = {}


def constant(values: tuple[float, ...], shape: tuple[int, ...], like: Tensor) -> Tensor:
    """``values`` as a tensor of ``shape`` on ``like``'s device and dtype, made once.

    Kept per device and dtype: a constant made on every call would be a host-to-device
    copy on every frame, which a CUDA graph cannot capture (and costs a copy without one).
    """
    key = (values, shape, like.device, like.dtype)
    found = _CONSTANTS.get(key)
    if found is None:
        with torch.inference_mode(False):  # usable inside and outside inference mode
            found = torch.tensor(values, dtype=like.dtype, device=like.device).reshape(shape)
        _CONSTANTS[key] = found
    return found


def power(t: Tensor, n: int) -> Tensor:
    """``t ** n`` for a whole ``n`` >= 1 by repeated squaring: ONNX Runtime's Pow runs
    ``std::pow`` per pixel for any exponent but 2 and 3, several times the cost of the
    two or three multiplications (the result differs from ``pow`` in the last bit only)."""
    if n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n}")
    out: Tensor | None = None
    while True:
        if n & 1:
            out = t if out is None else out * t
        n >>= 1
        if not n:
            assert out is not None
            return out
        t = t * t


def fill(d: Tensor, px: float | Tensor) -> Tensor:
    """Anti-aliased coverage (0..1) of a signed distance `d`, edge width ~ one pixel `px`
    (or, given a wider `px`, a soft edge that wide)."""
    return torch.sigmoid(d * (-1.7 / px))


def soft(d: Tensor, width: float | Tensor) -> Tensor:
    """Coverage with a soft edge `width` wide (for shading masks rather than outlines)."""
    return torch.sigmoid(d / -width)  # (-d / w bit for bit, without negating d first)


def smoothstep(e0: float | Tensor, e1: float | Tensor, x: Tensor) -> Tensor:
    """Hermite step from 0 at `e0` to 1 at `e1`."""
    t = torch.clamp((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def ellipse(x: Tensor, y: Tensor, cx: Tensor | float, cy: Tensor | float, rx: Tensor | float, ry: Tensor | float) -> Tensor:
    """First-order signed distance to an axis-aligned ellipse."""
    u = (x - cx) / rx
    v = (y - cy) / ry
    # (The 1e-9 goes into the row or column term: the grid's x and y are a row and a
    # column, so only the sums are whole maps, one addition each.)
    r = torch.sqrt((u * u + 1e-9) + v * v)
    g = torch.sqrt((u * u / (rx * rx) + 1e-9) + v * v / (ry * ry))
    return (r - 1.0) * r / g


def superellipse(
    x: Tensor, y: Tensor, cx: Tensor | float, cy: Tensor | float, rx: Tensor | float, ry: Tensor | float, n: Tensor | float
) -> Tensor:
    """Approximate signed distance to |u|^n + |v|^n = 1 (n=2 ellipse, larger n squarer)."""
    u = torch.abs((x - cx) / rx) + 1e-6
    v = torch.abs((y - cy) / ry) + 1e-6
    un = u**n
    vn = v**n
    s = un + vn
    # s ** (1 / n) as exp(log(s) / n): ONNX Runtime's Pow with a fractional exponent runs
    # std::pow per pixel, about twice the cost of its Log and Exp (the same to a few ulps).
    r = torch.exp(torch.log(s) * (1.0 / n))
    # gradient of r: r^(1-n) * (u^(n-1)/rx, v^(n-1)/ry)
    gx = un / u / rx
    gy = vn / v / ry
    g = torch.sqrt((gx * gx + 1e-12) + gy * gy) * r / s
    return (r - 1.0) / g


def smin(a: Tensor, b: Tensor, k: float | Tensor) -> Tensor:
    """Smooth union of two signed distances (polynomial smooth minimum, blend width `k`)."""
    h = torch.clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a: Tensor, b: Tensor, k: float | Tensor) -> Tensor:
    """Smooth intersection of two signed distances: ``-smin(-a, -b, k)`` bit for bit (IEEE
    rounding is symmetric in sign), without its three negations of whole maps."""
    h = torch.clamp(0.5 + 0.5 * (a - b) / k, 0.0, 1.0)
    return b + (a - b) * h + k * h * (1.0 - h)


def over(img: Tensor, color: Tensor, alpha: Tensor) -> Tensor:
    """Paint `color` over `img` with coverage `alpha` (broadcasting)."""
    return img + (color - img) * alpha


def palette(t: Tensor, colors: Tensor) -> Tensor:
    """Piecewise-linear lookup: t [B] in 0..1 along `colors` [K, 3] -> [B, 3, 1, 1]."""
    k = colors.shape[0]
    pos = torch.clamp(t, 0.0, 1.0).reshape(-1, 1) * (k - 1)
    idx = torch.arange(k, dtype=t.dtype, device=t.device).reshape(1, k)
    w = torch.relu(1.0 - torch.abs(pos - idx))
    return (w @ colors).reshape(-1, 3, 1, 1)


def hsv(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """HSV (each [B, 1, 1, 1], hue wraps at 1) -> RGB [B, 3, 1, 1]."""
    p = h + constant((0.0, 2.0 / 3.0, 1.0 / 3.0), (1, 3, 1, 1), h)
    p = p - torch.floor(p)
    k = torch.clamp(torch.abs(p * 6.0 - 3.0) - 1.0, 0.0, 1.0)
    return v * (1.0 - s + s * k)


def noise(x: Tensor, y: Tensor, scale: float, seed: float = 0.0) -> Tensor:
    """Cheap deterministic value-like noise from summed sines, roughly in -1..1."""
    a = torch.sin(x * (1.73 * scale) + y * (0.91 * scale) + seed)
    b = torch.sin(x * (-1.13 * scale) + y * (2.07 * scale) + 1.3 * seed + 2.0)
    c = torch.sin((x * 2.31 - y * 1.37) * scale + 0.7 * seed + 4.0)
    # Warping one wave by another breaks up the lattice the plain sum would show.
    d = torch.sin((x * 0.61 + y * 2.53) * scale + 2.0 * a + seed)
    return (a + b + c + d) * 0.25
