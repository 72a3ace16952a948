"""The renderer itself in PyTorch: the reference engine, on CPU or CUDA.

On CUDA the per-frame paths (``render`` and ``animate``) replay CUDA graphs captured once
per batch bucket (1, 2, 4, ... 64 rows): a batch is padded up to its bucket (larger ones
run in chunks of the largest), so after warm-up a frame costs one graph launch plus the
copies in and out, with no Python-side kernel launches. ``prepare`` runs once per face and
stays eager.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engines._arrays import as_rows, check_blendable, match_batch, split_rows
from engines.base import Engine
from engines.export import (
    RendererFactory,
    default_renderer_factory,
    renderer_dims,
    renderer_parts,
    to_uint8_hwc,
)
from streamface.errors import EngineUnavailableError

if TYPE_CHECKING:
    import torch
    from torch import nn

logger = logging.getLogger(__name__)

GRAPH_BATCHES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
"""Batch buckets that get a CUDA graph; larger batches are cut into chunks of the largest."""


@dataclass(frozen=True)
class TorchPrepared:
    """A face prepared by `TorchEngine.prepare`, kept on the engine's device."""

    prepared: torch.Tensor
    params: torch.Tensor


class _CudaGraph:
    """One captured call of a function on static input buffers of a fixed batch."""

    def __init__(self, fn: Callable[..., torch.Tensor], examples: tuple[torch.Tensor, ...]) -> None:
        import torch

        self.static_in = tuple(e.clone() for e in examples)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(3):  # warm-up: allocator, cuDNN / cuBLAS heuristics, lazy init
                fn(*self.static_in)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.inference_mode():
            self.static_out = fn(*self.static_in)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        for buf, value in zip(self.static_in, inputs, strict=True):
            n = value.shape[0]
            buf[:n].copy_(value, non_blocking=True)
            if n < buf.shape[0]:  # pad with the last row: valid inputs, outputs dropped
                buf[n:].copy_(value[n - 1 : n].expand_as(buf[n:]), non_blocking=True)
        self.graph.replay()
        return self.static_out


