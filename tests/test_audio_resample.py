"""Resampling live chunks to 16 kHz mono float32: every rate, dtypes, layouts, continuity."""

from __future__ import annotations

import numpy as np
import pytest
from audio_util import peak_frequency, sine

from streamface.audio import (
    SUPPORTED_RATES,
    BadChunkError,
    StreamResampler,
    prepare_chunk,
    resample_array,
)
from streamface.errors import BadAudioError


def _stream(resampler: StreamResampler, x: np.ndarray, rate: int, chunk: int) -> np.ndarray:
    parts = [resampler.process(x[i : i + chunk], rate) for i in range(0, len(x), chunk)]
    parts.append(resampler.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize("rate", SUPPORTED_RATES)
def test_every_rate_keeps_frequency_length_and_continuity(rate: int) -> None:
    x = sine(1000, 1.0, rate=rate, amp=0.5)
    chunk = rate // 50  # 20 ms chunks, as live audio arrives
    y = _stream(StreamResampler(), x, rate, chunk)
    assert y.dtype == np.float32
    assert abs(len(y) - 16000) <= 2
    core = y[400:-400]
    assert peak_frequency(core, 16000) == pytest.approx(1000, abs=0.5)
    # Continuity: no clicks at chunk boundaries. The second difference of a clean 1 kHz
    # sine of amplitude 0.5 at 16 kHz never exceeds 0.5 * (2 pi / 16) ** 2 = 0.077.
    assert np.abs(np.diff(core, 2)).max() < 0.085
    # Purity: everything but the tone is at least 50 dB down.
    spec = np.abs(np.fft.rfft(core * np.hanning(len(core)))) ** 2
    freqs = np.fft.rfftfreq(len(core), 1 / 16000)
    tone = spec[np.abs(freqs - 1000) < 30].sum()
    assert 10 * np.log10(tone / (spec.sum() - tone)) > 50


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_chunking_does_not_change_the_output(rate: int) -> None:
    x = sine(440, 0.7, rate=rate) + sine(3100, 0.7, rate=rate, amp=0.2)
    whole = _stream(StreamResampler(), x, rate, len(x))
    rng = np.random.default_rng(rate)
    res = StreamResampler()
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 2000))
        parts.append(res.process(x[i : i + n], rate))
        i += n
    parts.append(res.flush())
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)


def test_16k_passes_through_untouched() -> None:
    x = sine(300, 0.1)
    res = StreamResampler()
    y = res.process(x, 16000)
    np.testing.assert_array_equal(y, x)
    assert y is not x


def test_rate_change_mid_stream_resets_cleanly() -> None:
    res = StreamResampler()
    a = np.concatenate([res.process(c, 48000) for c in np.split(sine(500, 0.5, 48000), 25)])
    b = np.concatenate([res.process(c, 8000) for c in np.split(sine(500, 0.5, 8000), 25)])
    b = np.concatenate([b, res.flush()])
    y = np.concatenate([a, b])
    assert abs(len(y) - 16000) <= 4
    assert peak_frequency(y[1000:7000], 16000) == pytest.approx(500, abs=1)
    assert peak_frequency(y[9000:15000], 16000) == pytest.approx(500, abs=1)
    assert np.abs(y).max() < 0.55  # no overshoot or burst at the switch


def test_int16_and_float32_agree() -> None:
    x = sine(440, 0.1, 44100)
    pcm = np.rint(x * 32767).astype(np.int16)
    m_float, r1 = prepare_chunk(x, 44100)
    m_int, r2 = prepare_chunk(pcm, 44100)
    assert r1 == r2 == 44100
    assert m_int.dtype == m_float.dtype == np.float32
    np.testing.assert_allclose(m_int, m_float, atol=1e-4)


def test_stereo_interleaved_and_shaped_average_the_channels() -> None:
    left = sine(440, 0.05, 48000, amp=0.4)
    right = sine(440, 0.05, 48000, amp=0.2)
    shaped = np.stack([left, right], axis=1)
    interleaved = shaped.reshape(-1)
    expect = (left + right) / 2
    np.testing.assert_allclose(prepare_chunk(shaped, 48000)[0], expect, atol=1e-7)
    np.testing.assert_allclose(prepare_chunk(shaped, 48000, channels=2)[0], expect, atol=1e-7)
    np.testing.assert_allclose(prepare_chunk(interleaved, 48000, channels=2)[0], expect, atol=1e-7)
    pcm = np.rint(shaped * 32767).astype(np.int16)
    np.testing.assert_allclose(prepare_chunk(pcm, 48000)[0], expect, atol=1e-4)


@pytest.mark.parametrize(
    "rate", [0, -16000, 7999, 48001, 96000, 192000, 1e9, 16000.5, float("nan"), "16000", None, True]
)
def test_absurd_rates_are_rejected(rate: object) -> None:
    with pytest.raises(BadAudioError, match="absurd rate") as err:
        prepare_chunk(np.zeros(160, np.int16), rate)
    assert isinstance(err.value, BadChunkError) and err.value.reason == "rate"


