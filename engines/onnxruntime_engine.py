"""ONNX Runtime on the CPU: the default engine, available everywhere.

Threads: each call runs on ``threads`` cores (default 1, no thread pool at all). That
keeps a frame's latency predictable and lets a server scale by running several calls at
once: an `OnnxRuntimeEngine` is safe to share between sessions and threads (ONNX
Runtime's ``run`` is thread-safe), so the server holds one engine and calls it from a
worker pool with about one worker per core. Raise ``threads`` only for a single
consumer that wants one frame as fast as possible (e.g. an offline render).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines._arrays import as_rows, check_blendable, match_batch, split_rows
from engines.base import Engine
from engines.export import ExportedModel, RendererFactory, ensure_exported, run_session
from engines.face_split import split_graph
from streamface.errors import EngineUnavailableError

logger = logging.getLogger(__name__)

EAGER_GRAPHS: tuple[str, ...] = ("prepare", "animate", "eyes", "mouth")
"""Graphs built at load time by default (the per-frame path: whole frames and the patches
`animate_part` draws for composed ones); the others on first use."""


@dataclass(frozen=True)
class OrtPrepared:
    """A face prepared by `OnnxRuntimeEngine.prepare`: the prepare graph's output and params.

    ``faces`` holds, per per-frame graph (a part, or ``animate``), the face's own tensors
    of that graph (see `engines.face_split`), computed on the second call for the face: a
    morph's blended faces draw one patch or frame each and never pay for them.
    """

    prepared: np.ndarray
    params: np.ndarray
    faces: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class _Split:
    """A per-frame graph's two halves as sessions (`engines.face_split.SplitGraph`)."""

    face: Any
    frame: Any
    face_tensors: tuple[str, ...]
    inputs: frozenset[str]
    """What ``frame`` reads besides the face tensors."""
    output: str


