"""Issue 18: a settled face's analyses backing off, against the 1 s cadence, in lockstep.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep` (one
frame of each in turn, each with its own VP8 encoder), both as shipped except that
``before`` keeps analysing a settled face every `CADENCE_FULL_S` of speech, as before
the back-off, while ``now`` backs off to every `CADENCE_CALM_S` while the analyses agree
with the face. Per frame CPU of ingest, analysis, render + yuv and VP8, and each variant's
``pipeline_to_vp8_x``. Options: ``--size N``, ``--seconds S``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.cells_ab import lockstep, main


def run(quick: bool = False, size: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""
    from streamface.session import CADENCE_FULL_S

    def before(session: Any) -> None:
        session._calm_cadence_s = CADENCE_FULL_S

    return lockstep({"before": (True, before), "now": (True, None)}, quick, size, seconds)


if __name__ == "__main__":
    main(run)
