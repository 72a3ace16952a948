"""`FaceRenderer`: a batched, differentiable 2-D renderer of `FaceParams` rows.

The renderer lives in `streamface.face.render` (one module per layer); this module keeps
the public import path.
"""

from __future__ import annotations

from streamface.face.render.common import bilinear as _bilinear
from streamface.face.render.compose import FaceRenderer

__all__ = ["FaceRenderer", "_bilinear"]
