"""One speaker, one face: what the voice cannot tell is held through a call; a look rerolls it.

The 30 s render test measures the face from the pixels: the nose-bridge skin is located
with the renderer itself (the pixels that change when only the skin tone changes, between
the rows of the irises, found the same way), so it holds for any look of the renderer.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fakes import ShapesEngine, fake_mapper

from streamface.face.animation import NEUTRAL
from streamface.face.framing import FrameSize
from streamface.face.identity import identity_code, look_code
from streamface.face.params import FaceParams
from streamface.motion.identity import FIRST_MORPH_S
from streamface.offline import Audio, load_audio
from streamface.session import Session

SIZE = 128
FPS = 10.0
TEXT = (
    "Thank you for calling. I wanted to talk about the plans for next week, because a few "
    "things have changed since we last spoke. The meeting on Tuesday moves to the morning, "
    "and the team from the north office will join us by video. Please bring the notes from "
    "the last review, and the numbers for the second quarter. After lunch we can walk over "
    "to the new building and see how the work is going. I think it will be finished in "
    "spring, if the weather holds. Let me know if any of this does not suit you, and we "
    "can find another time that works for everyone."
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] -> CIELAB (D65) float [..., 3]."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _changed_by(engine: object, params: np.ndarray, a: dict[str, float], b: dict[str, float]) -> np.ndarray:
    """Pixels (bool [S, S]) that change when only the parameters named go from ``a`` to ``b``."""
    face = FaceParams.from_vector(params)
    rows = np.stack([face.with_overrides(a).to_vector(), face.with_overrides(b).to_vector()])
    anim = np.repeat(NEUTRAL.to_vector()[None, :], 2, axis=0)
    out = engine.render(rows, anim).astype(np.int16)  # type: ignore[attr-defined]
    return np.abs(out[0] - out[1]).sum(-1) > 24


def nose_bridge(engine: object, params: np.ndarray) -> np.ndarray:
    """Mask of the nose-bridge skin: skin pixels between and just below the irises."""
    skin = _changed_by(engine, params, {"skin_tone": 0.15}, {"skin_tone": 0.85})
    iris = _changed_by(engine, params, {"iris_hue": 0.0, "iris_lightness": 0.05}, {"iris_hue": 0.6, "iris_lightness": 0.95})
    ys, xs = np.nonzero(iris)
    assert xs.size >= 4, "no iris found"  # at 128 px a relaxed masculine iris shows ~2 px per eye
    cx = float(np.median(xs))
    left, right = xs[xs < cx], xs[xs >= cx]
    spacing = float(np.median(right) - np.median(left))
    eye_y = float(np.median(ys))
    yy, xx = np.mgrid[: skin.shape[0], : skin.shape[1]]
    region = (np.abs(xx - cx) < 0.2 * spacing) & (yy > eye_y) & (yy < eye_y + 0.45 * spacing)
    mask = skin & region
    assert mask.sum() >= 6, "no nose-bridge skin found"
    return mask


def hair(engine: object, params: np.ndarray) -> np.ndarray:
    """Mask of the hair on the head (pixels that change with the hair's lightness only).

    Facial hair takes the hair's colour too; it is left out (``facial_hair`` 0 in both
    renders), because it grows with the refined perceived sex, a voice cue that may move,
    while the hairstyle is identity that must not.
    """
    return _changed_by(engine, params, {"hair_lightness": 0.05, "facial_hair": 0.0},
                       {"hair_lightness": 0.9, "facial_hair": 0.0})


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Audio:
    """About 30 s of one flite speaker."""
    path = tmp_path_factory.mktemp("speech") / "rms.wav"
    subprocess.run(["flite", "-voice", "rms", "-t", TEXT, "-o", str(path)], check=True)
    audio = load_audio(path)
    assert audio.seconds >= 28.0
    return audio


@pytest.mark.slow
def test_30s_single_speaker_render_keeps_skin_and_hairstyle(long_speech: Audio) -> None:
    from engines.torch_engine import TorchEngine

    engine = TorchEngine(SIZE, device="cpu")
    session = Session(engine, fps=FPS)
    first: tuple[np.ndarray, np.ndarray] | None = None
    frame = params = None
    from streamface.offline import drive

    for k, frame in drive(session, long_speech, FPS):
        params = session.params_at(k / FPS)
        changes = session.face_changes
        if first is None and changes and k / FPS >= changes[0][0] + FIRST_MORPH_S + 0.1:
            first = (frame.copy(), params.copy())
    assert first is not None and frame is not None and params is not None
    reasons = [reason for _, reason in session.face_changes]
    assert reasons[0] == "first" and "new_speaker" not in reasons
    assert reasons.count("refine") >= 1  # the voice cues did refine

    f0, p0 = first
    mask = nose_bridge(engine, p0)
    lab0 = np.median(srgb_to_lab(f0[mask]), axis=0)
    lab1 = np.median(srgb_to_lab(frame[mask]), axis=0)
    delta_e = float(np.linalg.norm(lab0 - lab1))
    print(f"nose-bridge dE {delta_e:.2f} over {int(mask.sum())} px")
    assert delta_e <= 3.0, f"nose-bridge skin moved by dE {delta_e:.1f} over the render"

    hair0, hair1 = hair(engine, p0), hair(engine, params)
    iou = float((hair0 & hair1).sum() / max(1, (hair0 | hair1).sum()))
    print(f"hair silhouette IoU {iou:.3f} over {int(hair0.sum())} px")
    assert hair0.sum() > 50 and iou >= 0.9, f"hair silhouette IoU {iou:.2f}"
    assert FaceParams.from_vector(p0).hair_style_name == FaceParams.from_vector(params).hair_style_name
    session.close()
    engine.close()


# ---- the held code, cheaply (fake mapper and shapes engine) ------------------------------


def test_session_holds_the_first_code_and_maps_refinements_with_it() -> None:
    """Every analysis after the first face maps with the code held since the first face."""
    calls: list[tuple[object, int]] = []

    def mapper(profile: object, identity: object, look: int) -> np.ndarray:
        calls.append((identity, look))
        return fake_mapper(profile)  # type: ignore[arg-type]

    voice = Path(__file__).parent / "data" / "voices" / "flite_rms.flac"
    audio = load_audio(voice)
    session = Session(ShapesEngine(64), fps=FPS, mapper=mapper)
    from streamface.offline import drive

    for _ in drive(session, audio, FPS):
        pass
    held = session._code  # noqa: SLF001
    assert held is not None and len(calls) >= 2
    # Each analysis maps with the held code (plus, where its own code differs, once more
    # with that one as a would-be new speaker's face).
    held_calls = [c for c in calls if c[0] == held]
    assert len(held_calls) >= session.analyses
    session.close()


def test_look_rerolls_the_face_but_keeps_the_voice_cues() -> None:
    from streamface.face.mapping import params_for_profile
    from streamface.voice.analyzer import profile_file

    voice = Path(__file__).parent / "data" / "voices" / "flite_rms.flac"
    audio = load_audio(voice)
    session = Session(ShapesEngine(64), fps=FPS)
    from streamface.offline import drive

    for _ in drive(session, audio, FPS):
        pass
    assert session.face_changes and session.look == 0
    before = FaceParams.from_vector(session.params_at(100.0))
    assert session.set_look(5) is True
    assert session.face_changes[-1][1] == "look" and session.state()["look"] == 5
    after = FaceParams.from_vector(session.params_at(100.0))
    assert after.skin_tone != before.skin_tone
    assert after.masculinity == before.masculinity and after.age == before.age
    # The same voice and look in a new call: the same face, whatever code its first second gets.
    profile = profile_file(voice)
    again = params_for_profile(profile, identity=look_code(identity_code(profile.embedding), 5), look=5)
    assert abs(again.skin_tone - after.skin_tone) < 1e-6
    session.close()
    assert session.set_look(1) is False  # closed: nothing changes


def test_a_kept_look_is_the_same_face_whatever_the_voice_code() -> None:
    """A look the user keeps (the web client's, ``--look``) is one face in every call.

    The voice's code differs between two calls of one speaker (the embedding's noise), so it
    must not choose a kept look's traits: two voices with different codes stand in for two
    calls here, and their faces under look 5 differ only in what the voice suggests.
    """
    from streamface.face.identity import FAMILIES, family_key
    from streamface.offline import drive

    faces, codes = [], []
    for name in ("flite_rms.flac", "flite_kal.flac"):  # two men whose codes differ
        session = Session(ShapesEngine(64), fps=FPS, look=5)
        for _ in drive(session, load_audio(Path(__file__).parent / "data" / "voices" / name), FPS):
            pass
        codes.append(session._code)  # noqa: SLF001
        faces.append(FaceParams.from_vector(session.params_at(100.0)))
        session.close()
    assert codes[0] is not None and codes[1] is not None
    a, b = faces
    # One trait a person sees per family; the families whose bits differ between the codes
    # would be drawn differently under the voices' own codes.
    shown = {"skin": "skin_tone", "hairstyle": "hair_style_name", "colouring": "hair_lightness",
             "face_shape": "face_width", "extras": "glasses", "eyes_brows": "eye_size",
             "nose_lips": "nose_length", "clothes": "top_hue"}
    differ = [f for f, (_, members) in FAMILIES.items()
              if family_key(codes[0], members[0]) != family_key(codes[1], members[0])]
    assert len(differ) >= 3, differ
    for family in differ:
        name = shown[family]
        assert getattr(a, name) == pytest.approx(getattr(b, name), abs=0.01), name


def test_look_before_the_first_face_applies_to_it() -> None:
    session = Session(ShapesEngine(64), fps=FPS, mapper=fake_mapper)
    assert session.set_look(3) is False and session.look == 3
    session.close()


def test_wide_session_frames_are_framed() -> None:
    session = Session(ShapesEngine(64), fps=FPS, mapper=fake_mapper, frame_size=FrameSize(114, 64))
    frame = session.render_frame(0.0)
    assert frame.shape == (64, 114, 3)
    with pytest.raises(ValueError):
        Session(ShapesEngine(64), mapper=fake_mapper, frame_size=FrameSize(128, 72))
    session.close()


def test_lab_conversion_matches_reference_values() -> None:
    white = srgb_to_lab(np.array([255, 255, 255], np.uint8))
    red = srgb_to_lab(np.array([255, 0, 0], np.uint8))
    assert np.allclose(white, [100.0, 0.0, 0.0], atol=0.05)
    assert np.allclose(red, [53.24, 80.09, 67.20], atol=0.1)
    assert math.isclose(float(srgb_to_lab(np.array([0, 0, 0], np.uint8))[0]), 0.0, abs_tol=1e-9)


@pytest.mark.slow
def test_a_new_speaker_gets_a_new_code_and_face() -> None:
    """Real analysis and mapping (shapes engine): one flite speaker, then another."""
    voices = Path(__file__).parent / "data" / "voices"
    parts = [load_audio(voices / name).samples for name in
             ("flite_rms.flac", "flite_rms_b.flac", "flite_slt.flac", "flite_slt_b.flac")]
    audio = Audio(np.concatenate(parts), 16_000)
    session = Session(ShapesEngine(64), fps=FPS)
    from streamface.offline import drive

    codes = []
    for _ in drive(session, audio, FPS):
        code = session._code  # noqa: SLF001
        if code is not None and (not codes or codes[-1] != code):
            codes.append(code)
    reasons = [reason for _, reason in session.face_changes]
    assert reasons[0] == "first" and reasons.count("new_speaker") == 1
    assert len(codes) == 2  # the first speaker's code held until the new speaker's
    session.close()


def test_a_face_refined_from_disagreeing_analyses_is_one_the_mapping_draws() -> None:
    """A man's voice whose first analysis reads female: the face refines to a man's, and
    what it settles on is the mapping of the refined estimate, not an average of two
    faces' parameters (which kept a share of a woman's hairstyle, stuck under the dead
    band, for the rest of the call)."""
    import dataclasses

    from streamface.face.mapping import hair_mix_for, presentation
    from streamface.offline import drive
    from streamface.voice.analyzer import default_analyzer
    from streamface.voice.profile import PerceivedSex

    class FirstReadsFemale:
        def __init__(self) -> None:
            self.inner = default_analyzer()
            self.calls = 0

        def analyze(self, speech: np.ndarray, **kwargs: object) -> object:
            profile = self.inner.analyze(speech, **kwargs)
            self.calls += 1
            return dataclasses.replace(profile, perceived_sex=PerceivedSex(0.85)) if self.calls == 1 else profile

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    analyzer = FirstReadsFemale()
    session = Session(ShapesEngine(64), fps=FPS, analyzer=analyzer)
    for _ in drive(session, load_audio(Path(__file__).parent / "data" / "voices" / "flite_rms.flac"), FPS):
        pass
    assert analyzer.calls >= 3 and session.profile is not None
    assert session.profile.perceived_sex.p_female < 0.3  # the rest of the call reads male
    face = FaceParams.from_vector(session.params_at(100.0))
    assert face.hair_mix < 0.01, face.hair_mix  # his own hairstyle, whole
    held = session._cues.pulled(session.profile, 0.0).perceived_sex.p_female  # noqa: SLF001
    assert face.hair_mix == pytest.approx(hair_mix_for(presentation(held)), abs=1e-6)
    session.close()
