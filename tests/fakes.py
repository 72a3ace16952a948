"""Fakes (not mocks) shared by unit tests: small real objects with predictable behaviour."""


# --- engines (engines helper) --------------------------------------------------------------
# A small renderer with FaceRenderer's interface, and engines that fail on cue, so the
# engine machinery (export, engines, selection, fallback) is tested without the real face.

import threading  # noqa: E402 - this section is self-contained
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from engines.base import Engine  # noqa: E402

_TINY_CLASS: Any = None


def _tiny_renderer_class() -> Any:
    global _TINY_CLASS
    if _TINY_CLASS is not None:
        return _TINY_CLASS
    import torch
    from torch import nn

    class TinyRenderer(nn.Module):
        """A stand-in for `FaceRenderer`: a soft disc "face" with eyes and a mouth.

        Same interface: ``prepare(params[B, P]) -> Tensor``, ``animate(prepared, params,
        anim) -> [B, 3, S, S]`` in [0, 1], and ``forward = animate(prepare(p), p, anim)``.
        The prepared tensor is the static layer (background and face disc), the animate
        path composites what moves (mouth openness, blink, head yaw) on top of it.
        """

        def __init__(self, size: int = 64, param_dim: int = 8, anim_dim: int | None = None) -> None:
            super().__init__()
            from streamface.face.animation import ANIM_DIM

            self.size = size
            self.param_dim = param_dim
            self.anim_dim = ANIM_DIM if anim_dim is None else anim_dim
            gen = torch.Generator().manual_seed(1234)
            self.proj = nn.Linear(param_dim, 8)
            with torch.no_grad():
                self.proj.weight.copy_(torch.randn(8, param_dim, generator=gen))
                self.proj.bias.copy_(torch.randn(8, generator=gen) * 0.5)
            axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
            self.ys: torch.Tensor
            self.xs: torch.Tensor
            self.register_buffer("ys", axis.view(1, size, 1).expand(1, size, size).clone())
            self.register_buffer("xs", axis.view(1, 1, size).expand(1, size, size).clone())

        def prepare(self, params: torch.Tensor) -> torch.Tensor:
            code = torch.sigmoid(self.proj(params))  # [B, 8]
            skin = code[:, 0:3, None, None]
            bg = code[:, 3:6, None, None] * 0.5
            radius = (0.45 + 0.3 * code[:, 6]).view(-1, 1, 1)
            dist = torch.sqrt(self.xs**2 + (self.ys * 0.85) ** 2)
            mask = torch.sigmoid((radius - dist) * self.size * 0.5).unsqueeze(1)  # [B,1,S,S]
            base = bg * (1 - mask) + skin * mask
            return torch.cat([base, mask], dim=1)  # [B, 4, S, S]

        def animate(
            self, prepared: torch.Tensor, params: torch.Tensor, anim: torch.Tensor
        ) -> torch.Tensor:
            base, mask = prepared[:, :3], prepared[:, 3:4]
            mouth_open = anim[:, 0].view(-1, 1, 1)
            blink = anim[:, 6].view(-1, 1, 1)
            shift = (anim[:, 9] / 40.0).view(-1, 1, 1)  # yaw in degrees
            lip = torch.sigmoid(params[:, :1]).view(-1, 1, 1)
            xs = self.xs - shift
            mouth_h = 0.02 + 0.12 * mouth_open
            mouth = ((xs / 0.22) ** 2 + ((self.ys - 0.45) / mouth_h) ** 2 - 1) * -self.size * 0.1
            eye_h = 0.08 * (1 - blink) + 0.005
            eyes = ((xs.abs() - 0.3) / 0.1) ** 2 + ((self.ys + 0.1) / eye_h) ** 2
            dark = torch.sigmoid(mouth) * lip + torch.sigmoid((1 - eyes) * self.size * 0.1)
            dark = (dark.clamp(0, 1).unsqueeze(1)) * mask
            return (base * (1 - 0.8 * dark)).clamp(0, 1)

        def forward(self, params: torch.Tensor, anim: torch.Tensor) -> torch.Tensor:
            return self.animate(self.prepare(params), params, anim)

    _TINY_CLASS = TinyRenderer
    return TinyRenderer


