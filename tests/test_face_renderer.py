"""FaceRenderer: shapes, batching, gradients, animation effects, detectability."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from face_pixels import col_of as _col
from face_pixels import row_of as _row
from torch.utils._python_dispatch import TorchDispatchMode

from streamface.face.animation import ANIM_DIM, ANIM_FIELDS, FaceAnimation
from streamface.face.params import (
    HAIR_STYLES,
    PARAM_DIM,
    PARAM_NAMES,
    FaceParams,
    neutral_params,
    params_matrix,
)
from streamface.face.render.common import Geometry
from streamface.face.render.eyes import brow_lift
from streamface.face.renderer import FaceRenderer

SIZE = 128


@pytest.fixture(scope="module")
def renderer() -> FaceRenderer:
    return FaceRenderer(SIZE)


def _params(*faces: FaceParams) -> torch.Tensor:
    return torch.from_numpy(params_matrix(list(faces)))


def _anim(n: int, **kw: float) -> torch.Tensor:
    return torch.from_numpy(np.stack([FaceAnimation(**kw).to_vector()] * n))


def _style(name: str) -> float:
    return float(HAIR_STYLES.index(name))


FACES = (
    neutral_params(),
    FaceParams(masculinity=0.0, makeup=0.7, hair_style=_style("long"), skin_tone=0.1, hair_lightness=0.8, age=0.3,
               freckles=0.8, glasses=1.0),
    FaceParams(masculinity=1.0, facial_hair=0.9, hair_style=_style("crew"), skin_tone=0.9, age=0.6, mole=1.0),
    FaceParams(masculinity=0.9, hair_style=_style("bald"), hair_grey=0.9, age=0.95, age_lines=0.9, age_sag=0.8,
               skin_tone=0.35),
)


def test_output_shape_dtype_range(renderer: FaceRenderer) -> None:
    with torch.no_grad():
        out = renderer(_params(*FACES), _anim(len(FACES)))
    assert out.shape == (len(FACES), 3, SIZE, SIZE) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.isfinite(out).all()


def test_batch_equals_singles_and_is_deterministic(renderer: FaceRenderer) -> None:
    params = _params(*FACES[:3])
    anim = torch.stack([_anim(1)[0], _anim(1, mouth_open=0.8, v_rest=0.0, v_a=1.0)[0], _anim(1, blink=1.0, yaw=8.0)[0]])
    with torch.no_grad():
        batch = renderer(params, anim)
        singles = torch.cat([renderer(params[i : i + 1], anim[i : i + 1]) for i in range(3)])
        again = renderer(params, anim)
    assert torch.allclose(batch, singles, atol=1e-5)
    assert torch.equal(batch, again)


def test_forward_is_prepare_then_animate(renderer: FaceRenderer) -> None:
    params, anim = _params(FACES[1]), _anim(1, mouth_open=0.5, v_rest=0.0, v_ou=1.0, roll=5.0)
    with torch.no_grad():
        prepared = renderer.prepare(params)
        assert prepared.shape == (1, 3, SIZE, SIZE)
        assert torch.allclose(renderer(params, anim), renderer.animate(prepared, params, anim))


def test_gradients_flow_to_params(renderer: FaceRenderer) -> None:
    params = _params(FACES[0]).requires_grad_(True)
    out = renderer(params, _anim(1, mouth_open=0.5))
    out.mean().backward()
    assert params.grad is not None and torch.isfinite(params.grad).all()
    assert int((params.grad.abs() > 0).sum()) > PARAM_DIM // 2


def _box(img: torch.Tensor, x0: float, x1: float, y0: float, y1: float) -> torch.Tensor:
    s = img.shape[-1]
    return img[..., max(_row(y0, s), 0) : _row(y1, s), max(_col(x0, s), 0) : _col(x1, s)]


def test_blink_closes_eyes() -> None:
    renderer = FaceRenderer(256)
    params = _params(FACES[0])
    with torch.no_grad():
        open_ = renderer(params, _anim(1))
        closed = renderer(params, _anim(1, blink=1.0))
    def whites(img: torch.Tensor) -> float:
        # Sclera pixels: bright in every channel (this skin is not).
        eye = _box(img, 0.05, 0.25, -0.2, -0.05)
        return float((eye.min(dim=1).values > 0.6).float().sum())

    assert whites(open_) >= 4
    assert whites(closed) == 0


def test_mouth_open_changes_the_mouth_and_lifts_the_brows_only(renderer: FaceRenderer) -> None:
    params = _params(FACES[0])
    with torch.no_grad():
        rest = renderer(params, _anim(1))
        wide = renderer(params, _anim(1, mouth_open=1.0, v_rest=0.0, v_a=1.0))
    diff = (rest - wide).abs().sum(1)[0]
    mouth = _box(diff, -0.17, 0.17, 0.0, 0.36)
    brows = _box(diff, -0.30, 0.30, -0.32, 0.0)
    assert float(mouth.mean()) > 0.02
    assert float(brows.sum()) > 0.0  # brows move with speech, by at most ~1 % of the height:
    lift = brow_lift(renderer._geometry(params), lambda name: _anim(1, mouth_open=1.0, v_rest=0.0, v_a=1.0)[:, ANIM_FIELDS.index(name)].reshape(-1, 1, 1, 1))
    assert 0.0 < float(lift) <= 0.02
    assert float(diff.sum() - mouth.sum() - brows.sum()) < 1e-3 * float(mouth.sum())


def test_open_mouth_shows_teeth_and_tongue() -> None:
    renderer = FaceRenderer(256)
    params = _params(FACES[0])
    with torch.no_grad():
        rest = renderer(params, _anim(1))
        wide = renderer(params, _anim(1, mouth_open=1.0, v_rest=0.0, v_a=1.0))
    def counts(img: torch.Tensor) -> tuple[int, int]:
        m = _box(img, -0.12, 0.12, 0.05, 0.25)[0]
        r, g, b = m[0], m[1], m[2]
        lo = torch.minimum(torch.minimum(r, g), b)
        hi = torch.maximum(torch.maximum(r, g), b)
        teeth = int(((lo > 0.72) & (hi - lo < 0.15)).sum())
        tongue = int(((r > 0.5) & (r - g > 0.25) & (r - b > 0.2)).sum())
        return teeth, tongue
    rest_teeth, _ = counts(rest)
    teeth, tongue = counts(wide)
    assert rest_teeth == 0 and teeth >= 20 and tongue >= 10, (rest_teeth, teeth, tongue)


def test_resting_mouth_corners_turn_up() -> None:
    """The resting face carries a hint of a smile: the lip seam is higher at the corners."""
    renderer = FaceRenderer(512)
    face = FACES[0]
    with torch.no_grad():
        img = renderer(_params(face), _anim(1))[0].mean(0)
    g = renderer._geometry(_params(face))
    my, mw = float(g["mouth_y"]), float(g["mouth_w"])

    def seam_row(x: float) -> float:
        col = _col(x, 512)
        rows = slice(_row(my - 0.03, 512), _row(my + 0.03, 512))
        return float(torch.argmin(img[rows, col]))

    assert seam_row(mw * 0.8) < seam_row(0.0) - 1.0


def test_head_rotation_and_gaze_move_pixels(renderer: FaceRenderer) -> None:
    params = _params(FACES[0])
    with torch.no_grad():
        rest = renderer(params, _anim(1))
        for kw in ({"yaw": 10.0}, {"pitch": -10.0}, {"roll": 10.0}, {"gaze_x": 1.0}, {"breath": 1.0}):
            moved = renderer(params, _anim(1, **kw))
            assert float((moved - rest).abs().mean()) > 1e-4, kw


def test_haar_cascade_finds_faces_across_sex_age_and_skin_tone() -> None:
    cv2 = pytest.importorskip("cv2")
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = [
        FaceParams(skin_tone=tone, masculinity=masc, hair_style=style, facial_hair=beard, makeup=1.0 - masc, age=age)
        for tone in (0.05, 0.5, 0.95)
        for masc, style, beard, age in ((0.0, _style("long"), 0.0, 0.3), (1.0, _style("crew"), 0.8, 0.5))
    ]
    # Seniors: lines, sagging, grey receding hair.
    faces += [
        FaceParams(skin_tone=tone, masculinity=0.9, hair_style=_style("receding"), facial_hair=0.3, age=0.9,
                   age_lines=0.8, age_sag=0.7, hair_grey=0.6)
        for tone in (0.05, 0.45, 0.95)
    ]
    with torch.no_grad():
        imgs = FaceRenderer(256)(_params(*faces), _anim(len(faces)))
    arr = (imgs.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    found = []
    for img in arr:
        gray = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
        found.append(len(cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(60, 60))) > 0)
    assert all(found), [i for i, ok in enumerate(found) if not ok]


def test_anim_dim_is_renderer_input() -> None:
    assert _anim(2).shape == (2, ANIM_DIM)


def test_head_warp_samples_like_grid_sample() -> None:
    """The gather-based bilinear warp equals ``grid_sample`` (bilinear, border) on its grid."""
    import torch.nn.functional as F

    from streamface.face.renderer import _bilinear

    torch.manual_seed(0)
    img = torch.rand(2, 3, 40, 56, requires_grad=True)
    rows = torch.arange(40.0).reshape(1, -1, 1).expand(2, 40, 56)
    cols = torch.arange(56.0).reshape(1, 1, -1).expand(2, 40, 56)
    fx = cols + 6.0 * torch.sin(rows / 7.0) - 3.0  # runs past both borders
    fy = rows + 5.0 * torch.cos(cols / 9.0) + torch.tensor([-2.0, 2.0]).reshape(2, 1, 1)
    ours = _bilinear(img, fx, fy, 56, 40)
    grid = torch.stack([(fx + 0.5) / 56 * 2 - 1, (fy + 0.5) / 40 * 2 - 1], dim=-1)
    ref = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert float((ours - ref).detach().abs().max()) < 1e-5
    ours.sum().backward()
    assert img.grad is not None and float(img.grad.sum()) > 0


# ---------------------------------------------------------------- the look (issue 13, docs/STYLE.md)

def _half_widths(face: FaceParams, ys: np.ndarray) -> np.ndarray:
    """Half-width of the face outline (`skin.face_sdf` < 0) at each height in ``ys``."""
    from streamface.face.render.skin import face_sdf

    renderer = FaceRenderer(64)
    g = renderer._geometry(_params(face))
    x = torch.linspace(0.0, 0.6, 1201).reshape(1, 1, 1, -1)
    y = torch.tensor(ys, dtype=torch.float32).reshape(1, 1, -1, 1)
    inside = (face_sdf(g, x, y) < 0.0)[0, 0].numpy()
    return np.where(inside.any(1), inside.sum(1) * (0.6 / 1200), 0.0)


def _rows(face: FaceParams) -> tuple[float, float, float]:
    g = FaceRenderer(64)._geometry(_params(face))
    return float(g["eye_y"]), float(g["mouth_y"]), float(g["chin_y"])


def test_masculine_head_tapers_from_cheekbones_to_chin() -> None:
    """A man's head is squarer than a woman's but still tapers (a straight-sided jaw reads as a block)."""
    for jaw in (0.0, 0.5, 1.0):
        man = FaceParams(masculinity=1.0, jaw_width=jaw, chin_width=jaw)
        woman = FaceParams(masculinity=0.0, jaw_width=jaw, chin_width=jaw)
        eye_y, mouth_y, chin_y = _rows(man)
        cheek, mouth, chin = _half_widths(man, np.array([eye_y + 0.08, mouth_y, chin_y - 0.03]))
        assert mouth < 0.93 * cheek and chin < 0.72 * cheek, (jaw, cheek, mouth, chin)
        w_eye, w_mouth, w_chin = _rows(woman)
        f_cheek, f_mouth, f_chin = _half_widths(woman, np.array([w_eye + 0.08, w_mouth, w_chin - 0.03]))
        assert mouth / cheek > f_mouth / f_cheek and chin / cheek > f_chin / f_cheek


def test_face_outline_narrows_without_notches() -> None:
    """From the cheekbones to the chin the outline only narrows (no bumps or notches at the jaw)."""
    rng = np.random.default_rng(3)
    for _ in range(24):
        face = FaceParams(
            masculinity=float(rng.uniform()), jaw_width=float(rng.uniform()), chin_width=float(rng.uniform()),
            cheek_fullness=float(rng.uniform()), face_width=float(rng.uniform()), face_length=float(rng.uniform()),
            chin_length=float(rng.uniform()), age_sag=float(rng.choice([0.0, 1.0])),
        )
        eye_y, _, chin_y = _rows(face)
        widths = _half_widths(face, np.linspace(eye_y + 0.10, chin_y - 0.01, 80))
        assert np.all(np.diff(widths) <= 1e-3), face


def _eye_opening_px(face: FaceParams, size: int = 256) -> int:
    """Rows of the eye's centre column that a blink changes: the open eye's height in pixels."""
    renderer = FaceRenderer(size)
    params = _params(face)
    with torch.no_grad():
        open_ = renderer(params, _anim(1))[0]
        shut = renderer(params, _anim(1, blink=1.0))[0]
    g = renderer._geometry(params)
    col = _col(float(g["eye_dx"]), size)
    diff = (open_ - shut).abs().amax(0)[:, col - 1 : col + 2].amax(1)
    return int((diff > 0.15).sum())


def test_masculine_eyes_are_open_not_slits() -> None:
    """At call-tile sizes a man's eye stays open (a slit reads as a squint): most of a woman's opening."""
    man = _eye_opening_px(FaceParams(masculinity=1.0, makeup=0.0))
    woman = _eye_opening_px(FaceParams(masculinity=0.0, makeup=0.0))
    assert man >= 5 and man >= 0.6 * woman, (man, woman)


def _age_lines_darken(masculinity: float) -> tuple[torch.Tensor, Geometry]:
    """How much a senior's age lines darken each pixel at 512 px (mean over RGB), and the
    senior's geometry."""
    renderer = FaceRenderer(512)
    senior = FaceParams(masculinity=masculinity, age=0.95, age_lines=1.0, age_sag=0.0)
    smooth = FaceParams(masculinity=masculinity, age=0.95, age_lines=0.0, age_sag=0.0)
    with torch.no_grad():
        diff = (renderer.prepare(_params(smooth)) - renderer.prepare(_params(senior)))[0].mean(0)
    return diff, renderer._geometry(_params(senior))


