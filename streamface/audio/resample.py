"""Live audio chunks to 16 kHz mono float32.

`prepare_chunk` checks one chunk (dtype, shape, rate, finite samples) and turns it into
mono float32 at its own rate; `StreamResampler` then converts that stream to 16 kHz with
FFmpeg's resampler (libswresample through PyAV). The resampler keeps its filter state
between calls, so a stream cut into chunks of any size gives the same samples as the
whole stream at once: no clicks at chunk boundaries. A change of input rate flushes the
old resampler's tail and starts a new one.

For whole arrays offline (tests, telephone copies) `resample_array` uses a polyphase
FIR filter from SciPy.
"""

from __future__ import annotations

import errno
import logging
from fractions import Fraction

import av
import numpy as np
from av.error import FFmpegError
from av.filter import Graph

from streamface.audio.polyphase import resample_poly
from streamface.errors import BadAudioError

log = logging.getLogger(__name__)

TARGET_RATE = 16000
"""The rate everything after the audio layer works at."""

MIN_RATE = 8000
MAX_RATE = 48000
SUPPORTED_RATES: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The common rates; any integer rate from `MIN_RATE` to `MAX_RATE` is accepted."""

MAX_CHANNELS = 8
"""Mono and stereo are the use case; up to 8 interleaved channels are averaged to mono."""

MAX_FLOAT_PEAK = 64.0
"""Float chunks peaking above this (36 dB over full scale) are rejected as mis-scaled."""

_INT16_SCALE = np.float32(1.0 / 32768.0)
_EMPTY = np.zeros(0, dtype=np.float32)
_EMPTY.setflags(write=False)


class BadChunkError(BadAudioError):
    """A live chunk that cannot be used; `reason` is a short key for counters.

    Reasons: ``"dtype"``, ``"shape"``, ``"rate"``, ``"nan_inf"``, ``"amplitude"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_rate(sample_rate: object) -> int:
    """Return `sample_rate` as an int, or raise `BadChunkError` ("rate") when absurd."""
    if type(sample_rate) is int and MIN_RATE <= sample_rate <= MAX_RATE:
        return sample_rate  # the usual case, at a tenth of the checks below
    if isinstance(sample_rate, bool) or not isinstance(
        sample_rate, int | float | np.integer | np.floating
    ):
        raise BadChunkError("rate", f"absurd rate: {sample_rate!r} is not a number")
    if not np.isfinite(sample_rate) or float(sample_rate) != int(sample_rate):
        raise BadChunkError("rate", f"absurd rate: {sample_rate!r} Hz is not a whole number")
    rate = int(sample_rate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise BadChunkError(
            "rate", f"absurd rate: {rate} Hz (supported: {MIN_RATE} to {MAX_RATE} Hz)"
        )
    return rate


def prepare_chunk(
    samples: object, sample_rate: object, channels: int = 1
) -> tuple[np.ndarray, int]:
    """Check one live chunk and return it as contiguous mono float32 at its own rate.

    Args:
        samples: int16 (full scale 32768) or float32/float64 (full scale 1.0) samples,
            either 1-D (interleaved when `channels` > 1) or 2-D shaped (frames, channels).
        sample_rate: Whole number of Hz, 8000 to 48000.
        channels: Channel count of 1-D interleaved input. For 2-D input the second axis
            gives the count; a `channels` other than 1 must then agree with it.

    Returns:
        (mono float32 samples, rate). Channels are averaged.

    Raises:
        BadChunkError: wrong dtype or shape, absurd rate, NaN or Inf samples, float
            samples far beyond full scale. Nothing
            about the caller's state has changed when it is raised.
    """
    if (
        type(samples) is np.ndarray
        and (samples.dtype == np.int16 or samples.dtype == np.float32)
        and samples.ndim == 1
        and type(channels) is int
        and channels == 1
        and type(sample_rate) is int
        and MIN_RATE <= sample_rate <= MAX_RATE
    ):  # a live call's usual chunks (int16 from telephony, float32 from `audio_to_mono`):
        # the same steps as below without the checks they pass
        if samples.dtype == np.int16:
            mono = samples.astype(np.float32)
            mono *= _INT16_SCALE
        else:
            mono = samples.copy()
            _check_float_peak(mono)
        return mono, sample_rate
    if not isinstance(samples, np.ndarray):
        raise BadChunkError(
            "dtype", f"wrong dtype: expected a numpy array, got {type(samples).__name__}"
        )
    if samples.dtype not in (np.int16, np.float32, np.float64):
        raise BadChunkError("dtype", f"wrong dtype: {samples.dtype} (expected int16 or float32)")
    rate = check_rate(sample_rate)
    if isinstance(channels, bool) or not isinstance(channels, int | np.integer):
        raise BadChunkError("shape", f"wrong shape: channels must be an int, got {channels!r}")
    channels = int(channels)
    if samples.ndim == 1:
        if not 1 <= channels <= MAX_CHANNELS:
            raise BadChunkError("shape", f"wrong shape: {channels} channels (1 to {MAX_CHANNELS})")
        if samples.size % channels:
            raise BadChunkError(
                "shape",
                f"wrong shape: {samples.size} interleaved samples do not divide into {channels} channels",
            )
        frames = samples.reshape(-1, channels)
    elif samples.ndim == 2:
        if not 1 <= samples.shape[1] <= MAX_CHANNELS:
            raise BadChunkError(
                "shape",
                f"wrong shape: {samples.shape} (expected (frames, channels), 1 to {MAX_CHANNELS} channels)",
            )
        if channels not in (1, samples.shape[1]):
            raise BadChunkError(
                "shape", f"wrong shape: {samples.shape} does not match channels={channels}"
            )
        frames = samples
    else:
        raise BadChunkError("shape", f"wrong shape: {samples.ndim}-D array {samples.shape}")

    n_ch = frames.shape[1]
    if samples.dtype == np.int16:
        if n_ch == 1:
            mono = frames[:, 0].astype(np.float32)
            mono *= _INT16_SCALE
        else:
            mono = frames.sum(axis=1, dtype=np.float32)
            mono *= _INT16_SCALE / np.float32(n_ch)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # judged just below
            if n_ch == 1:
                mono = frames[:, 0].astype(np.float32)
            else:
                mono = frames.sum(axis=1, dtype=np.float32)
                mono *= np.float32(1.0 / n_ch)
        _check_float_peak(mono)
    return np.ascontiguousarray(mono, dtype=np.float32), rate


def _check_float_peak(mono: np.ndarray) -> None:
    """Raise `BadChunkError` for NaN/Inf or float samples far beyond full scale."""
    if mono.size:
        # One reduction covers both checks: NaN/Inf make the peak non-finite.
        peak = float(np.abs(mono).max())
        if not np.isfinite(peak):
            raise BadChunkError("nan_inf", "NaN/Inf samples in audio chunk")
        if peak > MAX_FLOAT_PEAK:
            raise BadChunkError(
                "amplitude",
                f"float samples peak at {peak:.4g}; expected full scale 1.0 "
                "(int16 values passed as float?)",
            )


class StreamResampler:
    """Stateful resampler of one mono float32 stream to `target_rate`.

    Continuous across calls: the filter history carries over, so chunking does not change
    the output. The output lags the input by the filter delay (about 1 ms); `flush()`
    returns the held tail. A call with a different input rate flushes the old tail
    (returned as the start of that call's output) and starts a fresh filter.
    """

    def __init__(self, target_rate: int = TARGET_RATE) -> None:
        self.target_rate = int(target_rate)
        self._rate: int | None = None
        self._res: _Converter | None = None
        self._frame: av.AudioFrame | None = None  # the input frame, refilled while chunks keep their size

    @property
    def rate(self) -> int | None:
        """The current input rate, None before the first chunk."""
        return self._rate

    def process(self, mono: np.ndarray, rate: int) -> np.ndarray:
        """Resample one mono float32 chunk at `rate`; returns float32 at `target_rate`."""
        head = _EMPTY
        if rate != self._rate:
            if self._rate is not None:
                log.debug("input rate changed %s -> %s Hz; resampler reset", self._rate, rate)
                head = self.flush()
            self._rate = rate
            self._res = None if rate == self.target_rate else self._new()
        if self._res is None:  # already at the target rate
            out = np.array(mono, dtype=np.float32, copy=True)
        elif mono.size == 0:
            out = np.zeros(0, dtype=np.float32)
        else:
            out = _join(self._res.convert(self._input(np.ascontiguousarray(mono, dtype=np.float32), rate)))
        return np.concatenate([head, out]) if head.size else out

    def _input(self, mono: np.ndarray, rate: int) -> av.AudioFrame:
        """``mono`` in a PyAV frame: the last one refilled when the size and rate match.

        The filter graph copies a frame's samples before `convert` returns (its filter keeps
        its own history), so the frame can be refilled for the next chunk: a third of
        `AudioFrame.from_ndarray`'s cost.
        """
        frame = self._frame
        if frame is None or frame.samples != mono.size or frame.sample_rate != rate:
            frame = self._frame = av.AudioFrame(format="flt", layout="mono", samples=mono.size)
            frame.sample_rate = rate
        plane = frame.planes[0]
        if plane.buffer_size != mono.nbytes:  # a padded plane (no size PyAV gives today)
            self._frame = None
            frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = rate
            return frame
        plane.update(mono)  # type: ignore[arg-type]  # any buffer does
        return frame

    def flush(self) -> np.ndarray:
        """Return the samples still held in the filter and start over at the same rate."""
        if self._res is None:
            return np.zeros(0, dtype=np.float32)
        tail = _join(self._res.convert(None))
        self._res = self._new()
        return tail

    def reset(self) -> None:
        """Drop all state (the held tail is discarded)."""
        self._rate = None
        self._res = None
        self._frame = None

    def _new(self) -> _Converter:
        assert self._rate is not None
        return _Converter(self._rate, self.target_rate)


class _Converter:
    """FFmpeg's resampler in the filter graph `av.AudioResampler` builds (abuffer ->
    aformat -> abuffersink, mono float32), driven directly: the same samples without its
    per-call checks of each frame's format, layout and rate (a quarter of a chunk's cost)."""

    def __init__(self, rate: int, target_rate: int) -> None:
        self._graph = Graph()
        source = self._graph.add("abuffer", sample_rate=str(rate), sample_fmt="flt", channel_layout="mono")
        convert = self._graph.add("aformat", sample_rates=str(target_rate), sample_fmts="flt", channel_layouts="mono")
        sink = self._graph.add("abuffersink")
        source.link_to(convert)
        convert.link_to(sink)
        self._graph.configure()

    def convert(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        """The frames out after ``frame`` goes in (None: the end of the stream, its tail)."""
        self._graph.push(frame)
        # The resampler gives at most one frame per frame in (FFmpeg's aresample filters
        # each input frame into one output frame, or none while its delay fills; tests
        # check it), so after a frame one pull gets all of it: a second pull's EAGAIN, an
        # exception built by PyAV, was a third of a live chunk's resampling. The tail
        # (None) is pulled until the graph says there is no more.
        out: list[av.AudioFrame] = []
        while frame is None or not out:
            try:
                out.append(self._graph.pull())  # type: ignore[arg-type]
            except EOFError:
                break
            except FFmpegError as exc:
                if exc.errno != errno.EAGAIN:
                    raise
                break
        return out


def _join(frames: list[av.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, dtype=np.float32)
    # The samples where the frame holds them (the array keeps the frame's buffer alive):
    # a tenth of `to_ndarray`'s cost, which was a third of a live chunk's resampling.
    parts = [np.frombuffer(memoryview(f.planes[0]), np.float32, count=f.samples) for f in frames]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def resample_array(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole 1-D float array offline (polyphase FIR); returns float32.

    The output has ``round(len(x) * to_rate / from_rate)`` samples and no delay.
    """
    x = np.asarray(x, dtype=np.float32)
    if from_rate == to_rate:
        return x.copy()
    ratio = Fraction(int(to_rate), int(from_rate))
    y = resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)
    n = round(len(x) * to_rate / from_rate)
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    return np.ascontiguousarray(y[:n])
