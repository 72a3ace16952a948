"""Incremental analysis: pitch work on speech an earlier analysis saw is reused, exactly.

A session's speech buffer is a sliding window on an append-only stream of speech; the
pitch tracker keeps the CMNDF of frames away from the window's edges (`CmndfCache`) and
the result must be bit for bit what a fresh analysis of the same buffer gives. The GE2E
embedding is not cached: the buffer is scaled to a fixed level as a whole, so every
partial's input changes whenever any new speech arrives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import ShapesEngine, fake_mapper

from streamface.audio.decode import decode_file
from streamface.audio.speech_buffer import SpeechBuffer
from streamface.errors import NoSpeechError
from streamface.offline import Audio, drive
from streamface.session import Session
from streamface.voice import pitch
from streamface.voice.analyzer import VoiceAnalyzer

ROOT = Path(__file__).resolve().parents[1]
VOICES = ROOT / "tests" / "data" / "voices"


def _stream() -> np.ndarray:
    from streamface.audio.vad import extract_speech

    a = extract_speech(decode_file(VOICES / "flite_slt.flac"))
    b = extract_speech(decode_file(VOICES / "espeak_m2_us.flac"))
    return np.concatenate([a, b, a[::-1]])


def _same(a: pitch.PitchTrack, b: pitch.PitchTrack) -> bool:
    return (
        np.array_equal(a.f0_hz, b.f0_hz, equal_nan=True)
        and np.array_equal(a.aperiodicity, b.aperiodicity)
        and np.array_equal(a.voiced, b.voiced)
    )


def test_cached_pitch_track_equals_a_fresh_one_on_a_sliding_buffer() -> None:
    stream = _stream()
    cache = pitch.CmndfCache()
    total, checked = 0, 0
    step = 0
    while total < stream.size:
        step += 1
        total = min(stream.size, total + 320 * (25 + 13 * (step % 4)))  # 0.5-1.3 s of speech
        start = max(0, total - 80_000)  # a 5 s buffer
        buffer = stream[start:total]
        if buffer.size < 16_000:
            continue
        assert _same(pitch.track(buffer, cache=cache, origin=start), pitch.track(buffer))
        checked += 1
        # Only frames of the current buffer are kept.
        assert len(cache) <= buffer.size // 160
    assert checked >= 6
    assert cache.reused > 2 * cache.computed  # most frames came from earlier analyses
    rows = list(cache._rows.values())
    cache.clear()
    assert len(cache) == 0 and all(not row.any() for row in rows)  # zeroed, not just dropped


def test_odd_or_missing_origin_computes_everything() -> None:
    x = _stream()[:40_000]
    cache = pitch.CmndfCache()
    assert _same(pitch.track(x, cache=cache, origin=3), pitch.track(x))
    assert _same(pitch.track(x, cache=cache), pitch.track(x))
    assert len(cache) == 0 and cache.reused == 0


def test_speech_buffer_reports_where_its_snapshot_starts() -> None:
    buf = SpeechBuffer(1.0, 16000)
    buf.append(np.arange(10_000, dtype=np.float32))
    snap, origin = buf.snapshot_with_origin()
    assert origin == 0 and snap.size == 10_000
    buf.append(np.arange(10_000, 20_000, dtype=np.float32))
    snap, origin = buf.snapshot_with_origin()
    assert origin == 4_000 and snap[0] == 4_000.0 and snap.size == 16_000


class _Uncached(VoiceAnalyzer):
    """The shipped analyzer with the pitch cache ignored (the reference)."""

    def analyze(self, speech16k, *, pitch_cache=None, origin=None):  # type: ignore[no-untyped-def]
        return super().analyze(speech16k)


def test_session_profiles_are_the_same_with_the_cache() -> None:
    x = np.concatenate([decode_file(VOICES / "flite_slt.flac"), decode_file(VOICES / "flite_rms.flac")])
    profiles: list[list[tuple[object, ...]]] = []
    sessions = []
    for analyzer in (VoiceAnalyzer(), _Uncached()):
        session = Session(ShapesEngine(48), fps=15, mapper=fake_mapper, analyzer=analyzer)
        seen: list[tuple[object, ...]] = []
        for _ in drive(session, Audio(x, 16000), 15):
            p = session.profile
            if p is not None and (not seen or seen[-1][0] != p.speech_seconds or len(seen) < session.analyses):
                seen.append((p.speech_seconds, p.f0_median_hz, p.f0_range_hz, p.formants_hz, p.vtl_cm,
                             p.perceived_sex.p_female, p.confidence, p.embedding.tobytes()))
        profiles.append(seen)
        sessions.append(session)
    assert len(profiles[0]) >= 5
    assert profiles[0] == profiles[1]
    cache = sessions[0]._pitch_cache
    assert cache is not None and cache.reused > 0
    assert sessions[1]._pitch_cache is not None  # a VoiceAnalyzer subclass gets one too
    for session in sessions:
        session.close()
    assert len(cache) == 0  # nothing derived from the voice outlives the session


def test_other_analyzers_are_called_as_before() -> None:
    calls: list[tuple[int, dict[str, object]]] = []

    class Plain:
        def analyze(self, speech16k: np.ndarray, **kwargs: object) -> None:
            calls.append((speech16k.size, kwargs))
            raise NoSpeechError("not this time")

    session = Session(ShapesEngine(48), fps=15, mapper=fake_mapper, analyzer=Plain())
    assert session._pitch_cache is None
    for _ in drive(session, Audio(decode_file(VOICES / "flite_slt.flac"), 16000), 15):
        pass
    assert calls and all(kwargs == {} for _, kwargs in calls)
