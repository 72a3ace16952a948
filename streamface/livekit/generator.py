"""`StreamFaceVideoGenerator`: LiveKit's avatar ``VideoGenerator`` drawing the StreamFace face.

``AvatarRunner`` hands it the agent's TTS audio (`push_audio`) and pushes what it yields
into an ``AVSynchronizer``, which paces video and audio together. Per video frame the
generator takes one frame's worth of audio (``sample_rate / fps`` samples), feeds it to
the session, renders the face for it (off the event loop) and yields the video frame,
then that audio: so the mouth shown is the mouth of the audio played with it. With no
audio it yields silent idle frames (blinks, head motion, the mouth at rest); at the end
of a segment an ``AudioSegmentEnd``. `clear_buffer` (an interruption) drops the audio not
yet played.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, VideoGenerator

from streamface.adapters.face_clock import FaceClock
from streamface.livekit.frames import rgb_to_video_frame


class StreamFaceVideoGenerator(VideoGenerator):
    """Face video (and the audio it speaks) for LiveKit's ``AvatarRunner``.

    Args:
        clock: The face's `FaceClock` (unpaced: this generator is paced by its consumer).
        fps: Video frames per second (the ``AvatarOptions.video_fps``).
        sample_rate: Rate of the pushed audio (the ``AvatarOptions.audio_sample_rate``).
        channels: Channels of the pushed audio.
    """

    def __init__(self, clock: FaceClock, *, fps: float = 30.0, sample_rate: int = 24000, channels: int = 1) -> None:
        if clock.paced:
            raise ValueError("the generator paces audio itself: give it an unpaced FaceClock")
        self.clock = clock
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._frame_samples = max(1, round(self.sample_rate / self.fps))
        self._queue: deque[rtc.AudioFrame | AudioSegmentEnd] = deque()
        self._pending = np.zeros((0, self.channels), dtype=np.int16)
        self._segment_open = False
        self._t = 0.0
        self.frames = 0
        self.audio_frames_out = 0
        self.cleared = 0

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        """Queue the agent's audio (or the end of its segment)."""
        if isinstance(frame, rtc.AudioFrame) and (
            frame.sample_rate != self.sample_rate or frame.num_channels != self.channels
        ):
            raise ValueError(
                f"audio at {frame.sample_rate} Hz x {frame.num_channels}, expected "
                f"{self.sample_rate} Hz x {self.channels} (AvatarOptions)"
            )
        self._queue.append(frame)

    def clear_buffer(self) -> None:
        """Drop audio not yet played (an interruption); the mouth comes to rest."""
        self._queue.clear()
        self._pending = self._pending[:0]
        self._segment_open = False
        self.cleared += 1

    def __aiter__(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        return self._stream()

    def _take_queued(self) -> bool:
        """Move queued audio into the pending buffer; whether a segment end came."""
        chunks = [self._pending]
        ended = False
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, AudioSegmentEnd):
                ended = True
                break
            data = np.frombuffer(item.data, dtype=np.int16).reshape(-1, self.channels)
            chunks.append(data)
            self._segment_open = True
        self._pending = np.concatenate(chunks) if len(chunks) > 1 else self._pending
        return ended

    async def _stream(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        period = 1.0 / self.fps
        segment_end = False
        while not self.clock.closed:
            segment_end = self._take_queued() or segment_end
            n = self._frame_samples
            audio: np.ndarray | None = None
            if len(self._pending) >= n or (segment_end and len(self._pending)):
                audio = self._pending[:n]
                self._pending = self._pending[n:]
                if len(audio) < n:  # the segment's tail, padded to a whole frame
                    audio = np.concatenate([audio, np.zeros((n - len(audio), self.channels), np.int16)])
                mono = audio.astype(np.float32).mean(axis=1) / 32768.0
                self.clock.push_audio(mono, self.sample_rate)
            elif segment_end:
                segment_end = False
                self._segment_open = False
                yield AudioSegmentEnd()
                continue
            rgb = await self.clock.render(self._t)
            self._t += period
            self.frames += 1
            yield rgb_to_video_frame(rgb)
            if audio is not None:
                self.audio_frames_out += 1
                yield rtc.AudioFrame(np.ascontiguousarray(audio).tobytes(), self.sample_rate, self.channels, n)
