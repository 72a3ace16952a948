"""F0 tracking: accuracy on synthetic voices, missing fundamental, telephone band, no voicing."""

from __future__ import annotations

import numpy as np
import pytest
from voice_signals import missing_fundamental, music_like, silence, vowel, white_noise

from streamface.audio.mulaw import telephone_band
from streamface.voice import pitch


@pytest.mark.parametrize("f0", [60.0, 85.0, 110.0, 140.0, 180.0, 220.0, 300.0, 420.0])
def test_f0_of_synthetic_vowels(f0: float) -> None:
    track = pitch.track(vowel(f0, seconds=1.5))
    med = track.median()
    assert med is not None
    assert abs(med - f0) / f0 < 0.02
    assert track.voiced_seconds > 1.0


@pytest.mark.parametrize("f0", [100.0, 130.0, 210.0])
def test_missing_fundamental_is_found_from_harmonics(f0: float) -> None:
    track = pitch.track(missing_fundamental(f0, seconds=1.0))
    med = track.median()
    assert med is not None
    assert abs(med - f0) / f0 < 0.02


@pytest.mark.parametrize("f0", [95.0, 120.0, 200.0])
def test_telephone_band_keeps_f0(f0: float) -> None:
    x = vowel(f0, formants=(700.0, 1200.0, 2600.0, 3400.0), seconds=1.5)
    for copy in (telephone_band(x), telephone_band(x, bandpass=True)):
        med = pitch.track(copy).median()
        assert med is not None
        assert abs(med - f0) / f0 < 0.03


def test_range_and_percentiles_follow_intonation() -> None:
    x = vowel(150.0, seconds=2.0, vibrato=0.1)
    track = pitch.track(x)
    lo, hi = track.percentile_range(10, 90) or (0.0, 0.0)
    assert 130.0 < lo < 145.0
    assert 155.0 < hi < 170.0


def test_octave_guard_keeps_median_under_octave_slips() -> None:
    x = np.concatenate([vowel(120.0, seconds=1.2), vowel(240.0, seconds=0.3, seed=3)])
    med = pitch.track(x).median()
    assert med is not None and abs(med - 120.0) < 6.0


@pytest.mark.parametrize("signal", [silence(1.0), white_noise(1.0)], ids=["silence", "noise"])
def test_no_voicing_in_silence_or_noise(signal: np.ndarray) -> None:
    track = pitch.track(signal)
    assert track.voiced_seconds < 0.05
    assert track.median() is None
    assert track.percentile_range() is None


def test_voice_in_moderate_noise() -> None:
    x = vowel(115.0, seconds=1.5) + white_noise(1.5, level=0.02)
    med = pitch.track(x).median()
    assert med is not None and abs(med - 115.0) < 4.0


def test_music_is_tracked_without_crashing() -> None:
    track = pitch.track(music_like(1.0))
    assert track.f0_hz.shape == track.voiced.shape


def test_tiny_input() -> None:
    assert pitch.track(np.zeros(10, dtype=np.float32)).median() is None


def test_hnr_and_jitter_are_finite_on_voice() -> None:
    track = pitch.track(vowel(130.0, seconds=1.0, vibrato=0.02))
    hnr, jitter = track.hnr_db(), track.jitter()
    assert hnr is not None and hnr > 10.0
    assert jitter is not None and 0.0 <= jitter < 0.05