class TorchEngine(Engine):
    """The PyTorch renderer as an engine.

    Args:
        size: Image size.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``; default CUDA when available.
        renderer: A built renderer (moved to ``device``); otherwise ``factory(size)``.
        factory: Renderer factory (default: the shipped face renderer).
        cuda_graphs: Replay CUDA graphs for the per-frame paths (CUDA only).
        compile: Fuse the per-frame paths with ``torch.compile`` before capturing them (CUDA
            only; needs Triton). The renderer is ~2,000 elementwise ops, memory-bound when
            unfused; compiling costs tens of seconds per batch bucket on first use, so it
            is off by default and meant for throughput jobs (batch rendering, benchmarks).

    Raises:
        EngineUnavailableError: CUDA was asked for and is not available.
    """

    name = "torch"

    def __init__(
        self,
        size: int = 512,
        *,
        device: str | None = None,
        renderer: nn.Module | None = None,
        factory: RendererFactory | None = None,
        cuda_graphs: bool = True,
        compile: bool = False,
    ) -> None:
        super().__init__(size)
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - torch is a core dependency
            raise EngineUnavailableError(f"torch is not installed ({exc}); pip install torch") from exc
        self._torch = torch
        wanted = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(wanted)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise EngineUnavailableError(
                f"torch {torch.__version__} sees no CUDA GPU; install a CUDA build of torch "
                "on a machine with an NVIDIA GPU, or use --engine onnxruntime"
            )
        module = renderer if renderer is not None else (factory or default_renderer_factory)(size)
        self.renderer = module.to(self.device).eval().requires_grad_(False)
        self._renderer_any: Any = self.renderer
        self.param_dim, self.anim_dim = renderer_dims(self.renderer)
        self.cuda_graphs = cuda_graphs and self.device.type == "cuda"
        self._parts = renderer_parts(self.renderer)
        self._paths: dict[str, Callable[..., torch.Tensor]] = {"full": self._full, "animate": self._animate}
        for part in self._parts:
            self._paths[part] = self._part_path(part)
        if compile and self.device.type == "cuda":
            self._paths = {k: torch.compile(fn, dynamic=False, fullgraph=False) for k, fn in self._paths.items()}
        self._graphs: dict[tuple[Any, ...], _CudaGraph] = {}
        self._lock = threading.Lock()

    # -- the renderer's paths on tensors ------------------------------------------------

    def _full(self, params: torch.Tensor, anim: torch.Tensor) -> torch.Tensor:
        r: Any = self.renderer
        return to_uint8_hwc(r.animate(r.prepare(params), params, anim)).contiguous()

    def _animate(self, prepared: torch.Tensor, params: torch.Tensor, anim: torch.Tensor) -> torch.Tensor:
        r: Any = self.renderer
        return to_uint8_hwc(r.animate(prepared, params, anim)).contiguous()

    def _part_path(self, part: str) -> Callable[..., torch.Tensor]:
        def draw(prepared: torch.Tensor, params: torch.Tensor, anim: torch.Tensor) -> torch.Tensor:
            return to_uint8_hwc(self._renderer_any.part(prepared, params, anim, part)).contiguous()

        return draw

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        tensor = self._torch.from_numpy(array)
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor

    def _run(self, kind: str, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> np.ndarray:
        torch = self._torch
        if not self.cuda_graphs:
            with torch.inference_mode():
                return fn(*inputs).contiguous().cpu().numpy()
        batch = inputs[0].shape[0]
        step = GRAPH_BATCHES[-1]
        out: np.ndarray | None = None
        with self._lock:  # the graphs' static buffers are shared
            for start in range(0, batch, step):
                chunk = tuple(t[start : start + step] for t in inputs)
                n = chunk[0].shape[0]
                bucket = next(b for b in GRAPH_BATCHES if b >= n)
                key = (kind, bucket, *(tuple(t.shape[1:]) for t in chunk))
                graph = self._graphs.get(key)
                if graph is None:
                    logger.debug("capturing a CUDA graph for %s at batch %d", kind, bucket)
                    pad = tuple(c[:1].expand(bucket, *c.shape[1:]).contiguous() for c in chunk)
                    graph = self._graphs[key] = _CudaGraph(fn, pad)
                result = graph(*chunk)
                if out is None:
                    out = np.empty((batch, *result.shape[1:]), np.uint8)
                out[start : start + n] = result[:n].cpu().numpy()
        assert out is not None  # batch >= 1 (as_rows)
        return out

    # -- Engine ----------------------------------------------------------------------

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        anim_rows = as_rows(anim, self.anim_dim, "anim")
        params_rows = match_batch(as_rows(params, self.param_dim, "params"), anim_rows)
        return self._run("full", self._paths["full"], self._tensor(params_rows), self._tensor(anim_rows))

    def prepare(self, params: np.ndarray) -> TorchPrepared:
        rows = self._tensor(as_rows(params, self.param_dim, "params"))
        with self._torch.inference_mode():
            prepared = self._renderer_any.prepare(rows)
        return TorchPrepared(prepared=prepared, params=rows)

    def _matched(self, prepared: Any, anim: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """(face, params, anim rows) of one animate call, the face repeated to the anim batch."""
        if not isinstance(prepared, TorchPrepared):
            prepared = self.prepare(prepared)
        anim_rows = as_rows(anim, self.anim_dim, "anim")
        batch = anim_rows.shape[0]
        face, params = prepared.prepared, prepared.params
        if face.shape[0] != batch:
            if face.shape[0] != 1:
                raise ValueError(f"prepared batch {face.shape[0]} does not match anim batch {batch}")
            face = face.expand(batch, *face.shape[1:])
            params = params.expand(batch, *params.shape[1:])
        return face, params, anim_rows

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        face, params, anim_rows = self._matched(prepared, anim)
        return self._run("animate", self._paths["animate"], face, params, self._tensor(anim_rows))

    @property
    def parts(self) -> tuple[str, ...]:
        return self._parts

    def animate_part(self, prepared: Any, anim: np.ndarray, part: str) -> np.ndarray:
        self.check_part(part)
        face, params, anim_rows = self._matched(prepared, anim)
        return self._run(part, self._paths[part], face, params, self._tensor(anim_rows))

    def animate_many(self, calls: Sequence[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        if len(calls) == 1:
            return [self.animate(*calls[0])]
        parts = [self._matched(prepared, anim) for prepared, anim in calls]
        torch = self._torch
        face = torch.cat([p[0] for p in parts])
        params = torch.cat([p[1] for p in parts])
        anim_t = self._tensor(np.concatenate([p[2] for p in parts]))
        images = self._run("animate", self._paths["animate"], face, params, anim_t)
        return split_rows(images, [p[2].shape[0] for p in parts])

    @property
    def blends(self) -> bool:
        return True

    @property
    def face_layout(self) -> bool:
        from streamface.face.render.compose import FaceRenderer

        return type(self.renderer) is FaceRenderer

    def blend(self, a: Any, b: Any, weight: float) -> TorchPrepared:
        check_blendable(a, b, TorchPrepared)
        w = float(weight)
        with self._torch.inference_mode():
            return TorchPrepared(
                prepared=self._torch.lerp(a.prepared, b.prepared, w),
                params=self._torch.lerp(a.params, b.params, w),
            )

    def close(self) -> None:
        with self._lock:
            self._graphs.clear()
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()
