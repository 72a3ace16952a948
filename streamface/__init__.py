"""StreamFace: a live, clearly labelled synthetic face from a voice.

The face is a statistical portrait of traits a voice correlates with (perceived sex,
age band), never the speaker's identity or real appearance.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamface")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"

SYNTHETIC_NOTICE = (
    "AI-generated face. It is a statistical portrait inferred from the voice, "
    "not the speaker's real appearance."
)
"""The disclosure shown next to every face StreamFace publishes."""
