"""Mel spectrogram features for the GE2E speaker encoder.

Reproduces what the `resemblyzer` package computes with librosa (its weights were trained
on these features), without importing librosa:

- 16 kHz mono, 25 ms periodic Hann window (n_fft = 400), 10 ms hop (160 samples);
- centred frames: the signal is reflect-padded by n_fft // 2 on both sides;
- power spectrum (|STFT|^2), 40 mel bands from 0 Hz to Nyquist with librosa's default
  Slaney mel scale (linear below 1 kHz, logarithmic above) and Slaney area normalisation;
- *linear* mel power (not log), float32, shape (frames, 40).

resemblyzer also raises quiet audio to -30 dBFS before the encoder (`normalize_volume`,
increase only); `normalize_volume` here does the same.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1


def hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa's default, ``htk=False``)."""
    freqs = np.asarray(freqs, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freqs / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = freqs >= min_log_hz
    mels = np.where(
        log_t, min_log_mel + np.log(np.maximum(freqs, 1e-10) / min_log_hz) / logstep, mels
    )
    return mels


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    return np.where(log_t, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


@lru_cache(maxsize=4)
def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, 1 + n_fft // 2), like ``librosa.filters.mel``.

    Slaney-style: band edges evenly spaced on the Slaney mel scale from 0 Hz to sr / 2,
    each triangle scaled by 2 / (upper edge - lower edge) so all bands have equal area.
    """
    fftfreqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_pts = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sr / 2.0)), n_mels + 2)
    mel_f = mel_to_hz(mel_pts)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float64)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    # Periodic Hann (scipy.signal.get_window('hann', N, fftbins=True)).
    n = np.arange(N_FFT)
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)
    win.setflags(write=False)
    return win


def n_frames(n_samples: int) -> int:
    """Number of centred frames librosa produces for `n_samples` samples."""
    return 1 + n_samples // HOP


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """Linear mel power spectrogram, float32, shape (1 + len(wav) // 160, 40).

    Args:
        wav: 16 kHz mono float samples in [-1, 1] (any length >= 1).
    """
    y = np.asarray(wav, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError("mel_spectrogram needs a non-empty 1-D signal")
    pad = N_FFT // 2
    y = np.pad(y, (pad, pad), mode="reflect") if y.size > pad else np.pad(y, (pad, pad))
    count = 1 + (y.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        y, shape=(count, N_FFT), strides=(y.strides[0] * HOP, y.strides[0]), writeable=False
    )
    spec = np.fft.rfft(frames * _window(), axis=1)
    power = spec.real**2 + spec.imag**2
    return _filter(power, mel_filterbank().T).astype(np.float32)


_ROWS = 64
"""Rows of the spectrogram per matrix product (see `_filter`)."""


def _filter(power: np.ndarray, bank_t: np.ndarray) -> np.ndarray:
    """``power @ bank_t`` in products of `_ROWS` rows (the last one overlapping the one before).

    One product over a 5 s buffer (500 x 201 x 40) is large enough for OpenBLAS to hand
    half of it to a second thread, which then spins for ~70 ms of CPU waiting for more
    work: more than the whole analysis costs. 64 rows stay under its threading threshold,
    and every product has the same shape, so the result is the one product's, bit for
    bit, with OpenBLAS's kernels (a product of under ~31 rows takes another kernel).
    """
    n = power.shape[0]
    if n <= _ROWS:
        return power @ bank_t
    out = np.empty((n, bank_t.shape[1]), np.result_type(power, bank_t))
    for start in range(0, n, _ROWS):
        start = min(start, n - _ROWS)
        np.matmul(power[start : start + _ROWS], bank_t, out=out[start : start + _ROWS])
    return out


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise the level of quiet audio to `target_dbfs` (never lowers it), like resemblyzer."""
    wav = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * _INT16_MAX) ** 2))) if wav.size else 0.0
    if rms <= 0.0:
        return wav
    wave_dbfs = 20.0 * np.log10(rms / _INT16_MAX)
    change = target_dbfs - wave_dbfs
    if change <= 0.0:
        return wav
    return (wav * np.float32(10.0 ** (change / 20.0))).astype(np.float32)


def set_level(wav: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Scale audio so its RMS level is exactly `target_dbfs` (silence is left as it is)."""
    wav = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 1e-10:
        return wav
    return (wav * np.float32(10.0 ** (target_dbfs / 20.0) / rms)).astype(np.float32)