class OnnxRuntimeEngine(Engine):
    """The renderer's exported ONNX graphs on ONNX Runtime's CPU provider.

    Args:
        size: Image size; the model is exported for it on first use (then cached).
        threads: Cores one call may use (intra-op threads). Default 1.
        model: Already exported graphs; otherwise `ensure_exported` is called.
        factory: Renderer factory to export from (default: the shipped face renderer).
        eager: Graphs to build now; the others are read now and built on first use
            (default: the per-frame ones; ``()`` for a still, which needs only ``full``).
    """

    name = "onnxruntime"

    def __init__(
        self,
        size: int = 512,
        *,
        threads: int = 1,
        model: ExportedModel | None = None,
        factory: RendererFactory | None = None,
        eager: Iterable[str] = EAGER_GRAPHS,
    ) -> None:
        super().__init__(size)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EngineUnavailableError(
                f"onnxruntime is not installed ({exc}); pip install onnxruntime"
            ) from exc
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self._ort = ort
        self.threads = threads
        self.model = model or ensure_exported(size, factory=factory)
        self._face_layout = model is None and factory is None  # the shipped FaceRenderer
        if self.model.size != size:
            raise ValueError(f"model is for {self.model.size} px, engine for {size} px")
        # The per-frame graphs load now: a failure shows at load time, not on the first
        # frame. The full graph (stills, `render`) is read now but built on first use:
        # building it costs about 0.4 s that a live session or a video never needs (and
        # a still needs only it). Bytes are held, so a later re-export elsewhere cannot
        # pull a file away.
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._pending: dict[str, bytes] = {}
        # Per-frame graphs split into a face half and a frame half (`engines.face_split`),
        # built with them: built on a face's second frame instead (`_split_of`), the
        # animate graph's halves cost the render thread about 0.2 s of CPU at the first
        # face change of the process (six frames late for that caller).
        self._splits: dict[str, _Split | None] = {}
        build_now = frozenset(eager)
        for graph in self.model.graphs:
            if graph in build_now:
                self._sessions[graph] = self._build(str(self.model.path(graph)))
                if graph in self.model.parts or graph == "animate":
                    self._splits[graph] = self._split(self.model.path(graph).read_bytes())
            else:
                self._pending[graph] = self.model.path(graph).read_bytes()

    def _build(self, source: str | bytes) -> Any:
        return self._ort.InferenceSession(source, self._options(), providers=["CPUExecutionProvider"])

    def _options(self) -> Any:
        ort = self._ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if self.threads > 1:
            # Spinning workers burn cores that other sessions' calls could use.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options

    def _split(self, graph: bytes) -> _Split | None:
        made = split_graph(graph)
        if made is None:
            return None
        frame = self._build(made.frame)
        return _Split(
            face=self._build(made.face),
            frame=frame,
            face_tensors=made.face_tensors,
            inputs=frozenset(i.name for i in frame.get_inputs()),
            output=frame.get_outputs()[0].name,
        )

    def _session(self, graph: str) -> Any:
        session = self._sessions.get(graph)
        if session is None:
            with self._lock:
                session = self._sessions.get(graph)
                pending = self._pending.get(graph)
                if session is None and pending is not None:
                    session = self._sessions[graph] = self._build(pending)
                    del self._pending[graph]
        if session is None:
            raise RuntimeError(f"{self.name} engine is closed")
        return session

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        anim_rows = as_rows(anim, self.model.anim_dim, "anim")
        params_rows = match_batch(as_rows(params, self.model.param_dim, "params"), anim_rows)
        return run_session(self._session("full"), {"params": params_rows, "anim": anim_rows})

    def prepare(self, params: np.ndarray) -> OrtPrepared:
        rows = as_rows(params, self.model.param_dim, "params")
        prepared = run_session(self._session("prepare"), {"params": rows})
        return OrtPrepared(prepared=prepared, params=rows)

    def _animate_feeds(self, prepared: Any, anim: np.ndarray) -> dict[str, np.ndarray]:
        if not isinstance(prepared, OrtPrepared):
            prepared = self.prepare(prepared)
        anim_rows = as_rows(anim, self.model.anim_dim, "anim")
        return {
            "prepared": match_batch(prepared.prepared, anim_rows, "prepared"),
            "params": match_batch(prepared.params, anim_rows),
            "anim": anim_rows,
        }

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        return self._run_per_frame("animate", prepared, anim)

    @property
    def parts(self) -> tuple[str, ...]:
        return self.model.parts

    def animate_part(self, prepared: Any, anim: np.ndarray, part: str) -> np.ndarray:
        self.check_part(part)
        return self._run_per_frame(part, prepared, anim)

    def _run_per_frame(self, graph: str, prepared: Any, anim: np.ndarray) -> np.ndarray:
        """Run a per-frame graph; for one face and one row, its face half once per face.

        A face's own tensors of the graph are computed on its second call, then only the
        animated nodes run: the same operations, so the same bytes (a whole frame at 512 px
        is about a third cheaper, a cell more).
        """
        anim_rows = as_rows(anim, self.model.anim_dim, "anim")
        split = None
        if isinstance(prepared, OrtPrepared) and prepared.params.shape[0] == 1 and anim_rows.shape[0] == 1:
            if graph in prepared.faces:
                split = self._split_of(graph)
            else:
                prepared.faces[graph] = None  # seen once
        if split is None:
            return run_session(self._session(graph), self._animate_feeds(prepared, anim_rows))
        assert isinstance(prepared, OrtPrepared)
        ort_value = self._ort.OrtValue.ortvalue_from_numpy
        params = ort_value(prepared.params)
        tensors = prepared.faces[graph]
        if tensors is None:
            values = split.face.run_with_ort_values(list(split.face_tensors), {"params": params})
            tensors = prepared.faces[graph] = dict(zip(split.face_tensors, values, strict=True))
        feeds = {"prepared": ort_value(prepared.prepared), "params": params, "anim": ort_value(anim_rows)}
        feeds = {k: v for k, v in feeds.items() if k in split.inputs} | tensors
        return np.asarray(split.frame.run_with_ort_values([split.output], feeds)[0].numpy())

    def _split_of(self, graph: str) -> _Split | None:
        """The graph's halves (built with the graph, else on first need), or None where it
        has no face half."""
        if graph in self._splits:
            return self._splits[graph]
        with self._lock:
            if graph not in self._sessions and graph not in self._pending:
                return None  # closed
            if graph not in self._splits:
                self._splits[graph] = self._split(self.model.path(graph).read_bytes())
            return self._splits[graph]

    def animate_many(self, calls: Sequence[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        if len(calls) == 1:
            return [self.animate(*calls[0])]
        faces: list[np.ndarray] = []
        params: list[np.ndarray] = []
        anims: list[np.ndarray] = []
        for prepared, anim in calls:
            if not isinstance(prepared, OrtPrepared):
                prepared = self.prepare(prepared)
            anim_rows = as_rows(anim, self.model.anim_dim, "anim")
            faces.append(match_batch(prepared.prepared, anim_rows, "prepared"))
            params.append(match_batch(prepared.params, anim_rows))
            anims.append(anim_rows)
        feeds = {
            "prepared": np.concatenate(faces),
            "params": np.concatenate(params),
            "anim": np.concatenate(anims),
        }
        images = run_session(self._session("animate"), feeds)
        return split_rows(images, [a.shape[0] for a in anims])

    @property
    def blends(self) -> bool:
        return True

    @property
    def face_layout(self) -> bool:
        return self._face_layout

    def blend(self, a: Any, b: Any, weight: float) -> OrtPrepared:
        check_blendable(a, b, OrtPrepared)
        w = np.float32(weight)
        image = np.subtract(b.prepared, a.prepared)
        image *= w
        image += a.prepared
        params = (a.params + w * (b.params - a.params)).astype(np.float32)
        return OrtPrepared(prepared=image, params=params)

    def close(self) -> None:
        with self._lock:
            self._sessions = {}
            self._pending = {}
            self._splits = {}
