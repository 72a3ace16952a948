"""Frames of a settled face from cached engine pictures: a sprite compositor.

Within a session the face is fixed between morphs; only the mouth, the eyes and brows
and the head pose change from frame to frame. `FaceSprites` asks the engine once for the
face at rest (zero pose, where the head warp is the identity) and, lazily, for the mouth
patch (`MOUTH_BOX`) and the eye/brow patch (`EYE_BOX`) of each quantised animation state
it meets; each frame is then pasted together in uint8 and the warp box turned for yaw,
pitch, roll and breathing with `cv2.remap`. Every picture comes from the engine (a patch
from ``animate_part``, which draws that box alone at a fifth (eyes) to a twelfth (mouth)
of a frame's cost; from ``animate`` cropped where the engine draws no parts), so ONNX
Runtime, torch and TensorRT faces look the same this way as drawn whole; nothing here
knows how a layer is drawn, only the engine contract and the layout boxes and head-warp
fields of `face.render` (`layout`).

A morphing face changes every frame: `FaceSprites.morph_frame` cross-fades the morph's two
keyframes, each a compositor of its own: their pictures at rest (each composed once) and
their cached eye and mouth cells of the frame's quantised state (those of the target are
the settled face's after the morph), and turns the head the same way.

Quantisation (nearest cell, no blending, so nothing ghosts): mouth openness in steps of
1/`OPEN_STEPS`, the normalised viseme mix in steps of 1/`VISEME_STEPS` (largest
remainders, so it still sums to 1), blink in steps of 1/`BLINK_STEPS`, gaze in steps of
`GAZE_STEP`, and the brow lift (it follows the mouth: `face.render.eyes.brow_lift`) in
steps of `LIFT_STEP_PX` pixels. At 256 px a step moves a lip or tooth edge by about a
pixel at most (two at 512). A state off the grid shows its cell's picture; the measured
error against ``animate`` is in benchmarks/results/cpu-vp8-sprites.md.

The cost moves from every frame to the first frames of each face: one ``animate_part``
call per new cell (about 200 over the first 20 s of a talk; 0.3-0.8 ms at 256 px, 0.8-2.5
ms at 512 px, where a whole ``animate`` is 4 and 11 ms), then about 0.3 ms (256 px) or
1 ms (512 px) per frame.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from streamface.face.animation import ANIM_DIM, ANIM_FIELDS

OPEN_STEPS = 12
"""Mouth openness levels (0..1)."""
VISEME_STEPS = 4
"""Quanta of the normalised viseme mix (the weights are whole quanta summing to this)."""
BLINK_STEPS = 4
"""Blink levels (0 open .. 1 closed)."""
GAZE_STEP = 1.0 / 8.0
"""Gaze quantum (gaze runs -1..1; the idle gaze stays within ±0.25)."""
LIFT_STEP_PX = 1.0
"""Brow-lift quantum in pixels of the frame."""
MAX_PATCHES = 512
"""Cached patches per kind (mouth, eyes) and face; the least recently used go first."""

logger = logging.getLogger(__name__)

_F = {name: i for i, name in enumerate(ANIM_FIELDS)}
_MOUTH = [_F[n] for n in ("mouth_open", "v_rest", "v_a", "v_ei", "v_ou", "v_mbp")]
_VISEMES = _MOUTH[1:]
_BLINK, _GAZE_X, _GAZE_Y = _F["blink"], _F["gaze_x"], _F["gaze_y"]
_EYE_FIELDS = [_BLINK, _GAZE_X, _GAZE_Y]
_POSE = [_F[n] for n in ("yaw", "pitch", "roll", "breath")]
_DEG = np.pi / 180.0
_POSE_LIMIT_DEG = 10.0  # the renderer's clamp of yaw, pitch and roll

Box = tuple[int, int, int, int]
"""Pixel box ``(x0, x1, y0, y1)``."""


@dataclass(frozen=True)
class Layout:
    """Pixel boxes and head-warp fields of the renderer at one size.

    Attributes:
        size: Frame width and height.
        eye_box, mouth_box, warp_box: Pixel boxes of the frame.
        fields: float32 [5, h, w] over the warp box: column, row, and the head's x, y and
            depth weights (the `FaceRenderer` warp buffers); ``rise`` the breathing lift.
        rise: float32 [h, w].
        pixel: Width of one pixel in normalised units.
    """

    size: int
    eye_box: Box
    mouth_box: Box
    warp_box: Box
    fields: np.ndarray
    rise: np.ndarray
    pixel: float

    def local(self, box: Box) -> Box:
        """``box`` relative to the warp box's corner."""
        wx, _, wy, _ = self.warp_box
        return box[0] - wx, box[1] - wx, box[2] - wy, box[3] - wy


