"""Decoding files with PyAV: each format, long files, and every kind of bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
from audio_util import peak_frequency, sine, write_audio

from streamface.audio import decode_file, iter_decode
from streamface.errors import BadAudioError

FORMATS = [
    # (suffix, container, codec, rate, channels)
    ("wav", "wav", "pcm_s16le", 16000, 1),
    ("wav", "wav", "pcm_s16le", 44100, 2),
    ("wav", "wav", "pcm_f32le", 22050, 1),
    ("flac", "flac", "flac", 48000, 2),
    ("mp3", "mp3", "libmp3lame", 44100, 1),
    ("ogg", "ogg", "libopus", 48000, 1),
    ("m4a", "mp4", "aac", 24000, 2),
]


def _make(
    tmp_path: Path,
    suffix: str,
    container: str,
    codec: str,
    rate: int,
    channels: int,
    seconds: float = 2.0,
) -> Path:
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - an FFmpeg build without this encoder
        pytest.skip(f"no {codec} encoder in this FFmpeg build")
    path = tmp_path / f"tone_{codec}_{rate}_{channels}.{suffix}"
    return write_audio(
        path,
        sine(440, seconds, rate, amp=0.4),
        rate,
        container=container,
        codec=codec,
        channels=channels,
    )


@pytest.mark.parametrize(("suffix", "container", "codec", "rate", "channels"), FORMATS)
def test_decodes_each_format(
    tmp_path: Path, suffix: str, container: str, codec: str, rate: int, channels: int
) -> None:
    path = _make(tmp_path, suffix, container, codec, rate, channels)
    x = decode_file(path)
    assert x.dtype == np.float32 and x.ndim == 1
    # Lossy codecs add a little priming / padding.
    assert len(x) / 16000 == pytest.approx(2.0, abs=0.1)
    assert peak_frequency(x[1600:-1600], 16000) == pytest.approx(440, abs=1)
    assert np.sqrt(np.mean(x[1600:-1600] ** 2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.1)


def test_mp3_without_xing_header_is_not_judged_by_length(tmp_path: Path) -> None:
    _make(tmp_path, "mp3", "mp3", "libmp3lame", 44100, 1)  # skips without the encoder
    path = write_audio(
        tmp_path / "noxing.mp3",
        sine(440, 2.0, 44100, amp=0.4),
        44100,
        container="mp3",
        codec="libmp3lame",
        options={"write_xing": "0"},
    )
    assert b"Xing" not in path.read_bytes()[:4096] and b"Info" not in path.read_bytes()[:4096]
    assert len(decode_file(path)) / 16000 == pytest.approx(2.0, abs=0.1)


def test_shared_voice_decodes(shared_voices: dict[Path, str]) -> None:
    path = next(iter(shared_voices))
    x = decode_file(path)
    assert x.dtype == np.float32 and len(x) > 16000
    assert 0.05 < np.abs(x).max() <= 1.0


def test_max_seconds_stops_early(tmp_path: Path) -> None:
    path = _make(tmp_path, "flac", "flac", "flac", 44100, 1, seconds=3.0)
    x = decode_file(path, max_seconds=1.25)
    assert len(x) == 20000


def test_long_file_streams_in_chunks(tmp_path: Path) -> None:
    path = _make(tmp_path, "flac", "flac", "flac", 16000, 1, seconds=30.0)
    sizes = [len(c) for c in iter_decode(path)]
    assert len(sizes) > 20  # many small chunks, not one whole-file array
    assert max(sizes) < 16000
    assert sum(sizes) == pytest.approx(30 * 16000, abs=50)


def test_missing_file() -> None:
    with pytest.raises(BadAudioError, match="file not found"):
        decode_file("/no/such/file.wav")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(BadAudioError, match="not a file"):
        decode_file(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(BadAudioError, match="empty file"):
        decode_file(path)


def test_wav_with_no_samples(tmp_path: Path) -> None:
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    path = tmp_path / "none.wav"
    path.write_bytes(
        b"RIFF"
        + struct.pack("<I", 4 + len(fmt) + 8)
        + b"WAVE"
        + fmt
        + b"data"
        + struct.pack("<I", 0)
    )
    with pytest.raises(BadAudioError, match="no audio samples|corrupt or truncated"):
        decode_file(path)


@pytest.mark.parametrize(("suffix", "container", "codec", "rate", "channels"), FORMATS)
@pytest.mark.parametrize("keep", [0.5, 60])
def test_truncated_files(
    tmp_path: Path, suffix: str, container: str, codec: str, rate: int, channels: int, keep: float
) -> None:
    path = _make(tmp_path, suffix, container, codec, rate, channels)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data[: int(keep)])
    with pytest.raises(BadAudioError, match="truncated|corrupt") as err:
        decode_file(cut)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.wav", bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))),
        ("notes.txt", b"This is a text file, not audio.\n" * 20),
        ("fake.mp3", b"just some words pretending to be an mp3\n"),
    ],
)
def test_not_audio(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadAudioError, match="unsupported|unrecognised|no audio stream|corrupt"):
        decode_file(path)


def test_no_audio_stream(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), i * 40, np.uint8), format="rgb24"
            )
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    with pytest.raises(BadAudioError, match="no audio stream"):
        decode_file(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_in_float_wav(tmp_path: Path, bad: float) -> None:
    x = sine(440, 0.5, 16000)
    x[3000] = bad
    path = write_audio(tmp_path / "bad.wav", x, 16000, container="wav", codec="pcm_f32le")
    with pytest.raises(BadAudioError, match="NaN/Inf"):
        decode_file(path)
