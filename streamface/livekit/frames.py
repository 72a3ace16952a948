"""Conversions between LiveKit's rtc frames and StreamFace's arrays."""

from __future__ import annotations

import numpy as np
from livekit import rtc

from streamface.adapters.face_clock import pcm_to_mono


def audio_to_mono(frame: rtc.AudioFrame) -> np.ndarray:
    """A LiveKit audio frame (interleaved int16) as mono float32 in [-1, 1]."""
    return pcm_to_mono(np.frombuffer(frame.data, dtype=np.int16), frame.num_channels)


def rgb_to_video_frame(rgb: np.ndarray) -> rtc.VideoFrame:
    """An RGB uint8 [H, W, 3] image as a LiveKit RGBA video frame."""
    h, w = rgb.shape[:2]
    rgba = np.empty((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = 255
    return rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, rgba.tobytes())
