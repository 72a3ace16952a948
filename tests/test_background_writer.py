"""`BackgroundWriter`: the same writer calls in the same order, on another thread; errors surface."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from streamface.sinks.background import BackgroundWriter
from streamface.sinks.mp4 import Mp4Writer


class Recorder:
    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.threads: set[int] = set()
        self.fail_at = fail_at

    def write_frame(self, rgb: np.ndarray) -> None:
        self._record("frame", rgb.tobytes())

    def write_audio(self, samples: np.ndarray) -> None:
        self._record("audio", samples.tobytes())

    def _record(self, kind: str, data: bytes) -> None:
        self.threads.add(threading.get_ident())
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise OSError("disk full")
        self.calls.append((kind, data))


def _frames(n: int, size: int = 32) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def test_calls_arrive_in_order_on_one_other_thread() -> None:
    rec = Recorder()
    frames = _frames(20)
    audio = [np.full(10, k, np.float32) for k in range(20)]
    with BackgroundWriter(rec, depth=2) as out:
        for f, a in zip(frames, audio, strict=True):
            out.put(f, a)
            f[:] = 0  # the caller may reuse its buffer: the writer got a copy
        out.put(None, np.ones(3, np.float32))
    expected: list[tuple[str, bytes]] = []
    for f, a in zip(_frames(20), audio, strict=True):
        expected += [("frame", f.tobytes()), ("audio", a.tobytes())]
    expected.append(("audio", np.ones(3, np.float32).tobytes()))
    assert rec.calls == expected
    assert rec.threads and threading.get_ident() not in rec.threads


def test_a_writer_error_reaches_the_producer() -> None:
    rec = Recorder(fail_at=3)
    with pytest.raises(OSError, match="disk full"), BackgroundWriter(rec, depth=1) as out:
        for f in _frames(50):
            out.put(f)
    assert len(rec.calls) == 3


def test_an_error_in_the_producer_stops_the_worker() -> None:
    rec = Recorder()
    with pytest.raises(KeyboardInterrupt), BackgroundWriter(rec, depth=4) as out:
        out.put(_frames(1)[0])
        raise KeyboardInterrupt
    assert not any(t.name == "streamface-encode" for t in threading.enumerate())


def _packets(path: Path) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def test_mp4_is_the_same_as_written_on_one_thread(tmp_path: Path) -> None:
    frames = _frames(30, 64)
    audio = np.sin(np.arange(16000) / 5).astype(np.float32) * 0.3
    chunks = np.array_split(audio, 30)
    direct, threaded = tmp_path / "direct.mp4", tmp_path / "threaded.mp4"
    with Mp4Writer(direct, width=64, height=64, fps=30, audio_rate=16000) as w:
        for f, a in zip(frames, chunks, strict=True):
            w.write_frame(f)
            w.write_audio(a)
    with Mp4Writer(threaded, width=64, height=64, fps=30, audio_rate=16000) as w, BackgroundWriter(w) as out:
        for f, a in zip(frames, chunks, strict=True):
            out.put(f, a)
    assert _packets(direct) == _packets(threaded)