def test_smile_folds_end_beside_the_mouth() -> None:
    """Smile folds are short curves ending level with the mouth corners, not lines down to the chin."""
    diff, g = _age_lines_darken(masculinity=0.5)
    mouth_y, mouth_w, nose_y = float(g["mouth_y"]), float(g["mouth_w"]), float(g["nose_y"])
    cols = slice(_col(mouth_w * 0.9, 512), _col(mouth_w * 1.6 + 0.03, 512))
    beside = diff[_row(nose_y + 0.01, 512) : _row(mouth_y - 0.01, 512), cols]
    below = diff[_row(mouth_y + 0.01, 512) : _row(float(g["chin_y"]), 512), cols]
    assert float(beside.max()) > 0.05  # the fold is there ...
    assert float(below.max()) < 0.01  # ... and stops at the mouth


def test_smile_folds_start_below_the_nose_wing() -> None:
    """A fold that starts at the nose wing reads as a pinched, sad nose-to-mouth: it starts lower."""
    diff, g = _age_lines_darken(masculinity=1.0)
    nose_y, mouth_y, nose_w = float(g["nose_y"]), float(g["mouth_y"]), float(g["nose_w"])
    top, span = nose_y - 0.012, mouth_y - nose_y + 0.012
    cols = slice(_col(nose_w * 1.3 - 0.01, 512), _col(float(g["mouth_w"]) * 1.15 + 0.03, 512))
    wing = diff[_row(top + 0.05 * span, 512) : _row(top + 0.3 * span, 512), cols]
    corner = diff[_row(top + 0.6 * span, 512) : _row(top + 0.9 * span, 512), cols]
    assert float(corner.max()) > 0.05  # the fold is there by the mouth corner ...
    assert float(wing.max()) < 0.01  # ... and not beside the nose wing


