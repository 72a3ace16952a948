"""G.711 mu-law tables and the telephone-band helper."""

from __future__ import annotations

import warnings

import av
import numpy as np
import pytest
from audio_util import peak_frequency, sine

from streamface.audio import decode_mulaw, encode_mulaw, telephone_band

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def test_known_values() -> None:
    decoded = decode_mulaw(bytes([0x00, 0x0F, 0x7E, 0x7F, 0x80, 0xFE, 0xFF]))
    np.testing.assert_array_equal(decoded, [-32124, -16764, -8, 0, 32124, 8, 0])
    codes = encode_mulaw(np.array([0, 8, -8, 32767, -32768, 1000, -1000], np.int16))
    assert list(codes) == [0xFF, 0xFE, 0x7E, 0x80, 0x00, 0xCE, 0x4E]


def test_decode_table_is_monotonic_and_symmetric() -> None:
    table = decode_mulaw(bytes(range(256))).astype(np.int32)
    np.testing.assert_array_equal(table[:128], -table[128:])
    assert np.all(np.diff(table[128:]) < 0)  # 0x80 is the largest, 0xFF is zero


def test_round_trip_is_idempotent_and_within_half_a_step() -> None:
    codes = encode_mulaw(ALL_INT16)
    back = decode_mulaw(codes).astype(np.int32)
    again = decode_mulaw(encode_mulaw(back.astype(np.int16)))
    np.testing.assert_array_equal(again, back)
    # The quantisation step grows with the segment; the error stays under one step.
    err = np.abs(back - ALL_INT16.astype(np.int32))
    step = np.maximum(8, 2 ** (np.floor(np.log2(np.abs(back) + 132)) - 3))
    assert np.all(err <= step)
    # Every code except negative zero (0x7F) survives decode -> encode.
    all_codes = bytes(range(256))
    re = encode_mulaw(decode_mulaw(all_codes))
    assert [c for c, r in zip(all_codes, re, strict=True) if c != r] == [0x7F]


def test_matches_python_audioop_when_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    assert encode_mulaw(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)
    ref = np.frombuffer(audioop.ulaw2lin(bytes(range(256)), 2), dtype=np.int16)
    np.testing.assert_array_equal(decode_mulaw(bytes(range(256))), ref)


def test_decode_matches_ffmpeg() -> None:
    codec = av.CodecContext.create("pcm_mulaw", "r")
    codec.sample_rate = 8000
    codec.layout = "mono"
    packet = av.Packet(bytes(range(256)))
    frames = codec.decode(packet)
    ref = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    np.testing.assert_array_equal(decode_mulaw(bytes(range(256))), ref)


def test_encode_rejects_non_int16() -> None:
    with pytest.raises(TypeError):
        encode_mulaw(np.zeros(4, np.float32))


def test_telephone_band_keeps_voice_band_and_length() -> None:
    x = sine(1000, 1.0, amp=0.5)
    y = telephone_band(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    core = slice(800, -800)
    assert peak_frequency(y[core], 16000) == pytest.approx(1000, abs=1)
    snr = 10 * np.log10(np.sum(x[core] ** 2) / np.sum((y[core] - x[core]) ** 2))
    assert snr > 30  # mu-law gives ~38 dB on a loud tone


def test_telephone_band_removes_content_above_4k() -> None:
    x = sine(6000, 1.0, amp=0.5)
    y = telephone_band(x)
    assert np.sqrt(np.mean(y[800:-800] ** 2)) < 0.01 * np.sqrt(np.mean(x**2))


def test_telephone_band_bandpass_option_cuts_low_frequencies() -> None:
    x = sine(100, 1.0, amp=0.5)
    plain = telephone_band(x)
    band = telephone_band(x, bandpass=True)
    rms = lambda v: float(np.sqrt(np.mean(v[1600:-1600] ** 2)))  # noqa: E731
    assert rms(plain) > 0.3
    assert rms(band) < 0.05 * rms(plain)
