"""`AudioIngest`: live chunks in, speech buffer filled.

One ingest serves one audio stream (one speaker). Each `push` checks the chunk,
converts it to 16 kHz mono float32 with a stateful resampler, cuts it into 20 ms frames
(keeping the partial frame for the next push), runs voice activity detection and appends
the speech frames to the `SpeechBuffer`, plus the frames of words spoken between silences
that the causal VAD missed (`isolated_words`, appended when the word ends). A bad chunk is counted and raised as
`BadAudioError`, and leaves the ingest exactly as it was, ready for the next chunk.

Thread safety: `push` holds the ingest's lock; the buffer has its own, so another thread
may call `buffer.snapshot()` (or read `stats` via `stats_snapshot()`) at any time.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from streamface.audio.isolated_words import IsolatedWords
from streamface.audio.resample import TARGET_RATE, BadChunkError, StreamResampler, prepare_chunk
from streamface.audio.speech_buffer import SpeechBuffer
from streamface.audio.vad import FRAME_SAMPLES, FRAME_SECONDS, VadConfig, VoiceActivityDetector

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    """Counters of one ingest.

    Attributes:
        chunks: Chunks accepted.
        frames: 20 ms frames decided by VAD.
        speech_frames: Frames found to be speech (appended to the buffer).
        bad_chunks: Rejected chunks by reason ("dtype", "shape", "rate", "nan_inf",
            "amplitude").
        seconds_in: Seconds of audio accepted (at the input rate).
    """

    chunks: int = 0
    frames: int = 0
    speech_frames: int = 0
    bad_chunks: Counter[str] = field(default_factory=Counter)
    seconds_in: float = 0.0

    @property
    def bad_chunks_total(self) -> int:
        """All rejected chunks."""
        return sum(self.bad_chunks.values())

    @property
    def speech_seconds(self) -> float:
        """Seconds of speech found so far."""
        return self.speech_frames * FRAME_SECONDS


@dataclass(frozen=True)
class IngestResult:
    """What one `push` did.

    Attributes:
        audio: The chunk at 16 kHz mono float32 (what the resampler produced for it;
            lags the input by the filter delay, about 1 ms).
        speech_flags: VAD decision for each 20 ms frame completed by this push (frames
            can span pushes: the partial frame of one push completes in the next).
        speech_seconds_added: Seconds of speech appended to the buffer by this push.
    """

    audio: np.ndarray
    speech_flags: np.ndarray
    speech_seconds_added: float


class AudioIngest:
    """Live audio of one stream into a speech-only buffer.

    Args:
        buffer_seconds: Seconds of speech the buffer keeps (default 5.0).
        vad_aggressiveness: WebRTC VAD mode 0-3 (default 2).
        vad_config: All VAD thresholds (`VadConfig`); defaults when None.
        vad_batch_frames: Complete 20 ms frames held back until the VAD decides them
            together (1: every push decides what it completed). The VAD is causal, so its
            decisions and the buffer are the same, only up to ``vad_batch_frames - 1``
            frames later; its per-call cost is paid once per batch. The resampled audio
            of each push (the mouth's input) is never held back.
    """

    def __init__(
        self,
        buffer_seconds: float = 5.0,
        vad_aggressiveness: int = 2,
        *,
        vad_config: VadConfig | None = None,
        vad_batch_frames: int = 1,
    ) -> None:
        if vad_batch_frames < 1:
            raise ValueError(f"vad_batch_frames must be at least 1, got {vad_batch_frames}")
        self._batch = int(vad_batch_frames)
        self.buffer = SpeechBuffer(buffer_seconds, TARGET_RATE)
        self.vad = VoiceActivityDetector(vad_aggressiveness, vad_config)
        self.words = IsolatedWords(self.vad.config, self.vad.config.aggressiveness)
        self.stats = IngestStats()
        self._resampler = StreamResampler(TARGET_RATE)
        self._rest = np.zeros(self._batch * FRAME_SAMPLES, dtype=np.float32)  # held samples
        self._rest_len = 0
        self._lock = threading.Lock()

    def push(self, samples: np.ndarray, sample_rate: int, channels: int = 1) -> IngestResult:
        """Ingest one chunk of live audio.

        Args:
            samples: int16 or float32 (float64 accepted) samples, 1-D (interleaved when
                `channels` > 1) or shaped (frames, channels).
            sample_rate: 8000 to 48000 Hz, whole number. May change between pushes; the
                resampler then restarts cleanly.
            channels: Channels of 1-D interleaved input (averaged to mono).

        Returns:
            The chunk at 16 kHz, the VAD flags of the frames it completed, and the seconds
            of speech it added.

        Raises:
            BadAudioError: NaN/Inf samples, wrong dtype or shape, absurd rate. The chunk
                is counted in `stats.bad_chunks` and the ingest is unchanged.
        """
        with self._lock:
            try:
                mono, rate = prepare_chunk(samples, sample_rate, channels)
            except BadChunkError as exc:
                self.stats.bad_chunks[exc.reason] += 1
                log.debug("bad audio chunk (%s): %s", exc.reason, exc)
                raise
            audio = self._resampler.process(mono, rate)
            self.stats.chunks += 1
            self.stats.seconds_in += mono.size / rate
            flags, added = self._frames(audio)
            return IngestResult(audio=audio, speech_flags=flags, speech_seconds_added=added)

    def flush(self) -> IngestResult:
        """End of stream: push out the resampler's held tail (the last partial frame stays)."""
        with self._lock:
            audio = self._resampler.flush()
            flags, added = self._frames(audio, force=True)
            return IngestResult(audio=audio, speech_flags=flags, speech_seconds_added=added)

    def stats_snapshot(self) -> IngestStats:
        """A consistent copy of `stats`, safe to read while another thread pushes."""
        with self._lock:
            return replace(self.stats, bad_chunks=Counter(self.stats.bad_chunks))

    def close(self) -> None:
        """Zero the speech buffer and every held sample, and reset the stream state.

        Counters are kept. The ingest may be used again afterwards, as a fresh stream.
        """
        with self._lock:
            self.buffer.clear()
            self._rest.fill(0.0)
            self._rest_len = 0
            self._resampler.reset()
            self.vad.reset()
            self.words.reset()

    def _frames(self, audio: np.ndarray, force: bool = False) -> tuple[np.ndarray, float]:
        """Frame the new 16 kHz samples (after the held ones), run VAD, fill buffer.

        Complete frames wait until there are ``vad_batch_frames`` of them (or ``force``).
        """
        if audio.size == 0 and not (force and self._rest_len >= FRAME_SAMPLES):
            return np.zeros(0, dtype=bool), 0.0
        total = self._rest_len + audio.size
        n = total // FRAME_SAMPLES
        if n == 0 or (n < self._batch and not force):
            self._rest[self._rest_len : total] = audio
            self._rest_len = total
            return np.zeros(0, dtype=bool), 0.0
        joined = np.concatenate([self._rest[: self._rest_len], audio]) if self._rest_len else audio
        frames = joined[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)
        left = total - n * FRAME_SAMPLES
        self._rest[:left] = joined[n * FRAME_SAMPLES :]
        self._rest[left:] = 0.0
        self._rest_len = left
        flags = self.vad.process(frames)
        n_speech = int(flags.sum())
        if n_speech:
            self.buffer.append(frames[flags].reshape(-1))
        # Words between silences that the causal VAD missed, recovered at the word's end
        # (for analysis only: `flags` stay the live decision).
        recovered = self.words.process(frames, flags)
        if recovered.size:
            self.buffer.append(recovered.reshape(-1))
            n_speech += recovered.shape[0]
        self.stats.frames += n
        self.stats.speech_frames += n_speech
        return flags, n_speech * FRAME_SECONDS
