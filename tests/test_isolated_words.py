"""Speech with pauses: digits read one by one still give a first face after ~1 s of voicing.

Real digit recordings (Asterisk prompts, from the real-speech set built by
``tests/data/make_real_voices.sh``; those tests skip when it was not built) separated by
1.5 s of silence, through the real ingest (VAD + isolated-word recovery) and a session.
Noise, hum and chords in short bursts between silences must not be recovered as words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_util import coloured_noise, organ_chord, white_noise
from fakes import ShapesEngine, fake_mapper

from benchmarks import real_voices
from streamface.audio.ingest import AudioIngest
from streamface.offline import Audio, drive
from streamface.session import Session
from streamface.voice import pitch

REAL = Path(__file__).resolve().parent / "data" / "real_voices"
GAP = np.zeros(24000, np.float32)  # 1.5 s of silence


def _digits(speaker: str) -> np.ndarray:
    manifest = real_voices.load_manifest()
    if manifest is None or "words" not in manifest:
        pytest.skip("real-speech set not built: run bash tests/data/make_real_voices.sh")
    from streamface.audio.decode import decode_file

    return decode_file(REAL / "words" / f"{speaker}_digits.flac")


def _ingest(x: np.ndarray, chunk: int = 320 * 3) -> tuple[AudioIngest, float]:
    ingest = AudioIngest()
    live = 0
    for k in range(0, x.size, chunk):
        live += int(ingest.push(x[k : k + chunk], 16000).speech_flags.sum())
    return ingest, live * 0.02


def _voiced_seconds_of_words(x: np.ndarray) -> float:
    return pitch.track(x).voiced_seconds


@pytest.mark.parametrize("speaker", ["allison", "carlo"])
def test_isolated_digits_fill_the_buffer_with_their_voiced_speech(speaker: str) -> None:
    x = _digits(speaker)
    ingest, live = _ingest(x)
    voiced = _voiced_seconds_of_words(x)
    speech = ingest.buffer.total_speech_seconds
    # The causal VAD alone misses whole digits after silence; the recovery finds them.
    assert speech >= 0.9 * voiced, (speech, live, voiced)
    assert speech > live
    # Nothing but the words: the 1.5 s pauses are not speech.
    assert speech <= (x.size - 11 * GAP.size) / 16000 + 0.1


@pytest.mark.parametrize(
    "name, burst",
    [
        ("white", lambda i: white_noise(0.8, -20, seed=i)),
        ("pink", lambda i: coloured_noise(0.8, -20, 1, seed=i)),
        ("brown", lambda i: coloured_noise(0.8, -20, 2, seed=i)),
        ("organ chord", lambda i: organ_chord(0.8)),
    ],
)
def test_short_non_speech_bursts_between_silences_are_not_recovered(name: str, burst) -> None:
    x = np.concatenate([np.concatenate([GAP, burst(i)]) for i in range(6)] + [GAP])
    ingest, _ = _ingest(x)
    assert ingest.buffer.total_speech_seconds <= 0.1, name


def test_digits_with_long_pauses_get_a_first_face_after_a_second_of_voicing() -> None:
    x = _digits("allison")
    # When did the words hold 1 s of voiced speech? (word ends, in the signal's time)
    track = pitch.track(x)
    voiced_t = (np.flatnonzero(track.voiced) * 160 + 200) / 16000
    t_voiced_1s = float(voiced_t[int(1.0 / 0.01)])  # 10 ms pitch frames
    session = Session(ShapesEngine(64), seed=0, fps=25, mapper=fake_mapper)
    for _ in drive(session, Audio(x, 16000), 25):
        if session.face_changes:
            break
    assert session.face_changes, "no first face for digits read with pauses"
    first_t, reason = session.face_changes[0]
    assert reason == "first"
    # At the latest at the end of the word that completes 1 s of voicing (digits last
    # under 0.8 s), not words later.
    assert first_t <= t_voiced_1s + 0.8 + 0.1, (first_t, t_voiced_1s)