def TinyRenderer(size: int = 64, param_dim: int = 8) -> Any:  # noqa: N802 - a class factory
    """Build the stand-in renderer (a torch module; torch is imported on first use)."""
    return _tiny_renderer_class()(size, param_dim)


def tiny_renderer_factory(param_dim: int = 8) -> Any:
    """A ``size -> TinyRenderer`` factory, as the engines take."""

    def make(size: int) -> Any:
        return TinyRenderer(size, param_dim)

    return make


class FakeEngine(Engine):
    """A pure-numpy engine: a flat colour from the params, brightness from the animation.

    Records every call, and raises ``error`` from the call numbered ``fail_at`` on (1-based,
    counting render, prepare and animate together) when given; ``fail_times`` limits how many
    calls fail (None: all later ones).
    """

    name = "fake"

    def __init__(
        self,
        size: int = 16,
        *,
        name: str = "fake",
        fail_at: int | None = None,
        fail_times: int | None = None,
        error: Exception | None = None,
    ) -> None:
        super().__init__(size)
        self.name = name
        self.fail_at = fail_at
        self.fail_times = fail_times
        self.error = error or RuntimeError(f"{name} failed on cue")
        self.calls: list[str] = []
        self.failures = 0
        self.closed = False
        self._lock = threading.Lock()

    def _tick(self, what: str) -> None:
        with self._lock:
            self.calls.append(what)
            n = len(self.calls)
            failing = self.fail_at is not None and n >= self.fail_at
            if failing and (self.fail_times is None or self.failures < self.fail_times):
                self.failures += 1
                raise self.error

    def _frames(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        params = np.atleast_2d(np.asarray(params, np.float32))
        anim = np.atleast_2d(np.asarray(anim, np.float32))
        if params.shape[0] == 1 and anim.shape[0] > 1:
            params = np.repeat(params, anim.shape[0], axis=0)
        colour = (
            np.clip(params[:, :3] * 255, 0, 255)
            if params.shape[1] >= 3
            else np.zeros((len(params), 3))
        )
        level = 1.0 - 0.5 * np.clip(anim[:, :1], 0, 1)
        out = np.empty((len(params), self.size, self.size, 3), np.uint8)
        out[...] = (colour * level)[:, None, None, :].astype(np.uint8)
        return out

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        self._tick("render")
        return self._frames(params, anim)

    def prepare(self, params: np.ndarray) -> Any:
        self._tick("prepare")
        return ("fake-prepared", self.name, np.array(params, np.float32, copy=True))

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        self._tick("animate")
        tag, owner, params = prepared
        if owner != self.name:
            raise AssertionError(f"{self.name} got a face prepared by {owner}")
        return self._frames(params, anim)

    def close(self) -> None:
        self.closed = True


class UnloadableEngine(Engine):
    """An engine whose construction always fails (as a missing GPU library would)."""

    name = "unloadable"

    def __init__(self, size: int = 16, error: Exception | None = None) -> None:
        raise error or RuntimeError("no such device")

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


# --- sessions (server helper) ---------------------------------------------------------------
# FakeSession has the contract of streamface.session.Session that the live server drives.

import time  # noqa: E402 - this section is self-contained
from collections import deque  # noqa: E402

from streamface.voice.profile import AgeBand, PerceivedSex, VoiceProfile  # noqa: E402


def fixed_profile(speech_seconds: float, embedding: np.ndarray | None = None) -> VoiceProfile:
    """A plausible adult voice profile for ``speech_seconds`` of speech (confidence grows
    with it up to a full 5 s buffer); the embedding is zeros unless given."""
    return VoiceProfile(
        speech_seconds=min(speech_seconds, 5.0),
        f0_median_hz=190.0,
        f0_range_hz=(160.0, 230.0),
        formants_hz=None,
        vtl_cm=None,
        loudness_dbfs=-20.0,
        perceived_sex=PerceivedSex(p_female=0.8),
        age_band=AgeBand({"child": 0.05, "young_adult": 0.6, "adult": 0.3, "senior": 0.05}),
        confidence=min(1.0, speech_seconds / 5.0),
        embedding=np.zeros(256, dtype=np.float32) if embedding is None else embedding,
    )


class FakeSession:
    """A stand-in for `streamface.session.Session` with the same contract.

    It counts seconds of loud audio as speech, analyses every ``analysis_every`` seconds
    of new speech (taking ``analyze_delay`` seconds, in whatever thread calls it), and
    draws a simple moving picture: a grey placeholder with a sweeping bar while
    "listening", then a disc "face" whose mouth opens with the latest audio level.

    Args:
        size: Frame width and height.
        analysis_every: Seconds of new speech between analyses.
        analyze_delay: Seconds each ``analyze`` call sleeps (to test dropped work).
        fail_render_after: Raise in ``render_frame`` after this many frames (isolation tests).
    """

    def __init__(
        self,
        size: int = 96,
        *,
        analysis_every: float = 0.5,
        analyze_delay: float = 0.0,
        fail_render_after: int | None = None,
    ) -> None:
        self.size = size
        self.analysis_every = analysis_every
        self.analyze_delay = analyze_delay
        self.fail_render_after = fail_render_after
        self._lock = threading.Lock()
        self._buffer: deque[np.ndarray] = deque(maxlen=250)  # ~5 s of 20 ms frames
        self._level = 0.0
        self._speech = 0.0
        self._analyzed_at = 0.0
        self._profile: VoiceProfile | None = None
        self.rates: set[int] = set()
        self.frames = 0
        self.analyses = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False
        self.look = 0

    def set_look(self, look: int) -> bool:
        """Record the look seed; the fake face does not change with it."""
        self.look = int(look)
        return False

    # -- audio and analysis -------------------------------------------------------------

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
        with self._lock:
            if self.closed:
                return
            self.rates.add(int(sample_rate))
            self._buffer.append(samples.copy())
            self._level = min(1.0, rms * 8.0)
            if rms > 0.005:
                self._speech += samples.size / sample_rate

    def analysis_due(self) -> bool:
        with self._lock:
            return self._speech - self._analyzed_at >= self.analysis_every

    def analyze(self) -> VoiceProfile | None:
        with self._lock:
            self._analyzed_at = self._speech
            speech = self._speech
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.analyze_delay:
            time.sleep(self.analyze_delay)
        profile = fixed_profile(speech)
        with self._lock:
            self.analyses += 1
            self.in_flight -= 1
            if not self.closed:
                self._profile = profile
        return profile

    # -- state ---------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        return "listening" if self._profile is None else "face"

    @property
    def speech_seconds(self) -> float:
        return self._speech

    @property
    def profile(self) -> VoiceProfile | None:
        return self._profile

    # -- video ---------------------------------------------------------------------------

    def render_frame(self, t: float) -> np.ndarray:
        self.frames += 1
        if self.fail_render_after is not None and self.frames > self.fail_render_after:
            raise RuntimeError("fake render failure")
        n = self.size
        img = np.full((n, n, 3), 90, dtype=np.uint8)
        x = int((t * 40.0) % n)
        img[:, max(0, x - 2) : x + 2] = 200  # the sweeping bar shows time moving
        if self._profile is not None:
            yy, xx = np.mgrid[0:n, 0:n]
            disc = (yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (0.35 * n) ** 2
            img[disc] = (224, 172, 140)
            mouth = max(1, int(self._level * n * 0.15))
            c = n // 2
            img[c + n // 8 : c + n // 8 + mouth, c - n // 8 : c + n // 8] = (120, 30, 40)
        return img

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for chunk in self._buffer:
                chunk.fill(0.0)
            self._buffer.clear()
            self._profile = None


# --- talking face (talk helper) -------------------------------------------------------------
# ShapesEngine draws a face from simple shapes that follow the params and the animation;
# fake_mapper maps a profile to a face-parameter row without the real mapping.


class ShapesEngine(Engine):
    """A pure-numpy engine: background, head disc, eyes that blink, a mouth that opens.

    The colours follow the face params (background, skin, top) so a face change shows in
    the pixels; ``prepare`` draws the static layer once, ``animate`` only what moves.
    Counts calls in ``prepares`` and ``animates``.
    """

    name = "shapes"

    def __init__(self, size: int = 64) -> None:
        super().__init__(size)
        axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        self._ys, self._xs = np.meshgrid(axis, axis, indexing="ij")
        self.prepares = 0
        self.animates = 0
        self._lock = threading.Lock()

    def prepare(self, params: np.ndarray) -> Any:
        from streamface.face.params import PARAM_NAMES

        with self._lock:
            self.prepares += 1
        p = dict(zip(PARAM_NAMES, np.asarray(params, np.float32).reshape(-1), strict=False))
        bg = np.array([0.3, 0.5, 0.7]) * p.get("bg_lightness", 0.8) * 255
        skin = np.array([0.95, 0.78, 0.66]) * (1.0 - 0.6 * p.get("skin_tone", 0.4)) * 255
        top = np.array([0.3, 0.3, 0.6]) * (0.4 + p.get("top_lightness", 0.4)) * 255
        radius = 0.45 + 0.1 * p.get("face_width", 0.5)
        img = np.empty((self.size, self.size, 3), np.float32)
        img[...] = bg
        img[self._ys > 0.75] = top
        head = self._xs**2 + (self._ys * 0.85) ** 2 < radius**2
        img[head] = skin
        return img, head

    def render(self, params: np.ndarray, anim: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [
                self.animate(self.prepare(p[None]), a[None])
                for p, a in zip(params, anim, strict=True)
            ]
        )

    def animate(self, prepared: Any, anim: np.ndarray) -> np.ndarray:
        with self._lock:
            self.animates += 1
        base, head = prepared
        a = np.asarray(anim, np.float32).reshape(-1)
        mouth_open, blink, yaw = float(a[0]), float(a[6]), float(a[9])
        xs = self._xs - yaw / 40.0
        img = base.copy()
        mouth = (np.abs(xs) < 0.2) & (np.abs(self._ys - 0.4) < 0.01 + 0.12 * mouth_open) & head
        img[mouth] = (110, 30, 40)
        eye_h = 0.07 * (1.0 - blink) + 0.004
        eyes = (np.abs(np.abs(xs) - 0.25) < 0.07) & (np.abs(self._ys + 0.1) < eye_h) & head
        img[eyes] = (30, 30, 30)
        return np.clip(img, 0, 255).astype(np.uint8)[None]


def fake_mapper(profile: VoiceProfile, identity: object = None, look: int = 0) -> np.ndarray:
    """Profile -> face row: sex and age cues from the traits, colours from the embedding.

    ``look`` shifts the background hue (so a look change is visible); ``identity`` is
    ignored (the colours follow the embedding, as a fake may).
    """
    from streamface.face.params import PARAM_NAMES, neutral_params

    row = neutral_params().to_vector()
    idx = {name: i for i, name in enumerate(PARAM_NAMES)}
    p_female = float(profile.perceived_sex.p_female)
    row[idx["masculinity"]] = 1.0 - p_female
    row[idx["facial_hair"]] = 0.3 * (1.0 - p_female)
    row[idx["hair_style"]] = 3.0 + 6.0 * p_female
    emb = np.asarray(profile.embedding, np.float32)
    if emb.size >= 4 and np.any(emb):
        row[idx["skin_tone"]] = float(np.clip(0.5 + 4.0 * emb[0], 0.0, 1.0))
        row[idx["top_hue"]] = float(np.clip(0.5 + 4.0 * emb[1], 0.0, 1.0))
    if look:
        row[idx["bg_hue"]] = (row[idx["bg_hue"]] + 0.37 * look) % 1.0
    return row
