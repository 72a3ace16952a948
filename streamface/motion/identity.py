"""Which face to show for the voice heard so far: first face, refinement, new speaker.

`IdentityTracker` turns the stream of analyses (a `VoiceProfile` and its face-parameter
vector, every ~0.5-1 s of new speech) into face targets for `ParamMorph`:

* The first analysis gives the first face (morph from the placeholder over 0.8 s).
* While the 5 s buffer fills, each analysis pulls the face most of the way to the new
  estimate (weight 0.6, morph 0.6 s); once full, only 15 % of the way. A session pulls
  the voice's estimate and maps it (`motion.cues.VoiceCues`), so the face is always one
  the mapping draws, never an average of two (a hybrid hairstyle, half-drawn glasses). Changes
  below a dead band (1 % of a parameter's range while filling, 3 % once full) are
  ignored, so one speaker's face settles instead of jittering with analysis noise (and
  the engine is not asked to re-prepare a face for changes no one would see).
* What the voice cannot tell (skin, hairstyle, ...: `face.identity`) is chosen once, at
  the first face, and held: the session maps every later analysis with the same
  identity code, so refinements move only voice-inferred cues (perceived sex, age).
  ``update`` takes the analysis's face under the held code and, where the analysis's
  own code differs, its face under that new code (``fresh``), used only when a new
  speaker starts.
* A new speaker is declared when the cosine distance between the buffer's GE2E embedding
  and the current speaker's anchor embedding exceeds `SPEAKER_CHANGE_DISTANCE` in two
  analyses in a row (or once by half as much again); the face then morphs over 1.0 s to
  the new estimate and refines as the buffer fills with the new voice.

Threshold, from the shared test voices (embeddings of `VoiceAnalyzer` on 5 s speech
buffers, cosine distance): the same speaker in two recordings (flite slt / slt_2,
rms / rms_2) 0.043 and 0.062; any 5 s window of one speaker against that speaker's first
5 s at most 0.080. Speakers of the other sex: at least 0.235. Same-sex pairs from 0.13
up, except espeak variants built on one base voice (f2/f5 0.035, m1/m3 0.059, f1/f2
0.097), which are nearly the same voice. 0.12 is 1.5x the largest same-speaker distance
and well below every truly different pair; with a 5 s buffer the distance crosses it
once 2.5-3 s of the new voice are in the buffer (tests/test_motion_morph.py checks this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SPEAKER_CHANGE_DISTANCE = 0.12
FIRST_MORPH_S = 0.8
REFINE_MORPH_S = 0.6
NEW_SPEAKER_MORPH_S = 1.0
_FILLING_WEIGHT = 0.6
_FULL_WEIGHT = 0.15
_DEAD_BAND = 0.03  # largest per-parameter change ignored once the buffer is full
_DEAD_BAND_FILLING = 0.01  # ... and while it fills
_ANCHOR_WEIGHT = 0.2
_FULL_SECONDS = 4.5  # speech seconds (of this speaker) at which the buffer counts as full


@dataclass(frozen=True)
class FaceTarget:
    """A decision to move the face.

    Attributes:
        params: The new face-parameter vector.
        duration_s: Morph duration (>= 0.3 s).
        reason: "first", "refine" or "new_speaker".
    """

    params: np.ndarray
    duration_s: float
    reason: str


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cos(a, b); 1.0 when either vector is zero."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 1.0
    return float(1.0 - np.dot(a, b) / (na * nb))


class IdentityTracker:
    """Keeps one speaker's face stable and notices when the speaker changes.

    Args:
        change_distance: Cosine distance of embeddings that declares a new speaker.
        scale: Per-parameter range (the dead band is a fraction of it); None: all 1.
    """

    def __init__(
        self, change_distance: float = SPEAKER_CHANGE_DISTANCE, scale: np.ndarray | None = None
    ) -> None:
        self.change_distance = change_distance
        self._scale = None if scale is None else np.asarray(scale, np.float32).reshape(-1)
        self._params: np.ndarray | None = None
        self._anchor: np.ndarray | None = None
        self._speaker_start_s = 0.0  # buffer's total speech seconds when this speaker began
        self._suspect = 0
        self.speakers = 0
        """Speakers seen so far (0 before the first face)."""

    @property
    def has_face(self) -> bool:
        return self._params is not None

    def update(
        self,
        params: np.ndarray,
        embedding: np.ndarray,
        total_speech_s: float,
        fresh: np.ndarray | None = None,
        pull: Callable[[float], np.ndarray] | None = None,
    ) -> FaceTarget | None:
        """Fold in one analysis; returns where the face should go, or None to stay.

        Args:
            params: Face-parameter vector of this analysis (under the held identity).
            embedding: Its speaker embedding (L2-normalised).
            total_speech_s: Seconds of speech heard since the session began.
            fresh: The analysis's face under its own identity, for a first face or a
                new speaker; None: ``params``.
            pull: The face pulled a given weight of the way from the current one to this
                analysis's (a session pulls the voice's cues and maps them, `VoiceCues`);
                None: the parameters themselves, linearly.
        """
        params = np.asarray(params, np.float32).reshape(-1)
        start = params if fresh is None else np.asarray(fresh, np.float32).reshape(-1)
        emb = np.asarray(embedding, np.float32).reshape(-1)
        if self._params is None or self._anchor is None:
            self._start_speaker(start, emb, total_speech_s)
            return FaceTarget(start.copy(), FIRST_MORPH_S, "first")
        heard = total_speech_s - self._speaker_start_s
        filling = heard < _FULL_SECONDS
        distance = cosine_distance(emb, self._anchor)
        if not filling and distance > self.change_distance:
            self._suspect += 1
            if self._suspect >= 2 or distance > 1.5 * self.change_distance:
                self._start_speaker(start, emb, total_speech_s)
                return FaceTarget(start.copy(), NEW_SPEAKER_MORPH_S, "new_speaker")
            return None  # wait for a second analysis before changing the face
        self._suspect = 0
        if filling:
            self._anchor = emb  # the buffer is still growing: the latest embedding is best
        else:
            mixed = (1.0 - _ANCHOR_WEIGHT) * self._anchor + _ANCHOR_WEIGHT * emb
            self._anchor = (mixed / (np.linalg.norm(mixed) or 1.0)).astype(np.float32)
        weight = _FILLING_WEIGHT if filling else _FULL_WEIGHT
        if pull is None:
            new = (self._params + weight * (params - self._params)).astype(np.float32)
        else:
            new = np.asarray(pull(weight), np.float32).reshape(-1)
        change = np.abs(new - self._params)
        if self._scale is not None:
            change = change / np.maximum(self._scale, 1e-6)
        if float(np.max(change)) < (_DEAD_BAND_FILLING if filling else _DEAD_BAND):
            return None
        self._params = new
        return FaceTarget(new.copy(), REFINE_MORPH_S, "refine")

    def _start_speaker(self, params: np.ndarray, emb: np.ndarray, total_speech_s: float) -> None:
        self._params = params.copy()
        self._anchor = emb.copy()
        self._speaker_start_s = total_speech_s
        self._suspect = 0
        self.speakers += 1

    def restyle(self, delta: np.ndarray, low: np.ndarray, high: np.ndarray) -> FaceTarget | None:
        """Move the current face by ``delta`` (same speaker, another look), within bounds.

        Only what the look changes moves: the refined voice cues stay where they are.
        Returns None before the first face.
        """
        if self._params is None:
            return None
        moved = self._params + np.asarray(delta, np.float32).reshape(-1)
        self._params = np.clip(moved, low, high).astype(np.float32)
        return FaceTarget(self._params.copy(), FIRST_MORPH_S, "look")

    def distance(self, embedding: np.ndarray) -> float:
        """Cosine distance of ``embedding`` from the current speaker's anchor (1.0 before a face)."""
        if self._anchor is None:
            return 1.0
        return cosine_distance(np.asarray(embedding, np.float32).reshape(-1), self._anchor)

    def settled(self, total_speech_s: float) -> bool:
        """Whether this speaker's buffer is full (the face is then stable)."""
        return self._params is not None and total_speech_s - self._speaker_start_s >= _FULL_SECONDS

    def clear(self) -> None:
        """Forget the speaker (zeroes the embedding held)."""
        if self._anchor is not None:
            self._anchor[:] = 0.0
        self._anchor = None
        self._params = None
        self._suspect = 0
