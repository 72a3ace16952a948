"""`streamface.audio.polyphase.resample_poly` against `scipy.signal.resample_poly`."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from streamface.audio.polyphase import resample_poly

RATIOS = [(1, 2), (2, 1), (1, 3), (11, 16), (5, 8), (160, 441), (441, 160), (147, 160), (3, 3)]


@pytest.mark.parametrize(("up", "down"), RATIOS)
@pytest.mark.parametrize("n", [0, 1, 2, 37, 1000, 16_000])
def test_matches_scipy(up: int, down: int, n: int) -> None:
    x = np.random.default_rng(n + up).standard_normal(n)
    want = scipy_resample_poly(x, up, down)
    got = resample_poly(x, up, down)
    assert got.shape == want.shape
    if n:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_keeps_a_tone_and_removes_what_the_new_rate_cannot_hold() -> None:
    t = np.arange(16_000) / 16_000
    low, high = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 6_000 * t)
    y_low, y_high = resample_poly(low, 1, 2), resample_poly(high, 1, 2)  # 8 kHz: Nyquist 4 kHz
    assert np.std(y_low[500:-500]) == pytest.approx(np.std(low), rel=0.02)
    assert np.std(y_high[500:-500]) < 0.01


def test_bad_factors_are_refused() -> None:
    with pytest.raises(ValueError):
        resample_poly(np.zeros(10), 0, 2)


def test_the_cli_does_not_import_scipy_signal() -> None:
    """Importing scipy.signal costs about a second of every command's start-up."""
    code = (
        "import sys; import streamface.offline, streamface.voice.analyzer; "
        "print('scipy.signal' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
