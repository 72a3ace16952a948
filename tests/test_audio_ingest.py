"""AudioIngest: live chunks into the speech buffer; bad chunks; threads; any chunking."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from audio_util import organ_chord, white_noise
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamface.audio import (
    FRAME_SAMPLES,
    AudioIngest,
    BadChunkError,
    IngestResult,
    decode_file,
    resample_array,
)
from streamface.audio.isolated_words import IsolatedWords
from streamface.errors import BadAudioError


@pytest.fixture(scope="module")
def voice(shared_voices: dict[Path, str]) -> np.ndarray:
    return decode_file(sorted(shared_voices)[0])


def _pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)


def _push_all(
    ingest: AudioIngest, x: np.ndarray, rate: int, chunk: int, channels: int = 1
) -> list[IngestResult]:
    step = chunk * channels
    return [ingest.push(x[i : i + step], rate, channels) for i in range(0, len(x), step)]


def test_result_fields(voice: np.ndarray) -> None:
    ingest = AudioIngest()
    results = _push_all(ingest, _pcm(voice[:32000]), 16000, 500)
    assert all(r.audio.dtype == np.float32 for r in results)
    assert sum(len(r.audio) for r in results) == 32000
    flags = np.concatenate([r.speech_flags for r in results])
    assert len(flags) == 32000 // FRAME_SAMPLES == ingest.stats.frames
    added = sum(r.speech_seconds_added for r in results)
    assert added == pytest.approx(flags.sum() * 0.02)
    assert ingest.buffer.speech_seconds == pytest.approx(added)
    assert ingest.stats.chunks == len(results)
    assert ingest.stats.speech_frames == flags.sum()


def test_only_speech_is_buffered_and_noise_never_pushes_it_out(voice: np.ndarray) -> None:
    ingest = AudioIngest(buffer_seconds=3.0)
    _push_all(ingest, voice, 16000, 320)
    held = ingest.buffer.snapshot()
    assert ingest.buffer.speech_seconds == pytest.approx(3.0)
    # Ten seconds of silence, noise and a held chord later the speech is still there:
    # at most a few frames where a new sound starts may pass as speech (see vad.py).
    junk_frames = 0
    for junk in (np.zeros(48000, np.float32), white_noise(3, -20), organ_chord(4)):
        results = _push_all(ingest, junk, 16000, 320)
        junk_frames += sum(int(r.speech_flags.sum()) for r in results)
    assert junk_frames <= 10  # 0.2 s out of 10 s
    pushed_out = junk_frames * FRAME_SAMPLES
    now = ingest.buffer.snapshot()
    np.testing.assert_array_equal(now[: len(now) - pushed_out], held[pushed_out:])


def test_buffer_holds_the_most_recent_speech(voice: np.ndarray) -> None:
    ingest = AudioIngest(buffer_seconds=1.0)
    _push_all(ingest, voice, 16000, 320)
    frames = voice[: len(voice) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    # Rebuild the speech: what the flags say, plus isolated words recovered at their end,
    # in arrival order; the buffer is its last second.
    ref = AudioIngest(buffer_seconds=1.0)
    flags = np.concatenate([r.speech_flags for r in _push_all(ref, voice, 16000, 320)])
    words = IsolatedWords(ref.vad.config, ref.vad.config.aggressiveness)
    speech = []
    for frame, flag in zip(frames, flags, strict=True):
        if flag:
            speech.append(frame)
        speech.extend(words.process(frame[None], np.array([flag])))
    expected = np.concatenate(speech)
    np.testing.assert_array_equal(ingest.buffer.snapshot(), expected[-16000:])
    assert ingest.buffer.total_speech_seconds == pytest.approx(expected.size / 16000)


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (44100, 1), (8000, 1), (22050, 2)])
def test_live_rates_and_layouts_find_speech(voice: np.ndarray, rate: int, channels: int) -> None:
    x = _pcm(resample_array(voice, 16000, rate))
    if channels == 2:
        x = np.repeat(x[:, None], 2, axis=1).reshape(-1)  # interleaved
    ingest = AudioIngest()
    _push_all(ingest, x, rate, rate // 50, channels)
    ref = AudioIngest()
    _push_all(ref, voice, 16000, 320)
    # The same speech is found whatever the input rate (within a few frames per second).
    assert ingest.stats.speech_frames == pytest.approx(ref.stats.speech_frames, rel=0.1)


def test_partial_frames_carry_over() -> None:
    ingest = AudioIngest()
    r1 = ingest.push(np.zeros(100, np.int16), 16000)
    r2 = ingest.push(np.zeros(100, np.int16), 16000)
    r3 = ingest.push(np.zeros(130, np.int16), 16000)
    assert (len(r1.speech_flags), len(r2.speech_flags), len(r3.speech_flags)) == (0, 0, 1)
    assert ingest.stats.frames == 1


def test_bad_chunks_are_counted_and_the_ingest_stays_usable(voice: np.ndarray) -> None:
    ingest = AudioIngest()
    good = _pcm(voice[:16000])
    ingest.push(good[:8000], 16000)
    bad: list[tuple[np.ndarray, int, str]] = [
        (np.array([0.1, np.nan], np.float32), 16000, "nan_inf"),
        (np.array([np.inf] * 4, np.float32), 16000, "nan_inf"),
        (np.zeros(10, np.int32), 16000, "dtype"),
        (np.zeros(10, np.int16), 1_000_000, "rate"),
        (np.zeros(10, np.int16), 4000, "rate"),
        (np.zeros((2, 2, 2), np.int16), 16000, "shape"),
    ]
    for samples, rate, reason in bad:
        with pytest.raises(BadAudioError) as err:
            ingest.push(samples, rate)
        assert isinstance(err.value, BadChunkError) and err.value.reason == reason
    assert dict(ingest.stats.bad_chunks) == {"nan_inf": 2, "dtype": 1, "rate": 2, "shape": 1}
    assert ingest.stats.bad_chunks_total == 6
    ingest.push(good[8000:], 16000)
    # Same buffer as if the bad chunks had never come.
    ref = AudioIngest()
    ref.push(good[:8000], 16000)
    ref.push(good[8000:], 16000)
    np.testing.assert_array_equal(ingest.buffer.snapshot(), ref.buffer.snapshot())
    assert ingest.stats.chunks == 2


def test_close_zeroes_everything(voice: np.ndarray) -> None:
    ingest = AudioIngest()
    _push_all(ingest, _pcm(voice[:40000]), 44100, 441)
    assert ingest.buffer.speech_seconds > 0
    ring, rest = ingest.buffer._data, ingest._rest
    ingest.close()
    assert not ring.any() and not rest.any()
    assert ingest.buffer.speech_seconds == 0
    assert ingest.buffer.snapshot().size == 0
    ingest.close()  # idempotent
    ingest.push(np.zeros(320, np.int16), 16000)  # usable again, as a fresh stream


def test_snapshot_from_another_thread_while_pushing(voice: np.ndarray) -> None:
    ingest = AudioIngest(buffer_seconds=1.0)
    x = _pcm(resample_array(np.tile(voice, 2), 16000, 48000))
    done = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not done.is_set():
            snap = ingest.buffer.snapshot()
            if snap.size % FRAME_SAMPLES or snap.size > 16000 or not np.isfinite(snap).all():
                problems.append(f"bad snapshot of {snap.size}")
            ingest.stats_snapshot()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        _push_all(ingest, x, 48000, 960)
    finally:
        done.set()
        thread.join()
    assert not problems, problems[:3]
    assert ingest.buffer.full


@pytest.fixture(scope="module")
def clip44k(shared_voices: dict[Path, str]) -> np.ndarray:
    x = decode_file(sorted(shared_voices)[-1], max_seconds=2.5)
    return _pcm(resample_array(x, 16000, 44100))


@pytest.fixture(scope="module")
def clip44k_reference(clip44k: np.ndarray) -> tuple[np.ndarray, int]:
    ingest = AudioIngest(buffer_seconds=1.0)
    ingest.push(clip44k, 44100)
    return ingest.buffer.snapshot(), ingest.stats.speech_frames


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=110250), max_size=40))
def test_any_chunking_gives_the_same_buffer(
    clip44k: np.ndarray, clip44k_reference: tuple[np.ndarray, int], cuts: list[int]
) -> None:
    ingest = AudioIngest(buffer_seconds=1.0)
    bounds = [0, *sorted(c % (len(clip44k) + 1) for c in cuts), len(clip44k)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        ingest.push(clip44k[a:b], 44100)  # empty chunks included
    ref, ref_frames = clip44k_reference
    assert ingest.stats.speech_frames == ref_frames
    np.testing.assert_allclose(ingest.buffer.snapshot(), ref, atol=1e-5)


_dtypes = st.sampled_from(
    [np.int16, np.float32, np.float64, np.int32, np.uint8, np.complex64, np.bool_]
)
_shapes = st.one_of(
    st.tuples(st.integers(0, 3000)),
    st.tuples(st.integers(0, 600), st.integers(0, 10)),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
)
_arrays = st.tuples(_dtypes, _shapes).flatmap(lambda ds: hnp.arrays(ds[0], ds[1]))
_rates = st.one_of(
    st.sampled_from([8000, 11025, 16000, 44100, 48000]),
    st.integers(min_value=-10, max_value=200_000),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.tuples(_arrays, _rates, st.integers(min_value=-1, max_value=9)), max_size=8)
)
def test_random_input_never_crashes(chunks: list[tuple[np.ndarray, object, int]]) -> None:
    ingest = AudioIngest(buffer_seconds=0.5)
    for samples, rate, channels in chunks:
        try:
            result = ingest.push(samples, rate, channels)  # type: ignore[arg-type]
        except BadAudioError:
            continue
        assert result.audio.dtype == np.float32
        assert np.isfinite(result.audio).all()
    # Still usable after whatever came before.
    ingest.push(np.zeros(960, np.int16), 48000)
    snap = ingest.buffer.snapshot()
    assert snap.size <= 8000 and np.isfinite(snap).all()
    ingest.close()


@pytest.mark.parametrize("batch", [2, 4])
def test_batched_vad_decides_the_same_frames_only_later(voice: np.ndarray, batch: int) -> None:
    pcm = np.clip(resample_array(voice[:48000], 16000, 48000), -1, 1).astype(np.float32)
    every, batched = AudioIngest(), AudioIngest(vad_batch_frames=batch)
    decided_every: list[np.ndarray] = []
    decided_batched: list[np.ndarray] = []
    for i in range(0, pcm.size, 960):  # 20 ms chunks of 48 kHz, as WebRTC gives them
        a, b = every.push(pcm[i : i + 960], 48000), batched.push(pcm[i : i + 960], 48000)
        np.testing.assert_array_equal(a.audio, b.audio)  # the mouth's input is never held
        decided_every.append(a.speech_flags)
        decided_batched.append(b.speech_flags)
        assert every.stats.frames - batched.stats.frames in range(batch)
        assert every.buffer.total_speech_seconds >= batched.buffer.total_speech_seconds
    flags = np.concatenate(decided_batched)
    np.testing.assert_array_equal(flags, np.concatenate(decided_every)[: flags.size])
    assert flags.any()
    every.flush()
    batched.flush()
    assert every.stats.frames == batched.stats.frames
    np.testing.assert_array_equal(every.buffer.snapshot(), batched.buffer.snapshot())
    batched.close()
    assert not batched._rest.any()


def test_vad_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="vad_batch_frames"):
        AudioIngest(vad_batch_frames=0)
