"""Choosing an engine (`load_engine`) and surviving one that fails mid-run (`FallbackEngine`).

``auto`` tries TensorRT, then torch on CUDA, then ONNX Runtime on the CPU. A candidate that
is simply not available here (no GPU, library not installed) is skipped with one INFO
line; one that is there but fails to load falls back to the next with one WARNING line.
A named engine that cannot load raises `EngineUnavailableError` with a one-line reason
and the install hint (the command line turns it into exit code 2).

GPU engines (and torch on the CPU) come wrapped in a `FallbackEngine`: if a call raises
mid-run (CUDA out of memory, a driver fault), the wrapper logs one WARNING, switches to
the ONNX Runtime CPU engine for the rest of the session, and answers the same call from
there, so no frame and no call is lost.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.base import Engine
from streamface.errors import EngineUnavailableError

logger = logging.getLogger(__name__)

ENGINE_NAMES: tuple[str, ...] = ("auto", "onnxruntime", "torch", "tensorrt")
"""What ``--engine`` accepts."""

AUTO_ORDER: tuple[str, ...] = ("tensorrt", "torch-cuda", "onnxruntime")
"""The candidates ``auto`` tries, best first (``torch-cuda``: torch, only on a GPU)."""

INSTALL_HINTS: dict[str, str] = {
    "onnxruntime": "pip install onnxruntime",
    "torch": "pip install torch",
    "torch-cuda": "install a CUDA build of torch on a machine with an NVIDIA GPU",
    "tensorrt": "pip install 'streamface[tensorrt]' on a machine with an NVIDIA GPU",
}

EngineLoader = Callable[..., Engine]
"""``loader(size, **options) -> Engine``; raises when the engine cannot load."""


def _load_onnxruntime(size: int, **options: Any) -> Engine:
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    return OnnxRuntimeEngine(size, **options)


def _load_torch(size: int, **options: Any) -> Engine:
    from engines.torch_engine import TorchEngine

    return TorchEngine(size, **options)


def nvidia_driver_present() -> bool:
    """Whether this machine shows an NVIDIA driver (Linux, or WSL's GPU device); True elsewhere.

    Lets ``auto`` skip the CUDA candidates without importing torch (about a second) on the
    machines where ``torch.cuda.is_available()`` could only say no.
    """
    if not sys.platform.startswith("linux"):
        return True
    return any(
        os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")
    )


def _load_torch_cuda(size: int, **options: Any) -> Engine:
    if not nvidia_driver_present():
        raise EngineUnavailableError("no NVIDIA GPU driver on this machine")
    import torch

    if not torch.cuda.is_available():
        raise EngineUnavailableError(f"torch {torch.__version__} sees no CUDA GPU")
    from engines.torch_engine import TorchEngine

    return TorchEngine(size, device="cuda", **options)


def _load_tensorrt(size: int, **options: Any) -> Engine:
    from engines.tensorrt_engine import TensorRTEngine  # raises EngineUnavailableError here

    return TensorRTEngine(size, **options)


LOADERS: dict[str, EngineLoader] = {
    "onnxruntime": _load_onnxruntime,
    "torch": _load_torch,
    "torch-cuda": _load_torch_cuda,
    "tensorrt": _load_tensorrt,
}
"""How each engine name is loaded."""

CPU_FALLBACK = "onnxruntime"
"""The engine a `FallbackEngine` switches to when its engine fails mid-run."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _reason(name: str, exc: BaseException) -> str:
    """One line saying why an engine cannot load, ending with its install hint."""
    hint = INSTALL_HINTS.get(name, "")
    if isinstance(exc, EngineUnavailableError):
        message = _one_line(exc)
        return message if not hint or hint in message else f"{message}; {hint}"
    if isinstance(exc, ImportError):
        return f"{name} engine is not installed ({_one_line(exc)}); {hint}"
    return f"{name} engine failed to load ({type(exc).__name__}: {_one_line(exc)}); {hint}"


def load_engine(
    name: str = "auto",
    size: int = 512,
    *,
    fallback: bool = True,
    loaders: Mapping[str, EngineLoader] | None = None,
    auto_order: tuple[str, ...] = AUTO_ORDER,
    per_frame: bool = True,
    **options: Any,
) -> Engine:
    """Load a generator engine by name.

    Args:
        name: One of `ENGINE_NAMES`.
        size: Image size.
        fallback: Wrap engines other than the CPU fallback itself in a `FallbackEngine`.
        loaders: Name -> loader, for tests (default `LOADERS`).
        auto_order: The candidates ``auto`` tries, best first.
        per_frame: Whether the per-frame path (`prepare` / `animate`) will be used. False
            (a still: `render` only) lets ONNX Runtime skip building those graphs.
        **options: Passed to the engine's constructor (e.g. ``threads``, ``factory``);
            under ``auto`` only options every candidate takes make sense.

    Raises:
        EngineUnavailableError: The named engine (or, under ``auto``, every candidate)
            cannot load; the one-line message carries the install hint.
    """
    table = dict(LOADERS if loaders is None else loaders)
    if name not in ENGINE_NAMES and name not in table:
        raise EngineUnavailableError(
            f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}"
        )
    candidates = auto_order if name == "auto" else (name,)
    reasons: list[str] = []
    for candidate in candidates:
        loader = table.get(candidate)
        if loader is None:
            continue
        extra: dict[str, Any] = {}
        if candidate == CPU_FALLBACK:
            extra = _cpu_extra(per_frame)
        try:
            engine = loader(size, **options, **extra)
        except Exception as exc:  # noqa: BLE001 - any load failure moves on (or is reported)
            reason = _reason(candidate, exc)
            if name != "auto":
                raise EngineUnavailableError(reason) from exc
            reasons.append(reason)
            if isinstance(exc, EngineUnavailableError | ImportError):
                logger.info("engine %s unavailable, trying the next: %s", candidate, reason)
            else:
                logger.warning("engine %s failed to load, trying the next: %s", candidate, reason)
            continue
        logger.debug("engine %s loaded (%d px)", candidate, size)
        if fallback and candidate != CPU_FALLBACK and CPU_FALLBACK in table:
            cpu_options = {**options, **_cpu_extra(per_frame)}
            return FallbackEngine(engine, _cpu_factory(table[CPU_FALLBACK], size, cpu_options))
        return engine
    raise EngineUnavailableError("no engine could load: " + " | ".join(reasons))