_layouts: dict[int, Layout] = {}
_building: set[int] = set()
_layouts_lock = threading.Lock()


def layout(size: int) -> Layout:
    """The renderer's layout at ``size``, once per size and process.

    Read from the model cache when the shipped renderer's export key (`quick_key`) has one
    there (no torch import); else computed from `FaceRenderer` (~1.5 s with the torch
    import) and cached. The brow lift of every mouth cell is cached with it.
    """
    with _layouts_lock:
        done = _layouts.get(size)
    if done is not None:
        return done
    path = _cache_path(size)
    made = _load(path, size) if path is not None else None
    if made is None:
        made = _compute(size)
        if path is not None:
            _save(path, made)
    with _layouts_lock:
        return _layouts.setdefault(size, made)


def _compute(size: int) -> Layout:
    import torch

    from streamface.face.render.common import pixel_size
    from streamface.face.render.compose import FaceRenderer

    with torch.no_grad():
        r = FaceRenderer(size)
        col, row = r.warp_col[0].numpy(), r.warp_row[0].numpy()
        hx, hy, hd = r.warp_hx[0].numpy(), r.warp_hy[0].numpy(), r.warp_hd[0].numpy()
        rise = np.ascontiguousarray(r.warp_rise[0].numpy(), np.float32)
    fields = np.ascontiguousarray(np.stack([col, row, hx, hy, hd]), dtype=np.float32)
    keys, rows = mouth_cells()
    _remember_lifts(keys, _brow_lift(rows))
    return Layout(size, r.eye_box, r.mouth_box, r.warp_box, fields, rise, pixel_size(size))


def mouth_cells() -> tuple[np.ndarray, np.ndarray]:
    """Every mouth cell of the grid: keys int16 [N, 6] and on-grid anim rows [N, ANIM_DIM]."""
    mixes = [m for m in itertools.product(range(VISEME_STEPS + 1), repeat=len(_VISEMES)) if sum(m) == VISEME_STEPS]
    keys = np.array([(o, *m) for o in range(OPEN_STEPS + 1) for m in mixes], np.int16)
    rows = np.zeros((len(keys), ANIM_DIM), np.float32)
    rows[:, _MOUTH[0]] = keys[:, 0] / OPEN_STEPS
    rows[:, _VISEMES] = keys[:, 1:] / VISEME_STEPS
    return keys, rows


def _cache_path(size: int) -> Path | None:
    try:
        from engines.export import cache_root, quick_key

        key = quick_key(size)
    except Exception:  # noqa: BLE001 - no key: compute the layout, cache nothing
        return None
    if key is None:
        return None
    return cache_root() / "models" / "layout" / f"{key[:32]}-{OPEN_STEPS}x{VISEME_STEPS}.npz"


def _load(path: Path, size: int) -> Layout | None:
    try:
        with np.load(path) as z:
            eye, mouth, warp = (_box(z[name]) for name in ("eye_box", "mouth_box", "warp_box"))
            fields, rise = z["fields"].astype(np.float32), z["rise"].astype(np.float32)
            made = Layout(size, eye, mouth, warp, fields, rise, float(z["pixel"]))
            _remember_lifts(z["lift_keys"].astype(np.int16), z["lift_values"].astype(np.float64))
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return made


