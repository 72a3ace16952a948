"""`benchmarks.frame_step.FrameStepper`, the per-frame driver of the VP8-ratio benchmarks.

It must keep working against the live server's own pieces (it broke once when the track's
private render helper changed its signature), so it is driven here on a fake engine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from aiortc.codecs.vpx import Vp8Encoder
from fakes import ShapesEngine, fake_mapper

from streamface.server.tracks import rgb_to_yuv420p
from streamface.session import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is no package dep
from benchmarks.frame_step import CHUNK, FPS, FrameStepper, voice_48k  # noqa: E402

SIZE = 96


def test_frame_step_drives_a_session_as_the_live_track_does() -> None:
    frames = 30
    session = Session(ShapesEngine(SIZE), fps=FPS, mapper=fake_mapper)
    stepper = FrameStepper(session, voice_48k(2.0), frames)
    encoder = Vp8Encoder()
    sent = 0
    for k in range(frames):
        yuv = stepper.frame(k)
        assert yuv.format.name == "yuv420p" and (yuv.width, yuv.height) == (SIZE, SIZE)
        sent += stepper.encode(encoder, yuv, k)
        # the audio up to the frame's end has been pushed, and nothing beyond one chunk more
        assert (k + 1) / FPS * 48000 <= stepper._pushed * CHUNK < (k + 1) / FPS * 48000 + CHUNK
    # the last frame is the session's picture at the last frame's time, as FaceTrack makes it
    expected = rgb_to_yuv420p(np.ascontiguousarray(session.render_frame((frames - 1) / FPS)))
    assert yuv.to_ndarray().tobytes() == expected.to_ndarray().tobytes()
    # ... and the RGB picture it was converted from is kept for comparing variants
    assert stepper.last_rgb is not None
    assert rgb_to_yuv420p(stepper.last_rgb).to_ndarray().tobytes() == expected.to_ndarray().tobytes()
    metrics = stepper.metrics()
    assert sent > 0 and metrics["vp8_encode_cpu_ms_per_frame"] > 0
    assert metrics["settled_frames"] + metrics["morphing_frames"] == frames
    assert np.isfinite(metrics["pipeline_to_vp8_x"]) and metrics["pipeline_to_vp8_x"] > 0
    session.close()


def test_differences_summarise_two_variants_frames_by_kind() -> None:
    from benchmarks.cells_ab import differences

    same = np.zeros((4, 4, 3), np.int16)
    off = same.copy()
    off[0, 0] = (9, 2, 0)  # one pixel over 8 levels
    off[1, 1, 2] = 3
    got = differences([(True, same), (True, off), (False, off), (False, same)])
    assert got["settled_frames_compared"] == 2 and got["morphing_frames_compared"] == 2
    assert got["settled_max_abs_diff"] == got["morphing_max_abs_diff"] == 9
    assert got["morphing_pixels_over_8_levels"] == 1
    assert got["morphing_worst_frame_mean_abs_diff"] == round(14 / 48, 4)
    assert got["morphing_mean_abs_diff"] == round(14 / 48 / 2, 4)
    assert differences([(True, same)]) == {
        "settled_frames_compared": 1,
        "settled_max_abs_diff": 0,
        "settled_mean_abs_diff": 0.0,
        "settled_worst_frame_mean_abs_diff": 0.0,
        "settled_p999_abs_diff": 0.0,
        "settled_pixels_over_8_levels": 0,
    }
