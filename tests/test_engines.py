"""Engines: ONNX export and its cache, every available engine against the torch reference,
dynamic batches, the per-frame path, selection and fallback.

The machinery is tested on `fakes.TinyRenderer` (fast, same interface as the face
renderer); the shipped `FaceRenderer` is checked too, at a small size. Engines that cannot
run here (CUDA, TensorRT) are skipped with the reason.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_util import private_cache
from fakes import FakeEngine, TinyRenderer, UnloadableEngine, tiny_renderer_factory

from engines.base import Engine
from engines.export import (
    GRAPHS,
    ExportedModel,
    ensure_exported,
    mae_u8,
    model_key,
    sample_inputs,
    torch_reference,
)
from engines.select import ENGINE_NAMES, FallbackEngine, load_engine
from streamface.errors import EngineUnavailableError

torch = pytest.importorskip("torch")

SIZE = 32
BATCHES = (1, 3, 8)
MAX_MAE = 1.0  # uint8 levels, i.e. 1/255

HAS_CUDA = torch.cuda.is_available()
NO_CUDA = f"no CUDA GPU here (torch {torch.__version__})"


def _tensorrt_import_error() -> str | None:
    try:
        importlib.import_module("engines.tensorrt_engine")
    except EngineUnavailableError as exc:
        return str(exc)
    return None


TRT_ERROR = _tensorrt_import_error()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from private_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def tiny() -> Any:
    return TinyRenderer(SIZE)


@pytest.fixture(scope="module")
def tiny_model(cache_dir: Path, tiny: Any) -> ExportedModel:
    return ensure_exported(SIZE, renderer=tiny)


@pytest.fixture(scope="module")
def ort_engine(tiny_model: ExportedModel) -> Engine:
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    return OnnxRuntimeEngine(SIZE, model=tiny_model)


@pytest.fixture(scope="module")
def torch_cpu_engine(tiny: Any) -> Engine:
    from engines.torch_engine import TorchEngine

    return TorchEngine(SIZE, device="cpu", renderer=tiny)


def _inputs(batch: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return sample_inputs(batch, 8, 13, seed=seed)


# ---------------------------------------------------------------------------- export


def test_export_writes_three_uint8_graphs_with_dynamic_batch(tiny_model: ExportedModel) -> None:
    import onnx

    for graph in GRAPHS:
        model = onnx.load(str(tiny_model.path(graph)))
        for value in (*model.graph.input, *model.graph.output):
            assert value.type.tensor_type.shape.dim[0].dim_param == "batch", (graph, value.name)
        out = model.graph.output[0]
        if graph == "prepare":
            assert out.name == "prepared"
        else:
            assert out.name == "image"
            assert out.type.tensor_type.elem_type == onnx.TensorProto.UINT8
            assert out.type.tensor_type.shape.dim[3].dim_value == 3  # [B, H, W, 3]
    assert tiny_model.prepared_shape == (4, SIZE, SIZE)


def test_export_is_cached_and_keyed_by_renderer(
    cache_dir: Path, tiny: Any, tiny_model: ExportedModel, caplog: pytest.LogCaptureFixture
) -> None:
    mtime = tiny_model.path("full").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="engines.export"):
        again = ensure_exported(SIZE, renderer=TinyRenderer(SIZE))
    assert again == tiny_model
    assert again.path("full").stat().st_mtime_ns == mtime
    assert not [r for r in caplog.records if "exporting" in r.getMessage()]
    # Another size or other weights give another key.
    assert model_key(tiny, SIZE) != model_key(TinyRenderer(SIZE * 2), SIZE * 2)
    other = TinyRenderer(SIZE)
    with torch.no_grad():
        other.proj.bias.add_(0.1)
    assert model_key(other, SIZE) != model_key(tiny, SIZE)
    assert str(cache_dir) in str(tiny_model.directory)
    assert tiny_model.directory.parent.name == "models"


def test_first_export_logs_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="engines.export"):
        model = ensure_exported(16, renderer=TinyRenderer(16), cache_dir=tmp_path)
    lines = [r for r in caplog.records if r.name == "engines.export" and r.levelno >= logging.INFO]
    assert len(lines) == 1 and "exporting" in lines[0].getMessage()
    assert model.directory.is_relative_to(tmp_path / "models")
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".export-")]


def test_new_export_replaces_outdated_ones(tmp_path: Path) -> None:
    first = ensure_exported(16, renderer=TinyRenderer(16), cache_dir=tmp_path)
    changed = TinyRenderer(16)
    with torch.no_grad():
        changed.proj.bias.add_(0.5)
    second = ensure_exported(16, renderer=changed, cache_dir=tmp_path)
    other_size = ensure_exported(8, renderer=TinyRenderer(8), cache_dir=tmp_path)
    assert second.key != first.key
    assert not first.directory.exists()
    assert second.directory.is_dir() and other_size.directory.is_dir()


def test_cache_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from engines.export import cache_root

    monkeypatch.delenv("STREAMFACE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "streamface"
    monkeypatch.setenv("STREAMFACE_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


# ---------------------------------------------------------------------------- engines vs torch


@pytest.mark.parametrize("engine_name", ["ort_engine", "torch_cpu_engine"])
@pytest.mark.parametrize("batch", BATCHES)
def test_engine_matches_torch_reference(
    request: pytest.FixtureRequest, engine_name: str, batch: int, tiny: Any
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    params, anim = _inputs(batch, seed=batch)
    reference = torch_reference(tiny, params, anim)
    full = engine.render(params, anim)
    assert full.dtype == np.uint8 and full.shape == (batch, SIZE, SIZE, 3)
    assert full.flags.c_contiguous
    assert mae_u8(full, reference) <= MAX_MAE
    split = engine.animate(engine.prepare(params), anim)
    assert split.shape == full.shape
    assert mae_u8(split, reference) <= MAX_MAE
    assert mae_u8(split, full) <= MAX_MAE


@pytest.mark.parametrize("engine_name", ["ort_engine", "torch_cpu_engine"])
def test_one_prepared_face_animates_many_frames(
    request: pytest.FixtureRequest, engine_name: str
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    params, anim = _inputs(5)
    face = params[:1]
    frames = engine.animate(engine.prepare(face), anim)
    assert frames.shape == (5, SIZE, SIZE, 3)
    expected = engine.render(np.repeat(face, 5, axis=0), anim)
    assert mae_u8(frames, expected) <= MAX_MAE
    assert len({f.tobytes() for f in frames}) > 1  # the animation moves something


@pytest.mark.parametrize("engine_name", ["ort_engine", "torch_cpu_engine"])
def test_engine_rejects_bad_shapes(request: pytest.FixtureRequest, engine_name: str) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    params, anim = _inputs(2)
    with pytest.raises(ValueError, match="params"):
        engine.render(params[:, :5], anim)
    with pytest.raises(ValueError, match="anim"):
        engine.render(params, anim[:, :4])
    with pytest.raises(ValueError, match="batch"):
        engine.render(np.concatenate([params, params]), anim[:1].repeat(3, axis=0))
    with pytest.raises(ValueError, match="NaN"):
        engine.render(np.full_like(params, np.nan), anim)


def test_onnxruntime_engine_is_thread_safe(ort_engine: Engine) -> None:
    params, anim = _inputs(4, seed=11)
    expected = ort_engine.render(params, anim)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(ort_engine.render(params, anim))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(r, expected) for r in results)


def test_onnxruntime_threads_option(tiny_model: ExportedModel) -> None:
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    engine = OnnxRuntimeEngine(SIZE, model=tiny_model, threads=2)
    params, anim = _inputs(3)
    single = OnnxRuntimeEngine(SIZE, model=tiny_model)
    assert mae_u8(engine.render(params, anim), single.render(params, anim)) <= MAX_MAE
    with pytest.raises(ValueError):
        OnnxRuntimeEngine(SIZE, model=tiny_model, threads=0)


# ---------------------------------------------------------------------------- shipped face renderer


@pytest.fixture(scope="module")
def face_renderer() -> Any:
    renderer_mod = pytest.importorskip("streamface.face.renderer")
    return renderer_mod.FaceRenderer(96).eval()


@pytest.mark.slow
def test_face_renderer_exports_and_every_cpu_engine_matches(
    model_cache: Path, face_renderer: Any
) -> None:
    """The shipped renderer's export (the run's: test_engine_parts and test_face_sprites
    use the same 96 px one) draws what torch draws, whole and split."""
    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from engines.torch_engine import TorchEngine
    from streamface.face.params import PARAM_DIM

    # a fresh export checks ONNX against torch itself too (`check_export`)
    model = ensure_exported(96, renderer=face_renderer, cache_dir=model_cache)
    engines = [
        OnnxRuntimeEngine(96, model=model),
        TorchEngine(96, device="cpu", renderer=face_renderer),
    ]
    for batch in BATCHES:
        params, anim = sample_inputs(batch, PARAM_DIM, model.anim_dim, seed=20 + batch)
        reference = torch_reference(face_renderer, params, anim)
        for engine in engines:
            assert mae_u8(engine.render(params, anim), reference) <= MAX_MAE, (engine.name, batch)
            split = engine.animate(engine.prepare(params), anim)
            assert mae_u8(split, reference) <= MAX_MAE, (engine.name, batch, "split")


@pytest.mark.slow
def test_face_graphs_raise_no_pixel_to_a_power_but_squares_and_cubes(model_cache: Path, face_renderer: Any) -> None:
    """ONNX Runtime's Pow runs ``std::pow`` per element for every exponent but 2 and 3: in
    the shipped graphs whole powers are products (`shapes.power`) and roots are Exp of
    Log (`shapes.superellipse`), which cost about a third (a full 512 px frame ~3 ms)."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper, shape_inference

    model = ensure_exported(96, renderer=face_renderer, cache_dir=model_cache)
    slow: list[str] = []
    for graph in model.graphs:
        proto = shape_inference.infer_shapes(onnx.load(str(model.path(graph))))
        consts = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        consts |= {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in proto.graph.node if n.op_type == "Constant"}
        dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in proto.graph.value_info}
        for node in proto.graph.node:
            exponent = consts.get(node.input[1]) if node.op_type == "Pow" else None
            if node.op_type != "Pow" or (exponent is not None and exponent.size == 1 and float(exponent) in (2.0, 3.0)):
                continue
            shape = dims.get(node.output[0], [])
            if len(shape) == 4 and min(shape[-2:]) > 1:  # a map of pixels, not a row or a scalar
                slow.append(f"{graph}: {node.name} {shape}")
    assert not slow, slow