def _box(values: np.ndarray) -> Box:
    x0, x1, y0, y1 = (int(v) for v in values)
    return x0, x1, y0, y1


def _save(path: Path, made: Layout) -> None:
    keys, _ = mouth_cells()
    values = np.array([_lift_cache[k.tobytes()] for k in keys])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".layout-", suffix=".npz", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                eye_box=made.eye_box,
                mouth_box=made.mouth_box,
                warp_box=made.warp_box,
                fields=made.fields,
                rise=made.rise,
                pixel=made.pixel,
                lift_keys=keys,
                lift_values=values,
            )
        os.replace(tmp, path)  # atomic: another process reads all or nothing
    except OSError as exc:  # a read-only cache only costs the computation next time
        logger.debug("could not cache the sprite layout: %s", exc)


def layout_ready(size: int) -> Layout | None:
    """The layout at ``size`` if computed, else None (and it starts being computed in a
    background thread), so that no frame waits for it."""
    with _layouts_lock:
        done = _layouts.get(size)
        if done is not None or size in _building:
            return done
        _building.add(size)

    def build() -> None:
        try:
            layout(size)
        except Exception:  # noqa: BLE001 - frames keep using the engine; say why once
            logger.exception("sprite layout at %d px failed; frames are drawn by the engine", size)

    # Not a daemon: a short command can finish before the layout does, and a daemon thread
    # still inside torch while the interpreter tears down aborts the process ("terminate
    # called without an active exception"). Exit waits for the build (seconds, once per
    # renderer; it is cached for the next run).
    threading.Thread(target=build, name=f"sprite-layout-{size}").start()
    return None


def _brow_lift(rows: np.ndarray) -> np.ndarray:
    """The renderer's brow lift (normalised units) for anim rows [B, ANIM_DIM]."""
    import torch

    from streamface.face.render.eyes import brow_lift

    t = torch.from_numpy(np.ascontiguousarray(rows, np.float32))

    def a(name: str) -> Any:
        return t[:, _F[name]].reshape(-1, 1, 1, 1)

    with torch.no_grad():
        return np.asarray(brow_lift({}, a).reshape(-1).numpy(), np.float64)


_lift_cache: dict[bytes, float] = {}


def _remember_lifts(keys: np.ndarray, values: np.ndarray) -> None:
    _lift_cache.update({k.tobytes(): float(v) for k, v in zip(keys, values, strict=True)})


def _key(levels: tuple[int, ...]) -> bytes:
    """A cell's cache key: its levels as int16 bytes, what ``np.int16`` rows' ``tobytes`` give."""
    return struct.pack(f"={len(levels)}h", *levels)


def _lift(mouth: tuple[int, ...], key: bytes | None = None) -> float:
    """`_brow_lift` of a mouth cell's on-grid row, remembered per cell (it depends on the mouth only).

    ``key``: the cell's `_key`, when the caller has it."""
    if key is None:
        key = _key(mouth)
    lift = _lift_cache.get(key)
    if lift is None:
        row = np.zeros((1, ANIM_DIM), np.float32)
        row[0, _MOUTH[0]] = mouth[0] / OPEN_STEPS
        row[0, _VISEMES] = np.array(mouth[1:]) / VISEME_STEPS
        lift = float(_brow_lift(row)[0])
        if len(_lift_cache) > 50_000:  # the grid has fewer cells; this only bounds misuse
            _lift_cache.clear()
        _lift_cache[key] = lift
    return lift