def test_bald_crown_has_no_line_across_the_scalp() -> None:
    """A bald crown is clean skin: no thin dark arc where the hairline's shadow used to fall."""
    renderer = FaceRenderer(512)
    face = FaceParams(masculinity=1.0, hair_thinning=1.0, hair_style=_style("receding"), hair_grey=0.8,
                      age=0.95, age_lines=0.0, age_sag=1.0, skin_tone=0.5)
    params = _params(face)
    with torch.no_grad():
        img = renderer(params, _anim(1))[0].mean(0)
    g = renderer._geometry(params)
    top = float(g["cy"] - g["ry"])
    rows = slice(_row(top + 0.03, 512), _row(float(g["brow_y"]) - 0.05, 512))
    scalp = img[rows, _col(-0.07, 512) : _col(0.07, 512)]
    # A thin line is a dip below both neighbours two pixels away; the shading is smooth.
    dip = (scalp[2:-2] - (scalp[:-4] + scalp[4:]) / 2).neg().amax()
    assert float(dip) < 0.01, float(dip)


def test_grown_beard_has_a_clean_cheek_edge() -> None:
    """A full beard meets the cheek in a clean edge (a wide blur read as dirt), at 512 px: soft
    over a few pixels as hair tips are (`facial_hair.soft_edges`; a one-pixel step read as a
    dark mask, `test_face_beards.py`), never wider than about 0.04 of the frame."""
    renderer = FaceRenderer(512)
    face = FaceParams(masculinity=1.0, facial_hair=1.0, facial_hair_style=0.0, hair_lightness=0.0, skin_tone=0.2)
    params = _params(face)
    with torch.no_grad():
        img = renderer(params, _anim(1))[0].mean(0)
    g = renderer._geometry(params)
    col = img[_row(float(g["eye_y"]), 512) : _row(float(g["mouth_y"]), 512), _col(-float(g["rx"]) * 0.75, 512)].numpy()
    skin, beard = col[:8].mean(), col[-8:].mean()
    frac = (col - beard) / (skin - beard)
    edge = np.nonzero((frac < 0.9) & (frac > 0.1))[0]
    assert skin - beard > 0.3 and len(edge) <= 10, (skin, beard, len(edge))


