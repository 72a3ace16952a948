"""Issue 18: could the speaker embedding reuse the partials of earlier analyses? Not unchanged.

The shipped embedding (`streamface.voice.encoder.embed_utterance` as `VoiceAnalyzer` calls
it) scales the whole speech buffer to -20 dBFS, then cuts 1.6 s partials from the buffer's
own start. Both depend on the buffer, which moves by the new speech between analyses, so
no partial of one analysis is a partial of the next. A cacheable variant would cut the
partials on a fixed grid of the speech stream and scale each partial on its own: each
then depends on its own samples only and is run through the LSTM once.

For every analysis of a `Session` over 30 s of each shared voice (the test suite's cheap
engine and mapper: the embedding depends on the audio only), this compares the shipped
embedding with the cacheable one: their cosine, whether the identity code
(`face.identity.identity_code`, which picks what the voice cannot tell: skin, hair, face
shape...) is the same, and how many partials the cacheable one ran; and, for scale, how
often the shipped code of one analysis is that of the analysis before. Usage:
``python -m benchmarks.ge2e_grid_ab``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VOICES = ROOT.parent / "shared" / "voices"


class GridEmbedder:
    """The cacheable variant: stream-aligned partials, each level-set alone, kept by position."""

    def __init__(self) -> None:
        self._partials: dict[int, np.ndarray] = {}
        self.computed = 0

    def embed(self, speech: np.ndarray, origin: int) -> np.ndarray | None:
        """The embedding of the partials that lie wholly inside ``speech`` (stream position
        ``origin``), or None when none does."""
        from streamface.voice import encoder
        from streamface.voice.analyzer import EMBEDDING_LEVEL_DBFS
        from streamface.voice.mel import HOP, mel_spectrogram, set_level

        span = encoder.PARTIAL_FRAMES * HOP
        first = -(-origin // span) * span
        rows = []
        for start in range(first, origin + speech.size - span + 1, span):
            row = self._partials.get(start)
            if row is None:
                part = set_level(speech[start - origin : start - origin + span], EMBEDDING_LEVEL_DBFS)
                mel = mel_spectrogram(part)[: encoder.PARTIAL_FRAMES]
                row = self._partials[start] = encoder.load_encoder()(mel[None])[0]
                self.computed += 1
            rows.append(row)
        return encoder.average(np.stack(rows)) if rows else None


def run(quick: bool = False) -> dict[str, Any]:
    """Per voice and over all analyses of a full (5 s) buffer: cosines and codes kept."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes import ShapesEngine, fake_mapper  # type: ignore[import-not-found]

    from streamface.audio.decode import decode_file
    from streamface.face.identity import identity_code
    from streamface.offline import Audio, feed
    from streamface.session import Session
    from streamface.voice.analyzer import VoiceAnalyzer

    shipped = VoiceAnalyzer.analyze
    out: dict[str, Any] = {"voices": {}}
    full: list[tuple[float, bool]] = []
    for wav in sorted(VOICES.glob("*.wav"))[: 3 if quick else None]:
        seen: list[tuple[np.ndarray, int, np.ndarray]] = []

        def spy(self: Any, speech: np.ndarray, *, _seen: list[Any] = seen, **kw: Any) -> Any:
            profile = shipped(self, speech, **kw)
            _seen.append((speech.copy(), int(kw["origin"]), profile.embedding.copy()))
            return profile

        setattr(VoiceAnalyzer, "analyze", spy)  # noqa: B010 - a method swapped for the run
        try:
            session = Session(ShapesEngine(96), fps=30, mapper=fake_mapper)
            x = decode_file(wav)
            audio = np.tile(x, int(np.ceil(30 * 16000 / x.size)))[: 30 * 16000]
            for _ in feed(session, Audio(audio, 16000), 30):
                pass
            session.close()
        finally:
            setattr(VoiceAnalyzer, "analyze", shipped)  # noqa: B010
        grid = GridEmbedder()
        cosines, same = [], []
        # the shipped code's own steadiness: consecutive analyses of the voice agreeing
        steady = sum(identity_code(a[2]) == identity_code(b[2]) for a, b in zip(seen, seen[1:], strict=False))
        for speech, origin, embedding in seen:
            cached = grid.embed(speech, origin)
            if cached is None:
                continue
            cosines.append(float(embedding @ cached))
            same.append(identity_code(embedding) == identity_code(cached))
            if speech.size >= 4.9 * 16000:
                full.append((cosines[-1], same[-1]))
        out["voices"][wav.stem] = {
            "analyses": len(cosines),
            "cosine_min": round(min(cosines), 4),
            "cosine_median": round(float(np.median(cosines)), 4),
            "same_identity_code": sum(same),
            "partials_run_per_analysis": round(grid.computed / max(len(cosines), 1), 2),
            "shipped_code_same_as_previous_analysis": f"{steady}/{max(len(seen) - 1, 0)}",
        }
    out["full_buffer_analyses"] = len(full)
    out["full_buffer_cosine_median"] = round(float(np.median([c for c, _ in full])), 4)
    out["full_buffer_same_identity_code"] = sum(s for _, s in full)
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