def _cpu_extra(per_frame: bool) -> dict[str, Any]:
    """Options only the ONNX Runtime CPU engine takes (left out when at their defaults)."""
    return {} if per_frame else {"eager": ()}


def _cpu_factory(
    loader: EngineLoader, size: int, options: Mapping[str, Any]
) -> Callable[[], Engine]:
    """Builds the CPU fallback with the options it understands (the renderer factory)."""
    cpu_options = {k: v for k, v in options.items() if k in ("factory", "eager", "threads")}
    return lambda: loader(size, **cpu_options)


# ---------------------------------------------------------------------------- fallback


@dataclass
class FallbackPrepared:
    """A face prepared through a `FallbackEngine`: the params, and the inner engine's form.

    Re-prepared on the fallback engine on first use after a switch.
    """

    params: np.ndarray
    inner: Any
    owner: int  # id of the engine generation that prepared ``inner``
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


class FallbackEngine(Engine):
    """An engine that switches to a CPU engine, once, when its own engine fails mid-run.

    A call that raises (anything but `ValueError` / `TypeError`, which are the caller's
    input errors) is logged with one WARNING, the failed engine is closed, the fallback is
    built, and the same call is answered by the fallback. Later calls go straight to the
    fallback. If the fallback fails too, its error propagates. Thread-safe.

    Args:
        primary: The engine to use while it works.
        fallback: The CPU engine, or a function that builds it (called on first failure).
    """

    def __init__(self, primary: Engine, fallback: Engine | Callable[[], Engine]) -> None:
        super().__init__(primary.size)
        self._current: tuple[int, Engine] = (0, primary)  # (generation, engine), swapped whole
        self._fallback = fallback
        self._lock = threading.Lock()
        self.name = primary.name
        self.primary_name = primary.name

    @property
    def engine(self) -> Engine:
        """The engine now answering calls."""
        return self._current[1]

    @property
    def fell_back(self) -> bool:
        """Whether the primary engine failed and the fallback took over."""
        return self._current[0] > 0

    def _switch(self, failed_generation: int, exc: BaseException) -> None:
        with self._lock:
            generation, failed = self._current
            if generation != failed_generation:
                return  # another thread switched already
            fallback = self._fallback() if callable(self._fallback) else self._fallback
            logger.warning(
                "engine %s failed mid-run (%s: %s); switching to %s for the rest of the session",
                failed.name, type(exc).__name__, _one_line(exc), fallback.name,
            )
            self._current = (generation + 1, fallback)
            self.name = fallback.name
        try:
            failed.close()
        except Exception:  # noqa: BLE001 - the engine already failed; closing is best effort
            logger.debug("closing the failed engine raised", exc_info=True)

    def _call(self, fn: Callable[[int, Engine], Any]) -> Any:
        generation, engine = self._current
        try:
            return fn(generation, engine)
        except (ValueError, TypeError):
            raise  # the caller's input is wrong: another engine would not help
        except Exception as exc:
            if generation > 0:
                raise  # the fallback itself failed
            self._switch(generation, exc)
            return fn(*self._current)

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        result: np.ndarray = self._call(lambda _, e: e.render(params, anim))
        return result

    def prepare(self, params: np.ndarray) -> FallbackPrepared:
        rows = np.array(params, dtype=np.float32, copy=True)

        def run(generation: int, engine: Engine) -> FallbackPrepared:
            return FallbackPrepared(params=rows, inner=engine.prepare(rows), owner=generation)

        result: FallbackPrepared = self._call(run)
        return result

    @staticmethod
    def _owned(face: FallbackPrepared, generation: int, engine: Engine) -> Any:
        """``face`` as prepared by ``engine`` (prepared again when an older engine made it)."""
        with face.lock:
            if face.owner != generation:  # prepared by an engine no longer in use
                face.inner = engine.prepare(face.params)
                face.owner = generation
            return face.inner

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        face = prepared if isinstance(prepared, FallbackPrepared) else self.prepare(prepared)
        result: np.ndarray = self._call(lambda g, e: e.animate(self._owned(face, g, e), anim))
        return result

    def animate_part(self, prepared: Any, anim: np.ndarray, part: str) -> np.ndarray:
        face = prepared if isinstance(prepared, FallbackPrepared) else self.prepare(prepared)
        result: np.ndarray = self._call(lambda g, e: e.animate_part(self._owned(face, g, e), anim, part))
        return result

    def animate_many(self, calls: Sequence[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        faces = [p if isinstance(p, FallbackPrepared) else self.prepare(p) for p, _ in calls]

        def run(generation: int, engine: Engine) -> list[np.ndarray]:
            inner = [(self._owned(face, generation, engine), anim) for face, (_, anim) in zip(faces, calls, strict=True)]
            return engine.animate_many(inner)

        result: list[np.ndarray] = self._call(run)
        return result

    @property
    def blends(self) -> bool:
        return self._current[1].blends

    @property
    def face_layout(self) -> bool:
        return self._current[1].face_layout

    @property
    def parts(self) -> tuple[str, ...]:
        return self._current[1].parts

    def blend(self, a: Any, b: Any, weight: float) -> FallbackPrepared | None:
        if not isinstance(a, FallbackPrepared) or not isinstance(b, FallbackPrepared):
            raise TypeError("blend takes faces prepared by this engine")
        generation, engine = self._current
        with a.lock:
            a_owner, a_inner = a.owner, a.inner
        with b.lock:
            b_owner, b_inner = b.owner, b.inner
        if a_owner != generation or b_owner != generation:
            return None  # prepared by an engine no longer in use
        inner = engine.blend(a_inner, b_inner, weight)
        if inner is None:
            return None
        params = (a.params + np.float32(weight) * (b.params - a.params)).astype(np.float32)
        return FallbackPrepared(params=params, inner=inner, owner=generation)

    def close(self) -> None:
        self._current[1].close()
