"""Voice activity detection: speech in the shared voices; silence, noise and music not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_util import coloured_noise, organ_chord, sine, white_noise

from streamface.audio import (
    FRAME_SAMPLES,
    VoiceActivityDetector,
    decode_file,
    extract_speech,
    speech_mask,
)
from streamface.audio.vad import frame_signal


@pytest.fixture(scope="module")
def voices(shared_voices: dict[Path, str]) -> dict[str, np.ndarray]:
    return {p.name: decode_file(p) for p in shared_voices}


def test_speech_found_in_every_shared_voice(voices: dict[str, np.ndarray]) -> None:
    for name, x in voices.items():
        mask = speech_mask(x)
        # The voices are sentences with short pauses: most frames are speech.
        assert 0.6 < mask.mean() <= 0.97, (name, mask.mean())


def test_speech_is_found_in_moderate_noise(voices: dict[str, np.ndarray]) -> None:
    x = next(iter(voices.values()))
    noisy = x + white_noise(len(x) / 16000, 20 * np.log10(x.std()) - 15, seed=3)[: len(x)]
    assert speech_mask(noisy).mean() > 0.5


def test_quiet_speech_is_still_found(voices: dict[str, np.ndarray]) -> None:
    for name, x in voices.items():
        loud = speech_mask(x).mean()
        assert speech_mask(0.1 * x).mean() > 0.6 * loud, name  # 20 dB quieter
        assert speech_mask(0.05 * x).mean() > 0.4 * loud, name  # 26 dB quieter


@pytest.mark.parametrize(
    ("name", "signal", "max_fraction"),
    [
        ("digital silence", np.zeros(5 * 16000, np.float32), 0.0),
        ("DC offset", np.full(5 * 16000, 0.02, np.float32), 0.0),
        ("very low noise", white_noise(5, -70), 0.0),
        ("white noise -30 dBFS", white_noise(5, -30), 0.02),
        ("white noise -10 dBFS", white_noise(5, -10, seed=1), 0.02),
        ("pink noise", coloured_noise(5, -20, 1), 0.05),
        ("brown noise", coloured_noise(5, -20, 2), 0.1),
        ("mains hum", sine(50, 5, amp=0.2) + sine(150, 5, amp=0.1) + sine(250, 5, amp=0.05), 0.02),
        ("held organ chord", organ_chord(5), 0.05),
        ("steady tone", sine(440, 5), 0.02),
    ],
)
def test_non_speech_is_not_speech(name: str, signal: np.ndarray, max_fraction: float) -> None:
    frac = speech_mask(signal).mean()
    assert frac <= max_fraction, f"{name}: {frac:.3f} of frames called speech"


@pytest.mark.parametrize("offset", [0, 160, 250, 300])
def test_a_steady_sound_starting_after_silence_is_not_speech(offset: int) -> None:
    # Where the sound starts inside a frame that frame is part silence; that must not make
    # the sound that follows look like a rise above the floor.
    lead = np.zeros(16000 + offset, np.float32)
    for name, sound, limit in [
        ("white", white_noise(3, -20), 0.03),
        ("pink", coloured_noise(3, -20, 1), 0.05),
        ("brown", coloured_noise(3, -20, 2), 0.1),
        ("organ", organ_chord(3), 0.05),
    ]:
        frac = speech_mask(np.concatenate([lead, sound]))[50:].mean()
        assert frac <= limit, f"{name} after silence (offset {offset}): {frac:.3f}"


def test_speech_then_silence_hangover_is_short(voices: dict[str, np.ndarray]) -> None:
    x = next(iter(voices.values()))
    mask = speech_mask(np.concatenate([x, np.zeros(16000, np.float32)]))
    tail = mask[len(x) // FRAME_SAMPLES + 1 :]
    assert not tail.any()  # silence is never speech, hangover or not


def test_batch_size_does_not_change_decisions(voices: dict[str, np.ndarray]) -> None:
    x = np.concatenate([next(iter(voices.values())), organ_chord(1.0), white_noise(1.0, -25)])
    frames = frame_signal(x)
    whole = VoiceActivityDetector().process(frames)
    det = VoiceActivityDetector()
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < len(frames):
        n = int(rng.integers(1, 9))
        parts.append(det.process(frames[i : i + n]))
        i += n
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_extract_speech_returns_speech_frames(voices: dict[str, np.ndarray]) -> None:
    x = next(iter(voices.values()))
    speech = extract_speech(np.concatenate([np.zeros(8000, np.float32), x, white_noise(2, -20)]))
    assert speech.size % FRAME_SAMPLES == 0
    assert 0.6 * len(x) < speech.size <= len(x)


def test_aggressiveness_range() -> None:
    for mode in range(4):
        VoiceActivityDetector(mode)
    with pytest.raises(ValueError):
        VoiceActivityDetector(4)


def test_rejects_wrong_frame_shape() -> None:
    with pytest.raises(ValueError):
        VoiceActivityDetector().process(np.zeros((2, 160), np.float32))
