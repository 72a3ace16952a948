"""Render speed per engine and batch size: full frames and the per-frame animate path.

Targets (issue 3): ONNX Runtime on one CPU core renders a full 512x512 frame in at most
40 ms and a per-frame animation update in at most 8 ms; torch on CUDA (when a GPU is
present) renders at least 2,000 frames/s at batch 64.

`run()` returns flat, unit-suffixed keys (``<engine>_<path>_b<batch>_ms_per_frame`` and
``..._fps``, wall clock, and ``..._cpu_ms_per_frame``, the calling thread's CPU time, which
other load on a shared machine does not inflate; CPU engines run on that thread) plus
``target_*`` keys (judged on the wall clock); ``python -m benchmarks.render`` also writes them to
``benchmarks/results/render-<device>.json``.
"""

from __future__ import annotations

import functools
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SIZE = 512
TARGET_FULL_MS = 40.0
TARGET_ANIMATE_MS = 8.0
TARGET_CUDA_B64_FPS = 2000.0


def _time_calls(fn: Callable[[], Any], repeats: int, min_seconds: float) -> tuple[float, float]:
    """Median wall and thread-CPU seconds per call after one warm-up call (more calls
    while under min_seconds)."""
    fn()
    times: list[float] = []
    cpu: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_seconds and len(times) < 200):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(cpu)


def _engines(quick: bool) -> list[tuple[str, Callable[[], Any], tuple[int, ...]]]:
    """(label, engine factory, batch sizes) for every engine that loads here.

    Factories, so that an engine left out by ``--engine`` costs nothing (ONNX Runtime's
    first 512 px export takes about a minute).
    """
    import torch

    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from engines.torch_engine import TorchEngine
    from streamface.errors import EngineUnavailableError

    cpu_batches = (1, 4) if quick else (1, 4, 16)
    gpu_batches = (1, 64) if quick else (1, 4, 16, 64)

    def torch_cpu() -> Any:
        torch.set_num_threads(1)
        return TorchEngine(SIZE, device="cpu")

    out: list[tuple[str, Callable[[], Any], tuple[int, ...]]] = [
        ("onnxruntime_1t", lambda: OnnxRuntimeEngine(SIZE, threads=1), cpu_batches),
        ("torch_cpu_1t", torch_cpu, (1,) if quick else (1, 4)),
    ]
    if torch.cuda.is_available():
        out.append(("torch_cuda", lambda: TorchEngine(SIZE, device="cuda"), gpu_batches))
        if not quick:
            out.append(("torch_cuda_compiled", lambda: TorchEngine(SIZE, device="cuda", compile=True), (64,)))
        try:
            from engines.tensorrt_engine import TensorRTEngine

            out.append(("tensorrt", lambda: TensorRTEngine(SIZE), gpu_batches))
        except EngineUnavailableError as exc:
            logger.info("tensorrt not measured: %s", exc)
    return out


def _measure(
    label: str,
    engine: Any,
    batches: tuple[int, ...],
    repeats: int,
    min_seconds: float,
    result: dict[str, Any],
) -> list[dict[str, Any]]:
    """Time the full and animate paths of one engine at each batch size."""
    from engines.export import sample_inputs
    from streamface.face.animation import ANIM_DIM
    from streamface.face.params import PARAM_DIM

    runs: list[dict[str, Any]] = []
    for batch in batches:
        params, anim = sample_inputs(batch, PARAM_DIM, ANIM_DIM, seed=batch)
        prepared = engine.prepare(params[:1])  # one face, many frames: the live case
        paths: dict[str, Callable[[], Any]] = {
            "full": functools.partial(engine.render, params, anim),
            "animate": functools.partial(engine.animate, prepared, anim),
        }
        for path, fn in paths.items():
            seconds, cpu_seconds = _time_calls(fn, repeats, min_seconds)
            ms_per_frame = 1000.0 * seconds / batch
            fps = batch / seconds
            key = f"{label}_{path}_b{batch}"
            result[f"{key}_ms_per_frame"] = round(ms_per_frame, 3)
            result[f"{key}_fps"] = round(fps, 1)
            result[f"{key}_cpu_ms_per_frame"] = round(1000.0 * cpu_seconds / batch, 3)
            runs.append({"engine": label, "path": path, "batch": batch,
                         "ms_per_frame": ms_per_frame, "fps": fps})
            logger.info("%s: %.2f ms/frame, %.0f fps", key, ms_per_frame, fps)
    return runs


