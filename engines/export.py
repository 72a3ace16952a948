"""Export the face renderer to ONNX, once, into an on-disk cache.

The default face model ships as code, not as a downloaded file: the first engine that
needs it exports `streamface.face.renderer.FaceRenderer` to ONNX (one log line) and caches
the graphs under ``~/.cache/streamface/models/`` (``$XDG_CACHE_HOME`` is honoured;
``$STREAMFACE_CACHE_DIR`` replaces the whole cache root). The cache key hashes the
renderer's source (its module and the package modules it imports), its weights and
buffers, the image size, this exporter's source, and the torch / onnx versions, so a
changed renderer is re-exported and an unchanged one never is.

Three graphs, each with a dynamic batch dimension and the image converted in-graph to
uint8 [B, H, W, 3] RGB:

* ``full.onnx``: ``params[B, P], anim[B, A] -> image``
* ``prepare.onnx``: ``params[B, P] -> prepared`` (what depends only on the face)
* ``animate.onnx``: ``prepared, params[B, P], anim[B, A] -> image`` (the per-frame path)

and, for a renderer that draws named patches (`FaceRenderer.part`: ``PARTS``), one graph
per patch, ``<part>.onnx``: ``prepared, params, anim -> image`` of that patch only
(uint8 [B, h, w, 3], the frame's pixels in the part's box at zero pose).

Every fresh export is checked against torch (mean absolute error at most 1/255 on
random faces and poses) before it is cached.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

logger = logging.getLogger(__name__)

OPSET = 17
"""ONNX opset of the exported graphs (TensorRT 10 and ONNX Runtime 1.18+ both take it)."""

MAX_MAE_U8 = 1.0
"""Largest mean absolute difference, in uint8 levels (1/255), between ONNX and torch."""

GRAPHS: tuple[str, ...] = ("full", "prepare", "animate")
"""The exported graphs, each saved as ``<name>.onnx`` in the model's cache folder."""

INPUTS: dict[str, tuple[str, ...]] = {
    "full": ("params", "anim"),
    "prepare": ("params",),
    "animate": ("prepared", "params", "anim"),
}
"""Input names of each graph, in order. Output: ``image`` (``prepared`` for prepare).
A part graph takes the inputs of ``animate``."""

RendererFactory = Callable[[int], "nn.Module"]
"""Builds a renderer for an image size: ``factory(size) -> nn.Module``."""

_export_lock = threading.Lock()


