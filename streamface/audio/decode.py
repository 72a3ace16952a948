"""Decode audio files to 16 kHz mono float32 with PyAV (FFmpeg).

Any container and codec FFmpeg reads works; wav, flac, mp3, ogg/opus and m4a/aac are
the tested ones. Decoding streams frame by frame: `iter_decode` yields 16 kHz chunks as
they are decoded and `decode_file(max_seconds=...)` stops reading once it has enough,
so a long file is never held whole unless the caller asks for all of it.

Every failure is a `BadAudioError` with a one-line reason: missing or empty file,
unrecognised format, no audio stream, corrupt or truncated data, NaN/Inf samples.
Truncation is caught where the file says how long it should be: a WAV data chunk larger
than the file, an Ogg file without its end-of-stream page, an MP4/M4A missing its index,
FLAC or MP3 (with a Xing/Info header) decoding shorter than declared, or a decoder error
part-way. A cut MP3 without such a header cannot be told from a shorter one and decodes.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import numpy as np

from streamface.audio.resample import TARGET_RATE, StreamResampler
from streamface.errors import BadAudioError

log = logging.getLogger(__name__)

_TRUNCATION_TOLERANCE_S = 0.1
"""Decoded audio may fall this far (plus 2 %) short of the declared length."""


def decode_file(path: str | os.PathLike[str], *, max_seconds: float | None = None) -> np.ndarray:
    """Decode an audio file to 16 kHz mono float32 (channels averaged).

    Args:
        path: The file.
        max_seconds: Decode at most this many seconds from the start; None for all.

    Returns:
        1-D float32 array at 16 kHz, full scale 1.0.

    Raises:
        BadAudioError: the file is missing, empty, not audio, corrupt, truncated, holds
            no samples, or holds NaN/Inf samples.
    """
    chunks = list(iter_decode(path, max_seconds=max_seconds))
    if not chunks:
        raise BadAudioError(f"no audio samples in {_name(path)} (empty or truncated)")
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def iter_decode(
    path: str | os.PathLike[str], *, max_seconds: float | None = None
) -> Iterator[np.ndarray]:
    """Yield a file's audio as consecutive 16 kHz mono float32 chunks while decoding.

    Same arguments and errors as `decode_file`; errors are raised when reached, so
    chunks before a corrupt spot may already have been yielded. Yields nothing for a
    file with no samples.
    """
    p = Path(path)
    name = _name(path)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}")
    limit = None if max_seconds is None else round(max_seconds * TARGET_RATE)
    if not p.exists():
        raise BadAudioError(f"file not found: {name}")
    if not p.is_file():
        raise BadAudioError(f"not a file: {name}")
    size = p.stat().st_size
    if size == 0:
        raise BadAudioError(f"empty file: {name}")
    head, tail_bytes = _read_ends(p, size)
    kind = _sniff(head)
    if kind == "WAV":
        short = _wav_shortfall(head, size)
        if short:
            raise BadAudioError(
                f"truncated audio file: {name} is missing {short} bytes of its declared WAV data"
            )
    if kind == "Ogg" and not _ogg_complete(tail_bytes):
        raise BadAudioError(f"truncated audio file: {name} (Ogg stream has no end page)")

    try:
        container = av.open(str(p), mode="r")
    except (av.error.InvalidDataError, av.error.EOFError, EOFError):
        if kind is not None:
            raise BadAudioError(f"corrupt or truncated {kind} file: {name}") from None
        raise BadAudioError(f"unsupported or unrecognised audio format: {name}") from None
    except av.error.FFmpegError as exc:
        raise BadAudioError(f"cannot read {name}: {_reason(exc)}") from None
    except OSError as exc:
        raise BadAudioError(f"cannot read {name}: {exc.strerror or exc}") from None

    with container:
        if not container.streams.audio:
            raise BadAudioError(f"no audio stream in {name}")
        stream = container.streams.audio[0]
        if stream.codec_context is None or stream.codec_context.codec is None:
            raise BadAudioError(f"unsupported audio codec in {name}")
        # Judge the length only where the header states it exactly (not where FFmpeg
        # guesses it from the bit rate, as for an MP3 without a Xing/Info/VBRI frame).
        exact_length = kind in ("MP4/M4A", "FLAC") or (
            kind == "MP3" and any(tag in head for tag in (b"Xing", b"Info", b"VBRI"))
        )
        declared = _declared_seconds(container, stream) if exact_length else None

        to_fltp: av.AudioResampler | None = None
        resampler = StreamResampler(TARGET_RATE)
        produced = 0
        decoded_in = 0.0
        try:
            for frame in container.decode(stream):
                if frame.samples == 0:
                    continue
                if to_fltp is None:
                    to_fltp = av.AudioResampler(format="fltp")
                try:
                    planar = to_fltp.resample(frame)
                except ValueError:  # layout or format changed mid-stream
                    to_fltp = av.AudioResampler(format="fltp")
                    planar = to_fltp.resample(frame)
                for pf in planar:
                    data = pf.to_ndarray()  # (channels, samples) float32
                    mono = data[0] if data.shape[0] == 1 else data.mean(axis=0, dtype=np.float32)
                    if not np.isfinite(mono).all():
                        raise BadAudioError(f"NaN/Inf samples in {name}")
                    decoded_in += mono.size / pf.sample_rate
                    out = resampler.process(
                        np.ascontiguousarray(mono, dtype=np.float32), pf.sample_rate
                    )
                    if limit is not None and produced + out.size >= limit:
                        yield out[: limit - produced]
                        return
                    produced += out.size
                    if out.size:
                        yield out
            tail = resampler.flush()
        except (av.error.InvalidDataError, av.error.EOFError) as exc:
            raise BadAudioError(
                f"corrupt or truncated audio in {name} after {produced / TARGET_RATE:.2f} s: {_reason(exc)}"
            ) from None
        except av.error.FFmpegError as exc:
            raise BadAudioError(f"cannot decode {name}: {_reason(exc)}") from None
        if limit is not None:
            tail = tail[: max(0, limit - produced)]
        if tail.size:
            yield tail
        if (
            declared is not None
            and decoded_in > 0
            and decoded_in < declared * 0.98 - _TRUNCATION_TOLERANCE_S
        ):
            raise BadAudioError(
                f"truncated audio file: {name} declares {declared:.2f} s, holds {decoded_in:.2f} s"
            )


def _declared_seconds(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


_HEAD_BYTES = 65536
_OGG_MAX_PAGE = 65307


def _read_ends(path: Path, size: int) -> tuple[bytes, bytes]:
    """The first 64 KiB and the last Ogg-page-size bytes of the file."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
            fh.seek(max(0, size - _OGG_MAX_PAGE))
            tail = fh.read(_OGG_MAX_PAGE)
    except OSError as exc:
        raise BadAudioError(f"cannot read {path}: {exc.strerror or exc}") from None
    return head, tail


