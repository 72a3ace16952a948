"""Batched rendering (issue 18): frames/s per engine at batch 1, 4, 16 and 64, and the
live path with N sessions through the batcher against without it.

Engines (whichever load here): ONNX Runtime with 1 intra-op thread and with all cores,
torch on the CPU (1 thread and all), torch on CUDA and TensorRT when a GPU is present.
For each and each batch B:

* ``animate``: B *different* prepared faces, one animation row each, stacked into one
  call (`Engine.animate_many`): what a tick of B live sessions costs. At B = 1 it is the
  plain ``animate`` call.
* ``full``: ``render`` of B face rows (prepare and animate in one graph).
* ``batcher``: B threads each calling `BatchingEngine.animate` for its own face on a
  shared tick (tickets as the live server issues them): the same work as ``animate``
  plus the batcher's hand-off, and the per-caller latency of a tick (``tick_ms_p95``).

Live path (ONNX Runtime, 1 thread per call; torch on CUDA too when present): N real
`Session`s (each its own voice and face, analysed first) render a frame each per tick, as
the server's frame clock asks for them, N in (1, 4, 8, 16) (on CUDA 1, 4, 16, 64): once
each render on its own in a pool of cpus + 2 threads (the server without batching), once
through a `BatchingEngine` with one thread per session and a ticket per render (the
server with ``--batch on``). Reported: frames/s with ticks back to back (capacity),
process CPU ms per frame, p50/p95 of a tick (the slowest session of a tick), and the
mean batch.

Keys: ``<engine>_<path>_b<B>_fps`` (and ``_ms_per_frame``, ``_cpu_ms_per_frame``),
``live_<mode>_n<N>_fps`` (``live_torch_cuda_<mode>_...`` on a GPU),
``..._cpu_ms_per_frame``, ``..._tick_ms_p95``, ``..._mean_batch``; ``runs`` lists them
all. ``python -m benchmarks.batching [--quick] [--size N]`` writes
``benchmarks/results/batching-<device>.json`` and a markdown table beside it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

BATCHES: tuple[int, ...] = (1, 4, 16, 64)
LIVE_SESSIONS: tuple[int, ...] = (1, 4, 8, 16)
LIVE_SESSIONS_GPU: tuple[int, ...] = (1, 4, 16, 64)
ENGINE_SIZE = 512
LIVE_SIZE = 256


# ---------------------------------------------------------------------------- engines


def _engines(quick: bool) -> Iterator[tuple[str, Any]]:
    """(label, engine) for every engine configuration that loads here, one at a time."""
    import torch

    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from engines.torch_engine import TorchEngine
    from streamface.errors import EngineUnavailableError

    cpus = os.cpu_count() or 1
    yield "onnxruntime_1t", lambda size: OnnxRuntimeEngine(size, threads=1)
    if cpus > 1:
        yield f"onnxruntime_{cpus}t", lambda size: OnnxRuntimeEngine(size, threads=cpus)
    yield "torch_cpu_1t", lambda size: _torch_cpu(size, 1)
    if cpus > 1 and not quick:
        yield f"torch_cpu_{cpus}t", lambda size: _torch_cpu(size, cpus)
    if torch.cuda.is_available():
        yield "torch_cuda", lambda size: TorchEngine(size, device="cuda")

        def tensorrt(size: int) -> Any:
            from engines.tensorrt_engine import TensorRTEngine

            return TensorRTEngine(size)

        try:
            import engines.tensorrt_engine  # noqa: F401 - raises when TensorRT is missing

            yield "tensorrt", tensorrt
        except EngineUnavailableError as exc:
            logger.info("tensorrt not measured: %s", exc)


def _torch_cpu(size: int, threads: int) -> Any:
    import torch

    from engines.torch_engine import TorchEngine

    torch.set_num_threads(threads)
    return TorchEngine(size, device="cpu")


def _timed(fn: Callable[[], Any], min_calls: int, min_seconds: float) -> tuple[float, float]:
    """Median wall seconds of one call and median process-CPU seconds, after a warm-up call.

    Process CPU counts every thread of the call (ONNX Runtime's intra-op workers, the
    batcher's callers) and, unlike wall time, is barely inflated by other processes
    competing for the same cores.
    """
    fn()
    times: list[float] = []
    cpu: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or (time.perf_counter() - start < min_seconds and len(times) < 100):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(cpu)


def _batcher_tick(batcher: Any, faces: list[Any], anim: np.ndarray, pool: Any) -> list[float]:
    """One tick: every face's caller announced, then all call ``animate`` at once."""
    tickets = [batcher.expect() for _ in faces]

    def one(i: int) -> float:
        t0 = time.perf_counter()
        with tickets[i]:
            batcher.animate(faces[i], anim[i : i + 1])
        return time.perf_counter() - t0

    return list(pool.map(one, range(len(faces))))


def _batcher_ticks(waits: list[float], *args: Any) -> None:
    waits.extend(_batcher_tick(*args))


def measure_engine(label: str, engine: Any, batches: tuple[int, ...], quick: bool) -> list[dict[str, Any]]:
    """Frames/s of one engine at each batch size, for the three paths."""
    from engines.batching import BatchingEngine
    from engines.export import sample_inputs
    from streamface.face.animation import ANIM_DIM
    from streamface.face.params import PARAM_DIM

    min_calls, min_seconds = (2, 0.3) if quick else (3, 1.5)
    runs: list[dict[str, Any]] = []
    batcher = BatchingEngine(engine, window_s=0.050)
    with concurrent.futures.ThreadPoolExecutor(max(batches)) as pool:
        for batch in batches:
            params, anim = sample_inputs(batch, PARAM_DIM, ANIM_DIM, seed=batch)
            faces = [engine.prepare(params[i : i + 1]) for i in range(batch)]
            calls = [(faces[i], anim[i : i + 1]) for i in range(batch)]
            paths: dict[str, Callable[[], Any]] = {
                "animate": functools.partial(engine.animate_many, calls),
                "full": functools.partial(engine.render, params, anim),
            }
            for path, fn in paths.items():
                runs.append(_run(label, path, batch, *_timed(fn, min_calls, min_seconds)))
            waits: list[float] = []
            tick = functools.partial(_batcher_ticks, waits, batcher, faces, anim, pool)
            run = _run(label, "batcher", batch, *_timed(tick, min_calls, min_seconds))
            run["tick_ms_p95"] = round(1000.0 * float(np.percentile(waits, 95)), 2)
            runs.append(run)
            for r in runs[-3:]:
                logger.info("%s %s b%d: %.1f fps", label, r["path"], batch, r["fps"])
    stats = batcher.stats.summary()
    runs[-1]["batcher_mean_batch"] = stats["mean_batch"]
    return runs


def _run(label: str, path: str, batch: int, seconds: float, cpu_seconds: float) -> dict[str, Any]:
    return {
        "engine": label,
        "path": path,
        "batch": batch,
        "ms_per_frame": round(1000.0 * seconds / batch, 3),
        "fps": round(batch / seconds, 1),
        "cpu_ms_per_frame": round(1000.0 * cpu_seconds / batch, 3),
    }


# ---------------------------------------------------------------------------- live path


def _voices() -> list[Path]:
    root = Path(__file__).resolve().parent.parent.parent / "shared" / "voices"
    return sorted(root.glob("*.wav"))


def _sessions(engine: Any, n: int, voices: list[Path]) -> list[Any]:
    """``n`` sessions, each with its own voice heard for 4 s and its face formed."""
    from streamface.audio.decode import decode_file
    from streamface.session import Session

    out = []
    for i in range(n):
        session = Session(engine, seed=i)
        if voices:
            audio = decode_file(voices[i % len(voices)], max_seconds=4.0)
            session.push_audio(audio, 16000)
            session.analyze()
        out.append(session)
    return out


def measure_live(engine: Any, n: int, batched: bool, ticks: int, voices: list[Path]) -> dict[str, Any]:
    """N sessions render one frame each per tick, ticks back to back."""
    from engines.batching import BatchingEngine, BatchStats

    used = BatchingEngine(engine, window_s=0.010) if batched else engine
    sessions = _sessions(used, n, voices)
    workers = n + 2 if batched else (os.cpu_count() or 2) + 2
    fps = 30.0
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:

        def tick(k: int) -> float:
            t = 1.0 + k / fps
            tickets = [used.expect() for _ in sessions] if batched else [None] * n

            def one(i: int) -> None:
                ticket = tickets[i]
                if ticket is None:
                    sessions[i].render_frame(t)
                    return
                with ticket:
                    sessions[i].render_frame(t)

            t0 = time.perf_counter()
            list(pool.map(one, range(n)))
            return time.perf_counter() - t0

        for k in range(5):  # warm-up: prepared faces, pool threads
            tick(k)
        if batched:
            used.stats = BatchStats()  # count the measured ticks only
        durations = []
        c0, w0 = time.process_time(), time.perf_counter()
        for k in range(ticks):
            durations.append(tick(5 + k))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    for s in sessions:
        s.close()
    frames = n * ticks
    return {
        "fps": round(frames / wall, 1),
        "cpu_ms_per_frame": round(1000.0 * cpu / frames, 2),
        "tick_ms_p50": round(1000.0 * statistics.median(durations), 2),
        "tick_ms_p95": round(1000.0 * float(np.percentile(durations, 95)), 2),
        "mean_batch": used.stats.summary()["mean_batch"] if batched else 1.0,
    }


# ---------------------------------------------------------------------------- run


def run(
    quick: bool = False, size: int | None = None, engines: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Measure every engine that loads here and the live path; keys in the module doc."""
    size = size or (LIVE_SIZE if quick else ENGINE_SIZE)
    batches = (1, 4, 16) if quick else BATCHES
    result: dict[str, Any] = {"size": size, "live_size": LIVE_SIZE, "cpus": os.cpu_count()}
    runs: list[dict[str, Any]] = []
    for label, load in _engines(quick):
        if engines and not any(label.startswith(e) for e in engines):
            continue
        engine = None
        try:
            engine = load(size)
            gpu = label.startswith(("torch_cuda", "tensorrt"))
            for r in measure_engine(label, engine, batches if not gpu else BATCHES, quick):
                runs.append(r)
                key = f"{label}_{r['path']}_b{r['batch']}"
                result[f"{key}_fps"] = r["fps"]
                result[f"{key}_ms_per_frame"] = r["ms_per_frame"]
                result[f"{key}_cpu_ms_per_frame"] = r["cpu_ms_per_frame"]
                if "tick_ms_p95" in r:
                    result[f"{key}_tick_ms_p95"] = r["tick_ms_p95"]
        except Exception as exc:  # noqa: BLE001 - one engine failing must not hide the others
            logger.exception("batching benchmark of %s failed", label)
            result[f"{label}_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if engine is not None:
                engine.close()
    _restore_torch_threads()
    voices = _voices()
    ticks = 30 if quick else 90
    for label, prefix, live_engine in _live_engines():
        counts = LIVE_SESSIONS_GPU if label == "torch_cuda" else LIVE_SESSIONS
        for n in (1, 4) if quick else counts:
            for mode in ("plain", "batched"):
                measured = measure_live(live_engine, n, mode == "batched", ticks, voices)
                runs.append({"engine": label, "path": f"live_{mode}", "batch": n, **measured})
                for k, v in measured.items():
                    result[f"{prefix}{mode}_n{n}_{k}"] = v
                logger.info("live %s %s n=%d: %s", label, mode, n, measured)
        live_engine.close()
    gpu_fps = [
        float(v) for k, v in result.items()
        if k.endswith("_animate_b64_fps") and k.startswith(("torch_cuda", "tensorrt"))
    ]
    if gpu_fps:
        result["best_gpu_animate_b64_fps"] = max(gpu_fps)
    plain, batched = result.get("live_plain_n8_cpu_ms_per_frame"), result.get("live_batched_n8_cpu_ms_per_frame")
    if plain is not None and batched is not None:
        result["live_cpu_ms_per_frame_n8"] = f"{plain} / {batched}"
    result["runs"] = runs
    return result


def _live_engines() -> Iterator[tuple[str, str, Any]]:
    """(label, key prefix, engine) of the live-path runs: ONNX Runtime, and torch on CUDA."""
    import torch

    from engines.onnxruntime_engine import OnnxRuntimeEngine

    yield "onnxruntime_1t", "live_", OnnxRuntimeEngine(LIVE_SIZE, threads=1)
    if torch.cuda.is_available():
        from engines.torch_engine import TorchEngine

        yield "torch_cuda", "live_torch_cuda_", TorchEngine(LIVE_SIZE, device="cuda")


def _restore_torch_threads() -> None:
    import torch

    torch.set_num_threads(1)


def markdown(report: dict[str, Any]) -> str:
    """The results as two markdown tables (engines; live path)."""
    result, machine = report["batching"], report["machine"]
    lines = [
        "# Batched rendering",
        "",
        f"Machine: {machine.get('cpu')} x {machine.get('cpu_count')} cores"
        + (f", GPU {machine['gpu']}" if "gpu" in machine else ", no GPU")
        + f"; load average at the end {machine.get('load_average')}; {report['date']}.",
        "",
        f"Frames/s per engine at {result['size']} px (higher is better); `animate`: B different "
        "faces stacked into one call; `batcher`: B threads through `BatchingEngine` on one tick.",
        "",
        "| engine | path | " + " | ".join(f"b{b}" for b in BATCHES) + " |",
        "|---|---|" + "---|" * len(BATCHES),
    ]
    table: dict[tuple[str, str], dict[int, Any]] = {}
    for r in result["runs"]:
        if not r["path"].startswith("live_"):
            table.setdefault((r["engine"], r["path"]), {})[r["batch"]] = r["fps"]
    cpu: dict[tuple[str, str], dict[int, Any]] = {}
    for r in result["runs"]:
        if not r["path"].startswith("live_"):
            cpu.setdefault((r["engine"], r["path"]), {})[r["batch"]] = r["cpu_ms_per_frame"]
    for (engine, path), by_batch in table.items():
        cells = " | ".join(str(by_batch.get(b, "")) for b in BATCHES)
        lines.append(f"| {engine} | {path} | {cells} |")
    lines += [
        "",
        "CPU ms per frame, all threads of the process (lower is better; on a shared machine "
        "this is the steadier number):",
        "",
        "| engine | path | " + " | ".join(f"b{b}" for b in BATCHES) + " |",
        "|---|---|" + "---|" * len(BATCHES),
    ]
    for (engine, path), by_batch in cpu.items():
        cells = " | ".join(str(by_batch.get(b, "")) for b in BATCHES)
        lines.append(f"| {engine} | {path} | {cells} |")
    lines += [
        "",
        f"Live path at {result['live_size']} px (`Session.render_frame`: motion, engine, framing, "
        "label): N sessions render one frame each per tick, ticks back to back; `plain`: each "
        "render on its own in a pool of cpus + 2 threads, `batched`: through `BatchingEngine`.",
        "",
        "| engine | sessions | mode | frames/s | CPU ms/frame | tick p50 ms | tick p95 ms | mean batch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        if r["path"].startswith("live_"):
            lines.append(
                f"| {r['engine']} | {r['batch']} | {r['path'][5:]} | {r['fps']} | {r['cpu_ms_per_frame']} | "
                f"{r['tick_ms_p50']} | {r['tick_ms_p95']} | {r['mean_batch']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.batching [--quick] [--size N] [--engine PREFIX ...]``."""
    import argparse

    from benchmarks import __main__ as bench

    parser = argparse.ArgumentParser(prog="python -m benchmarks.batching", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="256 px, fewer batches and repetitions")
    parser.add_argument("--size", type=int, default=None, help="engine image size (default 512)")
    parser.add_argument("--engine", nargs="*", default=None, help="only engines whose label starts so")
    parser.add_argument("--out", type=Path, default=bench.RESULTS, help="results folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(quick=args.quick, size=args.size, engines=tuple(args.engine) if args.engine else None)
    path = bench.write_single("batching", result, args.out, args.quick)
    report = json.loads(path.read_text())
    md = markdown({"batching": result, "machine": report["machine"], "date": report["date"]})
    path.with_suffix(".md").write_text(md)
    print(md)
    print(f"wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return 0


__all__ = ["measure_engine", "measure_live", "run"]

if __name__ == "__main__":
    sys.exit(main())