# ---------------------------------------------------------------------------- CUDA and TensorRT


@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
@pytest.mark.parametrize("batch", (*BATCHES, 65))
def test_torch_cuda_graphs_match_reference(tiny: Any, batch: int) -> None:
    from engines.torch_engine import TorchEngine

    engine = TorchEngine(SIZE, device="cuda", renderer=TinyRenderer(SIZE))
    params, anim = _inputs(batch, seed=batch)
    reference = torch_reference(tiny, params, anim)
    for _ in range(2):  # capture, then replay
        assert mae_u8(engine.render(params, anim), reference) <= MAX_MAE
        assert mae_u8(engine.animate(engine.prepare(params), anim), reference) <= MAX_MAE
    engine.close()


@pytest.mark.skipif(TRT_ERROR is not None, reason=f"TensorRT unavailable: {TRT_ERROR}")
@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
def test_tensorrt_matches_reference(tiny: Any, tiny_model: ExportedModel) -> None:
    from engines.tensorrt_engine import TensorRTEngine

    engine = TensorRTEngine(SIZE, model=tiny_model)
    for batch in BATCHES:
        params, anim = _inputs(batch, seed=batch)
        reference = torch_reference(tiny, params, anim)
        assert mae_u8(engine.render(params, anim), reference) <= MAX_MAE
        assert mae_u8(engine.animate(engine.prepare(params), anim), reference) <= MAX_MAE
    assert engine.engine_path("full").is_file()  # cached for the next load


