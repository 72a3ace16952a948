"""MP4 file sink: H.264 (yuv420p) video and AAC audio with PyAV.

Video frame ``k`` gets pts ``k`` in a ``1/fps`` time base (it shows at ``k / fps``); audio
pts count samples from 0 in a ``1/rate`` time base, so both start together and stay in
step. Write video frames and audio chunks in media order, roughly interleaved (e.g. one
frame's worth of audio per frame); `close` flushes both encoders and finishes the file.

Single-threaded encoding (``threads=1``) keeps the output reproducible and the cost
honest on one core.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import VideoReformatter

logger = logging.getLogger(__name__)

AAC_RATES: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates AAC encodes directly; others are resampled to 48 kHz."""


class Mp4Writer:
    """Writes one MP4 with an H.264 video track and, optionally, a mono AAC audio track.

    Args:
        path: Output file (written directly; callers wanting atomicity write a temp file).
        width, height: Frame size in pixels (even numbers, as yuv420p needs).
        fps: Frames per second (an integer or a rational such as 30000/1001).
        audio_rate: Sample rate of the audio to be written; None for no audio track.
        crf: x264 constant rate factor (lower is better quality, bigger file).
        preset: x264 speed preset.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float = 30.0,
        audio_rate: int | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        audio_bitrate: int = 96_000,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
        self.path = Path(path)
        self._rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(self.path), mode="w", format="mp4")
        try:
            v = self._container.add_stream("libx264", rate=self._rate)
            v.width, v.height = width, height
            v.pix_fmt = "yuv420p"
            v.codec_context.time_base = 1 / self._rate
            v.codec_context.thread_count = 1
            v.options = {"crf": str(crf), "preset": preset, "threads": "1"}
            self._video = v
            self._audio: av.AudioStream | None = None
            self._resampler: av.AudioResampler | None = None
            self._in_rate = 0
            self._audio_pts = 0
            if audio_rate is not None:
                self._in_rate = int(audio_rate)
                out_rate = self._in_rate if self._in_rate in AAC_RATES else 48_000
                a = self._container.add_stream("aac", rate=out_rate)
                a.layout = "mono"
                a.bit_rate = audio_bitrate
                a.codec_context.time_base = Fraction(1, out_rate)
                self._audio = a
                self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=out_rate)
        except Exception:
            self._container.close()
            raise
        self._reformatter = VideoReformatter()
        self.frames = 0
        self._closed = False

    def write_frame(self, rgb: np.ndarray) -> None:
        """Encode the next video frame (uint8 [H, W, 3] RGB); it shows at ``frames / fps``."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        # One swscale context for the whole file (a new one per frame cost a third more),
        # single-threaded like the encoder; the pixels are the same as `frame.reformat`'s.
        frame = self._reformatter.reformat(frame, format="yuv420p", threads=1)
        frame.pts = self.frames
        frame.time_base = 1 / self._rate
        self._container.mux(self._video.encode(frame))
        self.frames += 1

    def write_audio(self, samples: np.ndarray) -> None:
        """Encode the next audio samples (mono float32, full scale 1.0, at ``audio_rate``)."""
        if self._audio is None or self._resampler is None:
            raise RuntimeError("this writer has no audio track")
        x = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32).reshape(1, -1)
        if x.size == 0:
            return
        frame = av.AudioFrame.from_ndarray(x, format="flt", layout="mono")
        frame.sample_rate = self._in_rate
        frame.pts = self._audio_pts
        frame.time_base = Fraction(1, self._in_rate)
        self._audio_pts += x.shape[1]
        self._encode_audio(self._resampler.resample(frame))

    def _encode_audio(self, frames: list[av.AudioFrame]) -> None:
        assert self._audio is not None
        for f in frames:
            self._container.mux(self._audio.encode(f))

    def close(self) -> None:
        """Flush the encoders and finish the file; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None and self._resampler is not None:
                self._encode_audio(self._resampler.resample(None))
                self._container.mux(self._audio.encode(None))
        finally:
            self._container.close()

    def abort(self) -> None:
        """Close without flushing (the file is then incomplete; the caller deletes it)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - a broken file is discarded anyway
            logger.debug("closing an aborted MP4 failed", exc_info=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
