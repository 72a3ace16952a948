"""Issue 18, the speaker encoder's int8 graph against its float32 one, in lockstep.

Two live-sized sessions on the same audio driven by `benchmarks.cells_ab.lockstep`, both as
shipped except that ``before`` embeds its analyses' speech with the float32 graph
(``ge2e_encoder.onnx``, what every analysis ran before) and ``now`` with the int8 one
(``ge2e_encoder_int8.onnx``: the second and third LSTM layers quantised, `encoder.QUANTIZED_LAYERS`).
Per frame CPU of ingest, analysis, render + yuv and VP8, each variant's
``pipeline_to_vp8_x``, and how much the two variants' frames differ (the embedding moves a
little, so a parameter that follows it may too). Options: ``--size N``, ``--seconds S``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.cells_ab import lockstep, main


class Float32Analyzer:
    """A `VoiceAnalyzer` whose analyses embed with the float32 graph (lockstep is one
    thread, so swapping the process-wide int8 encoder for the call is safe here)."""

    def __init__(self, analyzer: Any) -> None:
        self._analyzer = analyzer

    def analyze(self, speech: np.ndarray, **options: Any) -> Any:
        from streamface.voice import encoder

        int8 = encoder.load_encoder(int8=True)
        encoder._encoders[True] = encoder.load_encoder(int8=False)
        try:
            return self._analyzer.analyze(speech, **options)
        finally:
            encoder._encoders[True] = int8

    def __getattr__(self, name: str) -> Any:
        return getattr(self._analyzer, name)


def run(quick: bool = False, size: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    """Both variants in lockstep; results under ``before_*`` and ``now_*``."""

    def before(session: Any) -> None:
        session._analyzer = Float32Analyzer(session._analyzer)

    return lockstep({"before": (True, before), "now": (True, None)}, quick, size, seconds, compare=True)


if __name__ == "__main__":
    main(run)
