"""Square and wide (16:9) call-tile frames: sizes, a seamless background, a centred face."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from streamface.errors import StreamFaceError
from streamface.face.framing import Framer, FrameSize, parse_frame_size
from streamface.face.label import draw_label, label_box

VOICE = Path(__file__).parent / "data" / "voices" / "flite_rms.flac"


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", FrameSize(512, 512)), ("640x360", FrameSize(640, 360)), ("1280X720", FrameSize(1280, 720)),
     (256, FrameSize(256, 256))],
)
def test_sizes_parse(text: str | int, size: FrameSize) -> None:
    assert parse_frame_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "640x", "641x360", "360x640", "2000x720", "32", "4096x2160", "1x2x3"])
def test_bad_sizes_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(StreamFaceError, match="--size"):
        parse_frame_size(text)


def _square(s: int, seed: int = 0) -> np.ndarray:
    """A smooth vertical-gradient background with a 'person' in the middle."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(60, 200, s)[:, None, None] * np.ones((1, s, 3)) + rng.uniform(-20, 20, 3)
    img = rows.astype(np.uint8)
    img[s // 4 :, s // 3 : 2 * s // 3] = (200, 150, 120)
    return img


def test_wide_frame_extends_the_background_seamlessly() -> None:
    framer = Framer(FrameSize(640, 360))
    square = _square(360)
    out = framer.compose(square)
    assert out.shape == (360, 640, 3) and framer.left == 140
    assert np.array_equal(out[:, 140:500], square)
    # Each band row is the square's edge colour of that row: no seam, no person in the bands.
    assert np.abs(out[:, :140].astype(int) - square[:, :1].astype(int)).max() <= 1
    assert np.abs(out[:, 500:].astype(int) - square[:, -1:].astype(int)).max() <= 1
    # The bands are rebuilt only when the square's edges change (a new face).
    framer.compose(square.copy())
    assert framer.rebuilds == 1
    framer.compose(_square(360, seed=1))
    assert framer.rebuilds == 2


def test_square_frame_passes_through() -> None:
    square = _square(64)
    assert Framer(FrameSize(64, 64)).compose(square) is square
    with pytest.raises(ValueError):
        Framer(FrameSize(128, 64)).compose(square[:32])


@pytest.mark.parametrize("size", ["512", "640x360", "1280x720"])
def test_label_fits_every_size(size: str) -> None:
    fs = parse_frame_size(size)
    frame = np.full((fs.height, fs.width, 3), 128, np.uint8)
    x0, y0, x1, y1 = label_box(fs.width, fs.height)
    assert 0 <= x0 < x1 <= fs.width and 0 <= y0 < y1 <= fs.height
    assert (y1 - y0) < 0.2 * fs.height  # a wide frame's label is no taller than a square's
    draw_label(frame)
    assert np.any(frame[y0:y1, x0:x1] != 128)


def _face_centre_x(image: np.ndarray) -> float:
    """Mean column of pixels that differ from their row's background (edge colour)."""
    img = image.astype(np.int16)
    h = img.shape[0]
    top = img[: int(h * 0.8)]  # above the label
    person = np.abs(top - top[:, :1]).sum(-1) > 30
    xs = np.nonzero(person)[1]
    return float(xs.mean()) / img.shape[1]


# The live default face (256 px), so the real-engine tests below share the run's export
# of it; a 16:9 frame around it: 100 px bands either side.
FACE = 256
WIDE = FrameSize(456, FACE)
BAND = (WIDE.width - FACE) // 2


@pytest.fixture(scope="module")
def env(model_cache: Path) -> dict[str, str]:
    """Subprocess environment: the run's model cache, one thread."""
    return {**os.environ, "STREAMFACE_CACHE_DIR": str(model_cache), "OMP_NUM_THREADS": "1"}


def _streamface(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamface", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.slow
def test_portrait_wide_sizes_and_looks(tmp_path: Path, env: dict[str, str]) -> None:
    """Real engine and voice: a 16:9 portrait is the right size with the face centred, the
    square face itself unchanged in its middle; --look changes the face."""
    images = {}
    for name, size, look in (("a", str(WIDE), "0"), ("b", str(WIDE), "7"), ("d", str(FACE), "7")):
        out = tmp_path / f"{name}.png"
        proc = _streamface("portrait", str(VOICE), "-o", str(out), "--size", size, "--look", look,
                           "--engine", "onnxruntime", env=env)
        assert proc.returncode == 0, proc.stderr
        images[name] = np.asarray(Image.open(out).convert("RGB"))
    assert images["a"].shape == (FACE, WIDE.width, 3) and images["d"].shape == (FACE, FACE, 3)
    assert abs(_face_centre_x(images["a"]) - 0.5) < 0.03
    above_label = slice(0, FACE * 7 // 10)  # clear of both labels (their tops: 0.82 of the height)
    middle = slice(BAND, BAND + FACE)
    assert np.array_equal(images["b"][above_label, middle], images["d"][above_label])
    changed = np.abs(images["a"].astype(int) - images["b"].astype(int)).sum(-1) > 30
    assert changed[:, middle].mean() > 0.2  # another look: another face, not a tint
    bad = _streamface("portrait", str(VOICE), "-o", str(tmp_path / "x.png"), "--size", "360x640", env=env)
    assert bad.returncode == 2 and "square or wide" in bad.stderr
    bad = _streamface("portrait", str(VOICE), "-o", str(tmp_path / "x.png"), "--look", "-1", env=env)
    assert bad.returncode == 2


@pytest.mark.slow
def test_render_16_9(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "wide.mp4"
    proc = _streamface("render", str(VOICE), "-o", str(out), "--size", str(WIDE), "--fps", "10",
                       "--look", "2", "--engine", "onnxruntime", env=env)
    assert proc.returncode == 0, proc.stderr
    assert str(WIDE) in proc.stdout
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert frames[0].shape == (FACE, WIDE.width, 3)
    assert abs(_face_centre_x(frames[-1]) - 0.5) < 0.03