def _measure_composed(label: str, engine: Any, repeats: int, min_seconds: float, result: dict[str, Any]) -> None:
    """A settled face's frame composed from cached engine pictures (`face.sprites`), label
    included, with the head turned: ``<engine>_composed_b1_*`` (its cells cached first)."""
    from engines.export import sample_inputs
    from streamface.face.animation import ANIM_DIM
    from streamface.face.label import draw_label
    from streamface.face.params import PARAM_DIM
    from streamface.face.sprites import FaceSprites

    params, anim = sample_inputs(8, PARAM_DIM, ANIM_DIM, seed=11)
    sprites = FaceSprites(engine, engine.prepare(params[:1]), draw_label)
    sprites.prefill(anim)
    rows = iter(anim[k % len(anim)] for k in range(1 << 30))
    seconds, cpu_seconds = _time_calls(lambda: sprites.frame(next(rows)), repeats, min_seconds)
    key = f"{label}_composed_b1"
    result[f"{key}_ms_per_frame"] = round(1000.0 * seconds, 3)
    result[f"{key}_fps"] = round(1.0 / seconds, 1)
    result[f"{key}_cpu_ms_per_frame"] = round(1000.0 * cpu_seconds, 3)


def run(quick: bool = False, engines: tuple[str, ...] = ()) -> dict[str, Any]:
    """Measure every available engine (or those whose label starts with one of
    ``engines``); see the module docstring for the keys."""
    repeats, min_seconds = (3, 0.5) if quick else (10, 2.0)
    result: dict[str, Any] = {
        "size": SIZE,
        "target_onnxruntime_1t_full_ms": TARGET_FULL_MS,
        "target_onnxruntime_1t_animate_ms": TARGET_ANIMATE_MS,
    }
    runs: list[dict[str, Any]] = []
    for label, load, batches in _engines(quick):
        if engines and not label.startswith(engines):
            continue
        engine = None
        try:
            engine = load()
            runs.extend(_measure(label, engine, batches, repeats, min_seconds, result))
            if engine.face_layout:
                _measure_composed(label, engine, repeats, min_seconds, result)
        except Exception as exc:  # noqa: BLE001 - one engine failing must not hide the others
            logger.exception("render benchmark of %s failed", label)
            result[f"{label}_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if engine is not None:
                engine.close()
    full = result.get("onnxruntime_1t_full_b1_ms_per_frame")
    animate = result.get("onnxruntime_1t_animate_b1_ms_per_frame")
    result["onnxruntime_1t_full_ms"] = full
    result["onnxruntime_1t_animate_ms"] = animate
    result["onnxruntime_1t_full_cpu_ms"] = result.get("onnxruntime_1t_full_b1_cpu_ms_per_frame")
    result["onnxruntime_1t_animate_cpu_ms"] = result.get("onnxruntime_1t_animate_b1_cpu_ms_per_frame")
    # None: not measured in this run (``--engine`` left ONNX Runtime out).
    result["meets_full_target"] = None if full is None else full <= TARGET_FULL_MS
    result["meets_animate_target"] = None if animate is None else animate <= TARGET_ANIMATE_MS
    gpu_b64 = [v for k, v in result.items() if k.endswith("_full_b64_fps") and not k.startswith("onnx")]
    if gpu_b64:
        result["target_gpu_b64_fps"] = TARGET_CUDA_B64_FPS
        result["best_gpu_full_b64_fps"] = max(gpu_b64)
        result["meets_cuda_target"] = max(gpu_b64) >= TARGET_CUDA_B64_FPS
    result["runs"] = runs
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.render [--quick] [--engine PREFIX ...]``: print and write the results."""
    import argparse

    from benchmarks import __main__ as bench

    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and batches")
    parser.add_argument("--out", type=Path, default=bench.RESULTS, help="results folder")
    parser.add_argument(
        "--engine", nargs="*", default=(), help="only engines whose label starts so (torch_cuda, tensorrt, ...)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    machine = bench.machine_info()
    result = run(quick=args.quick, engines=tuple(args.engine))
    tag = "gpu-" + str(machine["gpu"]).replace(" ", "_") if "gpu" in machine else "cpu"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"render-{tag}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps({"machine": machine, "render": result}, indent=2) + "\n")
    for key, value in result.items():
        if key != "runs":
            print(f"  {key:45s} {value}")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