def _bridge_edge_contrast(face: FaceParams, size: int = 512) -> float:
    """How much darker the lit side of the nose bridge is than the cheek just beyond it."""
    renderer = FaceRenderer(size)
    params = _params(face)
    with torch.no_grad():
        img = renderer.prepare(params)[0].mean(0)
    g = renderer._geometry(params)
    eye_y, nose_y, nose_w = float(g["eye_y"]), float(g["nose_y"]), float(g["nose_w"])
    row = _row((eye_y + 0.03 + nose_y - 0.03) / 2, size)
    edge = float(img[row, _col(-(nose_w * 0.45 + 0.004), size)])
    beyond = float(img[row, _col(-(nose_w * 0.45 + 0.03), size)])
    return beyond - edge


def test_masculine_nose_has_a_defined_bridge() -> None:
    """A man's nose reads as a shape: its bridge is edged on the lit side too, a woman's is not."""
    man = _bridge_edge_contrast(FaceParams(masculinity=1.0, makeup=0.0, skin_tone=0.3))
    woman = _bridge_edge_contrast(FaceParams(masculinity=0.0, makeup=0.0, skin_tone=0.3))
    assert man > 0.012 and man > woman + 0.01, (man, woman)


def _lip_rows(face: FaceParams, size: int = 512) -> tuple[int, int]:
    """Rows of the closed lips above and below the seam at the mouth's centre column."""
    renderer = FaceRenderer(size)
    params = _params(face)
    with torch.no_grad():
        bare = renderer.prepare(params)
        lips = renderer.animate(bare, params, _anim(1))
    g = renderer._geometry(params)
    diff = (lips - bare)[0].abs().amax(0)[:, _col(0.012, size)]
    seam = _row(float(g["mouth_y"]), size)
    return int((diff[seam - 30 : seam] > 0.03).sum()), int((diff[seam : seam + 30] > 0.03).sum())


