"""G.711 mu-law: the 8 kHz telephone codec.

The tables are the standard ones (ITU-T G.711, as in the CCITT reference code that
Sun published and Python's ``audioop`` uses): encoding drops the two low bits of a 16-bit
sample, adds the bias 33, clips at 8159 and stores sign, 3-bit segment and 4-bit
mantissa, all bits inverted. Both directions are a single table look-up.

`telephone_band` makes the 8 kHz mu-law copy of 16 kHz audio that a phone call would
carry and brings it back to 16 kHz, for telephone-band accuracy tests.
"""

from __future__ import annotations

import numpy as np

from streamface.audio.resample import resample_array

_BIAS = 0x84
_CLIP14 = 8159
_SEG_END14 = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype(np.int16)


def _build_encode_table() -> np.ndarray:
    """Code for every 16-bit value, indexed by the value's bits as uint16."""
    pcm = np.arange(65536, dtype=np.int32)
    pcm = np.where(pcm >= 32768, pcm - 65536, pcm)  # uint16 index -> int16 value
    v = pcm >> 2  # 14-bit, arithmetic shift (floor), as the reference code does
    mask = np.where(v < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(v), _CLIP14) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_END14, mag, side="left")
    code = (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()


def decode_mulaw(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Decode G.711 mu-law bytes to int16 samples (one sample per byte)."""
    codes = (
        np.frombuffer(data, dtype=np.uint8)
        if not isinstance(data, np.ndarray)
        else data.astype(np.uint8, copy=False)
    )
    return _DECODE[codes]


def encode_mulaw(samples: np.ndarray) -> bytes:
    """Encode int16 samples as G.711 mu-law bytes (one byte per sample)."""
    x = np.asarray(samples)
    if x.dtype != np.int16:
        raise TypeError(f"encode_mulaw expects int16 samples, got {x.dtype}")
    return _ENCODE[x.reshape(-1).view(np.uint16)].tobytes()


def telephone_band(x16k: np.ndarray, *, bandpass: bool = False) -> np.ndarray:
    """A telephone copy of 16 kHz float audio: 8 kHz, G.711 mu-law, back to 16 kHz.

    Args:
        x16k: 1-D float audio at 16 kHz, full scale 1.0.
        bandpass: Also apply the 300-3400 Hz telephone band (4th-order Butterworth),
            which removes most of a low voice's fundamental. Off by default: the plain
            8 kHz mu-law channel already limits the band to 4 kHz.

    Returns:
        float32 at 16 kHz, the same length as the input.
    """
    x = np.asarray(x16k, dtype=np.float32).reshape(-1)
    x8 = resample_array(x, 16000, 8000)
    if bandpass and x8.size > 30:
        from scipy.signal import butter, sosfiltfilt  # only here: a second of import time

        sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=8000, output="sos")
        x8 = sosfiltfilt(sos, x8).astype(np.float32)
    pcm = np.clip(np.round(x8 * 32768.0), -32768, 32767).astype(np.int16)
    back = decode_mulaw(encode_mulaw(pcm)).astype(np.float32) / 32768.0
    y = resample_array(back, 8000, 16000)
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    return np.ascontiguousarray(y[: len(x)], dtype=np.float32)
