"""`Engine.animate_part`: one animated patch (eyes or mouth) drawn alone, the same pixels as
the whole frame in that box at zero pose, for every engine that can run here (ONNX Runtime
and torch on the CPU; torch on CUDA and TensorRT where a GPU is present); and
`FaceSprites.morph_frame`, which composes a morphing face from those patches (drawn for the
blended face, or the two keyframes' cached cells cross-faded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamface.face.animation import ANIM_DIM, ANIM_FIELDS
from streamface.face.params import neutral_params

torch = pytest.importorskip("torch")

from engine_util import gpu_params, make_engine  # noqa: E402

SIZE = 96
_F = {name: i for i, name in enumerate(ANIM_FIELDS)}
_POSE = [_F[n] for n in ("yaw", "pitch", "roll", "breath")]


@pytest.fixture(
    scope="module",
    params=["onnxruntime", "torch", *gpu_params()],
)
def engine(request: pytest.FixtureRequest, model_cache: Path) -> Any:
    return make_engine(request.param, SIZE)


def _exact(engine: Any) -> bool:
    """CPU engines draw a patch bit for bit; GPU ones (FP16, other kernels) within a level."""
    return engine.name == "onnxruntime" or getattr(getattr(engine, "device", None), "type", "cpu") == "cpu"


def _faces(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    row = neutral_params().to_vector()
    return np.clip(row + rng.normal(0.0, 0.15, (n, row.size)).astype(np.float32), 0.0, 1.0)


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.zeros((n, ANIM_DIM), np.float32)
    rows[:, _F["mouth_open"]] = rng.random(n)
    rows[:, _F["v_rest"] : _F["v_mbp"] + 1] = rng.dirichlet(np.ones(5), n)
    rows[:, _F["blink"]] = rng.random(n)
    rows[:, _F["gaze_x"]] = rng.uniform(-1.0, 1.0, n)
    rows[:, _F["gaze_y"]] = rng.uniform(-1.0, 1.0, n)
    rows[:, _F["yaw"] : _F["roll"] + 1] = rng.uniform(-10.0, 10.0, (n, 3))
    rows[:, _F["breath"]] = rng.random(n)
    return rows


def _box(part: str) -> tuple[int, int, int, int]:
    from streamface.face.sprites import layout

    lay = layout(SIZE)
    return lay.eye_box if part == "eyes" else lay.mouth_box


def test_the_shipped_renderer_draws_eyes_and_mouth(engine: Any) -> None:
    assert set(engine.parts) == {"eyes", "mouth"}


@pytest.mark.parametrize("part", ["eyes", "mouth"])
def test_a_part_is_the_frame_in_its_box_at_zero_pose(engine: Any, part: str) -> None:
    params = _faces(3, 1)
    prepared = engine.prepare(params)
    rows = _rows(3, 2)
    rows[:2, _F["mouth_open"]] = (0.0, 1.0)  # closed and wide open...
    rows[:2, _F["blink"]] = (0.0, 1.0)  # ...eyes open and shut
    still = rows.copy()
    still[:, _POSE] = 0.0
    x0, x1, y0, y1 = _box(part)
    want = engine.animate(prepared, still)[:, y0:y1, x0:x1]
    got = engine.animate_part(prepared, rows, part)  # the pose is ignored
    assert got.dtype == np.uint8 and got.shape == want.shape == (3, y1 - y0, x1 - x0, 3)
    if _exact(engine):
        np.testing.assert_array_equal(got, want)
    else:
        assert np.abs(got.astype(np.int16) - want).mean() <= 1.0
    # One prepared face, several rows (the face is repeated to the batch).
    one = engine.prepare(params[:1])
    single = engine.animate_part(one, rows, part)
    assert single.shape == got.shape
    if _exact(engine):
        np.testing.assert_array_equal(single[0], got[0])
    # The patch moves with the animation: different rows, different pictures.
    assert np.abs(single[0].astype(np.int16) - single[1]).max() > 20


def test_an_unknown_part_is_refused(engine: Any) -> None:
    prepared = engine.prepare(_faces(1, 3))
    with pytest.raises(ValueError, match="part"):
        engine.animate_part(prepared, _rows(1, 4), "nose")


def test_the_onnx_model_records_its_part_graphs(model_cache: Path) -> None:
    from engines.export import ensure_exported

    model = ensure_exported(SIZE)
    assert model.parts == ("eyes", "mouth")
    assert all(model.path(p).is_file() for p in model.graphs)


def test_renderers_without_parts_and_the_wrappers() -> None:
    from fakes import FakeEngine, TinyRenderer

    from engines.batching import BatchingEngine
    from engines.select import FallbackEngine
    from engines.torch_engine import TorchEngine

    tiny = TorchEngine(32, device="cpu", renderer=TinyRenderer(32))
    assert tiny.parts == ()
    with pytest.raises(ValueError):
        tiny.animate_part(tiny.prepare(np.zeros((1, 8), np.float32)), np.zeros((1, 13), np.float32), "eyes")
    assert FakeEngine().parts == ()
    shipped = TorchEngine(SIZE, device="cpu")
    params, rows = _faces(1, 5), _rows(2, 6)
    want = shipped.animate_part(shipped.prepare(params), rows, "mouth")
    fallback = FallbackEngine(shipped, lambda: FakeEngine(SIZE))
    assert fallback.parts == ("eyes", "mouth")
    np.testing.assert_array_equal(fallback.animate_part(fallback.prepare(params), rows, "mouth"), want)
    batching = BatchingEngine(shipped)
    assert batching.parts == ("eyes", "mouth")
    np.testing.assert_array_equal(batching.animate_part(batching.prepare(params), rows, "mouth"), want)


def test_a_drawn_morph_frame_is_the_engine_frame_of_the_blended_face(engine: Any) -> None:
    """``draw=True``: static layers cross-faded in uint8 (a level of rounding), patches of the
    blended face drawn by the engine, the head turned by the compositor's remap."""
    from streamface.face.label import draw_label
    from streamface.face.sprites import FaceSprites

    faces = _faces(2, 7)
    a, b = engine.prepare(faces[:1]), engine.prepare(faces[1:])
    first, second = FaceSprites(engine, a, draw_label), FaceSprites(engine, b, draw_label)
    rows = _rows(4, 8)
    rows[:, _F["yaw"] : _F["roll"] + 1] *= 0.3  # the compositor's usual range (idle motion)
    for weight, row in zip((0.0, 0.3, 0.7, 1.0), rows, strict=True):
        blended = engine.blend(a, b, weight)
        want = draw_label(np.array(engine.animate(blended, row[None])[0], np.uint8))
        got = first.morph_frame(second, weight, blended, row, draw=True)
        assert got is not None and got.shape == want.shape
        err = np.abs(got.astype(np.int16) - want)
        assert err.mean() < 0.3, (weight, err.mean())
        assert np.percentile(err, 99.9) <= 12
    assert first.stats.morph_frames == 4 and not first.stats.cells_rendered  # nothing cached


