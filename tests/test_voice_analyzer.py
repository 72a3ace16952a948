"""`VoiceAnalyzer`: accuracy on shared and widened voices (wideband and telephone),
progressive profiles, bad input, thread safety, `profile_file`."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from voice_signals import music_like, silence, white_noise, write_wav

from streamface.audio.mulaw import telephone_band
from streamface.errors import BadAudioError, NoSpeechError
from streamface.voice.analyzer import VoiceAnalyzer, profile_file, speech_of_file
from streamface.voice.profile import AGE_BANDS, VoiceProfile

VOICES = Path(__file__).resolve().parent / "data" / "voices"
WIDENED: dict[Path, str] = {
    VOICES / name: meta["sex"]
    for name, meta in json.loads((VOICES / "voices.json").read_text())["voices"].items()
}
CONDITIONS = ("wideband", "telephone", "telephone_300_3400")
ANALYZER = VoiceAnalyzer()


@cache
def _speech(path: Path) -> np.ndarray:
    return speech_of_file(path)[-80_000:]


def _condition(x: np.ndarray, condition: str) -> np.ndarray:
    if condition == "telephone":
        return telephone_band(x)
    if condition == "telephone_300_3400":
        return telephone_band(x, bandpass=True)
    return x


def _accuracy(voices: dict[Path, str], condition: str) -> tuple[float, list[str]]:
    wrong = []
    for path, sex in voices.items():
        p = ANALYZER.analyze(_condition(_speech(path), condition))
        if p.perceived_sex.label != sex:
            wrong.append(
                f"{path.name}: p_female={p.perceived_sex.p_female:.2f} f0={p.f0_median_hz}"
            )
    return 1.0 - len(wrong) / len(voices), wrong


@pytest.mark.parametrize("condition", CONDITIONS)
def test_perceived_sex_accuracy_on_shared_voices(
    shared_voices: dict[Path, str], condition: str
) -> None:
    accuracy, wrong = _accuracy(shared_voices, condition)
    assert accuracy >= 0.95, wrong


@pytest.mark.slow
@pytest.mark.parametrize("condition", CONDITIONS)
def test_perceived_sex_accuracy_on_widened_voices(condition: str) -> None:
    assert len(WIDENED) >= 30
    assert set(WIDENED.values()) == {"female", "male"}
    accuracy, wrong = _accuracy(WIDENED, condition)
    assert accuracy >= 0.95, wrong


def _noisy(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(x.size)
    noise *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return (x + noise).astype(np.float32)


def _reverberant(x: np.ndarray, rt60: float, seed: int) -> np.ndarray:
    t = np.arange(int(rt60 * 16_000)) / 16_000
    ir = np.random.default_rng(seed).standard_normal(t.size) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0
    y = np.convolve(x, ir / np.sqrt(np.sum(ir**2)))[: x.size]
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


@pytest.mark.slow
def test_accuracy_survives_noise_and_reverberation(shared_voices: dict[Path, str]) -> None:
    degraded = {
        "white noise 15 dB": lambda x: _noisy(x, 15.0, 1),
        "room 0.5 s": lambda x: _reverberant(x, 0.5, 2),
        "room 0.3 s on a 300-3400 Hz line": lambda x: telephone_band(
            _reverberant(x, 0.3, 3), bandpass=True
        ),
    }
    for name, fn in degraded.items():
        wrong = [
            path.name
            for path, sex in shared_voices.items()
            if ANALYZER.analyze(fn(_speech(path))).perceived_sex.label != sex
        ]
        assert len(wrong) / len(shared_voices) <= 0.05, (name, wrong)


def test_profile_fields() -> None:
    p = ANALYZER.analyze(_speech(VOICES / "flite_slt.flac"))
    assert isinstance(p, VoiceProfile)
    assert 2.0 < p.speech_seconds <= 5.0
    assert p.f0_median_hz is not None and 140.0 < p.f0_median_hz < 200.0
    assert p.f0_range_hz is not None and p.f0_range_hz[0] <= p.f0_median_hz <= p.f0_range_hz[1]
    assert p.formants_hz is not None and len(p.formants_hz) == 4
    assert list(p.formants_hz) == sorted(p.formants_hz)
    assert p.vtl_cm is not None and 12.0 < p.vtl_cm < 19.0
    assert p.loudness_dbfs is not None and -40.0 < p.loudness_dbfs < 0.0
    assert set(p.age_band.probs) == set(AGE_BANDS)
    assert p.embedding.shape == (256,) and p.embedding.dtype == np.float32
    data = p.to_json()
    json.dumps(data)
    assert data["perceived_sex"]["label"] == "female"


def test_telephone_profile_uses_three_formants() -> None:
    p = ANALYZER.analyze(telephone_band(_speech(VOICES / "flite_awb.flac"), bandpass=True))
    assert p.formants_hz is not None and len(p.formants_hz) == 3
    assert p.perceived_sex.label == "male"


def test_progressive_profile_from_one_second() -> None:
    x = _speech(VOICES / "espeak_f3_us.flac")
    first = ANALYZER.analyze(x[:16_000])
    assert first.speech_seconds == pytest.approx(1.0)
    assert first.perceived_sex.label == "female"
    confidences = [ANALYZER.analyze(x[: int(s * 16_000)]).confidence for s in (1.0, 2.0, 3.0)]
    assert confidences[0] < confidences[1] < confidences[2]


@pytest.mark.parametrize("name", ["flite_rms.flac", "espeak_m2_us.flac", "flite_slt_b.flac"])
def test_confidence_grows_as_the_buffer_fills(name: str) -> None:
    x = _speech(VOICES / name)
    short = ANALYZER.analyze(x[:16_000])
    full = ANALYZER.analyze(x)
    assert full.confidence > short.confidence
    assert full.perceived_sex.label == short.perceived_sex.label


def test_less_than_one_second_is_no_speech() -> None:
    x = _speech(VOICES / "flite_rms.flac")
    with pytest.raises(NoSpeechError, match=r"1\.0 s"):
        ANALYZER.analyze(x[:15_000])
    with pytest.raises(NoSpeechError):
        ANALYZER.analyze(np.zeros(0, dtype=np.float32))


def test_silent_buffer_is_no_speech() -> None:
    with pytest.raises(NoSpeechError):
        ANALYZER.analyze(silence(2.0))


@pytest.mark.parametrize(
    "bad",
    [
        np.full(32_000, np.nan, dtype=np.float32),
        np.zeros((2, 16_000), dtype=np.float32),
        np.array(["a"] * 20_000),
        np.zeros(32_000, dtype=np.int64),
    ],
    ids=["nan", "2-d", "strings", "int64"],
)
def test_bad_buffers_are_bad_audio(bad: np.ndarray) -> None:
    with pytest.raises(BadAudioError):
        ANALYZER.analyze(bad)


def test_int16_and_float64_input_are_accepted() -> None:
    x = _speech(VOICES / "flite_kal16.flac")[:32_000]
    as_float = ANALYZER.analyze(x)
    as_double = ANALYZER.analyze(x.astype(np.float64))
    as_int16 = ANALYZER.analyze(np.round(x * 32768.0).clip(-32768, 32767).astype(np.int16))
    assert as_float.perceived_sex.label == "male"
    assert as_double.f0_median_hz == pytest.approx(as_float.f0_median_hz, rel=1e-3)
    assert as_int16.f0_median_hz == pytest.approx(as_float.f0_median_hz, rel=1e-2)
    assert as_int16.loudness_dbfs == pytest.approx(as_float.loudness_dbfs, abs=0.1)


def test_analysis_is_deterministic_and_thread_safe() -> None:
    xs = [_speech(VOICES / n) for n in ("flite_slt.flac", "flite_rms.flac", "espeak_f3_us.flac")]
    serial = [ANALYZER.analyze(x) for x in xs]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(ANALYZER.analyze, xs * 2))
    for i, p in enumerate(parallel):
        ref = serial[i % 3]
        assert p.embedding.tobytes() == ref.embedding.tobytes()
        assert p.perceived_sex == ref.perceived_sex
        assert p.f0_median_hz == ref.f0_median_hz


def test_embedding_is_independent_of_input_gain() -> None:
    x = _speech(VOICES / "flite_awb.flac")
    loud = ANALYZER.analyze(x)
    quiet = ANALYZER.analyze(x * 0.05)
    assert float(loud.embedding @ quiet.embedding) > 0.9999
    assert quiet.perceived_sex.label == loud.perceived_sex.label


def test_profile_file_uses_the_last_seconds_of_speech() -> None:
    p = profile_file(VOICES / "flite_slt_b.flac", buffer_seconds=2.0)
    assert p.speech_seconds == pytest.approx(2.0, abs=0.02)
    assert p.perceived_sex.label == "female"


@pytest.mark.parametrize(
    "signal",
    [silence(3.0), white_noise(3.0), music_like(4.0)],
    ids=["silence", "white-noise", "music-like"],
)
def test_profile_file_without_speech(tmp_path: Path, signal: np.ndarray) -> None:
    path = tmp_path / "no_speech.wav"
    write_wav(path, signal)
    with pytest.raises(NoSpeechError):
        profile_file(path)


def test_profile_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    with pytest.raises(BadAudioError):
        profile_file(path)