@pytest.mark.skipif(TRT_ERROR is None, reason="TensorRT is installed here")
def test_tensorrt_unavailable_says_how_to_install() -> None:
    assert TRT_ERROR is not None and "pip install 'streamface[tensorrt]'" in TRT_ERROR
    with pytest.raises(EngineUnavailableError) as info:
        load_engine("tensorrt", SIZE, factory=tiny_renderer_factory())
    message = str(info.value)
    assert "\n" not in message
    assert "pip install 'streamface[tensorrt]'" in message


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present")
def test_named_torch_cuda_unavailable_without_gpu() -> None:
    from engines.torch_engine import TorchEngine

    with pytest.raises(EngineUnavailableError, match="CUDA"):
        TorchEngine(SIZE, device="cuda", renderer=TinyRenderer(SIZE))


# ---------------------------------------------------------------------------- selection


def _loaders(**engines: Any) -> dict[str, Any]:
    """Loader table from name -> engine instance, exception, or engine class."""

    def make(spec: Any) -> Any:
        def load(size: int, **options: Any) -> Engine:
            if isinstance(spec, BaseException):
                raise spec
            if isinstance(spec, type):
                return spec(size)
            return spec

        return load

    return {name.replace("_", "-"): make(spec) for name, spec in engines.items()}


