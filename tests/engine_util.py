"""Engines for tests that compare engines: a private model cache and one factory.

Modules that need the shipped renderer exported (not its first export) use the run's
cache, conftest's `model_cache`.

The parametrised fixtures stay in each test module (their marks differ); they call
`make_engine` with one of `ENGINE_NAMES`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

ENGINE_NAMES = ("onnxruntime", "torch", "torch-cuda", "tensorrt")
NO_CUDA = not torch.cuda.is_available()


def tensorrt_missing() -> str | None:
    """Why the TensorRT engine cannot load here (None when it can)."""
    try:
        import engines.tensorrt_engine  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - EngineUnavailableError or the import itself
        return str(exc)
    return None


def gpu_params(*, tensorrt: bool = True) -> list[Any]:
    """pytest params for the GPU engines, skipped where there is no CUDA (or TensorRT)."""
    params = [pytest.param("torch-cuda", marks=pytest.mark.skipif(NO_CUDA, reason="no CUDA GPU here"))]
    if tensorrt:
        skip = NO_CUDA or tensorrt_missing() is not None
        params.append(pytest.param("tensorrt", marks=pytest.mark.skipif(skip, reason="no TensorRT here")))
    return params


def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private model cache (never the user's ~/.cache), for a module-scoped fixture."""
    root = tmp_path_factory.mktemp("streamface-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMFACE_CACHE_DIR", str(root))
        yield root


def make_engine(name: str, size: int) -> Any:
    """The named engine (one of `ENGINE_NAMES`) at ``size`` pixels."""
    if name == "onnxruntime":
        from engines.onnxruntime_engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine(size)
    if name == "tensorrt":
        from engines.tensorrt_engine import TensorRTEngine

        return TensorRTEngine(size)
    from engines.torch_engine import TorchEngine

    return TorchEngine(size, device="cuda" if name == "torch-cuda" else "cpu")