def cache_root() -> Path:
    """StreamFace's cache folder: ``$STREAMFACE_CACHE_DIR``, else the XDG cache dir."""
    override = os.environ.get("STREAMFACE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "streamface"


def default_renderer_factory(size: int) -> nn.Module:
    """The shipped face renderer at ``size`` pixels."""
    from streamface.face.renderer import FaceRenderer

    return FaceRenderer(size)


@dataclass(frozen=True)
class ExportedModel:
    """A cached set of ONNX graphs of one renderer at one size.

    Attributes:
        key: Hex digest identifying the renderer source, weights, size and exporter.
        size: Output width and height in pixels.
        param_dim: Face parameters per row (P).
        anim_dim: Animation inputs per row (A).
        prepared_shape: Shape of one row of the prepared tensor (without the batch).
        directory: Folder holding ``full.onnx``, ``prepare.onnx``, ``animate.onnx``.
        parts: Part graphs also held (``<part>.onnx``; see `FaceRenderer.part`).
    """

    key: str
    size: int
    param_dim: int
    anim_dim: int
    prepared_shape: tuple[int, ...]
    directory: Path
    parts: tuple[str, ...] = ()

    @property
    def graphs(self) -> tuple[str, ...]:
        """Every graph held: `GRAPHS` then the parts."""
        return GRAPHS + self.parts

    def path(self, graph: str) -> Path:
        """Path of one graph (``full``, ``prepare``, ``animate`` or a part)."""
        if graph not in self.graphs:
            raise ValueError(f"unknown graph {graph!r}; one of {self.graphs}")
        return self.directory / f"{graph}.onnx"

    @classmethod
    def load(cls, directory: Path) -> ExportedModel:
        """Read a cached model's metadata (raises OSError / ValueError when incomplete)."""
        meta = json.loads((directory / "meta.json").read_text())
        model = cls(
            key=str(meta["key"]),
            size=int(meta["size"]),
            param_dim=int(meta["param_dim"]),
            anim_dim=int(meta["anim_dim"]),
            prepared_shape=tuple(int(d) for d in meta["prepared_shape"]),
            directory=directory,
            parts=tuple(str(p) for p in meta.get("parts", ())),
        )
        for graph in model.graphs:
            if not model.path(graph).is_file():
                raise ValueError(f"{model.path(graph)} is missing")
        return model


# ---------------------------------------------------------------------------- uint8 output


def to_uint8_hwc(image: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] float in [0, 1] -> [B, H, W, 3] uint8, rounded to nearest.

    The same function runs in the exported graphs and in the torch engine, so every
    engine quantises identically.
    """
    import torch

    quantised = torch.round(image.clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    return quantised.permute(0, 2, 3, 1)


def _graph_modules(renderer: nn.Module) -> dict[str, nn.Module]:
    from torch import nn

    class Full(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.renderer = renderer

        def forward(self, params: torch.Tensor, anim: torch.Tensor) -> torch.Tensor:
            # The renderer's own forward (``animate`` of ``prepare``, which may share work
            # between the two that the split graphs cannot).
            return to_uint8_hwc(self.renderer(params, anim))

    class Prepare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.renderer = renderer

        def forward(self, params: torch.Tensor) -> torch.Tensor:
            r: Any = self.renderer
            prepared: torch.Tensor = r.prepare(params)
            return prepared

    class Animate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.renderer = renderer

        def forward(
            self, prepared: torch.Tensor, params: torch.Tensor, anim: torch.Tensor
        ) -> torch.Tensor:
            r: Any = self.renderer
            return to_uint8_hwc(r.animate(prepared, params, anim))

    class Part(nn.Module):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.renderer = renderer
            self.name = name

        def forward(
            self, prepared: torch.Tensor, params: torch.Tensor, anim: torch.Tensor
        ) -> torch.Tensor:
            r: Any = self.renderer
            return to_uint8_hwc(r.part(prepared, params, anim, self.name))

    graphs: dict[str, nn.Module] = {"full": Full().eval(), "prepare": Prepare().eval(), "animate": Animate().eval()}
    for name in renderer_parts(renderer):
        graphs[name] = Part(name).eval()
    return graphs


def renderer_parts(renderer: nn.Module) -> tuple[str, ...]:
    """The patches a renderer draws alone (`FaceRenderer.part`), () when it has none."""
    if not callable(getattr(renderer, "part", None)):
        return ()
    return tuple(str(p) for p in getattr(renderer, "PARTS", ()))


# ---------------------------------------------------------------------------- dimensions


def renderer_dims(renderer: nn.Module) -> tuple[int, int]:
    """(P, A): the renderer's ``param_dim`` / ``anim_dim`` or the face package's constants."""
    param_dim = getattr(renderer, "param_dim", None)
    anim_dim = getattr(renderer, "anim_dim", None)
    if param_dim is None:
        from streamface.face.params import PARAM_DIM

        param_dim = PARAM_DIM
    if anim_dim is None:
        from streamface.face.animation import ANIM_DIM

        anim_dim = ANIM_DIM
    return int(param_dim), int(anim_dim)


def sample_inputs(
    batch: int, param_dim: int, anim_dim: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random but plausible (params, anim) rows for checks and benchmarks.

    Params are uniform in [0, 1] (the face model's normalised range); animation rows
    follow `FaceAnimation`'s ranges: openness, convex viseme mix, blink, gaze, head
    rotation within ±10 degrees, breathing phase.
    """
    rng = np.random.default_rng(seed)
    params = rng.uniform(0.0, 1.0, (batch, param_dim)).astype(np.float32)
    params = _face_params_sample(rng, batch, param_dim, params)
    anim = np.zeros((batch, anim_dim), np.float32)
    if anim_dim >= 13:
        anim[:, 0] = rng.uniform(0, 1, batch)
        anim[:, 1:6] = rng.dirichlet(np.ones(5), batch)
        anim[:, 6] = rng.uniform(0, 1, batch) ** 3  # mostly open eyes
        anim[:, 7:9] = rng.uniform(-1, 1, (batch, 2))
        anim[:, 9:12] = rng.uniform(-10, 10, (batch, 3))
        anim[:, 12] = rng.uniform(0, 1, batch)
    else:
        anim[:] = rng.uniform(0, 1, (batch, anim_dim))
    return params, anim


def _face_params_sample(
    rng: np.random.Generator, batch: int, param_dim: int, fallback: np.ndarray
) -> np.ndarray:
    """Sample within the face model's declared bounds when it declares them."""
    try:
        from streamface.face import params as face_params
    except ImportError:
        return fallback
    low = getattr(face_params, "PARAM_LOW", None)
    high = getattr(face_params, "PARAM_HIGH", None)
    if low is None or high is None:
        return fallback
    low_a = np.asarray(low, np.float32).reshape(-1)
    high_a = np.asarray(high, np.float32).reshape(-1)
    if low_a.shape != (param_dim,) or high_a.shape != (param_dim,):
        return fallback
    return (low_a + (high_a - low_a) * rng.uniform(0, 1, (batch, param_dim))).astype(np.float32)


# ---------------------------------------------------------------------------- cache key


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imported_names(path: Path, module_name: str) -> set[str]:
    """Absolute names of the modules a source file imports (``a.b`` and ``a.b.c``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod:
                names.add(mod)
                names.update(f"{mod}.{alias.name}" for alias in node.names)
    return names


def source_files(module_name: str) -> list[Path]:
    """The module's file and, recursively, the files of same-package modules it imports."""
    return _walk_sources(module_name, _module_file)


def _walk_sources(module_name: str, locate: Callable[[str], Path | None]) -> list[Path]:
    """The files ``locate`` finds for the module and the same-package modules it imports."""
    top = module_name.partition(".")[0]
    seen: dict[str, Path] = {}
    todo = [module_name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = locate(name)
        if path is None:
            continue
        seen[name] = path
        for imported in _imported_names(path, name):
            if imported.partition(".")[0] == top and imported not in seen:
                todo.append(imported)
    return sorted(set(seen.values()))


def model_key(renderer: nn.Module, size: int) -> str:
    """Hex digest of everything the exported graphs depend on."""
    from importlib.metadata import version

    import torch

    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(data).to_bytes(8, "little") + data)

    module_name = type(renderer).__module__
    files = source_files(module_name)
    if not files:  # defined somewhere without a findable file (e.g. __main__)
        add("class-source", inspect.getsource(type(renderer)).encode())
    for path in files:
        add(f"source:{path.name}", path.read_bytes())
    add("exporter", Path(__file__).read_bytes())
    for name, tensor in sorted(renderer.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        add(f"tensor:{name}:{t.dtype}:{tuple(t.shape)}", t.numpy().tobytes())
    param_dim, anim_dim = renderer_dims(renderer)
    add("config", f"{type(renderer).__qualname__}|{size}|{param_dim}|{anim_dim}|{OPSET}".encode())
    add("versions", f"torch={torch.__version__}|onnx={version('onnx')}".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- quick key

DEFAULT_RENDERER_MODULE = "streamface.face.render.compose"
"""Where the shipped `FaceRenderer` is defined (its source decides the quick key)."""


def quick_key(size: int) -> str | None:
    """A key of the shipped renderer's export computed without torch (None if unknown).

    `model_key` hashes the built renderer's weights, which needs torch and the renderer
    built (about 1.5 s of start-up). The shipped renderer's weights are computed from
    its source alone (seeded numpy and torch arithmetic, no files), so its source files,
    this exporter's source, the size and the torch / numpy / onnx versions decide them:
    this key hashes exactly those. `ensure_exported` records which export each quick key
    led to (``models/quick/<key>``) and, on the next start, loads that export without
    importing torch. A source change gives a new quick key, so the full path runs again.
    """
    from importlib.metadata import PackageNotFoundError, version

    files = _package_sources(DEFAULT_RENDERER_MODULE)
    if not files:
        return None
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(data).to_bytes(8, "little") + data)

    for path in files:
        add(f"source:{path.name}", path.read_bytes())
    add("exporter", Path(__file__).read_bytes())
    try:
        versions = "|".join(f"{p}={version(p)}" for p in ("torch", "numpy", "onnx"))
    except PackageNotFoundError:
        return None
    add("config", f"{DEFAULT_RENDERER_MODULE}|{size}|{OPSET}|{versions}".encode())
    return digest.hexdigest()


def _package_sources(module_name: str) -> list[Path]:
    """`source_files` found by path alone: `importlib.util.find_spec` of a submodule imports
    its parent packages, and one of the renderer's modules imports torch."""
    top, _, _ = module_name.partition(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.origin or not spec.origin.endswith("__init__.py"):
        return []
    root = Path(spec.origin).parent

    def locate(name: str) -> Path | None:
        base = root.joinpath(*name.split(".")[1:])
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    return _walk_sources(module_name, locate)


def _quick_lookup(models: Path, quick: str) -> ExportedModel | None:
    try:
        name = (models / "quick" / quick).read_text().strip()
        if not name or "/" in name or name.startswith("."):
            return None
        return ExportedModel.load(models / name)
    except (OSError, ValueError, KeyError):
        return None


def _quick_record(models: Path, quick: str, model: ExportedModel) -> None:
    """Remember the export for this quick key (atomically); drop entries of removed exports."""
    folder = models / "quick"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.name != quick and not (models / old.read_text().strip()).is_dir():
                old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".quick-", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(model.directory.name + "\n")
        os.replace(tmp, folder / quick)
    except OSError as exc:  # a read-only cache only costs the slow path next time
        logger.debug("could not record the quick key: %s", exc)


# ---------------------------------------------------------------------------- export


def ensure_exported(
    size: int = 512,
    *,
    renderer: nn.Module | None = None,
    factory: RendererFactory | None = None,
    cache_dir: Path | None = None,
    verify: bool = True,
) -> ExportedModel:
    """The cached ONNX graphs of a renderer, exporting them on first use.

    Args:
        size: Image size the renderer is built for.
        renderer: A built renderer; otherwise ``factory(size)``.
        factory: Builds the renderer; default: the shipped `FaceRenderer`.
        cache_dir: Cache root (default `cache_root()`); models go to ``<root>/models``.
        verify: Check the fresh export against torch before caching it.

    Raises:
        ExportMismatchError: The ONNX graphs disagree with torch.
    """
    models = (cache_dir or cache_root()) / "models"
    quick = quick_key(size) if renderer is None and factory is None else None
    if quick is not None:
        cached = _quick_lookup(models, quick)
        if cached is not None:
            return cached
    if renderer is None:
        renderer = (factory or default_renderer_factory)(size)
    renderer = renderer.eval()
    key = model_key(renderer, size)
    final = models / f"{type(renderer).__name__.lower()}-{size}-{key[:20]}"
    model = _ensure_at(renderer, size, key, models, final, verify)
    if quick is not None:
        _quick_record(models, quick, model)
    return model


def _ensure_at(
    renderer: nn.Module, size: int, key: str, models: Path, final: Path, verify: bool
) -> ExportedModel:
    with _export_lock:
        try:
            return ExportedModel.load(final)
        except (OSError, ValueError, KeyError):
            pass
        logger.info(
            "preparing the face model for %d px: exporting it to ONNX once (about a minute on one core), "
            "cached in %s", size, final.parent,
        )
        models.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=models))
        try:
            model = _export(renderer, size, key, tmp)
            if verify:
                check_export(renderer, model)
            try:
                os.replace(tmp, final)  # atomic: other processes see all or nothing
            except OSError:  # another process finished first: keep theirs
                if not (final / "meta.json").is_file():
                    shutil.rmtree(final, ignore_errors=True)
                    os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(final)
        return ExportedModel.load(final)


def _prune(keep: Path) -> None:
    """Remove older exports of the same renderer and size (tens of MB each at 512 px)."""
    prefix = keep.name[: keep.name.rindex("-") + 1]
    for old in keep.parent.glob(f"{prefix}*"):
        if old != keep and old.is_dir():
            logger.debug("removing the outdated export %s", old)
            shutil.rmtree(old, ignore_errors=True)


class ExportMismatchError(RuntimeError):
    """An exported graph's output differs from the torch renderer's beyond tolerance."""


def _export(renderer: nn.Module, size: int, key: str, directory: Path) -> ExportedModel:
    import torch
    from tqdm import tqdm

    param_dim, anim_dim = renderer_dims(renderer)
    params_np, anim_np = sample_inputs(2, param_dim, anim_dim, seed=1)
    params, anim = torch.from_numpy(params_np), torch.from_numpy(anim_np)
    module: Any = renderer
    with torch.no_grad():
        prepared = module.prepare(params)
    example = {"params": params, "anim": anim, "prepared": prepared}
    graphs = _graph_modules(renderer)
    # shown on a terminal only (disable=None): the one long wait a new user meets
    for name, module in tqdm(graphs.items(), desc="face model", unit="graph", disable=None, leave=False):
        inputs = INPUTS.get(name, INPUTS["animate"])
        output = "prepared" if name == "prepare" else "image"
        path = directory / f"{name}.onnx"
        with torch.no_grad(), _quiet_export():
            torch.onnx.export(
                module,
                tuple(example[i] for i in inputs),
                str(path),
                input_names=list(inputs),
                output_names=[output],
                dynamic_axes={n: {0: "batch"} for n in (*inputs, output)},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    meta = {
        "key": key,
        "size": size,
        "param_dim": param_dim,
        "anim_dim": anim_dim,
        "prepared_shape": list(prepared.shape[1:]),
        "renderer": f"{type(renderer).__module__}.{type(renderer).__qualname__}",
        "opset": OPSET,
        "parts": list(renderer_parts(renderer)),
    }
    (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return ExportedModel.load(directory)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the TorchScript exporter's deprecation and tracer chatter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            from torch.jit import TracerWarning

            warnings.simplefilter("ignore", TracerWarning)
        except ImportError:  # pragma: no cover - older torch
            pass
        yield


def torch_reference(
    renderer: nn.Module, params: np.ndarray, anim: np.ndarray
) -> np.ndarray:
    """The renderer's own output in uint8 [B, H, W, 3]: what every engine is checked against."""
    import torch

    with torch.no_grad():
        image = renderer(torch.from_numpy(params), torch.from_numpy(anim))
        return to_uint8_hwc(image).contiguous().numpy()


def torch_part(renderer: nn.Module, prepared: np.ndarray, params: np.ndarray, anim: np.ndarray, name: str) -> np.ndarray:
    """The renderer's own patch ``name`` in uint8 [B, h, w, 3] (see `FaceRenderer.part`)."""
    import torch

    module: Any = renderer
    with torch.no_grad():
        image = module.part(torch.from_numpy(prepared), torch.from_numpy(params), torch.from_numpy(anim), name)
        return to_uint8_hwc(image).contiguous().numpy()


def mae_u8(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, in levels (divide by 255 for [0, 1])."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def check_export(renderer: nn.Module, model: ExportedModel, batch: int = 3) -> dict[str, float]:
    """Compare the exported graphs with torch on random rows; raise when off.

    Returns:
        The MAE (uint8 levels) of the full graph, of prepare followed by animate, and of
        each part graph (against the renderer's own ``part``).
    """
    import onnxruntime as ort

    params, anim = sample_inputs(batch, model.param_dim, model.anim_dim, seed=7)
    reference = torch_reference(renderer, params, anim)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sessions = {
        g: ort.InferenceSession(str(model.path(g)), options, providers=["CPUExecutionProvider"])
        for g in model.graphs
    }
    full = run_session(sessions["full"], {"params": params, "anim": anim})
    prepared = run_session(sessions["prepare"], {"params": params})
    split = run_session(sessions["animate"], {"prepared": prepared, "params": params, "anim": anim})
    errors = {"full": mae_u8(full, reference), "prepare+animate": mae_u8(split, reference)}
    for name in model.parts:
        patch = run_session(sessions[name], {"prepared": prepared, "params": params, "anim": anim})
        errors[name] = mae_u8(patch, torch_part(renderer, prepared, params, anim, name))
    bad = {k: v for k, v in errors.items() if v > MAX_MAE_U8}
    if bad:
        raise ExportMismatchError(
            f"ONNX export of {type(renderer).__name__} differs from torch: "
            + ", ".join(f"{k} MAE {v:.2f}/255" for k, v in bad.items())
        )
    logger.debug("ONNX export matches torch: %s", errors)
    return errors


def run_session(session: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Run an ONNX Runtime session on the inputs it declares (exporters may drop unused ones)."""
    wanted = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]


if __name__ == "__main__":  # pragma: no cover - `python -m engines.export [SIZE]`
    logging.basicConfig(level=logging.INFO)
    exported = ensure_exported(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
    print(exported.directory)
