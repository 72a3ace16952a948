"""Batched rendering: `Engine.animate_many` on the real engines, and `BatchingEngine`.

The batcher is checked on the real ONNX Runtime engine with the shipped face renderer
(the live size, so the model cache is the one the server uses): stacked calls give the
same pixels as single ones, concurrent callers get their own rows, the deadline bounds a
caller's wait, a failing entry fails only its own caller, and closing never strands a
caller. The live server end to end with batching forced on is in
`test_server_batching.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fakes import FakeEngine

from engines.base import Engine
from engines.batching import BatchingEngine, is_gpu_engine
from engines.export import mae_u8, sample_inputs
from engines.select import FallbackEngine
from streamface.face.animation import ANIM_DIM
from streamface.face.params import PARAM_DIM

SIZE = 256  # the live server's default size: the same cached model


@pytest.fixture(scope="module")
def ort() -> Iterator[Engine]:
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    engine = OnnxRuntimeEngine(SIZE)
    yield engine
    engine.close()


def _faces(engine: Engine, n: int, seed: int = 1) -> tuple[list[Any], np.ndarray]:
    """``n`` different prepared faces and one animation row for each."""
    params, anim = sample_inputs(n, PARAM_DIM, ANIM_DIM, seed=seed)
    return [engine.prepare(params[i : i + 1]) for i in range(n)], anim


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


# ---------------------------------------------------------------------------- animate_many


def _check_animate_many(engine: Engine, exact: bool = True) -> None:
    """Stacked calls give each caller the frames a call of its own gives: within one level
    per pixel, or (``exact=False``, FP16 engines whose kernels depend on the batch) within
    one level on average."""
    faces, anim = _faces(engine, 4, seed=7)
    _, extra = sample_inputs(3, PARAM_DIM, ANIM_DIM, seed=8)
    calls = [(faces[0], anim[0:1]), (faces[1], extra), (faces[2], anim[2:3]), (faces[3], anim[3])]
    stacked = engine.animate_many(calls)
    assert [s.shape[0] for s in stacked] == [1, 3, 1, 1]
    for (prepared, rows), got in zip(calls, stacked, strict=True):
        alone = engine.animate(prepared, rows)
        assert got.shape == alone.shape and got.dtype == np.uint8
        if exact:
            assert _max_diff(got, alone) <= 1
        else:
            assert mae_u8(got, alone) <= 1.0
    # the faces really differ, so a mix-up of rows would show
    assert _max_diff(stacked[0], stacked[2]) > 20


def test_onnxruntime_animate_many_equals_one_call_each(ort: Engine) -> None:
    _check_animate_many(ort)


def test_torch_cpu_animate_many_equals_one_call_each() -> None:
    from engines.torch_engine import TorchEngine

    engine = TorchEngine(SIZE, device="cpu")
    _check_animate_many(engine)


def _tensorrt_error() -> str | None:
    try:
        import engines.tensorrt_engine  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the reason to skip
        return str(exc)
    return None


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(not _cuda(), reason="no CUDA GPU here")
def test_torch_cuda_animate_many_equals_one_call_each() -> None:
    from engines.torch_engine import TorchEngine

    engine = TorchEngine(SIZE, device="cuda")
    _check_animate_many(engine)
    engine.close()


@pytest.mark.skipif(not _cuda(), reason="no CUDA GPU here")
def test_tensorrt_animate_many_equals_one_call_each() -> None:
    reason = _tensorrt_error()
    if reason is not None:
        pytest.skip(f"TensorRT unavailable: {reason}")
    from engines.tensorrt_engine import TensorRTEngine

    engine = TensorRTEngine(SIZE)
    _check_animate_many(engine, exact=False)
    engine.close()


def test_fallback_engine_animate_many_survives_a_switch(ort: Engine) -> None:
    primary = FakeEngine(SIZE, name="gpu", fail_at=3, error=RuntimeError("CUDA error: out of memory"))
    engine = FallbackEngine(primary, ort)
    params, anim = sample_inputs(2, PARAM_DIM, ANIM_DIM, seed=3)
    faces = [engine.prepare(params[i : i + 1]) for i in range(2)]  # calls 1 and 2 on the fake
    got = engine.animate_many([(faces[0], anim[:1]), (faces[1], anim[1:])])  # call 3 fails
    assert engine.fell_back
    for i in range(2):
        assert _max_diff(got[i], ort.animate(ort.prepare(params[i : i + 1]), anim[i : i + 1])) == 0


# ---------------------------------------------------------------------------- BatchingEngine


def _in_threads(n: int, work: Any) -> list[Any]:
    """Run ``work(i)`` on ``n`` threads at once; results (or exceptions) by index."""
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            out[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_concurrent_callers_share_one_call_and_get_their_own_rows(ort: Engine) -> None:
    n = 6
    batcher = BatchingEngine(ort, window_s=5.0)  # only completeness may close this batch
    faces, anim = _faces(ort, n, seed=11)
    tickets = [batcher.expect() for _ in range(n)]

    def work(i: int) -> np.ndarray:
        with tickets[i]:
            return batcher.animate(faces[i], anim[i : i + 1])

    started = time.monotonic()
    results = _in_threads(n, work)
    assert time.monotonic() - started < 4.0, "the batch waited for its deadline"
    assert batcher.stats.batches == 1 and batcher.stats.calls == n
    assert batcher.stats.deadline_closes == 0
    for i, got in enumerate(results):
        assert isinstance(got, np.ndarray), got
        assert _max_diff(got, ort.animate(faces[i], anim[i : i + 1])) <= 1, i
    assert batcher.expected == 0


def test_deadline_bounds_the_wait_for_a_slow_session(ort: Engine) -> None:
    window = 0.05
    batcher = BatchingEngine(ort, window_s=window)
    faces, anim = _faces(ort, 2, seed=12)
    slow = batcher.expect()  # a session busy with a prepare: it will come late
    fast = batcher.expect()
    with fast:
        started = time.monotonic()
        got = batcher.animate(faces[0], anim[:1])
        waited = time.monotonic() - started
    assert window * 0.8 <= waited < window + 1.0, f"waited {waited:.3f} s"
    assert batcher.stats.deadline_closes == 1
    with slow:  # the late one goes alone at once (nobody else is expected)
        started = time.monotonic()
        late = batcher.animate(faces[1], anim[1:])
        assert time.monotonic() - started < window + 1.0
    assert batcher.stats.sizes == {1: 2}
    assert _max_diff(got, ort.animate(faces[0], anim[:1])) == 0
    assert _max_diff(late, ort.animate(faces[1], anim[1:])) == 0


def test_a_render_that_does_not_animate_releases_the_batch(ort: Engine) -> None:
    batcher = BatchingEngine(ort, window_s=5.0)
    faces, anim = _faces(ort, 1, seed=13)
    composited, rendering = batcher.expect(), batcher.expect()
    release = threading.Event()

    def cached_frame() -> None:
        with composited:  # a frame made without the engine (e.g. from a cache)
            release.wait(5)

    other = threading.Thread(target=cached_frame)
    other.start()
    threading.Timer(0.05, release.set).start()
    with rendering:
        started = time.monotonic()
        batcher.animate(faces[0], anim)
        assert time.monotonic() - started < 2.0
    other.join(5)
    assert batcher.stats.deadline_closes == 0


def test_caller_without_a_ticket_is_not_held(ort: Engine) -> None:
    batcher = BatchingEngine(ort, window_s=5.0)
    faces, anim = _faces(ort, 1, seed=14)
    started = time.monotonic()
    got = batcher.animate(faces[0], anim)
    assert time.monotonic() - started < 2.0
    assert _max_diff(got, ort.animate(faces[0], anim)) == 0


def test_a_bad_entry_fails_only_its_own_caller(ort: Engine) -> None:
    n = 4
    batcher = BatchingEngine(ort, window_s=5.0)
    faces, anim = _faces(ort, n, seed=15)
    tickets = [batcher.expect() for _ in range(n)]
    bad = 2

    def work(i: int) -> np.ndarray:
        rows = anim[i : i + 1] if i != bad else np.zeros((1, ANIM_DIM + 5), np.float32)
        with tickets[i]:
            return batcher.animate(faces[i], rows)

    results = _in_threads(n, work)
    assert isinstance(results[bad], ValueError), results[bad]
    for i in range(n):
        if i != bad:
            assert isinstance(results[i], np.ndarray), results[i]
            assert _max_diff(results[i], ort.animate(faces[i], anim[i : i + 1])) <= 1
    assert batcher.stats.failed_batches == 1


class _StackingFails(FakeEngine):
    """A fake whose stacked call fails (as a GPU out of memory at a big batch would)."""

    def animate_many(self, calls: Any) -> list[np.ndarray]:
        raise RuntimeError("out of memory at this batch")


def test_a_failing_stacked_call_is_answered_one_by_one() -> None:
    inner = _StackingFails(16)
    batcher = BatchingEngine(inner, window_s=5.0)
    params, anim = sample_inputs(3, 8, 4, seed=1)
    faces = [inner.prepare(params[i : i + 1]) for i in range(3)]
    tickets = [batcher.expect() for _ in range(3)]

    def work(i: int) -> np.ndarray:
        with tickets[i]:
            return batcher.animate(faces[i], anim[i : i + 1])

    results = _in_threads(3, work)
    for i, got in enumerate(results):
        assert isinstance(got, np.ndarray), got
        assert np.array_equal(got, inner.animate(faces[i], anim[i : i + 1]))
    assert batcher.stats.failed_batches == 1


def test_full_batch_runs_without_waiting(ort: Engine) -> None:
    batcher = BatchingEngine(ort, window_s=5.0, max_batch=2)
    faces, anim = _faces(ort, 2, seed=16)
    tickets = [batcher.expect() for _ in range(3)]  # a third is expected but never comes

    def work(i: int) -> np.ndarray:
        with tickets[i]:
            return batcher.animate(faces[i], anim[i : i + 1])

    started = time.monotonic()
    results = _in_threads(2, work)
    assert time.monotonic() - started < 4.0
    assert all(isinstance(r, np.ndarray) for r in results)
    assert batcher.stats.sizes == {2: 1}
    tickets[2].leave()
    assert batcher.expected == 0


def test_close_releases_a_waiting_batch_and_later_calls_go_straight_through() -> None:
    inner = FakeEngine(16)
    batcher = BatchingEngine(inner, window_s=30.0)
    params, anim = sample_inputs(1, 8, 4, seed=2)
    face = inner.prepare(params)
    never = batcher.expect()
    waiting = batcher.expect()

    def work(_: int) -> np.ndarray:
        with waiting:
            return batcher.animate(face, anim)

    threading.Timer(0.1, batcher.close).start()
    started = time.monotonic()
    (got,) = _in_threads(1, work)
    assert time.monotonic() - started < 10.0
    assert isinstance(got, np.ndarray)
    assert inner.closed
    with never:
        assert isinstance(batcher.animate(face, anim), np.ndarray)


def test_batching_engine_delegates_and_validates(ort: Engine) -> None:
    batcher = BatchingEngine(ort)
    assert batcher.size == ort.size and batcher.name == ort.name and batcher.blends
    params, anim = sample_inputs(1, PARAM_DIM, ANIM_DIM, seed=4)
    assert _max_diff(batcher.render(params, anim), ort.render(params, anim)) == 0
    with pytest.raises(ValueError):
        BatchingEngine(ort, window_s=-1)
    with pytest.raises(ValueError):
        BatchingEngine(ort, max_batch=0)
    assert not is_gpu_engine(batcher)
    assert is_gpu_engine(FakeEngine(16, name="tensorrt"))
    assert is_gpu_engine(FallbackEngine(FakeEngine(16, name="tensorrt"), ort))


def test_frame_grid_aligns_tracks_and_shares_the_lead() -> None:
    from streamface.server.tracks import FrameGrid

    grid = FrameGrid()
    a, b = grid.align(grid.origin + 0.001), grid.align(grid.origin + 0.030)
    assert a == b  # two tracks starting within one frame share their deadlines
    assert grid.align(grid.origin + 0.034) == pytest.approx(a + 1 / 30)
    lead = grid.lead_s
    grid.observe(0.020)
    assert grid.lead_s > lead
    assert grid.ticket() is None


# ---------------------------------------------------------------------------- face tracks on a grid


async def test_face_tracks_on_one_grid_render_each_tick_in_one_batch() -> None:
    import asyncio
    import concurrent.futures

    from streamface.server.tracks import FaceTrack, FrameGrid

    inner = FakeEngine(16)
    batcher = BatchingEngine(inner, window_s=0.010)
    grid = FrameGrid(batcher.expect)
    params, anim = sample_inputs(3, 8, 4, seed=5)
    faces = [inner.prepare(params[i : i + 1]) for i in range(3)]

    def renderer(i: int) -> Any:
        def render(t: float) -> np.ndarray:
            if i == 2 and int(t * 30) % 4 == 0:
                return np.zeros((16, 16, 3), np.uint8)  # a frame made without the engine
            return batcher.animate(faces[i], anim[i : i + 1])[0]

        return render

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=5)
    tracks = [FaceTrack(renderer(i), executor=pool, grid=grid) for i in range(3)]

    async def read(track: FaceTrack, n: int, after_s: float = 0.0) -> None:
        await asyncio.sleep(after_s)
        for _ in range(n):
            await track.recv()

    try:
        # tracks that start 11 ms apart still render on the same grid instants
        await asyncio.gather(*(read(t, 3, 0.011 * i) for i, t in enumerate(tracks)))
        batcher.stats = type(batcher.stats)()
        await asyncio.gather(*(read(t, 24) for t in tracks))
    finally:
        for t in tracks:
            t.stop()
        pool.shutdown(wait=True)
    stats = batcher.stats
    assert stats.calls >= 50
    assert stats.calls / stats.batches > 1.8, dict(stats.sizes)  # 3, or 2 when one composites
    assert stats.deadline_closes <= stats.batches // 4
    assert batcher.expected == 0, "every announced render arrived or left"
