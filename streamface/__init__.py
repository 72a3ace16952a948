"""StreamFace: a live, clearly labelled synthetic face from a voice.

The face is a statistical portrait of traits a voice correlates with (perceived sex,
age band), never the speaker's identity or real appearance.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# Privacy: ONNX Runtime (1.2x+) records usage telemetry in ~/.cache/Microsoft/DeveloperTools
# and may upload it. StreamFace sends nothing anywhere and writes nothing it does not
# document, so it is off unless the user sets the variable themselves (docs/PRIVACY.md).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

try:
    __version__ = version("streamface")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"

SYNTHETIC_NOTICE = (
    "AI-generated face. It is a statistical portrait inferred from the voice, "
    "not the speaker's real appearance."
)
"""The disclosure shown next to every face StreamFace publishes."""