def test_engine_names() -> None:
    assert ENGINE_NAMES == ("auto", "onnxruntime", "torch", "tensorrt")


def test_auto_takes_the_first_engine_that_loads(caplog: pytest.LogCaptureFixture) -> None:
    cpu = FakeEngine(name="onnxruntime")
    loaders = _loaders(
        tensorrt=EngineUnavailableError(
            "TensorRT is not installed; pip install 'streamface[tensorrt]'"
        ),
        torch_cuda=UnloadableEngine,  # installed but broken: RuntimeError
        onnxruntime=cpu,
    )
    with caplog.at_level(logging.INFO, logger="engines.select"):
        engine = load_engine("auto", 16, loaders=loaders)
    assert engine is cpu
    records = [r for r in caplog.records if r.name == "engines.select"]
    assert [r.levelno for r in records] == [logging.INFO, logging.WARNING]
    assert "tensorrt" in records[0].getMessage()
    assert "torch-cuda" in records[1].getMessage() and "no such device" in records[1].getMessage()


def test_auto_prefers_gpu_engine_and_wraps_it_with_cpu_fallback() -> None:
    gpu = FakeEngine(name="tensorrt")
    engine = load_engine(
        "auto", 16, loaders=_loaders(tensorrt=gpu, onnxruntime=FakeEngine(name="onnxruntime"))
    )
    assert isinstance(engine, FallbackEngine)
    assert engine.engine is gpu and engine.name == "tensorrt"


