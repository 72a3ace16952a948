"""`VoiceAnalyzer`: from the speech buffer to a `VoiceProfile`.

One call measures everything a profile holds: the GE2E speaker embedding, F0 median and
range (YIN), formants and vocal-tract length (LPC), speech loudness, and from those the
perceived sex, age band and confidence (`traits`). It is pure computation on its input,
so one analyzer can serve many threads at once; the encoder weights load once per process.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from streamface.errors import BadAudioError, NoSpeechError
from streamface.voice import formants, pitch, traits
from streamface.voice.profile import VoiceProfile

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MIN_SPEECH_SECONDS = 1.0
"""A first estimate needs this much speech; shorter buffers raise `NoSpeechError`."""

EMBEDDING_PARTIAL_RATE = 0.625
"""Partials per second for the embedding: 1.6 s partials back to back (3 for a 5 s buffer).

Resemblyzer's default of 1.3 (50 % overlap, 5 partials) costs ~30 ms on one core for 5 s;
back-to-back partials cost ~18 ms and their embedding keeps a cosine of ~0.99 to it, with
the same same-speaker / different-speaker separation on our voices (see benchmarks).
"""

EMBEDDING_LEVEL_DBFS = -20.0
"""Speech is scaled to this RMS level before the encoder, so the embedding (and the face
derived from it) does not change with microphone gain. Same/different-speaker separation
on our voices is the same as with resemblyzer's increase-only -30 dBFS normalisation."""

SILENCE_DBFS = -70.0

SHORT_TRACT_F0_HZ = 200.0
"""From this median F0 up, formants are sought up to 7 kHz rather than 4.9 kHz: a child's
(or a high voice's) F3-F4 can lie above the adult ceiling (`formants.estimate`)."""


class VoiceAnalyzer:
    """Computes `VoiceProfile`s from 16 kHz mono speech (thread-safe, no state per call).

    Args:
        partial_rate: Embedding partials per second (see `EMBEDDING_PARTIAL_RATE`).
        min_speech_seconds: Least speech for a profile.
    """

    def __init__(
        self,
        *,
        partial_rate: float = EMBEDDING_PARTIAL_RATE,
        min_speech_seconds: float = MIN_SPEECH_SECONDS,
    ) -> None:
        self.partial_rate = partial_rate
        self.min_speech_seconds = min_speech_seconds

    def warm_up(self) -> None:
        """Load the encoder weights now rather than on the first profile."""
        from streamface.voice import encoder

        encoder.load_encoder()

    def analyze(
        self,
        speech16k: np.ndarray,
        *,
        pitch_cache: pitch.CmndfCache | None = None,
        origin: int | None = None,
    ) -> VoiceProfile:
        """Profile of a voice from its speech (silence already removed by the VAD).

        Args:
            speech16k: 1-D samples at 16 kHz: float (full scale 1.0) or int16.
            pitch_cache: A session's `pitch.CmndfCache`: the pitch tracker then reuses
                what it computed for frames an earlier analysis of the same speech
                stream already saw (same result, less work).
            origin: Position of ``speech16k[0]`` in that stream (16 kHz samples).

        Raises:
            NoSpeechError: less than `min_speech_seconds` of speech, or only silence.
            BadAudioError: not 1-D, or NaN / infinite samples.
        """
        x = np.asarray(speech16k)
        if x.ndim != 1:
            raise BadAudioError(f"speech must be 1-D mono samples, got shape {x.shape}")
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        elif x.dtype.kind != "f":
            raise BadAudioError(f"speech samples must be float or int16, got {x.dtype}")
        x = x.astype(np.float32, copy=False)
        if not np.all(np.isfinite(x)):
            raise BadAudioError("speech holds NaN or infinite samples")
        seconds = x.size / SAMPLE_RATE
        if seconds < self.min_speech_seconds:
            raise NoSpeechError(
                f"only {seconds:.2f} s of speech; a profile needs {self.min_speech_seconds:.1f} s"
            )
        loudness = _dbfs(x)
        if loudness < SILENCE_DBFS:
            raise NoSpeechError(f"the speech buffer is silent ({loudness:.0f} dBFS)")

        track, fe, cues = measure(x, pitch_cache=pitch_cache, origin=origin)
        from streamface.voice import encoder  # ONNX Runtime loads on first use

        embedding = encoder.embed_utterance(
            x, rate=self.partial_rate, level_dbfs=EMBEDDING_LEVEL_DBFS
        )
        inferred = traits.infer(cues, embedding)
        # Counts only: logs never carry traits or voice measurements (docs/PRIVACY.md).
        logger.debug(
            "profile of %.2f s of speech (%d voiced frames)", seconds, int(track.voiced.sum())
        )
        return VoiceProfile(
            speech_seconds=seconds,
            f0_median_hz=cues.f0_median_hz,
            f0_range_hz=track.percentile_range(10.0, 90.0),
            formants_hz=fe.formants_hz,
            vtl_cm=fe.vtl_cm,
            loudness_dbfs=loudness,
            perceived_sex=inferred.perceived_sex,
            age_band=inferred.age_band,
            confidence=inferred.confidence,
            embedding=embedding,
        )


