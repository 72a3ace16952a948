"""`Animator`: one speaker's per-frame animation from their audio and the clock.

The mouth (openness and visemes) follows the audio through `MouthTracker`; blinks, head
motion, breathing and gaze come from the seeded `IdleMotion`; a slight nod follows the
mouth's opening. It is what a `Session` draws its face with, and what ``streamface vmc``
sends to VTuber apps, so both move the same way.

* The mouth never runs ahead of the audio and never trails the newest audio by more
  than one frame.
* Audio that stops arriving (a dropped connection, a muted source, a stalled input) does
  not leave the mouth frozen mid-word: after `STALLED_AUDIO_S` it relaxes to rest over
  `STALLED_RELAX_S`, while blinks and head motion go on with the clock.
"""

from __future__ import annotations

import threading

import numpy as np

from streamface.face.animation import FaceAnimation
from streamface.motion.idle import HEAD_LIMIT_DEG, IdleMotion
from streamface.motion.mouth import SAMPLE_RATE, MouthTracker

STALLED_AUDIO_S = 0.25
"""Frame time without new audio after which the mouth starts to relax..."""
STALLED_RELAX_S = 0.2
"""...over this long."""
SPEECH_NOD_DEG = 1.2
"""Head pitch added at full mouth opening: a slight nod that follows emphasis."""

__all__ = ["SAMPLE_RATE", "SPEECH_NOD_DEG", "STALLED_AUDIO_S", "STALLED_RELAX_S", "Animator"]


class Animator:
    """Mouth from 16 kHz audio, idle life from media time: `at` gives a frame's animation.

    Thread-safe: `push` from one thread while `at` is called from others.

    Args:
        seed: Seed of blinks, head motion and gaze.
        fps: Frame rate `at` is asked at (bounds how far the mouth may trail the audio).
        history_s: Seconds of mouth states kept.
    """

    def __init__(self, seed: int = 0, fps: float = 30.0, history_s: float = 2.0) -> None:
        self.mouth = MouthTracker(history_s=history_s)
        self.idle = IdleMotion(seed)
        self.fps = float(fps)
        self._lock = threading.Lock()
        self._audio_seen = (0.0, 0.0)  # (newest audio time, frame time it was first seen at)

    @property
    def media_time(self) -> float:
        """Seconds of audio analysed so far."""
        return self.mouth.media_time

    def push(self, samples: np.ndarray) -> None:
        """Append 16 kHz mono float samples (any chunk size)."""
        self.mouth.push(samples)

    def at(self, t: float) -> FaceAnimation:
        """The per-frame animation at media time ``t`` (mouth, blinks, head, breath)."""
        audio_t = self.mouth.media_time
        mouth_t = min(max(t, audio_t - 1.0 / self.fps), audio_t)
        mouth = self.mouth.at(mouth_t)
        with self._lock:
            if audio_t != self._audio_seen[0]:
                self._audio_seen = (audio_t, t)
            stalled_s = t - self._audio_seen[1]
        relax = min(1.0, max(0.0, (stalled_s - STALLED_AUDIO_S) / STALLED_RELAX_S))
        keep = 1.0 - relax
        opening = mouth.open * keep
        rest, a, ei, ou, mbp = (keep * v for v in mouth.visemes)
        idle = self.idle.at(t)
        pitch = idle.pitch + SPEECH_NOD_DEG * opening
        return FaceAnimation(
            mouth_open=opening,
            v_rest=rest + relax,
            v_a=a,
            v_ei=ei,
            v_ou=ou,
            v_mbp=mbp,
            blink=idle.blink,
            gaze_x=idle.gaze_x,
            gaze_y=idle.gaze_y,
            yaw=idle.yaw,
            pitch=max(-HEAD_LIMIT_DEG, min(HEAD_LIMIT_DEG, pitch)),
            roll=idle.roll,
            breath=idle.breath,
        )

    def clear(self) -> None:
        """Forget the audio history (the mouth rests)."""
        self.mouth.clear()
