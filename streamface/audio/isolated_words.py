"""`IsolatedWords`: recover short words spoken between silences that the causal VAD missed.

The VAD's "rise above the local floor" check (`vad.VadConfig.min_rise_db`) compares a
sound with the quietest part of the last second. After true silence (a clean line, a
muted microphone) the only sound in that second is the word itself, so a word whose onset
is within 7 dB of its vowel (a nasal or a vowel onset: "nine", "eight", "zero", "M", "N")
is never called speech. A caller who spells a name or reads digits then waits far longer
than 1 s of speech for a first face.

This tracker watches the same 20 ms frames. A *burst* is a run of frames above the VAD's
energy floor that starts after at least `MIN_PAUSE_S` of silence. When the burst falls
silent again within `MAX_WORD_S` (a word, not a steady sound), it is re-checked with the
rise test off (every other VAD check kept) and must be voiced (YIN finds periodic frames):
noise, hum and chords after silence still fail, and anything longer than a word is never
re-checked. Frames that pass and the live VAD had missed are returned, for the speech
buffer only: the live speech flags (mouth animation) stay causal. The recovery is late by
the length of the word plus one frame, which does not matter for analysis.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamface.audio.vad import FRAME_SAMPLES, VadConfig, VoiceActivityDetector

MIN_PAUSE_S = 0.3
"""Silence that must precede a burst (shorter gaps are within an utterance)."""
MAX_WORD_S = 1.2
"""Longer bursts are not isolated words and are never re-checked."""
MIN_WORD_S = 0.12
MIN_SPEECH_SHARE = 0.4
"""Share of a burst's frames the re-check must call speech."""
MIN_VOICED_SHARE = 0.3
"""Share of a burst's frames YIN must find voiced; noise and clicks are not."""
_FRAME_S = FRAME_SAMPLES / 16000


class IsolatedWords:
    """Finds missed speech in short bursts between silences (see the module doc).

    Args:
        config: The live VAD's thresholds; the re-check uses them with the rise test off.
        aggressiveness: The live VAD's WebRTC mode.
    """

    def __init__(self, config: VadConfig, aggressiveness: int) -> None:
        self._config = replace(config, min_rise_db=0.0)
        self._aggressiveness = aggressiveness
        self._floor = 10.0 ** (config.energy_floor_dbfs / 10.0)
        self._min_pause = round(MIN_PAUSE_S / _FRAME_S)
        self._max_word = round(MAX_WORD_S / _FRAME_S)
        self._min_word = round(MIN_WORD_S / _FRAME_S)
        self.reset()

    def reset(self) -> None:
        """Forget the current burst and pause (a new stream starts)."""
        self._quiet = 0
        self._burst: list[np.ndarray] = []
        self._flags: list[bool] = []
        self._in_burst = False

    def process(self, frames: np.ndarray, flags: np.ndarray) -> np.ndarray:
        """Feed frames with the live VAD's flags; returns recovered frames, (n, 320).

        Args:
            frames: float32 (n, 320) frames of 16 kHz audio, in stream order.
            flags: The live VAD's speech decision for each frame.
        """
        out: list[np.ndarray] = []
        energy = np.mean(np.square(frames, dtype=np.float64), axis=1) * 2.0
        for frame, flag, e in zip(frames, flags.tolist(), energy.tolist(), strict=True):
            active = e >= self._floor
            if self._in_burst:
                if active:
                    self._burst.append(frame)
                    self._flags.append(bool(flag))
                    if len(self._burst) > self._max_word:  # not a word: give up on it
                        self._in_burst = False
                        self._burst, self._flags = [], []
                        self._quiet = 0
                    continue
                out.extend(self._recheck())
                self._in_burst = False
                self._burst, self._flags = [], []
                self._quiet = 1
                continue
            if active and self._quiet >= self._min_pause:
                self._in_burst = True
                self._burst, self._flags = [frame], [bool(flag)]
                continue
            self._quiet = 0 if active else self._quiet + 1
        if not out:
            return np.zeros((0, FRAME_SAMPLES), dtype=np.float32)
        return np.stack(out).astype(np.float32, copy=False)

    def _recheck(self) -> list[np.ndarray]:
        if len(self._burst) < self._min_word:
            return []
        from streamface.voice import pitch  # numpy only; imported late to keep audio light

        burst = np.stack(self._burst)
        mask = VoiceActivityDetector(self._aggressiveness, self._config).process(burst)
        if mask.mean() < MIN_SPEECH_SHARE:  # a word is mostly speech; a struck chord is not
            return []
        track = pitch.track(burst.reshape(-1))
        if track.voiced_seconds < MIN_VOICED_SHARE * len(self._burst) * _FRAME_S:
            return []
        return [f for f, m, live in zip(burst, mask, self._flags, strict=True) if m and not live]