def _sniff(head: bytes) -> str | None:
    """The audio container a file's first bytes announce, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    return None


def _wav_shortfall(head: bytes, size: int) -> int:
    """Bytes a RIFF/WAVE file's data chunk declares beyond the end of the file (0: fine).

    FFmpeg sizes 16-bit WAV from the file length, so a cut-off WAV would otherwise pass
    as a shorter, valid one. Streaming writers that leave the size 0 or 0xFFFFFFFF
    are not judged.
    """
    pos = 12
    while pos + 8 <= len(head):
        cid = head[pos : pos + 4]
        (csize,) = struct.unpack("<I", head[pos + 4 : pos + 8])
        if cid == b"data":
            if csize in (0, 0xFFFFFFFF):
                return 0
            return max(0, pos + 8 + csize - size)
        pos += 8 + csize + (csize & 1)
    if pos + 8 > size:  # the header itself is cut before the data chunk
        return pos + 8 - size
    return 0


def _ogg_complete(tail: bytes) -> bool:
    """True when the file's last Ogg page is whole and marks the end of its stream."""
    at = tail.rfind(b"OggS")
    if at < 0 or at + 27 > len(tail):
        return False
    header_type = tail[at + 5]
    n_segments = tail[at + 26]
    if at + 27 + n_segments > len(tail):
        return False
    body = sum(tail[at + 27 : at + 27 + n_segments])
    return bool(header_type & 0x04) and at + 27 + n_segments + body == len(tail)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__


def _name(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)
