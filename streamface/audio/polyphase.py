"""Polyphase FIR resampling by a rational factor, in numpy.

The same filter, padding and alignment as `scipy.signal.resample_poly` with its default
Kaiser window (beta 5) and zero padding, so the numbers match it to float precision
(tests compare them). It exists because importing `scipy.signal` costs about a second of
start-up (it parses docstrings at import time), which every `streamface` command paid for
one function.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np

KAISER_BETA = 5.0


def _output_len(len_h: int, in_len: int, up: int, down: int) -> int:
    """Length of ``upfirdn(h, x, up, down)`` (full convolution, then every down-th)."""
    in_len_copy = in_len + (len_h + (-len_h % up)) // up - 1
    total = in_len_copy * up
    return total // down + (1 if total % down else 0)


@lru_cache(maxsize=32)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing filter, times ``up`` (windowed sinc, unity gain at DC)."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    taps = 2 * half_len + 1
    cutoff = 1.0 / max_rate  # as a fraction of Nyquist
    m = np.arange(taps) - 0.5 * (taps - 1)
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(taps, KAISER_BETA)
    h /= h.sum()
    h = h * up
    h.setflags(write=False)
    return h


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Resample a 1-D signal by ``up / down`` (float64 out, like scipy's).

    Args:
        x: The signal.
        up: Upsampling factor (positive).
        down: Downsampling factor (positive).

    Returns:
        ``ceil(len(x) * up / down)`` samples.
    """
    if up < 1 or down < 1:
        raise ValueError(f"up and down must be >= 1, got {up} and {down}")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    g = gcd(up, down)
    up, down = up // g, down // g
    if up == down == 1:
        return x.copy()
    n_in = x.shape[0]
    n_out = n_in * up
    n_out = n_out // down + (1 if n_out % down else 0)
    h = _lowpass(up, down)
    half_len = (h.shape[0] - 1) // 2
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    n_post_pad = 0
    while _output_len(h.shape[0] + n_pre_pad + n_post_pad, n_in, up, down) < n_out + n_pre_remove:
        n_post_pad += 1
    h = np.concatenate((np.zeros(n_pre_pad), h, np.zeros(n_post_pad)))
    # Polyphase: output m is sum_q x[i0 - q] * h[p + q * up], with t = m * down,
    # p = t % up and i0 = t // up. Outputs j, j + up, j + 2 up, ... share one phase p and
    # their i0 step by ``down``: each such class is one strided sliding window times the
    # reversed phase filter (a matrix-vector product), so only kept outputs are computed.
    q_len = -(-h.shape[0] // up)
    phases = np.zeros(q_len * up)
    phases[: h.shape[0]] = h
    phases = phases.reshape(q_len, up).T[:, ::-1]  # phases[p, q_len-1-q] = h[p + q * up]
    last_i0 = ((n_pre_remove + n_out - 1) * down) // up
    pad_end = max(0, last_i0 + 1 - n_in)
    padded = np.concatenate((np.zeros(q_len - 1), x, np.zeros(pad_end)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, q_len)
    y = np.empty(n_out)
    for r in range(min(up, n_out)):
        t = (n_pre_remove + r) * down
        count = len(range(r, n_out, up))
        i0 = t // up
        y[r::up] = windows[i0 : i0 + (count - 1) * down + 1 : down] @ phases[t % up]
    return y