def test_masculine_upper_lip_is_thinner() -> None:
    """A man's upper lip is thin next to his lower lip (a woman's is nearly as full as hers)."""
    up_m, low_m = _lip_rows(FaceParams(masculinity=1.0, makeup=0.0, lip_fullness=0.6))
    up_f, low_f = _lip_rows(FaceParams(masculinity=0.0, makeup=0.0, lip_fullness=0.6))
    assert up_m <= 0.55 * low_m and up_m / low_m < up_f / low_f - 0.1, (up_m, low_m, up_f, low_f)



class _HostTensors(TorchDispatchMode):
    """Counts tensors made from Python data (``torch.tensor``) while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is torch.ops.aten.lift_fresh.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_a_frame_makes_no_tensor_from_host_data(renderer: FaceRenderer) -> None:
    """After the first frame, drawing one (whole, animated, each part) makes no tensor from
    Python data: on CUDA each would be a host-to-device copy per frame, which a captured
    CUDA graph refuses (the torch engine failed on a GPU with every colour made per call)."""
    params, anim = _params(FACES[1]), _anim(1, mouth_open=0.5, v_rest=0.0, v_a=1.0)

    def frame() -> None:
        renderer(params, anim)  # whole frames have a path of their own (`_layers`, `_turn`)
        prepared = renderer.prepare(params)
        renderer.animate(prepared, params, anim)
        for part in renderer.PARTS:
            renderer.part(prepared, params, anim, part)

    with torch.inference_mode():
        frame()
        with _HostTensors() as made:
            frame()
    assert made.count == 0


def test_the_front_hair_draws_from_a_crop_of_the_back_hairs_mass() -> None:
    """`prepare` computes the hair's shape, colour and bald patch once over the back hair's
    box and the front hair reads their crop to the head box: the same values as computed
    on the head box itself (so the crop is aligned), for every style and presentation."""
    from streamface.face.render import hair
    from streamface.face.render.common import crop, inner

    r = FaceRenderer(128)
    rng = np.random.default_rng(7)
    params = torch.from_numpy(rng.uniform(0.0, 1.0, (8, PARAM_DIM)).astype(np.float32))
    params[:, PARAM_NAMES.index("hair_style")] = torch.linspace(0.0, float(len(HAIR_STYLES) - 1), 8).round()
    g = r._geometry(params)
    with torch.inference_mode():
        whole = hair.mass(g, *r._grid(r.back_box))
        own = hair.mass(g, *r._grid(r.head_box))
    local = inner(r.head_box, r.back_box)
    assert min(local) >= 0 and local[1] <= r.back_box[1] - r.back_box[0] and local[3] <= r.back_box[3] - r.back_box[2]
    for key, value in own.items():
        got = crop(whole[key], local) if whole[key].shape[-1] > 1 else whole[key]
        assert torch.equal(got, value), key


def test_a_whole_frame_keeps_the_fringe_over_the_eyes_with_prepares_front_hair() -> None:
    """A whole frame (`forward`) keeps the fringe over the eyes with the crop of the front
    hair's coverage `prepare`'s layers computed (`_layers`) instead of drawing the fringe again: the
    same values as `animate`'s own (the bun left out of it never reaches the eye box), so
    the same frames, for every style (buns and puffs too) and presentation."""
    from streamface.face.render import hair
    from streamface.face.render.common import crop, inner

    r = FaceRenderer(128)
    rng = np.random.default_rng(11)
    n = len(HAIR_STYLES)
    params = torch.from_numpy(rng.uniform(0.0, 1.0, (n, PARAM_DIM)).astype(np.float32))
    params[:, PARAM_NAMES.index("hair_style")] = torch.arange(n, dtype=torch.float32)
    anim = torch.from_numpy(np.stack([FaceAnimation(mouth_open=0.4, blink=0.3, yaw=4.0).to_vector()] * n))
    with torch.inference_mode():
        prepared = r.prepare(params)
        cover = r._layers(r._geometry(params))[2]
        x0, x1, y0, y1 = r.eye_box
        own = hair.front(r._geometry(params), r.xs[..., x0:x1], r.ys[..., y0:y1, :], r.px, full=False)["a"]
        assert torch.equal(crop(cover, inner(r.eye_box, r.head_box)), own)
        assert torch.equal(r(params, anim), r.animate(prepared, params, anim))


def test_paste_copies_only_what_it_must() -> None:
    """`paste` puts the patch in its box (boxes at the image's edges too), and a box as wide
    or as tall as the image concatenates no empty slice: the whole-image box is the patch
    itself, no copy (ONNX Runtime copies even a Concat of one input); `crop` slices only
    the axes it narrows (an exported Slice of every row copies them all)."""
    from streamface.face.render.common import crop, paste, paste_all

    img = torch.rand(2, 3, 12, 10)
    for box in ((0, 10, 0, 12), (0, 10, 3, 7), (2, 5, 0, 12), (0, 4, 5, 12), (6, 10, 0, 3), (3, 8, 4, 9)):
        x0, x1, y0, y1 = box
        patch = torch.rand(2, 3, y1 - y0, x1 - x0)
        want = img.clone()
        want[:, :, y0:y1, x0:x1] = patch
        assert torch.equal(paste(img, box, patch), want), box
    whole = torch.rand(2, 3, 12, 10)
    assert paste(img, (0, 10, 0, 12), whole) is whole
    assert crop(img, (0, 10, 0, 12)) is img
    assert torch.equal(crop(img, (0, 10, 3, 7)), img[:, :, 3:7]) and torch.equal(crop(img, (2, 5, 0, 12)), img[..., 2:5])
    a, b = torch.rand(2, 3, 4, 5), torch.rand(2, 3, 3, 5)
    want = img.clone()
    want[:, :, 0:4, 0:5], want[:, :, 4:7, 5:10] = a, b
    assert torch.equal(paste_all(img, (((0, 5, 0, 4), a), ((5, 10, 4, 7), b))), want)


def test_shape_helpers_cheaper_forms_give_the_same_bits() -> None:
    """`shapes.smax` and `shapes.soft` skip negating whole maps, and `shapes.power` squares:
    the first two give their textbook forms' bits exactly (IEEE rounding is symmetric in
    sign), the third `**` to the last bits."""
    from streamface.face import shapes as sh

    gen = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 1, 64, 80, generator=gen), torch.randn(4, 1, 64, 80, generator=gen) * 0.1
    for k in (0.012, torch.rand(4, 1, 1, 1, generator=gen) * 0.05 + 1e-4):
        assert torch.equal(sh.smax(a, b, k), -sh.smin(-a, -b, k))
    for width in (0.02, torch.rand(4, 1, 1, 1, generator=gen) + 0.01):
        assert torch.equal(sh.soft(a, width), torch.sigmoid(-a / width))
    t = torch.rand(4, 1, 64, 80, generator=gen)
    for n in (1, 2, 4, 6, 8):
        assert torch.allclose(sh.power(t, n), t**n, rtol=1e-6, atol=1e-12), n
    # hair.clipped gathers its per-channel constants: 0.3 s + 0.7 skin (0.85 + 0.15 s).
    from streamface.face.render import hair

    skin, shaded = torch.rand(4, 3, 1, 1, generator=gen), torch.rand(4, 3, 64, 80, generator=gen)
    want = 0.3 * shaded + 0.7 * skin * (0.85 + 0.15 * shaded)
    assert torch.allclose(hair.clipped({"skin": skin}, shaded), want, rtol=0.0, atol=1e-6)


def test_a_heavy_grey_brow_on_dark_skin_is_brown_black_not_olive() -> None:
    """A grey brow darkened below dark skin takes the skin's hue, darker (brown-black): a
    clamp per channel against the brown skin left its green near its red and far above its
    blue (an olive brow, seen at 100 %)."""
    r = FaceRenderer(64)
    face = FaceParams(masculinity=1.0, skin_tone=0.8, skin_undertone=0.9, hair_lightness=0.2, hair_red=0.0,
                      hair_grey=0.8, age=0.86, brow_thickness=0.93)
    g = r._geometry(_params(face))
    ratios = (g["brow_col"] / g["skin"]).flatten().tolist()
    assert max(ratios) < 0.6  # clearly darker than the skin
    assert max(ratios) - min(ratios) < 0.03, ratios
