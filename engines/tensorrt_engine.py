"""TensorRT on an NVIDIA GPU: FP16 engines built from the exported ONNX graphs.

Importing this module raises `EngineUnavailableError` (with the install hint) where the
``tensorrt`` package does not import, so callers treat "not here" like any other engine
that cannot load.

Each ONNX graph (full, prepare, animate at load; a part graph of `animate_part` on its
first use) is built once into a serialized TensorRT 10
engine with FP16 enabled and one optimisation profile over the batch (1 .. ``max_batch``,
tuned for ``opt_batch``), then cached on disk under ``<cache>/tensorrt/`` keyed by the
model hash, the GPU's name and compute capability, the TensorRT version, the precision
and the batch profile; later loads only deserialize. Buffers are torch CUDA tensors, so
no extra CUDA binding is needed; inference runs with ``execute_async_v3`` on one stream.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines._arrays import as_rows, match_batch, split_rows
from engines.base import Engine
from engines.export import GRAPHS, ExportedModel, RendererFactory, cache_root, ensure_exported
from streamface.errors import EngineUnavailableError

INSTALL_HINT = "pip install 'streamface[tensorrt]' on a machine with an NVIDIA GPU"

try:
    import tensorrt as trt
except ImportError as _exc:  # the usual case on CPU machines
    raise EngineUnavailableError(f"TensorRT is not installed ({_exc}); {INSTALL_HINT}") from _exc

logger = logging.getLogger(__name__)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


class TensorRTEngine(Engine):
    """The face renderer as TensorRT engines.

    Args:
        size: Image size.
        fp16: Let TensorRT pick FP16 kernels (default); False builds FP32 engines.
        max_batch: Largest batch of the optimisation profile; larger batches are chunked.
        opt_batch: Batch the kernels are tuned for.
        model: Exported ONNX graphs; otherwise `ensure_exported` is called.
        factory: Renderer factory to export from (default: the shipped face renderer).
        device: CUDA device index.

    Raises:
        EngineUnavailableError: No CUDA GPU is visible to torch, or a build failed.
    """

    name = "tensorrt"

    def __init__(
        self,
        size: int = 512,
        *,
        fp16: bool = True,
        max_batch: int = 64,
        opt_batch: int = 16,
        model: ExportedModel | None = None,
        factory: RendererFactory | None = None,
        device: int = 0,
    ) -> None:
        super().__init__(size)
        import torch

        if not torch.cuda.is_available():
            raise EngineUnavailableError(
                f"TensorRT needs an NVIDIA GPU and a CUDA build of torch (torch {torch.__version__} "
                f"sees none); {INSTALL_HINT}"
            )
        self._torch = torch
        self.device = torch.device("cuda", device)
        self.fp16 = fp16
        self.max_batch = max_batch
        self.opt_batch = min(opt_batch, max_batch)
        self.model = model or ensure_exported(size, factory=factory)
        self._face_layout = model is None and factory is None  # the shipped FaceRenderer
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engines: dict[str, Any] = {}
        self._contexts: dict[str, Any] = {}
        self._lock = threading.Lock()
        with torch.cuda.device(self.device):
            self._stream = torch.cuda.Stream(self.device)
            for graph in GRAPHS:
                engine = self._load_or_build(graph)
                self._engines[graph] = engine
                self._contexts[graph] = engine.create_execution_context()

    # -- building and caching ------------------------------------------------------------

    def engine_path(self, graph: str) -> Path:
        """Where the serialized engine of one graph is cached."""
        torch = self._torch
        gpu = torch.cuda.get_device_name(self.device)
        major, minor = torch.cuda.get_device_capability(self.device)
        precision = "fp16" if self.fp16 else "fp32"
        name = (
            f"{self.model.key[:20]}-{graph}-{_slug(gpu)}-sm{major}{minor}-trt{trt.__version__}"
            f"-{precision}-b{self.opt_batch}x{self.max_batch}.engine"
        )
        return cache_root() / "tensorrt" / name

    def _load_or_build(self, graph: str) -> Any:
        path = self.engine_path(graph)
        if path.is_file():
            engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if engine is not None:
                return engine
            logger.warning("cached TensorRT engine %s does not load; rebuilding it", path.name)
        logger.info("building the TensorRT %s engine for the %s graph (once): %s",
                 "FP16" if self.fp16 else "FP32", graph, path)
        blob = self._build(self.model.path(graph))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".engine", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        engine = self._runtime.deserialize_cuda_engine(blob)
        if engine is None:
            raise EngineUnavailableError(f"TensorRT could not load the engine it built for {graph}")
        return engine

    def _build(self, onnx_path: Path) -> bytes:
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineUnavailableError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 4 << 30)
        if self.fp16 and hasattr(trt.BuilderFlag, "FP16"):
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            rest = tuple(int(d) for d in tuple(tensor.shape)[1:])
            if any(d < 0 for d in rest):
                raise EngineUnavailableError(
                    f"{onnx_path.name}: input {tensor.name} has a dynamic non-batch dimension {rest}"
                )
            profile.set_shape(
                tensor.name, (1, *rest), (self.opt_batch, *rest), (self.max_batch, *rest)
            )
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise EngineUnavailableError(f"TensorRT failed to build an engine from {onnx_path.name}")
        return bytes(serialized)

    # -- running --------------------------------------------------------------------------

    def _graph(self, graph: str) -> tuple[Any, Any]:
        """(engine, context) of a graph; a part's is loaded or built on its first use."""
        if graph not in self._engines:
            engine = self._load_or_build(graph)
            self._contexts[graph] = engine.create_execution_context()
            self._engines[graph] = engine
        return self._engines[graph], self._contexts[graph]

    def _execute(self, graph: str, feeds: dict[str, Any]) -> Any:
        """Run one graph on device tensors (batch <= max_batch); returns its output tensor."""
        torch = self._torch
        engine, context = self._graph(graph)
        output_name = None
        keep = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                tensor = feeds[name].contiguous()
                keep.append(tensor)
                context.set_input_shape(name, tuple(tensor.shape))
                context.set_tensor_address(name, tensor.data_ptr())
            else:
                output_name = name
        if output_name is None:  # pragma: no cover - every exported graph has one output
            raise RuntimeError(f"the TensorRT {graph} engine has no output")
        shape = tuple(context.get_tensor_shape(output_name))
        dtype = torch.from_numpy(np.empty(0, trt.nptype(engine.get_tensor_dtype(output_name)))).dtype
        out = torch.empty(shape, dtype=dtype, device=self.device)
        context.set_tensor_address(output_name, out.data_ptr())
        self._stream.wait_stream(torch.cuda.current_stream(self.device))
        if not context.execute_async_v3(self._stream.cuda_stream):
            raise RuntimeError(f"TensorRT {graph} inference failed")
        self._stream.synchronize()
        return out

    def _images(self, graph: str, feeds: dict[str, np.ndarray | Any]) -> np.ndarray:
        torch = self._torch
        device_feeds = {
            k: (torch.from_numpy(v).to(self.device) if isinstance(v, np.ndarray) else v)
            for k, v in feeds.items()
        }
        batch = next(iter(device_feeds.values())).shape[0]
        out: np.ndarray | None = None
        with self._lock, torch.cuda.device(self.device):
            for start in range(0, batch, self.max_batch):
                chunk = {k: v[start : start + self.max_batch] for k, v in device_feeds.items()}
                images = self._execute(graph, chunk)
                if out is None:
                    out = np.empty((batch, *images.shape[1:]), np.uint8)
                out[start : start + images.shape[0]] = images.cpu().numpy()
        assert out is not None  # batch >= 1 (as_rows)
        return out

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        anim_rows = as_rows(anim, self.model.anim_dim, "anim")
        params_rows = match_batch(as_rows(params, self.model.param_dim, "params"), anim_rows)
        return self._images("full", {"params": params_rows, "anim": anim_rows})

    def prepare(self, params: np.ndarray) -> tuple[Any, Any]:
        torch = self._torch
        rows = as_rows(params, self.model.param_dim, "params")
        rows_t = torch.from_numpy(rows).to(self.device)
        parts = []
        with self._lock, torch.cuda.device(self.device):
            for start in range(0, rows.shape[0], self.max_batch):
                chunk = rows_t[start : start + self.max_batch]
                parts.append(self._execute("prepare", {"params": chunk}))
        return torch.cat(parts), rows_t

    def _matched(self, prepared: Any, anim: np.ndarray) -> tuple[Any, Any, np.ndarray]:
        """(face, params, anim rows) of one animate call, the face repeated to the anim batch."""
        if not isinstance(prepared, tuple):
            prepared = self.prepare(prepared)
        face, params = prepared
        anim_rows = as_rows(anim, self.model.anim_dim, "anim")
        batch = anim_rows.shape[0]
        if face.shape[0] != batch:
            if face.shape[0] != 1:
                raise ValueError(f"prepared batch {face.shape[0]} does not match anim batch {batch}")
            face = face.expand(batch, *face.shape[1:])
            params = params.expand(batch, *params.shape[1:])
        return face, params, anim_rows

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        face, params, anim_rows = self._matched(prepared, anim)
        return self._images("animate", {"prepared": face, "params": params, "anim": anim_rows})

    def animate_many(self, calls: Sequence[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        if len(calls) == 1:
            return [self.animate(*calls[0])]
        torch = self._torch
        parts = [self._matched(prepared, anim) for prepared, anim in calls]
        feeds = {
            "prepared": torch.cat([p[0] for p in parts]).contiguous(),
            "params": torch.cat([p[1] for p in parts]).contiguous(),
            "anim": np.concatenate([p[2] for p in parts]),
        }
        return split_rows(self._images("animate", feeds), [p[2].shape[0] for p in parts])

    @property
    def parts(self) -> tuple[str, ...]:
        return self.model.parts

    def animate_part(self, prepared: Any, anim: np.ndarray, part: str) -> np.ndarray:
        self.check_part(part)
        face, params, anim_rows = self._matched(prepared, anim)
        return self._images(part, {"prepared": face, "params": params, "anim": anim_rows})

    @property
    def face_layout(self) -> bool:
        return self._face_layout

    def close(self) -> None:
        with self._lock:
            self._contexts.clear()
            self._engines.clear()