def _morph_faces(seed: int) -> np.ndarray:
    """Two neighbouring keyframes of a morph: at most `MORPH_KEY_SPACING` of a parameter's
    range apart (the session's largest step between keyframes)."""
    from streamface.session import MORPH_KEY_SPACING

    rng = np.random.default_rng(seed)
    row = _faces(1, seed)[0]
    step = rng.uniform(-MORPH_KEY_SPACING, MORPH_KEY_SPACING, row.size).astype(np.float32)
    return np.stack([row, np.clip(row + step, 0.0, 1.0)])


def test_a_morph_frame_cross_fades_the_keyframes_cells_within_a_level_of_the_drawn_one(engine: Any) -> None:
    """The default morph frame cross-fades the two keyframes' cached cells; against the
    frame drawn for the blended face (``draw=True``, the path before) it differs by the cell
    grid (as a settled frame differs from ``animate``) and by cross-fading two neighbouring
    keyframes' patches: a mean under 0.15 levels, 99.9 % of values within 10 levels, and
    nowhere outside the eye and mouth boxes by more than the cross-fade's rounding."""
    from streamface.face.label import draw_label
    from streamface.face.sprites import FaceSprites, layout

    lay = layout(SIZE)
    faces = _morph_faces(11)
    a, b = engine.prepare(faces[:1]), engine.prepare(faces[1:])
    first, second = FaceSprites(engine, a, draw_label), FaceSprites(engine, b, draw_label)
    rows = _rows(12, 12)
    rows[:, _F["yaw"] : _F["roll"] + 1] *= 0.3
    rows[:, _F["gaze_x"] : _F["gaze_y"] + 1] *= 0.25  # the idle gaze's range
    outside = np.ones((SIZE, SIZE), bool)
    for x0, x1, y0, y1 in (lay.eye_box, lay.mouth_box):
        outside[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = False  # the warp moves a box's edge
    means = []
    for weight, row in zip(np.linspace(0.0, 1.0, len(rows)), rows, strict=True):
        blended = engine.blend(a, b, float(weight))
        drawn = first.morph_frame(second, float(weight), blended, row, draw=True)
        got = first.morph_frame(second, float(weight), blended, row)
        assert got is not None and drawn is not None and got.shape == drawn.shape
        err = np.abs(got.astype(np.int16) - drawn)
        means.append(float(err.mean()))
        assert err.mean() < 0.15, (weight, err.mean())  # measured: at most 0.06
        assert np.percentile(err, 99.9) <= 10, (weight, np.percentile(err, 99.9))  # measured: at most 6
        assert err.max(axis=-1)[outside].max() <= 1, weight
    assert max(means) > 0.0  # the two paths are not the same code
    assert first.stats.cells_rendered > 0 and second.stats.cells_rendered > 0


def test_a_morph_frame_caches_its_cells_for_the_settled_face(engine: Any) -> None:
    """A morph frame's cells are each keyframe's own: the same state again draws nothing
    new, and the target's cells serve its settled frames after the morph."""
    from streamface.face.label import draw_label
    from streamface.face.sprites import FaceSprites

    faces = _morph_faces(13)
    a, b = engine.prepare(faces[:1]), engine.prepare(faces[1:])
    first, second = FaceSprites(engine, a, draw_label), FaceSprites(engine, b, draw_label)
    row = _rows(1, 14)[0]
    first.morph_frame(second, 0.5, engine.blend(a, b, 0.5), row)
    drawn = first.stats.cells_rendered, second.stats.cells_rendered
    again = first.morph_frame(second, 0.8, engine.blend(a, b, 0.8), row)
    assert (first.stats.cells_rendered, second.stats.cells_rendered) == drawn
    settled = second.frame(row)
    assert second.stats.cells_rendered == drawn[1]
    assert again is not None and settled.shape == again.shape
    # The last keyframe alone (weight 1) is its settled frame.
    np.testing.assert_array_equal(first.morph_frame(second, 1.0, b, row), settled)


@pytest.mark.parametrize("part", ["eyes", "mouth", "animate"])
def test_onnxruntime_draws_a_faces_later_cells_from_its_split_graph_the_same(model_cache: Path, part: str) -> None:
    """From a face's second single-row patch (or whole frame) on, ONNX Runtime runs only the
    animated half of the graph on the face's cached tensors (`engines.face_split`): the same
    bytes as the whole graph (drawn here by batched calls, which always run it whole)."""
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    engine = make_engine("onnxruntime", SIZE)
    assert isinstance(engine, OnnxRuntimeEngine)

    def draw(prepared: Any, rows: np.ndarray) -> np.ndarray:
        return engine.animate(prepared, rows) if part == "animate" else engine.animate_part(prepared, rows, part)

    rows = _rows(12, 9)
    faces = _faces(3, 10)
    for i, face in enumerate(faces):
        prepared = engine.prepare(face[None])
        if i == 2:  # a morph's blended face
            prepared = engine.blend(engine.prepare(faces[:1]), prepared, 0.4)
        want = draw(prepared, rows)
        got = np.concatenate([draw(prepared, row[None]) for row in rows])
        assert prepared.faces[part] is not None  # the split half ran
        np.testing.assert_array_equal(got, want)
    assert engine._splits[part] is not None


def test_onnxruntime_builds_its_per_frame_graphs_halves_with_the_engine(model_cache: Path) -> None:
    """A live engine splits the animate graph when it loads, not on the first face drawn twice:
    built there, it cost the render thread about 0.2 s of CPU at the process's first face
    change (frames late for that caller). A still's engine (nothing eager) splits nothing."""
    from engines.onnxruntime_engine import OnnxRuntimeEngine

    engine = make_engine("onnxruntime", SIZE)
    assert isinstance(engine, OnnxRuntimeEngine)
    assert {"animate", "eyes", "mouth"} <= set(engine._splits)
    assert all(engine._splits[graph] is not None for graph in ("animate", "eyes", "mouth"))
    still = OnnxRuntimeEngine(SIZE, model=engine.model, eager=())
    assert still._splits == {}