def test_whole_float_rates_are_accepted() -> None:
    assert prepare_chunk(np.zeros(160, np.int16), 16000.0)[1] == 16000
    assert prepare_chunk(np.zeros(160, np.int16), np.int64(8000))[1] == 8000


@pytest.mark.parametrize(
    ("samples", "channels", "reason"),
    [
        (np.array([0.0, np.nan], np.float32), 1, "nan_inf"),
        (np.array([0.0, np.inf], np.float32), 1, "nan_inf"),
        (np.array([[0.0, -np.inf]], np.float64), 1, "nan_inf"),
        (np.array([1e300], np.float64), 1, "nan_inf"),
        (np.full(10, 3000.0, np.float32), 1, "amplitude"),
        (np.zeros(10, np.int32), 1, "dtype"),
        (np.zeros(10, np.uint8), 1, "dtype"),
        (np.zeros(10, np.complex64), 1, "dtype"),
        ([0.0, 0.1], 1, "dtype"),
        (b"\x00\x01", 1, "dtype"),
        (np.zeros(11, np.int16), 2, "shape"),
        (np.zeros((4, 2, 2), np.int16), 1, "shape"),
        (np.zeros((4, 3), np.int16), 2, "shape"),
        (np.zeros((4, 0), np.int16), 1, "shape"),
        (np.zeros(10, np.int16), 0, "shape"),
        (np.zeros(10, np.int16), 99, "shape"),
    ],
)
def test_bad_chunks_give_a_reason(samples: object, channels: int, reason: str) -> None:
    with pytest.raises(BadChunkError) as err:
        prepare_chunk(samples, 16000, channels)
    assert err.value.reason == reason
    assert "\n" not in str(err.value)


def test_resample_array_offline() -> None:
    x = sine(700, 0.5, 44100)
    y = resample_array(x, 44100, 16000)
    assert len(y) == 8000 and y.dtype == np.float32
    assert peak_frequency(y, 16000) == pytest.approx(700, abs=0.5)


def test_refilling_the_input_frame_gives_the_samples_of_fresh_frames() -> None:
    """`StreamResampler` refills its last PyAV frame while chunks keep their size and rate;
    the resampler has copied the samples by then, so the output is that of a new frame per
    chunk, bit for bit (sizes change, the rate changes, flushes in between)."""
    rng = np.random.default_rng(3)
    refilled, fresh = StreamResampler(), StreamResampler()
    got, want = [], []
    for i in range(200):
        n = int(rng.choice([1, 160, 320, 441, 960, 960, 960, 1023]))
        rate = 44100 if 80 <= i < 100 else 48000
        x = (rng.standard_normal(n) * 0.2).astype(np.float32)
        fresh._frame = None
        got.append(refilled.process(x, rate))
        want.append(fresh.process(x, rate))
        if i % 37 == 36:
            got.append(refilled.flush())
            want.append(fresh.flush())
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(want))


def test_the_usual_int16_chunk_takes_a_short_path_to_the_same_samples() -> None:
    """1-D int16 mono at a whole-number rate skips the checks it passes: the same float32
    samples as the general path (here reached with a 2-D (n, 1) view of the same chunk)."""
    rng = np.random.default_rng(4)
    chunk = rng.integers(-32768, 32767, 960, dtype=np.int16)
    short, rate = prepare_chunk(chunk, 48000)
    general, _ = prepare_chunk(chunk.reshape(-1, 1), 48000)
    assert rate == 48000 and short.dtype == np.float32 and short.flags.c_contiguous
    np.testing.assert_array_equal(short, general)
    with pytest.raises(BadChunkError):
        prepare_chunk(chunk, 96000)
    with pytest.raises(BadChunkError):
        prepare_chunk(chunk, 48000, True)  # type: ignore[arg-type]  # a bool is not a channel count


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 47999, 48000])
def test_one_pull_after_a_push_takes_all_the_resampler_gives(rate: int) -> None:
    """`_Converter.convert` pulls once after a frame goes in: FFmpeg's resampler gives at
    most one frame per frame in. Were there ever a second, it would come a chunk late; here
    a pull after each convert finds nothing, for chunks of every size, and the samples are
    those of the whole stream at once."""
    import errno

    from av.error import FFmpegError

    from streamface.audio.resample import _Converter, _join

    rng = np.random.default_rng(rate)
    x = (rng.standard_normal(rate * 3) * 0.2).astype(np.float32)
    converter, frames = _Converter(rate, 16000), StreamResampler()
    parts, i = [], 0
    while i < x.size:
        n = int(rng.choice([1, 7, 160, 441, 480, 960, 1024, 4410, 20000]))
        parts.append(_join(converter.convert(frames._input(x[i : i + n].copy(), rate))))
        with pytest.raises(FFmpegError) as left:
            converter._graph.pull()
        assert left.value.errno == errno.EAGAIN
        i += n
    parts.append(_join(converter.convert(None)))
    whole = _stream(StreamResampler(), x, rate, x.size)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
