"""`SpeechBuffer`: the most recent N seconds of speech, and nothing else.

Only frames that voice activity detection called speech are appended, so silence, noise
and music never push speech out: the buffer measures seconds of speech, not wall-clock
time. It is a fixed-size ring (no allocation after construction); `clear()` overwrites
the memory with zeros. All methods are thread-safe: one thread may `append` while
another takes a `snapshot`.
"""

from __future__ import annotations

import threading

import numpy as np


class SpeechBuffer:
    """Ring buffer of the most recent `seconds` of speech samples (float32, mono).

    Args:
        seconds: Capacity in seconds of speech (default 5.0).
        sample_rate: Rate of the samples appended (default 16000).
    """

    def __init__(self, seconds: float = 5.0, sample_rate: int = 16000) -> None:
        if not seconds > 0 or not np.isfinite(seconds):
            raise ValueError(f"buffer length must be positive seconds, got {seconds!r}")
        if int(sample_rate) <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate!r}")
        self.sample_rate = int(sample_rate)
        self.capacity = max(1, round(seconds * self.sample_rate))
        self._data = np.zeros(self.capacity, dtype=np.float32)
        self._write = 0  # next index to write
        self._held = 0  # samples currently held (<= capacity)
        self._total = 0  # samples ever appended
        self._lock = threading.RLock()

    @property
    def seconds(self) -> float:
        """Capacity in seconds of speech."""
        return self.capacity / self.sample_rate

    @property
    def speech_seconds(self) -> float:
        """Seconds of speech currently held (at most `seconds`)."""
        with self._lock:
            return self._held / self.sample_rate

    @property
    def total_speech_seconds(self) -> float:
        """Seconds of speech ever appended (keeps counting through `clear`)."""
        with self._lock:
            return self._total / self.sample_rate

    @property
    def total_samples(self) -> int:
        """Samples of speech ever appended; a cheap "has anything new arrived" stamp."""
        with self._lock:
            return self._total

    @property
    def full(self) -> bool:
        """True once the buffer holds `seconds` of speech."""
        with self._lock:
            return self._held == self.capacity

    def __len__(self) -> int:
        with self._lock:
            return self._held

    def append(self, speech: np.ndarray) -> None:
        """Append speech samples (1-D float); the oldest fall out when full."""
        x = np.asarray(speech, dtype=np.float32).reshape(-1)
        n = x.size
        if n == 0:
            return
        with self._lock:
            self._total += n
            if n >= self.capacity:
                self._data[:] = x[n - self.capacity :]
                self._write = 0
                self._held = self.capacity
                return
            end = self._write + n
            if end <= self.capacity:
                self._data[self._write : end] = x
            else:
                first = self.capacity - self._write
                self._data[self._write :] = x[:first]
                self._data[: n - first] = x[first:]
            self._write = end % self.capacity
            self._held = min(self.capacity, self._held + n)

    def snapshot(self) -> np.ndarray:
        """A chronological copy of the speech held (oldest first), float32."""
        with self._lock:
            if self._held < self.capacity:
                start = self._write - self._held  # never negative before the first wrap
                return self._data[start : self._write].copy()
            return np.concatenate([self._data[self._write :], self._data[: self._write]])

    def snapshot_with_origin(self) -> tuple[np.ndarray, int]:
        """`snapshot()` and where it starts in the stream of all speech ever appended.

        The origin is ``total_samples - len(snapshot)``: the same sample has the same
        position in every snapshot, which lets analyses reuse work on unchanged speech.
        """
        with self._lock:
            return self.snapshot(), self._total - self._held

    def snapshot_with_total(self) -> tuple[np.ndarray, float]:
        """`snapshot()` and `total_speech_seconds` taken together, consistently."""
        with self._lock:
            return self.snapshot(), self._total / self.sample_rate

    def clear(self) -> None:
        """Overwrite the held speech with zeros and empty the buffer.

        `total_speech_seconds` is a lifetime counter and is kept.
        """
        with self._lock:
            self._data.fill(0.0)
            self._write = 0
            self._held = 0
