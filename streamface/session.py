"""`Session`: one speaker, one speech buffer, one profile, one face, one frame clock.

The spine of StreamFace. It knows nothing about transports: they push audio in and read
frames out. Media time is seconds of audio since the first pushed sample; frames are
asked for by media time.

Threads: `push_audio` (and the cheap properties) from the event-loop thread;
`analyze` and `render_frame` from executor threads, possibly at the same time.

Per frame (`render_frame`): the face parameters from the morph (a new `engine.prepare`
only when they changed; with an engine that cross-fades prepared faces, a morph is
prepared at a few keyframes and cross-faded between them), the mouth from the audio
envelope at that media time, blinks, head motion and breathing from the seeded idle
motion, `engine.animate`, then the visible label drawn into the pixels (and a
"listening…" badge on the placeholder). A settled face (no morph in progress) is instead
composed from the engine's own cached pictures (`face.sprites`): its picture at rest,
labelled once, with the mouth and eye patches of the frame's quantised state pasted in
and the head turned by a remap. A morphing face (cross-fading engines) is composed too:
the two keyframes' pictures at rest and their own cached eye and mouth cells cross-faded,
and the head turned the same way.

Per analysis (`analyze`, every ~0.75-1 s of new speech once 1 s is heard, backing off to
every 3 s while a settled face's analyses agree with it): the speech
buffer is profiled, mapped to face parameters, and `IdentityTracker` decides whether the
face refines, holds, or morphs to a new speaker. What the voice cannot tell comes from
an identity code (`face.identity`) chosen at the first face and held for the speaker:
every later analysis is mapped with that code, so only perceived sex and age refine; a
new speaker gets the code of their own voice. A look other than 0 (`set_look`, the
user's choice) replaces the voice's code by a fixed one (`identity.look_code`): the look
seed alone then chooses those traits, so a kept look is the same face in every call.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.base import Engine
from streamface import SYNTHETIC_NOTICE
from streamface.audio.ingest import AudioIngest
from streamface.errors import NoSpeechError
from streamface.face.animation import FaceAnimation
from streamface.face.framing import Framer, FrameSize
from streamface.face.identity import IdentityCode, identity_code, look_code
from streamface.face.label import draw_badge, draw_label
from streamface.face.params import PARAM_HIGH, PARAM_LOW, PARAM_NAMES, neutral_params
from streamface.face.sprites import FaceSprites, layout_ready
from streamface.motion.animator import (  # noqa: F401 (re-exported)
    SPEECH_NOD_DEG,
    STALLED_AUDIO_S,
    STALLED_RELAX_S,
    Animator,
)
from streamface.motion.cues import VoiceCues
from streamface.motion.identity import IdentityTracker
from streamface.motion.morph import Keyframes, ParamMorph
from streamface.voice.profile import VoiceProfile

logger = logging.getLogger(__name__)

LISTENING = "listening"
FORMING = "forming"
STABLE = "stable"
STAGES: tuple[str, ...] = (LISTENING, FORMING, STABLE)
"""Placeholder; first face refined as the buffer fills; settled face."""

BUFFER_SECONDS = 5.0
INGEST_FRAME_BATCH = 5
"""The VAD decides 20 ms frames five at a time (`AudioIngest`): about half the per-chunk
cost; the speech buffer, which only the analyses read, lags the audio by up to 80 ms."""
STYLE_CHOICES = tuple(
    PARAM_NAMES.index(name) for name in ("hair_style", "hair_style_alt", "hair_mix", "facial_hair_style")
)
"""Parameters a morph switches half way instead of walking: the steps between two hair or
beard styles' indices are other styles, and the share between two picks is a style
nobody wears (`ParamMorph`'s ``discrete``)."""

FIRST_ANALYSIS_S = 1.0
"""Seconds of speech before the first face."""
CADENCE_FILLING_S = 0.75
"""New speech between analyses while the buffer fills."""
CADENCE_FULL_S = 1.0
"""New speech between analyses once it is full (keeps watching for a new speaker)..."""
CADENCE_CALM_S = 3.0
"""...growing by `CADENCE_FULL_S` per calm analysis up to this: a settled face's 5 s
buffer need not be profiled every second (an analysis is ~33 ms of CPU, the largest
per-frame cost of a live session after the frame itself). A new speaker still needs two
analyses over the threshold, and the first comes at most this long after the switch;
in 12 measured switches none was found later than at the 1 s cadence (fewer analyses
mix less of the new voice into the anchor: `benchmarks.cadence_latency`)."""
CADENCE_CALM_DISTANCE = 0.05
"""An analysis is calm when its embedding is this close (cosine distance) to the speaker's
anchor: one speaker's 5 s buffers stay within ~0.04 of it on the shared voices, and a new
voice passes 0.05 with about a second of it in the buffer (the threshold is 0.12)."""
LISTENING_BADGE = "listening…"
MORPH_STEP_FRAMES = 2
"""A morphing face advances (and is re-prepared by the engine) every this many frames
(engines that cannot cross-fade prepared faces)."""
MORPH_KEY_SPACING = 0.1
"""Cross-fading engines: largest change of a parameter (fraction of its range) between
two keyframes of a morph..."""
MORPH_KEY_GAP_FRAMES = 3
"""...and the fewest frames between two keyframes where the morph is fastest. Measured
on the shipped renderer over the face changes of a talk (first face, refinements, a
new speaker): a morph needs 1-6 prepares instead of 9-15; the largest change between
two frames is at most half of the two-frame steps' (down to a tenth; the picture moves
a little on every frame); and no frame is more than 2/255 mean off the face its moment's
parameters would give (3.6/255 for the first face, where the steps were 4.6/255)."""
PREPARED_CACHE = 4
"""Prepared faces kept: the keyframes around now and the last shown face."""
COMPOSITORS = 3
"""Sprite compositors kept: a morph's two keyframes and the face shown before them."""
ProfileMapper = Callable[[VoiceProfile, IdentityCode, int], np.ndarray]
"""(profile, identity code, look seed) -> face-parameter vector."""


def _pitch_cache_for(analyzer: Any) -> Any:
    """A pitch cache for a `VoiceAnalyzer` (other analyzers are called as before)."""
    from streamface.voice.analyzer import VoiceAnalyzer
    from streamface.voice.pitch import CmndfCache

    return CmndfCache() if isinstance(analyzer, VoiceAnalyzer) else None


def _default_mapper(profile: VoiceProfile, identity: IdentityCode, look: int) -> np.ndarray:
    from streamface.face.mapping import params_for_profile

    return params_for_profile(profile, identity=identity, look=look).to_vector()


@dataclass
class FrameTimings:
    """Cumulative seconds spent per stage of `Session.render_frame`.

    ``animate_s`` is the engine's ``animate`` plus framing, or for a composed frame
    (`Session.sprite_frames`) the whole composition, label included (``label_s`` ~0 then).
    """

    frames: int = 0
    motion_s: float = 0.0
    prepare_s: float = 0.0
    animate_s: float = 0.0
    label_s: float = 0.0

    def add(self, motion: float, prepare: float, animate: float, label: float) -> None:
        self.frames += 1
        self.motion_s += motion
        self.prepare_s += prepare
        self.animate_s += animate
        self.label_s += label


class Session:
    """One speaker's live face.

    Args:
        engine: The face generator (may be shared by sessions; `prepare`/`animate` used).
        session_id: Public id; None makes a random URL-safe one.
        source: Where the audio comes from ("file", "webrtc", "telephony", ...).
        fps: Frame rate the frames are asked for at (bounds how far the mouth may lag).
        size: Frame width and height; must match the engine's.
        seed: Seed of blinks, head motion and gaze (same seed + same audio = same frames).
        buffer_seconds: Seconds of speech the profile is computed from.
        metadata: Extra JSON fields for `state()`.
        analyzer: A `VoiceAnalyzer`; None uses the process-wide shared one.
        mapper: (profile, identity code, look) -> face-parameter vector; None uses
            `face.mapping.params_for_profile`.
        look: Seed of what the voice cannot tell (0: the voice's own look; any other
            value is one face, the same in every call); see `set_look`.
        frame_size: Output frame size (square or wide, height = the engine's size; the
            square render is framed by `face.framing`); None: the engine's square.
        sprites: Compose a settled face's frames from the engine's cached pictures
            (`face.sprites`) when the engine draws the shipped layout; False: call
            ``engine.animate`` for every frame.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        session_id: str | None = None,
        source: str = "file",
        fps: float = 30.0,
        size: int | None = None,
        seed: int = 0,
        buffer_seconds: float = BUFFER_SECONDS,
        metadata: dict[str, Any] | None = None,
        analyzer: Any | None = None,
        mapper: ProfileMapper | None = None,
        look: int = 0,
        frame_size: FrameSize | None = None,
        sprites: bool = True,
    ) -> None:
        if size is not None and int(size) != int(engine.size):
            raise ValueError(f"session size {size} does not match the engine's {engine.size}")
        if frame_size is not None and frame_size.height != int(engine.size):
            raise ValueError(f"frame height {frame_size.height} does not match the engine's {engine.size}")
        if analyzer is None:
            from streamface.voice.analyzer import default_analyzer

            analyzer = default_analyzer()
        self.id = session_id or secrets.token_urlsafe(9)
        self.source = source
        self.metadata = dict(metadata or {})
        self.engine = engine
        self.size = int(engine.size)
        self.frame_size = frame_size or FrameSize(self.size, self.size)
        """Size of the frames `render_frame` returns."""
        self._framer = Framer(self.frame_size)
        self.fps = float(fps)
        self._analyzer = analyzer
        # Pitch work on speech an earlier analysis already saw is reused (the shared
        # analyzer is stateless; this session's part lives here and is zeroed at close).
        self._pitch_cache = _pitch_cache_for(analyzer)
        self._mapper = mapper or _default_mapper
        self._look = int(look)
        self._code: IdentityCode | None = None  # held from the first face of a speaker
        self._audio = AudioIngest(buffer_seconds, frame_batch=INGEST_FRAME_BATCH)
        self._motion = Animator(seed, fps=self.fps)
        self._mouth = self._motion.mouth
        self._identity = IdentityTracker(scale=PARAM_HIGH - PARAM_LOW)
        self._cues = VoiceCues()
        self._placeholder = neutral_params().to_vector()
        self._blends = bool(engine.blends)
        # A cross-fading engine shows the morph continuously, a change of hair or beard
        # style as one dissolve; others step it.
        self._morph = ParamMorph(
            self._placeholder,
            step_s=0.0 if self._blends else MORPH_STEP_FRAMES / self.fps,
            discrete=STYLE_CHOICES if self._blends else (),
        )
        self._scale = (PARAM_HIGH - PARAM_LOW).astype(np.float32)
        self._state_lock = threading.Lock()
        self._analysis_lock = threading.Lock()
        self._prepared: dict[bytes, Any] = {}  # params bytes -> prepared, oldest first
        self._prepare_lock = threading.Lock()
        # The keyframes of the last morph frame shown, whose blend is made only if asked
        # for (`_prepare`): a composed morph frame never needs it.
        self._shown_blend: Keyframes | None = None
        self._use_sprites = bool(sprites)
        self._sprites: OrderedDict[bytes, FaceSprites] = OrderedDict()  # face key -> compositor, oldest first
        self._sprites_lock = threading.Lock()
        if self._use_sprites and engine.face_layout:
            layout_ready(self.size)  # starts computing the layout off the frame path
        self._stage = LISTENING
        self._profile: VoiceProfile | None = None
        self._next_analysis_s = FIRST_ANALYSIS_S
        self._cadence_s = CADENCE_FULL_S  # interval of a settled face's analyses
        self._calm_cadence_s = CADENCE_CALM_S  # (benchmarks set CADENCE_FULL_S: the 1 s cadence)
        self._last_t = 0.0
        self._closed = False
        self.analyses = 0
        self.timings = FrameTimings()
        """Cumulative per-stage cost of `render_frame` (for benchmarks and stats)."""
        self.cpu_timings = FrameTimings()
        """The same stages in CPU seconds of the rendering thread (not inflated by other load)."""
        self.prepares = 0
        """Faces prepared by the engine so far (a settled face once, a morph a few times)."""
        self.sprite_frames = 0
        """Frames composed from cached engine pictures (`face.sprites`), not by ``animate``."""
        self.morph_frames = 0
        """Of those, frames of a morphing face (`FaceSprites.morph_frame`)."""
        self.face_changes: list[tuple[float, str]] = []
        """(media time, reason) of every face change: "first", "refine", "new_speaker", "look"."""

    # ---- audio (event loop) -------------------------------------------------------------

    def push_audio(self, samples: np.ndarray, sample_rate: int, channels: int = 1) -> None:
        """Feed one chunk of the speaker's audio (int16 or float, 8-48 kHz; cheap).

        Args:
            samples: 1-D (interleaved when ``channels`` > 1) or (frames, channels).
            sample_rate: Hz, whole number, 8000-48000.
            channels: Channels of 1-D interleaved input (averaged to mono).

        Raises:
            BadAudioError: a malformed chunk (wrong dtype/shape, absurd rate, NaN);
                nothing is changed then.
        """
        if self._closed:
            return
        self._mouth.push(self._audio.push(samples, sample_rate, channels).audio)

    @property
    def media_time(self) -> float:
        """Seconds of audio pushed so far (at 16 kHz, in complete 10 ms hops)."""
        return self._mouth.media_time

    @property
    def speech_seconds(self) -> float:
        """Seconds of speech in the buffer (0 up to the buffer length)."""
        return float(self._audio.buffer.speech_seconds)

    @property
    def total_speech_seconds(self) -> float:
        """Seconds of speech heard since the session began."""
        return float(self._audio.buffer.total_speech_seconds)

    @property
    def stage(self) -> str:
        """"listening" (placeholder), "forming" (buffer filling) or "stable"."""
        return self._stage

    def state(self) -> dict[str, Any]:
        """The session as JSON: id, source, speech seconds, stage, traits, disclosure."""
        profile = self._profile
        return {
            **self.metadata,
            "id": self.id,
            "source": self.source,
            "speech_seconds": round(self.speech_seconds, 2),
            "stage": self._stage,
            "look": self._look,
            "traits": None if profile is None else profile.traits_json(),
            "synthetic": True,
            "notice": SYNTHETIC_NOTICE,
        }

    @property
    def profile(self) -> VoiceProfile | None:
        """The latest voice profile, None before the first analysis."""
        return self._profile

    def analysis_due(self) -> bool:
        """Whether enough new speech arrived for another analysis (cheap)."""
        return not self._closed and self.total_speech_seconds >= self._next_analysis_s

    # ---- analysis (executor) ------------------------------------------------------------

    def analyze(self) -> VoiceProfile | None:
        """Profile the speech buffer and move the face if the identity changed.

        Returns:
            The new profile, or None when there is not yet enough speech (or closed).
        """
        with self._analysis_lock:
            if self._closed:
                return None
            total = self.total_speech_seconds
            if total < FIRST_ANALYSIS_S:
                return None
            speech, origin = self._audio.buffer.snapshot_with_origin()
            try:
                if self._pitch_cache is None:
                    profile = self._analyzer.analyze(speech)
                else:
                    profile = self._analyzer.analyze(speech, pitch_cache=self._pitch_cache, origin=origin)
            except NoSpeechError as exc:
                logger.debug("analysis skipped: %s", exc)
                self._next_analysis_s = total + CADENCE_FILLING_S
                return None
            finally:
                speech[:] = 0.0
            code = identity_code(profile.embedding)
            held = code if self._code is None else self._code
            params = self._map(profile, held)
            fresh = None if code == held else self._map(profile, code)
            calm = self._identity.distance(profile.embedding) < CADENCE_CALM_DISTANCE
            pulled: list[VoiceProfile] = []

            def pull(weight: float) -> np.ndarray:
                pulled.append(self._cues.pulled(profile, weight))
                return self._map(pulled[-1], held)

            target = self._identity.update(params, profile.embedding, total, fresh, pull)
            if target is not None and target.reason in ("first", "new_speaker"):
                self._code = code
                self._cues.hold(profile)
            elif target is not None:
                self._cues.hold(pulled[-1])
            with self._state_lock:
                if self._closed:
                    return None
                t = self._last_t
                if target is not None:
                    self._morph.set_target(target.params, t, target.duration_s)
                    self.face_changes.append((t, target.reason))
                    logger.debug("face %s at %.2f s (%.1f s of speech)", target.reason, t, total)
                stable = self._identity.settled(total)
                self._stage = STABLE if stable else FORMING
                self._profile = profile
                if stable and calm:
                    self._cadence_s = min(self._cadence_s + CADENCE_FULL_S, self._calm_cadence_s)
                else:
                    self._cadence_s = CADENCE_FULL_S
                self._next_analysis_s = total + (self._cadence_s if stable else CADENCE_FILLING_S)
                self.analyses += 1
            return profile

    def _map(self, profile: VoiceProfile, code: IdentityCode) -> np.ndarray:
        return self._look_map(profile, code, self._look)

    def _look_map(self, profile: VoiceProfile, code: IdentityCode, look: int) -> np.ndarray:
        row = np.asarray(self._mapper(profile, look_code(code, look), look), np.float32)
        return np.clip(row, PARAM_LOW, PARAM_HIGH)

    @property
    def look(self) -> int:
        """The look seed (0: the voice's own look)."""
        return self._look

    def set_look(self, look: int) -> bool:
        """Reroll what the voice cannot tell: the face morphs to the same voice's other look.

        Perceived sex and age stay; skin, hair, face shape and clothes are drawn anew
        from ``look`` alone (0: from the voice's held identity code again), so the same
        look gives the same face in any call. Blocks while an analysis runs (call it off
        the event loop).

        Returns:
            Whether the face changed now (False before the first face: the look then
            applies to it).
        """
        with self._analysis_lock:
            if self._closed:
                return False
            before, self._look = self._look, int(look)
            profile, code = self._profile, self._code
            if profile is None or code is None:
                return False
            profile = self._cues.pulled(profile, 0.0)  # the cues the face shows
            delta = self._map(profile, code) - self._look_map(profile, code, before)
            target = self._identity.restyle(delta, PARAM_LOW, PARAM_HIGH)
            if target is None:
                return False
            with self._state_lock:
                t = self._last_t
                self._morph.set_target(target.params, t, target.duration_s)
                self.face_changes.append((t, target.reason))
            return True

    # ---- frames (executor) --------------------------------------------------------------

    def animation_at(self, t: float) -> FaceAnimation:
        """The per-frame animation at media time ``t`` (mouth, blinks, head, breath).

        See `Animator`: the mouth follows the audio and relaxes when it stalls.
        """
        return self._motion.at(t)

    def params_at(self, t: float) -> np.ndarray:
        """Face-parameter vector shown at media time ``t`` (float32 [PARAM_DIM])."""
        return self._morph.at(t)[0]

    def render_frame(self, t: float) -> np.ndarray:
        """The labelled RGB frame at media time ``t``: uint8 [height, width, 3] of `frame_size`."""
        with self._state_lock:
            self._last_t = max(self._last_t, float(t))
            listening = self._stage == LISTENING
        t0, c0 = time.perf_counter(), time.thread_time()
        keys = None
        if self._blends:
            keys = self._morph.keyframes(t, MORPH_KEY_SPACING, MORPH_KEY_GAP_FRAMES / self.fps, self._scale)
        params, settled = self._morph.at(t) if keys is None else (keys.value, False)
        if keys is not None and keys.weight == 0.0:
            settled = self._morph.at(t)[1]
        anim = self.animation_at(t).to_vector()[None, :]
        t1, c1 = time.perf_counter(), time.thread_time()
        blended = keys is not None and keys.weight != 0.0
        if blended:
            with self._prepare_lock:
                self._shown_blend = keys
        # A morph frame's blended face is made only when the engine draws the frame: one
        # composed from its keyframes' pictures does not use it (3 ms at 256 px, ONNX Runtime).
        prepared = None if blended else self._prepare(params)
        sprites = self._sprites_of(params, prepared, listening) if settled else None
        morph, weight = None, 0.0
        if sprites is None and not settled and keys is not None:
            morph, weight = self._morph_sprites(keys, listening), keys.weight
        t2, c2 = time.perf_counter(), time.thread_time()
        frame = None
        if sprites is not None:
            # A settled face: pasted from the engine's cached pictures, framed and labelled.
            frame = sprites.frame(anim)
        elif morph is not None:
            frame = morph[0].morph_frame(morph[1], weight, None, anim)
            self.morph_frames += frame is not None
        if frame is not None:
            self.sprite_frames += 1
            t3, c3 = time.perf_counter(), time.thread_time()
        else:
            if prepared is None:
                assert keys is not None  # None only for a blended frame
                prepared = self._cross_fade(keys)
            frame = np.array(self.engine.animate(prepared, anim)[0], dtype=np.uint8, copy=True)
            frame = self._framer.compose(frame)
            t3, c3 = time.perf_counter(), time.thread_time()
            self._overlay(frame, listening)
        self.timings.add(t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
        self.cpu_timings.add(c1 - c0, c2 - c1, c3 - c2, time.thread_time() - c3)
        return frame

    def _overlay(self, frame: np.ndarray, listening: bool) -> np.ndarray:
        if listening:
            draw_badge(frame, LISTENING_BADGE)
        draw_label(frame)
        return frame

    def _sprites_of(self, params: np.ndarray, prepared: Any, listening: bool) -> FaceSprites | None:
        """The compositor of this face (built on its first frame), or None to draw."""
        if not self._use_sprites or not self.engine.face_layout or layout_ready(self.size) is None:
            return None
        key = params.tobytes() + (b"L" if listening else b"F")
        with self._sprites_lock:
            held = self._sprites.get(key)
            if held is not None:
                self._sprites.move_to_end(key)
                return held
            if self._closed and not listening:
                return None  # a frame begun before close: keep no pictures of that face

            def finish(square: np.ndarray) -> np.ndarray:
                return self._overlay(self._framer.compose(square), listening)

            sprites = FaceSprites(self.engine, prepared, finish, left=self._framer.left)
            self._sprites[key] = sprites
            while len(self._sprites) > COMPOSITORS:
                self._sprites.popitem(last=False)
            return sprites

    def _morph_sprites(self, keys: Keyframes, listening: bool) -> tuple[FaceSprites, FaceSprites] | None:
        """The compositors of a morph's two keyframes (the second is the target's at the
        morph's end, reused once it settles), or None to draw the frame with ``animate``."""
        parts = self.engine.parts
        if "eyes" not in parts or "mouth" not in parts:
            return None
        a = self._sprites_of(keys.a, self._prepare(keys.a), listening)
        if a is None:
            return None
        b = a if keys.b.tobytes() == keys.a.tobytes() else self._sprites_of(keys.b, self._prepare(keys.b), listening)
        return None if b is None else (a, b)

    def _prepare(self, params: np.ndarray) -> Any:
        key = params.tobytes()
        with self._prepare_lock:
            cached = self._prepared.get(key)
            shown = self._shown_blend
            if cached is None and shown is not None and shown.value.tobytes() == key:
                self._shown_blend = None
            else:
                shown = None
        if cached is not None:
            self._remember(key, cached)
            return cached
        if shown is not None:
            # A new morph starts from the face last shown mid-morph: exactly that blend.
            return self._cross_fade(shown)
        prepared = self.engine.prepare(params[None, :])
        self.prepares += 1
        self._remember(key, prepared)
        return prepared

    def _cross_fade(self, keys: Keyframes) -> Any:
        """The morph between two prepared keyframes (each prepared once, then cached)."""
        shown = self.engine.blend(self._prepare(keys.a), self._prepare(keys.b), keys.weight)
        if shown is None:  # the engine stopped cross-fading (e.g. it fell back)
            return self._prepare(keys.value)
        # A new target set now starts from exactly this face (its first keyframe).
        self._remember(keys.value.tobytes(), shown)
        return shown

    def _remember(self, key: bytes, prepared: Any) -> None:
        with self._prepare_lock:
            self._prepared.pop(key, None)
            self._prepared[key] = prepared
            while len(self._prepared) > PREPARED_CACHE:
                del self._prepared[next(iter(self._prepared))]

    # ---- end ----------------------------------------------------------------------------

    def close(self) -> None:
        """Zero the speech buffer, audio history and embeddings; idempotent.

        Frames asked for afterwards still come (the placeholder, labelled).
        """
        with self._analysis_lock, self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._audio.close()
            if self._pitch_cache is not None:
                self._pitch_cache.clear()
            self._mouth.clear()
            self._identity.clear()
            self._cues.clear()
            self._code = None
            profile, self._profile = self._profile, None
            if profile is not None and profile.embedding.flags.writeable:
                profile.embedding[:] = 0.0
            self._morph.reset(self._placeholder)
            self._stage = LISTENING
            with self._prepare_lock:
                self._prepared.clear()
            with self._sprites_lock:
                self._sprites.clear()
