"""LPC formants and vocal-tract length on synthetic vowels, wideband and telephone band."""

from __future__ import annotations

import numpy as np
import pytest
from voice_signals import vowel

from streamface.audio.mulaw import telephone_band
from streamface.voice import formants, pitch


def _estimate(x: np.ndarray, **kwargs: bool) -> formants.FormantEstimate:
    track = pitch.track(x)
    return formants.estimate(x, np.flatnonzero(track.voiced) * 160 + 200, **kwargs)


@pytest.mark.parametrize(
    ("f0", "true_formants", "vtl"),
    [
        (110.0, (500.0, 1500.0, 2500.0, 3500.0), 17.5),  # uniform 17.5 cm tube
        (210.0, (600.0, 1800.0, 3000.0, 4200.0), 14.6),  # uniform 14.6 cm tube
    ],
)
def test_formants_and_vtl_of_a_neutral_vowel(
    f0: float, true_formants: tuple[float, ...], vtl: float
) -> None:
    est = _estimate(vowel(f0, true_formants, seconds=1.5))
    assert not est.band_limited
    assert est.formants_hz is not None and len(est.formants_hz) == 4
    for got, want in zip(est.formants_hz, true_formants, strict=True):
        assert abs(got - want) / want < 0.15, (est.formants_hz, true_formants)  # LPC: harmonic pull
    assert est.vtl_cm is not None and abs(est.vtl_cm - vtl) < 1.0


def test_telephone_band_is_detected_and_uses_three_formants() -> None:
    x = vowel(120.0, (500.0, 1500.0, 2500.0, 3500.0), seconds=1.5)
    tel = telephone_band(x, bandpass=True)
    assert formants.is_band_limited(tel)
    assert not formants.is_band_limited(x)
    est = _estimate(tel)
    assert est.band_limited
    assert est.formants_hz is not None and len(est.formants_hz) == 3
    assert est.vtl_cm is not None and abs(est.vtl_cm - 17.5) < 1.5


def test_spacing_regression_of_a_uniform_tube() -> None:
    table = np.array([[500.0, 1500.0, 2500.0, 3500.0], [600.0, 1800.0, 3000.0, np.nan]])
    np.testing.assert_allclose(formants.spacing(table), [1000.0, 1200.0])


def test_too_few_frames_give_no_estimate() -> None:
    est = formants.estimate(np.zeros(16000), np.array([200]))
    assert est.formants_hz is None and est.vtl_cm is None and est.frames == 0


def test_lpc_recovers_a_known_resonator() -> None:
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    fs, f, bw = 8000.0, 1000.0, 80.0
    r = np.exp(-np.pi * bw / fs)
    a = [1.0, -2 * r * np.cos(2 * np.pi * f / fs), r * r]
    frames = lfilter([1.0], a, rng.standard_normal((4, 4000)), axis=1)
    coeffs = formants.lpc(frames * np.hamming(4000), 2)
    np.testing.assert_allclose(coeffs[:, 1:], np.tile(a[1:], (4, 1)), atol=0.02)
    found = formants.pole_formants(coeffs, fs, 3900.0)
    assert np.all(np.abs(found[:, 0] - f) < 20.0)


def test_short_tract_analysis_finds_formants_above_the_adult_ceiling() -> None:
    # A ~10.5 cm tract: F1..F4 at 833, 2500, 4167, 5833 Hz; F4 is above 4.9 kHz.
    vtl = 10.5
    true_formants = [(2 * n - 1) * formants.SPEED_OF_SOUND_CM_S / (4 * vtl) for n in (1, 2, 3, 4)]
    est = _estimate(vowel(300.0, tuple(true_formants)), short_tract=True)
    assert est.vtl_cm is not None and abs(est.vtl_cm - vtl) < 1.0
