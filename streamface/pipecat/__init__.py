"""StreamFace for Pipecat: `StreamFaceProcessor` (needs ``pip install 'streamface[pipecat]'``).

Importing this package imports Pipecat; the rest of StreamFace never imports it.
"""

from __future__ import annotations

try:
    import pipecat.processors.frame_processor  # noqa: F401 - fail early with the hint
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        f"streamface.pipecat needs Pipecat ({exc}): pip install 'streamface[pipecat]'"
    ) from exc

from streamface.pipecat.processor import StreamFaceProcessor

__all__ = ["StreamFaceProcessor"]
