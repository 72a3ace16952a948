"""`streamface portrait` and `streamface gallery` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamface.cli.portrait import parse_overrides, save_image
from streamface.errors import StreamFaceError

SIZE = 256  # the live default size: the run exports it once for every test; stills render quickly


@pytest.fixture(scope="module")
def env(model_cache: Path) -> dict[str, str]:
    """Environment for the subprocesses: the run's model cache (the in-process renders here
    use it too), one thread."""
    return {**os.environ, "STREAMFACE_CACHE_DIR": str(model_cache), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def voice(shared_voices: dict[Path, str]) -> Path:
    female = sorted(p for p, sex in shared_voices.items() if sex == "female")
    return female[0]


def _needs_pipeline() -> None:
    pytest.importorskip("streamface.face.mapping", reason="face mapping not built yet")
    pytest.importorskip("streamface.voice.analyzer", reason="voice analyzer not built yet")


def streamface(*args: str | Path | int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamface", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def _assert_signed(path: Path, result: subprocess.CompletedProcess[str]) -> None:
    """The file carries a valid StreamFace C2PA manifest; the dev certificate is reported."""
    from streamface.provenance import TRAINED_ALGORITHMIC_MEDIA, verify_file

    verdict = verify_file(path)
    assert verdict.status == "valid", verdict.messages
    assert verdict.action == "c2pa.created"
    assert verdict.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert verdict.title == path.name  # the final name, not the temporary file's
    assert "DEVELOPMENT certificate" in result.stdout  # no user certificate in the tests
    assert "DEVELOPMENT certificate" in result.stderr  # and the warning in the log


def _face_only(params: dict[str, float], size: int) -> np.ndarray:
    """The same face rendered without a label, through the engine the CLI uses."""
    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from streamface.face.animation import NEUTRAL
    from streamface.face.params import FaceParams

    engine = OnnxRuntimeEngine(size)
    row = FaceParams(**params).to_vector()[None, :]
    return engine.render(row, NEUTRAL.to_vector()[None, :])[0]


def test_portrait_writes_labelled_png_and_params(
    voice: Path, env: dict[str, str], tmp_path: Path
) -> None:
    _needs_pipeline()
    from streamface.face.label import label_box, label_present
    from streamface.face.params import HAIR_STYLES, PARAM_NAMES

    out = tmp_path / "faces" / "face.png"  # the folder does not exist yet
    params_out = tmp_path / "face.json"
    result = streamface(
        "portrait",
        voice,
        "-o",
        out,
        "--size",
        SIZE,
        "--engine",
        "onnxruntime",
        "--params-out",
        params_out,
        "--set",
        "hair_style=bun",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (SIZE, SIZE, 3)
    assert label_present(image)

    data = json.loads(params_out.read_text())
    assert set(data["params"]) == set(PARAM_NAMES)
    assert data["params"]["hair_style"] == HAIR_STYLES.index("bun")
    assert data["overrides"] == {"hair_style": "bun"}
    assert 0.0 <= data["traits"]["perceived_sex"]["p_female"] <= 1.0
    assert data["traits"]["age_band"]["label"]
    assert "embedding" not in data["traits"]
    assert data["engine"] == "onnxruntime" and data["size"] == f"{SIZE}x{SIZE}"

    plain = _face_only(data["params"], SIZE)
    x0, y0, x1, y1 = label_box(SIZE, SIZE)
    inside = np.abs(image[y0:y1, x0:x1].astype(int) - plain[y0:y1, x0:x1].astype(int)).mean()
    outside = image.astype(int) - plain.astype(int)
    outside[y0:y1, x0:x1] = 0
    assert inside > 30  # the label changed the pixels in its box
    # Nothing else changed: the same face, losslessly written (the JSON rounds the params).
    assert np.abs(outside).mean() < 0.05 and np.abs(outside).max() <= 2
    assert not [p for p in out.parent.iterdir() if p.name != "face.png"]  # no temp files left
    _assert_signed(out, result)


def test_portrait_writes_jpeg_by_extension(
    voice: Path, env: dict[str, str], tmp_path: Path
) -> None:
    _needs_pipeline()
    out = tmp_path / "face.jpg"
    result = streamface(
        "portrait", voice, "-o", out, "--size", SIZE, "--engine", "onnxruntime", env=env
    )
    assert result.returncode == 0, result.stderr
    with Image.open(out) as img:
        assert img.format == "JPEG" and img.size == (SIZE, SIZE)
    _assert_signed(out, result)


def test_portrait_is_the_face_a_call_ends_on(
    voice: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """One voice, one look: the still is the face `render` (and a call) shows at the end.

    The identity is held from the first second of speech, as in a call; a portrait that
    took it from the whole clip showed another hairstyle and skin than `make demo`'s video.
    """
    _needs_pipeline()
    from engines.onnxruntime_engine import OnnxRuntimeEngine
    from streamface.face.params import FaceParams
    from streamface.offline import drive, load_audio
    from streamface.session import Session

    params_out = tmp_path / "face.json"
    result = streamface(
        "portrait", voice, "-o", tmp_path / "face.png", "--size", SIZE, "--engine", "onnxruntime",
        "--params-out", params_out, env=env,
    )
    assert result.returncode == 0, result.stderr
    still = FaceParams(**json.loads(params_out.read_text())["params"]).to_vector()

    audio = load_audio(voice)
    session = Session(OnnxRuntimeEngine(SIZE))
    try:
        for _ in drive(session, audio, 30.0):
            pass
        video_end = session.params_at(audio.seconds + 60.0)
        firsts = [reason for _, reason in session.face_changes]
    finally:
        session.close()
    assert firsts[0] == "first" and "new_speaker" not in firsts  # one speaker, one code
    assert np.abs(still - video_end).max() < 1e-3  # the JSON rounds the parameters


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "tensorrt"], "streamface[tensorrt]"),
        (["--size", "9"], "--size"),
        (["--set", "no_such_param=1"], "no_such_param"),
        (["--set", "hair_style"], "NAME=VALUE"),
    ],
)
def test_portrait_bad_options_exit_2_with_one_line(
    voice: Path, env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    if "tensorrt" in args:
        try:
            import tensorrt  # noqa: F401
        except ImportError:
            pass
        else:
            pytest.skip("TensorRT is installed here")
    _needs_pipeline()
    out = tmp_path / "face.png"
    result = streamface("portrait", voice, "-o", out, "--size", SIZE, *args, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists()


def test_portrait_bad_audio_exits_2_and_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    _needs_pipeline()
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"RIFF this is not really audio")
    out = tmp_path / "face.png"
    for audio in (bad, tmp_path / "missing.wav"):
        result = streamface("portrait", audio, "-o", out, "--size", SIZE, env=env)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [bad]


def test_portrait_rejects_unknown_extension(
    voice: Path, env: dict[str, str], tmp_path: Path
) -> None:
    result = streamface("portrait", voice, "-o", tmp_path / "face.gif", env=env)
    assert result.returncode == 2
    assert ".png" in result.stderr


def test_parse_overrides() -> None:
    assert parse_overrides(["a=1", " b = x "]) == {"a": "1", "b": "x"}
    with pytest.raises(StreamFaceError):
        parse_overrides(["a"])
    with pytest.raises(StreamFaceError):
        parse_overrides(["=1"])


def test_save_image_is_atomic_and_leaves_no_temp_on_failure(tmp_path: Path) -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    target = tmp_path / "a.png"
    save_image(image, target)
    before = target.read_bytes()

    def fail(path: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(StreamFaceError, match="No space left"):
        save_image(np.full((8, 8, 3), 255, np.uint8), target, finalize=fail)
    assert target.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


# ---------------------------------------------------------------------------- gallery


def test_gallery_contact_sheet(
    shared_voices: dict[Path, str], env: dict[str, str], tmp_path: Path
) -> None:
    _needs_pipeline()
    voices = sorted(shared_voices)[:3]
    bad = tmp_path / "silence.wav"
    bad.write_bytes(b"not audio")
    out = tmp_path / "sheet.png"
    result = streamface(
        "gallery",
        *voices,
        bad,
        "-o",
        out,
        "--cols",
        "2",
        "--tile",
        str(SIZE),
        "--engine",
        "onnxruntime",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape[1] > 2 * SIZE and sheet.shape[0] > 2 * SIZE  # 2 columns, 2 rows
    data = json.loads(out.with_suffix(".json").read_text())
    files = [v["file"] for v in data["voices"]]
    assert files == [v.name for v in voices] + [bad.name]
    assert all(v["traits"] is not None for v in data["voices"][:3])
    assert data["voices"][3]["error"] and data["voices"][3]["traits"] is None
    # Different voices, different faces (tiles differ).
    assert len({json.dumps(v["params"], sort_keys=True) for v in data["voices"][:3]}) == 3
    _assert_signed(out, result)


def test_gallery_compose_sheet_layout() -> None:
    from streamface.cli.gallery import compose_sheet

    tiles = [np.full((64, 64, 3), 40 * i, np.uint8) for i in range(1, 6)] + [None]
    captions = [(f"voice{i}.wav", "p_female 0.50 · adult · conf 0.40") for i in range(6)]
    sheet = compose_sheet(tiles, captions, cols=4, tile=64)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    assert sheet.shape[1] >= 4 * 64
    # Each tile's colour is on the sheet.
    colours = {tuple(c) for c in sheet.reshape(-1, 3)}
    for i in range(1, 6):
        assert (40 * i,) * 3 in colours


def test_gallery_collects_folders(tmp_path: Path) -> None:
    from streamface.cli.gallery import collect_voices

    (tmp_path / "b.wav").write_bytes(b"")
    (tmp_path / "a.flac").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    found = collect_voices([tmp_path, tmp_path / "b.wav"])
    assert [p.name for p in found] == ["a.flac", "b.wav"]
    with pytest.raises(StreamFaceError):
        collect_voices([tmp_path / "nope"])
