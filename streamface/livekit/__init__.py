"""StreamFace for LiveKit Agents (needs ``pip install 'streamface[livekit]'``).

* `entrypoint` / `make_server`: a worker that joins a room on dispatch, subscribes to one
  participant's microphone (a SIP caller or a WebRTC participant) once that participant's
  ``streamface.consent`` attribute is ``"granted"``, and publishes the labelled face as a
  video track on their behalf (``python -m streamface.livekit start``).
* `StreamFaceAvatar`: an in-process avatar (LiveKit's ``AvatarSession``/``AvatarRunner``
  pattern) that gives an agent's own TTS voice a face.
* `StreamFaceVideoGenerator`: the ``VideoGenerator`` behind it, for a custom runner.

Importing this package imports LiveKit; the rest of StreamFace never imports it.
"""

from __future__ import annotations

try:
    from livekit import rtc  # noqa: F401 - fail early with the hint
    from livekit.agents.voice import avatar as _avatar  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        f"streamface.livekit needs LiveKit Agents ({exc}): pip install 'streamface[livekit]'"
    ) from exc

from streamface.livekit.avatar import StreamFaceAvatar
from streamface.livekit.generator import StreamFaceVideoGenerator
from streamface.livekit.load import FACE_LOAD, FaceLoad
from streamface.livekit.publisher import CONSENT_ATTRIBUTE, consent_granted, run_face
from streamface.livekit.worker import entrypoint, make_server

__all__ = [
    "CONSENT_ATTRIBUTE",
    "FACE_LOAD",
    "FaceLoad",
    "StreamFaceAvatar",
    "StreamFaceVideoGenerator",
    "consent_granted",
    "entrypoint",
    "make_server",
    "run_face",
]