def quantise(anim: np.ndarray, pixel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell keys and the on-grid anim rows that stand for them.

    Args:
        anim: float32 [B, ANIM_DIM].
        pixel: Width of a pixel in normalised units (the brow-lift quantum's scale).

    Returns:
        (mouth keys int16 [B, 6], eye keys int16 [B, 4], rows float32 [B, ANIM_DIM]): the
        rows are at zero pose with every mouth and eye field on its cell's grid point.
    """
    anim = np.asarray(anim, np.float32).reshape(-1, ANIM_DIM)
    if not np.isfinite(anim).all():
        anim = np.nan_to_num(anim, nan=0.0, posinf=1.0, neginf=-1.0)
    n = len(anim)
    mouth = np.empty((n, 6), np.int16)
    eyes = np.empty((n, 4), np.int16)
    grid = np.zeros((n, ANIM_DIM), np.float32)
    lift_step = LIFT_STEP_PX * pixel
    # One row at a time in Python floats: a frame quantises one row, and numpy's per-call
    # overhead on arrays of one row was a third of a composed frame's work at 256 px.
    for i, row in enumerate(anim.tolist()):
        m, e, _ = _cells(row, lift_step)
        mouth[i] = m
        eyes[i] = e
        grid[i, _MOUTH] = (m[0] / OPEN_STEPS, *(v / VISEME_STEPS for v in m[1:]))
        grid[i, _EYE_FIELDS] = (e[0] / BLINK_STEPS, e[1] * GAZE_STEP, e[2] * GAZE_STEP)
    return mouth, eyes, grid


def _cells(row: list[float], lift_step: float) -> tuple[tuple[int, ...], tuple[int, ...], bytes]:
    """The mouth and eye cells of one finite anim row (`quantise`'s keys), and the mouth's `_key`."""
    m = _mouth_cell(row)
    key = _key(m)
    e = (
        round(min(max(row[_BLINK], 0.0), 1.0) * BLINK_STEPS),
        round(min(max(row[_GAZE_X], -1.0), 1.0) / GAZE_STEP),
        round(min(max(row[_GAZE_Y], -1.0), 1.0) / GAZE_STEP),
        round(_lift(m, key) / lift_step),
    )
    return m, e, key


def _mouth_cell(row: list[float]) -> tuple[int, ...]:
    """(openness level, viseme levels...) of one anim row."""
    opn = min(max(row[_MOUTH[0]], 0.0), 1.0)
    vis = [max(row[j], 0.0) for j in _VISEMES]
    total = sum(vis)
    vis = [v / total for v in vis] if total > 1e-6 else [1.0] + [0.0] * (len(vis) - 1)
    return (round(opn * OPEN_STEPS), *_simplex_levels(vis, VISEME_STEPS))


def _simplex_levels(weights: list[float], steps: int) -> list[int]:
    """Convex weights as whole levels summing to ``steps`` (largest remainders, ties to the first).

    Levels / steps is then a point of the grid that quantises to itself.
    """
    scaled = [w * steps for w in weights]
    levels = [math.floor(v) for v in scaled]
    short = steps - sum(levels)
    order = sorted(range(len(levels)), key=lambda j: levels[j] - scaled[j])  # stable
    for j in order[:short]:
        levels[j] += 1
    return levels


@dataclass
class SpriteStats:
    """Counters of one face's compositor (read for benchmarks and tests)."""

    frames: int = 0
    engine_calls: int = 0
    """Engine calls: the rest frame plus one per batch of missing cells of a kind."""
    cells_rendered: int = 0
    """Patches drawn (mouth and eye cells)."""
    morph_frames: int = 0
    """Frames of `morph_frame` (this compositor the morph's first keyframe)."""


class FaceSprites:
    """One settled face's frames: cached engine patches pasted and warped per frame.

    Thread-safe: `frame` may run in several threads at once (a missing cell may then be
    rendered twice; the pictures are the same).

    Args:
        engine: The engine (``animate`` is called with ``prepared`` and anim rows).
        prepared: The face, from ``engine.prepare`` (or ``blend``).
        finish: Turns a square uint8 frame into the output frame (framing, label); must
            change pixels only where their own value is (no filter across the warp box).
            It runs once on the face at rest, and per frame only when it draws into the
            warp box.
        left: Column where ``finish`` puts the square (the same height) in its output.
    """

    def __init__(self, engine: Any, prepared: Any, finish: Callable[[np.ndarray], np.ndarray], left: int = 0) -> None:
        self.layout = layout(int(engine.size))
        self.stats = SpriteStats()
        self._engine = engine
        self._prepared = prepared
        self._finish = finish
        self._lock = threading.Lock()
        self._mouths: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._eyes: OrderedDict[bytes, np.ndarray] = OrderedDict()
        rest = np.zeros((1, ANIM_DIM), np.float32)
        rest[0, _F["v_rest"]] = 1.0
        mouth, eyes, grid = quantise(rest, self.layout.pixel)
        base = np.array(self._engine.animate(self._prepared, grid)[0], np.uint8, copy=True)
        self.stats.engine_calls += 1
        self._add(self._mouths, mouth, self._crop(base, "mouth")[None])
        self._add(self._eyes, eyes, self._crop(base, "eyes")[None])
        wx0, wx1, wy0, wy1 = self.layout.warp_box
        self._region = np.ascontiguousarray(base[wy0:wy1, wx0:wx1])
        self._work = self._region.copy()  # `_compose`'s region, cells pasted in
        self._work_lock = threading.Lock()
        self._square = base
        finished = finish(base.copy())
        # Where `finish` puts the square in the output, and whether it draws over the warp box.
        if finished.shape[0] != base.shape[0] or finished.shape[1] < left + base.shape[1]:
            raise ValueError(f"finish put a {base.shape} frame into {finished.shape} at column {left}")
        self._offset = (int(left), 0)
        ox, oy = self._offset
        # Baked: ``finish`` left the warp box as the engine drew it (framing and label outside).
        self._baked = np.array_equal(finished[oy + wy0 : oy + wy1, ox + wx0 : ox + wx1], base[wy0:wy1, wx0:wx1])
        self._finished = finished

    # ---- engine pictures ---------------------------------------------------------------

    def _box(self, part: str) -> Box:
        return self.layout.eye_box if part == "eyes" else self.layout.mouth_box

    def _crop(self, frames: np.ndarray, part: str) -> np.ndarray:
        x0, x1, y0, y1 = self._box(part)
        return np.ascontiguousarray(frames[..., y0:y1, x0:x1, :])

    def _draw(self, prepared: Any, rows: np.ndarray, part: str) -> np.ndarray:
        """Patches ``part`` ("eyes" or "mouth") of anim rows at zero pose: uint8 [B, h, w, 3]."""
        if part in self._engine.parts:
            return np.asarray(self._engine.animate_part(prepared, rows, part))
        rows = rows.copy()
        rows[:, _POSE] = 0.0
        return self._crop(np.asarray(self._engine.animate(prepared, rows)), part)

    def _render(self, rows: np.ndarray, part: str) -> np.ndarray:
        out = self._draw(self._prepared, rows, part)
        with self._lock:
            self.stats.engine_calls += 1
            self.stats.cells_rendered += len(rows)
        return out

    def _add(self, cache: OrderedDict[bytes, np.ndarray], keys: np.ndarray, patches: np.ndarray) -> None:
        with self._lock:
            for k, img in zip(keys, patches, strict=True):
                cache.setdefault(k.tobytes(), np.ascontiguousarray(img))
            while len(cache) > MAX_PATCHES:
                cache.popitem(last=False)

    def _patch(self, cache: OrderedDict[bytes, np.ndarray], key: np.ndarray, grid: np.ndarray, part: str) -> np.ndarray:
        k = key.tobytes()
        with self._lock:
            patch = cache.get(k)
            if patch is not None:
                cache.move_to_end(k)
                return patch
        patch = self._render(grid, part)[0]
        self._add(cache, key[None], patch[None])
        return patch

    def _patches(self, anim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mouth and eye cells of one anim row [1, ANIM_DIM] (drawn when missing)."""
        row = anim[0].tolist()
        if all(map(math.isfinite, row)):
            # The cached cells found by their keys alone: the arrays of `quantise` (a third
            # of a settled frame's Python work) only for a cell to draw.
            _, e, mouth_key = _cells(row, LIFT_STEP_PX * self.layout.pixel)
            eye_key = _key(e)
            with self._lock:
                mouth, eyes = self._mouths.get(mouth_key), self._eyes.get(eye_key)
                if mouth is not None and eyes is not None:
                    self._mouths.move_to_end(mouth_key)
                    self._eyes.move_to_end(eye_key)
                    return mouth, eyes
        mouth_keys, eye_keys, grid = quantise(anim, self.layout.pixel)
        return (
            self._patch(self._mouths, mouth_keys[0], grid, "mouth"),
            self._patch(self._eyes, eye_keys[0], grid, "eyes"),
        )

    def prefill(self, anim: np.ndarray) -> int:
        """Render the cells of anim rows [B, ANIM_DIM] not cached yet (one engine call per kind).

        Returns:
            How many patches were rendered.
        """
        mouth, eyes, grid = quantise(anim, self.layout.pixel)
        done = 0
        for cache, keys, part in ((self._mouths, mouth, "mouth"), (self._eyes, eyes, "eyes")):
            with self._lock:
                need: dict[bytes, int] = {}
                for i, k in enumerate(keys):
                    if k.tobytes() not in cache:
                        need.setdefault(k.tobytes(), i)
            if need:
                index = list(need.values())
                self._add(cache, keys[index], self._render(grid[index], part))
                done += len(index)
        return done

    # ---- frames ------------------------------------------------------------------------

    def frame(self, anim: np.ndarray) -> np.ndarray:
        """The output frame for one anim row (float32 [ANIM_DIM] or [1, ANIM_DIM]).

        Returns:
            A new uint8 [H, W, 3] array, as ``finish(engine.animate(prepared, anim)[0])``.
        """
        row = np.asarray(anim, np.float32).reshape(-1, ANIM_DIM)[:1]
        mouth, eyes = self._patches(row)
        wx0, wx1, wy0, wy1 = self.layout.warp_box
        with self._lock:
            self.stats.frames += 1
        if self._baked:
            out = self._finished.copy()
            ox, oy = self._offset
            self._compose(mouth, eyes, row[0], out[oy + wy0 : oy + wy1, ox + wx0 : ox + wx1])
            return out
        square = self._square.copy()
        self._compose(mouth, eyes, row[0], square[wy0:wy1, wx0:wx1])
        return self._finish(square)

    def _compose(self, mouth: np.ndarray, eyes: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
        """The warp box at rest with ``mouth`` and ``eyes`` pasted in, turned by ``row``'s pose into ``out``."""
        lay = self.layout
        # The region is the face at rest plus the frame's cells, which cover the same boxes
        # every frame: one buffer per face, pasted into, instead of a copy of the region per
        # frame (a frame on another thread meanwhile takes a copy).
        mine = self._work_lock.acquire(blocking=False)
        try:
            region = self._work if mine else self._region.copy()
            mx0, mx1, my0, my1 = lay.local(lay.mouth_box)
            ex0, ex1, ey0, ey1 = lay.local(lay.eye_box)
            region[my0:my1, mx0:mx1] = mouth
            region[ey0:ey1, ex0:ex1] = eyes
            self._warp(region, row, out)
        finally:
            if mine:
                self._work_lock.release()

    def morph_frame(
        self, other: FaceSprites, weight: float, prepared: Any, anim: np.ndarray, *, draw: bool = False
    ) -> np.ndarray | None:
        """A frame of a face between this one and ``other``, or None where it cannot be composed.

        The pictures at rest (finished) are cross-faded in uint8, as an engine's ``blend``
        cross-fades the static layers (within a level of its rounding). The eye and mouth
        patches are cross-faded the same way from each keyframe's own cells of the frame's
        quantised state (`frame`'s cells, drawn once per keyframe and state and cached: the
        target's serve the settled face after the morph), so a morph frame costs about what
        a settled one does. With ``draw`` they are instead drawn for ``prepared`` itself
        (``animate_part``, the whole part graph of a face met once: about 4x a settled
        frame at 256 px), as the engine's ``animate`` of the blended face draws them. The
        two differ by the cell grid (as a settled frame differs from ``animate``) and by
        the cross-fade of two nearby faces' patches against the patch of the face between
        them (measured in benchmarks/results/cpu-vp8-morphcells.md). The head turns as in
        `frame`.

        Args:
            other: The compositor of the morph's other keyframe (same engine and framing).
            weight: 0 shows this face, 1 ``other``.
            prepared: The blended face (``engine.blend`` of the two at ``weight``); drawn
                from only with ``draw``.
            anim: One anim row.
            draw: Draw the patches of ``prepared`` with the engine instead of cross-fading
                the keyframes' cells.

        Returns:
            A new uint8 frame as `frame`'s, or None when a ``finish`` draws into the warp box
            or the engine draws no parts (the caller then uses ``animate``).
        """
        parts = self._engine.parts
        if not (self._baked and other._baked and "eyes" in parts and "mouth" in parts):
            return None
        if other._finished.shape != self._finished.shape or other._offset != self._offset:
            raise ValueError("morph_frame needs two compositors with the same framing")
        row = np.asarray(anim, np.float32).reshape(-1, ANIM_DIM)[:1]
        w = min(max(float(weight), 0.0), 1.0)
        out = cv2.addWeighted(self._finished, 1.0 - w, other._finished, w, 0.0)
        lay = self.layout
        wx0, wx1, wy0, wy1 = lay.warp_box
        ox, oy = self._offset
        target = out[oy + wy0 : oy + wy1, ox + wx0 : ox + wx1]
        region = target.copy()
        if draw:
            patches = [self._draw(prepared, row, part)[0] for part in ("mouth", "eyes")]
        else:
            patches = self._cross_faded(other, w, row)
        for part, patch in zip(("mouth", "eyes"), patches, strict=True):
            x0, x1, y0, y1 = lay.local(self._box(part))
            region[y0:y1, x0:x1] = patch
        self._warp(region, row[0], target)
        with self._lock:
            self.stats.engine_calls += 2 * draw
            self.stats.morph_frames += 1
        return out

    def _cross_faded(self, other: FaceSprites, weight: float, row: np.ndarray) -> list[np.ndarray]:
        """The mouth and eye cells of ``row`` of this face and ``other``, cross-faded by ``weight``."""
        mine = self._patches(row)
        if other is self:
            return list(mine)
        theirs = other._patches(row)
        return [cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0) for a, b in zip(mine, theirs, strict=True)]

    def _warp(self, region: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
        """The renderer's head warp of the warp-box ``region`` (bilinear, border-clamped),
        written into ``out`` (the warp box of the frame: no copy of the turned region)."""
        # Python floats: np.clip on four scalars cost as much as the map arithmetic at 256 px.
        yaw, pitch, roll = (min(max(float(row[i]), -_POSE_LIMIT_DEG), _POSE_LIMIT_DEG) * _DEG for i in _POSE[:3])
        breath = min(max(float(row[_POSE[3]]), 0.0), 1.0)
        if yaw == pitch == roll == breath == 0.0:
            out[...] = region
            return
        c1, s = math.cos(roll) - 1.0, math.sin(roll)
        sy, sp = math.sin(yaw), math.sin(pitch)
        col, rw, hx, hy, hd = self.layout.fields
        # cv2.scaleAdd (a * x + y, one pass, no temporaries): half the time of numpy's
        # expressions, the largest part of a composed frame after the remap itself.
        fx = cv2.scaleAdd(hx, c1, col)
        cv2.scaleAdd(hy, s, fx, dst=fx)
        cv2.scaleAdd(hd, -sy, fx, dst=fx)
        fy = cv2.scaleAdd(hy, c1, rw)
        cv2.scaleAdd(hx, -s, fy, dst=fy)
        cv2.scaleAdd(hd, -sp, fy, dst=fy)
        if breath:
            cv2.scaleAdd(self.layout.rise, breath, fy, dst=fy)
        done = cv2.remap(region, fx, fy, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_REPLICATE)
        if done is not out:  # OpenCV wrote elsewhere (it takes a strided view as it is today)
            out[...] = done