def measure(
    x: np.ndarray, *, pitch_cache: pitch.CmndfCache | None = None, origin: int | None = None
) -> tuple[pitch.PitchTrack, formants.FormantEstimate, traits.Cues]:
    """The acoustic cues of 16 kHz float32 speech: pitch track, formants, and `traits.Cues`.

    ``pitch_cache`` and ``origin`` as in `VoiceAnalyzer.analyze`.
    """
    track = pitch.track(x, cache=pitch_cache, origin=origin)
    voiced_idx = np.flatnonzero(track.voiced)
    # Pitch frame i covers 16 kHz samples [160 i, 160 i + 724); its YIN window is the
    # first 400 of them, centred at 160 i + 200.
    f0_median = track.median()
    fe = formants.estimate(
        x,
        voiced_idx * 160 + 200,
        short_tract=f0_median is not None and f0_median >= SHORT_TRACT_F0_HZ,
    )
    cues = traits.Cues(
        speech_seconds=x.size / SAMPLE_RATE,
        voiced_seconds=track.voiced_seconds,
        f0_median_hz=f0_median,
        vtl_cm=fe.vtl_cm,
        band_limited=fe.band_limited,
        hnr_db=track.hnr_db(),
        jitter=track.jitter(),
    )
    return track, fe, cues


def _dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20.0 * math.log10(rms) if rms > 1e-10 else -200.0


_default: VoiceAnalyzer | None = None


def default_analyzer() -> VoiceAnalyzer:
    """A shared analyzer with default settings."""
    global _default
    if _default is None:
        _default = VoiceAnalyzer()
    return _default


def speech_of_file(path: str | Path) -> np.ndarray:
    """All speech in an audio file: decoded to 16 kHz mono, non-speech removed by the VAD.

    Raises:
        BadAudioError: the file cannot be read as audio.
    """
    from streamface.audio.decode import decode_file
    from streamface.audio.vad import extract_speech

    return extract_speech(decode_file(path))


def last_speech(path: str | Path, buffer_seconds: float = 5.0) -> np.ndarray:
    """The last `buffer_seconds` of speech in an audio file, checked to be enough for a profile.

    Raises:
        BadAudioError: the file cannot be read as audio.
        NoSpeechError: it holds less than 1.0 s of speech.
    """
    if not buffer_seconds > 0:
        raise ValueError(f"buffer_seconds must be positive, got {buffer_seconds!r}")
    speech = speech_of_file(path)
    keep = int(round(buffer_seconds * SAMPLE_RATE))
    if speech.size > keep:
        speech = speech[-keep:]
    if speech.size < MIN_SPEECH_SECONDS * SAMPLE_RATE:
        raise NoSpeechError(
            f"{Path(path).name}: only {speech.size / SAMPLE_RATE:.2f} s of speech found; "
            f"a profile needs {MIN_SPEECH_SECONDS:.1f} s"
        )
    return speech


def profile_file(path: str | Path, buffer_seconds: float = 5.0) -> VoiceProfile:
    """Profile of the last `buffer_seconds` of speech in an audio file.

    Raises:
        BadAudioError: the file cannot be read as audio.
        NoSpeechError: it holds less than 1.0 s of speech.
    """
    return default_analyzer().analyze(last_speech(path, buffer_seconds))
