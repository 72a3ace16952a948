"""The visible AI-generated label: present, legible, in a corner, cheap, drawn in pixels."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamface.face import label as label_mod
from streamface.face.label import LABEL_LINES, draw_label, label_box, label_present


def _frames(size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "black": np.zeros((size, size, 3), np.uint8),
        "white": np.full((size, size, 3), 255, np.uint8),
        "yellow": np.tile(np.array([255, 214, 0], np.uint8), (size, size, 1)),
        "noise": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
    }


@pytest.mark.parametrize("size", [320, 512, 1024])
def test_label_present_on_any_background(size: int) -> None:
    for name, frame in _frames(size).items():
        assert not label_present(frame), name
        out = draw_label(frame)
        assert out is frame  # drawn in place into the pixels
        assert label_present(out), name


def test_wording_says_ai_generated_and_not_real() -> None:
    text = " ".join(LABEL_LINES).lower()
    assert "ai-generated" in text
    assert "not" in text and "real" in text


def test_label_in_bottom_left_corner_and_only_there() -> None:
    frame = _frames(512)["noise"]
    before = frame.copy()
    draw_label(frame)
    x0, y0, x1, y1 = label_box(512, 512)
    assert x0 < 512 * 0.05 and y1 > 512 * 0.95  # hugs the bottom-left corner
    outside = np.ones((512, 512), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(frame[outside], before[outside])
    assert not np.array_equal(frame[y0:y1, x0:x1], before[y0:y1, x0:x1])


def test_legible_at_320_px() -> None:
    """Text at least 12 px and a clear luma contrast between strokes and panel."""
    ov = label_mod._overlay(320, 320)
    x0, y0, x1, y1 = ov.box
    assert x1 <= 320 * 0.9 and y1 <= 320
    assert ov.font_px >= 12
    frame = draw_label(_frames(320)["white"])
    luma = frame[y0:y1, x0:x1].astype(float) @ [0.299, 0.587, 0.114]
    text, panel = luma[ov.text_mask].mean(), luma[ov.panel_mask].mean()
    # WCAG contrast ratio of strokes against the panel on the worst (white) background.
    ratio = (text / 255 + 0.05) / (panel / 255 + 0.05)
    assert ratio >= 4.5, ratio


def test_scales_with_width() -> None:
    widths = [label_box(w, w)[2] - label_box(w, w)[0] for w in (320, 640, 1280)]
    assert widths[0] < widths[1] < widths[2]
    assert widths[2] / 1280 == pytest.approx(widths[1] / 640, rel=0.15)


def test_non_writable_input_is_copied() -> None:
    frame = np.zeros((320, 320, 3), np.uint8)
    frame.setflags(write=False)
    out = draw_label(frame)
    assert out is not frame and label_present(out) and not frame.any()


def test_tiny_and_non_square_frames() -> None:
    for h, w in ((90, 160), (720, 1280), (1280, 720), (64, 64)):
        out = draw_label(np.zeros((h, w, 3), np.uint8))
        x0, y0, x1, y1 = label_box(w, h)
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert out[y0:y1, x0:x1].any()


def test_rejects_wrong_layout() -> None:
    with pytest.raises(ValueError):
        draw_label(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError):
        draw_label(np.zeros((32, 32, 3), np.float32))


def test_per_frame_cost_is_small() -> None:
    frame = _frames(512)["noise"]
    draw_label(frame)  # builds the cached overlay
    start = time.perf_counter()
    for _ in range(200):
        draw_label(frame)
    per_frame_ms = (time.perf_counter() - start) / 200 * 1e3
    assert per_frame_ms < 2.0, per_frame_ms  # ~0.2 ms measured; a 30 fps frame has 33 ms