def test_auto_here_loads_onnxruntime_without_warnings(
    cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if HAS_CUDA:
        pytest.skip("a CUDA GPU is present: auto picks a GPU engine")
    with caplog.at_level(logging.WARNING):
        engine = load_engine("auto", SIZE, factory=tiny_renderer_factory())
    assert engine.name == "onnxruntime"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    params, anim = _inputs(2)
    assert engine.render(params, anim).shape == (2, SIZE, SIZE, 3)


def test_named_engine_that_cannot_load_raises_one_line_with_hint() -> None:
    loaders = _loaders(
        torch=RuntimeError("driver exploded\nwith a traceback"), onnxruntime=FakeEngine()
    )
    with pytest.raises(EngineUnavailableError) as info:
        load_engine("torch", 16, loaders=loaders)
    message = str(info.value)
    assert "\n" not in message and "driver exploded" in message and "pip install torch" in message
    with pytest.raises(EngineUnavailableError, match="unknown engine"):
        load_engine("warp-drive", 16)


def test_auto_with_nothing_loadable_raises() -> None:
    loaders = _loaders(
        tensorrt=ImportError("no tensorrt"),
        torch_cuda=ImportError("no cuda"),
        onnxruntime=ImportError("no onnxruntime"),
    )
    with pytest.raises(EngineUnavailableError, match="no engine could load"):
        load_engine("auto", 16, loaders=loaders)


def test_named_onnxruntime_is_not_wrapped(cache_dir: Path) -> None:
    engine = load_engine("onnxruntime", SIZE, factory=tiny_renderer_factory())
    assert not isinstance(engine, FallbackEngine)
    torch_engine = load_engine("torch", SIZE, factory=tiny_renderer_factory())
    assert isinstance(torch_engine, FallbackEngine) and torch_engine.name == "torch"


# ---------------------------------------------------------------------------- fallback mid-run


def test_engine_failing_mid_run_falls_back_without_losing_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary = FakeEngine(name="torch", fail_at=3, error=RuntimeError("CUDA out of memory"))
    cpu = FakeEngine(name="onnxruntime")
    engine = FallbackEngine(primary, lambda: cpu)
    params, anim = _inputs(2)
    expected = cpu._frames(params, anim)
    with caplog.at_level(logging.WARNING, logger="engines.select"):
        assert np.array_equal(engine.render(params, anim), expected)  # call 1: primary
        face = engine.prepare(params)  # call 2: primary
        frames = engine.animate(face, anim)  # call 3: primary fails -> fallback answers
        more = engine.animate(face, anim)
    assert np.array_equal(frames, expected) and np.array_equal(more, expected)
    assert engine.fell_back and engine.engine is cpu and engine.name == "onnxruntime"
    assert primary.closed
    assert primary.calls == ["render", "prepare", "animate"]
    assert cpu.calls == ["prepare", "animate", "animate"]  # re-prepared once on the CPU
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "CUDA out of memory" in warnings[0].getMessage()


def test_fallback_ignores_caller_errors_and_propagates_fallback_failure() -> None:
    primary = FakeEngine(name="torch", fail_at=1, fail_times=1, error=ValueError("bad shape"))
    engine = FallbackEngine(primary, lambda: FakeEngine(name="onnxruntime"))
    params, anim = _inputs(1)
    with pytest.raises(ValueError):
        engine.render(params, anim)
    assert not engine.fell_back  # the caller's mistake is not the engine's failure
    broken_cpu = FakeEngine(name="onnxruntime", fail_at=1, error=RuntimeError("cpu broke too"))
    engine = FallbackEngine(FakeEngine(name="torch", fail_at=1), broken_cpu)
    with pytest.raises(RuntimeError, match="cpu broke too"):
        engine.render(params, anim)


def test_fallback_switches_once_under_concurrent_failures(caplog: pytest.LogCaptureFixture) -> None:
    built: list[Engine] = []

    def make_cpu() -> Engine:
        built.append(FakeEngine(name="onnxruntime"))
        return built[-1]

    engine = FallbackEngine(FakeEngine(name="torch", fail_at=1), make_cpu)
    params, anim = _inputs(1)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            engine.render(params, anim)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger="engines.select"):
        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(built) == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_load_engine_fallback_uses_cpu_engine_mid_run(caplog: pytest.LogCaptureFixture) -> None:
    loaders = _loaders(
        torch=FakeEngine(name="torch", fail_at=2, error=RuntimeError("CUDA error: device lost")),
        onnxruntime=FakeEngine,
    )
    engine = load_engine("torch", 16, loaders=loaders)
    params, anim = _inputs(3)
    first = engine.render(params, anim)
    with caplog.at_level(logging.WARNING, logger="engines.select"):
        second = engine.render(params, anim)
    assert np.array_equal(first, second)
    assert engine.name == "fake"  # the CPU loader's engine
    assert len(caplog.records) == 1


def test_real_cpu_fallback_from_failing_engine(
    cache_dir: Path, tiny: Any, tiny_model: ExportedModel
) -> None:
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    engine = FallbackEngine(
        FakeEngine(name="torch", fail_at=2, size=SIZE),
        lambda: OnnxRuntimeEngine(SIZE, model=tiny_model),
    )
    params, anim = _inputs(3)
    face = engine.prepare(params)  # prepared on the fake
    frames = engine.animate(face, anim)  # the fake fails; ONNX Runtime re-prepares and renders
    assert mae_u8(frames, torch_reference(tiny, params, anim)) <= MAX_MAE


@pytest.mark.parametrize("engine_name", ["ort_engine", "torch_cpu_engine"])
def test_blend_cross_fades_prepared_faces(request: pytest.FixtureRequest, engine_name: str) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    assert engine.blends
    params, anim = _inputs(2, seed=11)
    a, b = engine.prepare(params[:1]), engine.prepare(params[1:])
    for weight, same in ((0.0, a), (1.0, b)):
        assert mae_u8(engine.animate(engine.blend(a, b, weight), anim[:1]), engine.animate(same, anim[:1])) <= 0.01
    mid = engine.blend(a, b, 0.5)
    expected = (a.prepared + b.prepared) / 2  # both engines' prepared faces hold these
    assert float(abs(mid.prepared - expected).max()) < 1e-5
    assert np.allclose(np.asarray(mid.params), params.mean(axis=0, keepdims=True), atol=1e-6)


def test_fallback_engine_blends_through_its_engine() -> None:
    engine = FallbackEngine(FakeEngine(SIZE), lambda: FakeEngine(SIZE))
    assert not engine.blends  # FakeEngine cannot: the session then re-prepares the steps
    params, _ = _inputs(2)
    assert engine.blend(engine.prepare(params[:1]), engine.prepare(params[1:]), 0.5) is None
