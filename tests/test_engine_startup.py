"""Engine start-up: the shipped renderer's export is found again without torch (the quick
key), and ONNX Runtime builds only the graphs a command uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import TinyRenderer

from engines import export
from engines.export import DEFAULT_RENDERER_MODULE, ensure_exported, quick_key, source_files

ROOT = Path(__file__).resolve().parents[1]


def test_quick_key_hashes_the_renderer_sources_found_without_importing() -> None:
    assert export._package_sources(DEFAULT_RENDERER_MODULE) == source_files(DEFAULT_RENDERER_MODULE)
    assert quick_key(64) == quick_key(64)
    assert quick_key(64) != quick_key(128)


def test_quick_key_module_is_where_the_shipped_renderer_lives() -> None:
    pytest.importorskip("torch")
    from streamface.face.render.compose import FaceRenderer

    assert FaceRenderer.__module__ == DEFAULT_RENDERER_MODULE
    assert export.default_renderer_factory.__code__.co_names  # builds FaceRenderer
    assert "FaceRenderer" in export.default_renderer_factory.__code__.co_names


def test_second_load_uses_the_recorded_export_without_building_the_renderer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setattr(export, "quick_key", lambda size: f"q{size}")
    monkeypatch.setattr(export, "default_renderer_factory", TinyRenderer)
    first = ensure_exported(16, cache_dir=tmp_path)
    assert (tmp_path / "models" / "quick" / "q16").read_text().strip() == first.directory.name

    def must_not_build(size: int) -> None:
        raise AssertionError("the renderer was built although the export is recorded")

    monkeypatch.setattr(export, "default_renderer_factory", must_not_build)
    assert ensure_exported(16, cache_dir=tmp_path) == first

    # A recorded export that is gone (pruned, deleted) is built and recorded again.
    for path in first.directory.iterdir():
        path.unlink()
    first.directory.rmdir()
    monkeypatch.setattr(export, "default_renderer_factory", TinyRenderer)
    again = ensure_exported(16, cache_dir=tmp_path)
    assert again.path("full").is_file()
    assert (tmp_path / "models" / "quick" / "q16").read_text().strip() == again.directory.name


def test_a_custom_renderer_never_uses_the_quick_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.setattr(export, "quick_key", lambda size: pytest.fail("quick key used"))
    ensure_exported(16, renderer=TinyRenderer(16), cache_dir=tmp_path)
    assert not (tmp_path / "models" / "quick").exists()


@pytest.mark.slow
def test_engine_loads_without_torch_once_exported(tmp_path: Path, model_cache: Path) -> None:
    """The real renderer's export, found once with torch, loads the next time without it.

    The cache here holds the export and no quick-key record, as right after an export by
    another path: the first start builds the renderer (torch) to compute the full key,
    finds the export and records it; the second finds it by the quick key alone. The
    export is the run's, copied (a user's first export: test_wheel_install).
    """
    pytest.importorskip("torch")
    size = 96  # the size the engine tests export in the run's cache
    exported = ensure_exported(size, cache_dir=model_cache)
    shutil.copytree(exported.directory, tmp_path / "models" / exported.directory.name)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STREAMFACE_CACHE_DIR": str(tmp_path)}
    code = (
        "import sys\n"
        "from engines.select import load_engine\n"
        f"engine = load_engine('auto', {size})\n"
        "import numpy as np\n"
        "from streamface.face.params import neutral_params\n"
        "from streamface.face.animation import FaceAnimation\n"
        "p = neutral_params().to_vector()[None]\n"
        "frame = engine.animate(engine.prepare(p), FaceAnimation().to_vector()[None])\n"
        f"assert frame.shape == (1, {size}, {size}, 3)\n"
        "print(engine.name, 'torch' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
        for _ in range(2)
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr[-3000:]
    assert runs[0].stdout.split() == ["onnxruntime", "True"]  # not recorded yet: torch needed once
    assert runs[1].stdout.split() == ["onnxruntime", "False"]
    # the copied export was the one found: nothing exported again (that would replace it)
    assert {p.name for p in (tmp_path / "models").iterdir()} == {"quick", exported.directory.name}


def test_onnxruntime_builds_unused_graphs_only_on_first_use(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from engines.export import sample_inputs
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    model = ensure_exported(16, renderer=TinyRenderer(16), cache_dir=tmp_path)
    frames = OnnxRuntimeEngine(16, model=model)  # a live session or a video
    still = OnnxRuntimeEngine(16, model=model, eager=())  # a portrait
    assert sorted(frames._sessions) == ["animate", "prepare"]
    assert still._sessions == {}
    params, anim = sample_inputs(2, model.param_dim, model.anim_dim, seed=5)
    assert (still.render(params, anim) == frames.render(params, anim)).all()
    assert sorted(still._sessions) == ["full"]
    assert (still.animate(still.prepare(params), anim) == frames.animate(frames.prepare(params), anim)).all()
    still.close()
    with pytest.raises(RuntimeError, match="closed"):
        still.render(params, anim)


def test_load_engine_for_a_still_skips_the_per_frame_graphs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from engines.select import load_engine

    model = ensure_exported(16, renderer=TinyRenderer(16), cache_dir=tmp_path)
    engine = load_engine("onnxruntime", 16, per_frame=False, model=model)
    assert engine._sessions == {}  # type: ignore[attr-defined]
    engine = load_engine("onnxruntime", 16, model=model)
    assert sorted(engine._sessions) == ["animate", "prepare"]  # type: ignore[attr-defined]


def test_still_option_reaches_only_the_onnxruntime_engine(tmp_path: Path) -> None:
    from fakes import FakeEngine

    from engines.select import load_engine

    seen: dict[str, dict[str, object]] = {}

    def loader(name: str, fail: bool):
        def load(size: int, **options: object) -> FakeEngine:
            seen[name] = options
            if fail:
                raise ImportError(f"{name} missing")
            return FakeEngine(size)

        return load

    loaders = {"tensorrt": loader("tensorrt", True), "onnxruntime": loader("onnxruntime", False)}
    load_engine("auto", 16, loaders=loaders, auto_order=("tensorrt", "onnxruntime"), per_frame=False)
    assert seen["tensorrt"] == {}
    assert seen["onnxruntime"] == {"eager": ()}
    seen.clear()
    load_engine("auto", 16, loaders=loaders, auto_order=("tensorrt", "onnxruntime"))
    assert seen["onnxruntime"] == {}  # defaults pass nothing: any loader keeps working
