"""The session: placeholder, first face, refinement, speaker change, sync, label, close.

Morph bound: every face change eases over at least 0.3 s, and a smoothstep's steepest
slope is 1.5x its average, so no parameter may move by more than 1.5 / (0.3 * 30) = 1/6
of its range between two frames at 30 fps, however far the face travels. Across a
female -> male speaker change the test checks that bound for every parameter and frame
(in practice the steps are much smaller: changes are partial and morphs 0.6-1.0 s).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
from fakes import ShapesEngine, fake_mapper

from streamface.face.label import label_present
from streamface.face.params import PARAM_HIGH, PARAM_LOW, neutral_params
from streamface.motion.morph import MIN_MORPH_S
from streamface.offline import Audio, drive
from streamface.session import FORMING, LISTENING, STABLE, STYLE_CHOICES, Session

FPS = 30
SIZE = 96
VOICES = Path(__file__).resolve().parent.parent.parent / "shared" / "voices"


def _voice(name: str) -> np.ndarray:
    from streamface.audio.decode import decode_file

    path = VOICES / name
    if not path.exists():
        pytest.skip(f"shared voice {name} not found")
    return decode_file(path)


def _session(seed: int = 0) -> Session:
    return Session(ShapesEngine(SIZE), seed=seed, fps=FPS, mapper=fake_mapper)


def _run(session: Session, x: np.ndarray) -> dict[str, list]:
    out: dict[str, list] = {"frames": [], "params": [], "open": [], "stage": []}
    for k, frame in drive(session, Audio(x, 16000), FPS):
        t = k / FPS
        out["frames"].append(frame)
        out["params"].append(session.params_at(t))
        out["open"].append(session.animation_at(t).mouth_open)
        out["stage"].append(session.stage)
    return out


@pytest.fixture(scope="module")
def speaker_change() -> tuple[Session, dict[str, list], float]:
    female = _voice("flite_female_slt.wav")
    male = _voice("flite_male_rms.wav")
    session = _session()
    run = _run(session, np.concatenate([female, male]))
    return session, run, female.size / 16000


def test_placeholder_until_one_second_of_speech(speaker_change) -> None:
    session, run, _ = speaker_change
    first_t = next(t for t, reason in session.face_changes if reason == "first")
    k_first = int(round(first_t * FPS))
    assert run["stage"][0] == LISTENING
    neutral = neutral_params().to_vector()
    for k in range(k_first):
        np.testing.assert_array_equal(run["params"][k], neutral)
    # The first face comes after 1 s of speech (and not much later: the VAD trims pauses).
    assert 1.0 <= first_t <= 2.5
    assert FORMING in run["stage"] and STABLE in run["stage"]
    assert run["stage"].index(FORMING) < run["stage"].index(STABLE)


def test_speaker_change_morphs_to_a_new_face_without_jumps(speaker_change) -> None:
    session, run, switch_s = speaker_change
    reasons = [r for _, r in session.face_changes]
    assert reasons[0] == "first" and reasons.count("new_speaker") == 1
    t_new = next(t for t, r in session.face_changes if r == "new_speaker")
    assert switch_s < t_new < switch_s + 6.0
    params = np.array(run["params"])
    span = PARAM_HIGH - PARAM_LOW
    steps = np.abs(np.diff(params, axis=0)) / span
    bound = 1.5 / (MIN_MORPH_S * FPS)
    assert steps.max() <= bound + 1e-6, steps.max()
    # The face really changed: masculinity (fake mapper: 1 - p_female) moved a lot.
    from streamface.face.params import PARAM_NAMES

    m = PARAM_NAMES.index("masculinity")
    before = params[int((switch_s - 0.5) * FPS), m]
    after = params[-1, m]
    assert after - before > 0.5


def test_a_settled_face_is_analysed_less_often_until_the_voice_moves() -> None:
    from streamface.session import CADENCE_CALM_S, CADENCE_FULL_S

    x = np.concatenate([_voice("flite_female_slt.wav"), _voice("flite_female_slt_2.wav")])
    session = _session()
    heard: list[float] = []
    analyze = session.analyze

    def counted():  # type: ignore[no-untyped-def]
        profile = analyze()
        if profile is not None:
            heard.append(session.total_speech_seconds)
        return profile

    session.analyze = counted  # type: ignore[method-assign]
    for _ in drive(session, Audio(x, 16000), FPS):
        pass
    assert [r for _, r in session.face_changes].count("new_speaker") == 0
    gaps = np.diff(heard)
    # Speech is counted in 0.1 s batches: a gap may exceed its interval by that much.
    assert gaps.max() >= CADENCE_CALM_S - 1e-6 and gaps.max() <= CADENCE_CALM_S + 0.1 + 1e-6, gaps
    calm = gaps[np.flatnonzero(gaps > CADENCE_FULL_S + 0.1 + 1e-6)]
    assert calm.size >= 2, gaps
    # Once the face is stable, about half the analyses the 1 s cadence would have made.
    later = [h for h in heard if h >= 6.0]
    assert len(later) - 1 <= 0.5 * (later[-1] - later[0]) / CADENCE_FULL_S, heard


def test_label_on_every_frame_and_badge_only_while_listening(speaker_change) -> None:
    session, run, _ = speaker_change
    assert all(label_present(f) for f in run["frames"])
    # The "listening…" badge sits top-left: its pixels differ from the face afterwards.
    listening = [f for f, s in zip(run["frames"], run["stage"], strict=True) if s == LISTENING]
    later = run["frames"][-1]
    assert listening and not np.array_equal(listening[0][:12, :40], later[:12, :40])


def test_mouth_in_sync_with_audio_through_the_session() -> None:
    from test_motion_mouth import MIN_R, envelope, sync_stats

    x = _voice("flite_male_awb.wav")
    run = _run(_session(), x)
    openness = np.array(run["open"])
    r, lag = sync_stats(openness, envelope(x, len(openness)))
    assert r >= MIN_R and abs(lag) <= 1, (r, lag)


def test_silence_keeps_the_face() -> None:
    x = _voice("flite_female_slt_2.wav")
    silence = np.zeros(16000 * 4, np.float32)
    session = _session()
    run = _run(session, np.concatenate([x, silence]))
    n_speech = int(x.size / 16000 * FPS)
    params = np.array(run["params"])
    stage = run["stage"][n_speech]
    quiet = range(n_speech + 30, len(run["frames"]))  # after the last morph has settled
    for k in quiet:
        frame = run["frames"][k]
        assert frame.std() > 10  # a face, not a blank frame
        assert label_present(frame)
        np.testing.assert_array_equal(params[k], params[quiet[0]])
        assert run["stage"][k] == stage
        assert run["open"][k] < 0.01  # the mouth has closed
    # The video keeps moving (head motion, breathing, blinks), it does not freeze.
    anims = np.array([session.animation_at(k / FPS).to_vector() for k in quiet])
    assert np.all(np.abs(np.diff(anims, axis=0)).max(axis=1) > 0)
    digests = {hashlib.sha1(run["frames"][k].tobytes()).hexdigest() for k in quiet}
    assert len(digests) > 5


def test_deterministic_for_a_seed() -> None:
    x = _voice("espeak_male_m3.wav")[: 16000 * 3]

    def digest(seed: int) -> str:
        h = hashlib.sha1()
        for f in _run(_session(seed), x)["frames"]:
            h.update(f.tobytes())
        return h.hexdigest()

    assert digest(5) == digest(5)
    assert digest(5) != digest(6)


def test_prepare_only_when_the_face_changes() -> None:
    engine = ShapesEngine(SIZE)
    session = Session(engine, fps=FPS, mapper=fake_mapper)
    for k in range(60):  # 2 s of silence: the placeholder, prepared once
        session.push_audio(np.zeros(533, np.float32), 16000)
        session.render_frame(k / FPS)
    assert engine.prepares == 1 and engine.animates == 60


def test_threads_push_analyze_render_at_once() -> None:
    x = _voice("espeak_female_f1.wav")
    session = _session()
    errors: list[BaseException] = []
    done = threading.Event()

    def guard(fn):
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        return run

    def push() -> None:
        for i in range(0, x.size, 320):
            session.push_audio(x[i : i + 320], 16000)
        done.set()

    def analyze() -> None:
        while not done.is_set():
            if session.analysis_due():
                session.analyze()

    def render() -> None:
        k = 0
        while not done.is_set():
            frame = session.render_frame(k / FPS)
            assert frame.shape == (SIZE, SIZE, 3)
            k += 1

    threads = [threading.Thread(target=guard(f)) for f in (push, analyze, render, render)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert session.analyses >= 1 and session.profile is not None


def test_close_zeroes_and_is_idempotent() -> None:
    x = _voice("flite_male_rms_2.wav")[: 16000 * 3]
    session = _session()
    _run(session, x)
    profile = session.profile
    assert profile is not None and np.any(profile.embedding)
    session.close()
    session.close()
    assert session.profile is None and session.speech_seconds == 0.0
    assert not profile.embedding.any()
    assert not session._audio.buffer._data.any()
    assert not session._mouth._ring.any()
    assert session.stage == LISTENING and not session.analysis_due()
    session.push_audio(x[:1600], 16000)  # ignored after close
    assert session.media_time == 0.0
    frame = session.render_frame(10.0)  # still a labelled frame, never an error
    assert label_present(frame)


def test_state_is_json_with_disclosure() -> None:
    import json

    from streamface import SYNTHETIC_NOTICE

    session = Session(
        ShapesEngine(SIZE),
        session_id="abc",
        source="webrtc",
        metadata={"room": "r1"},
        mapper=fake_mapper,
    )
    state = session.state()
    assert state["id"] == "abc" and state["source"] == "webrtc" and state["room"] == "r1"
    assert state["stage"] == LISTENING and state["traits"] is None
    assert state["synthetic"] is True and state["notice"] == SYNTHETIC_NOTICE
    x = _voice("espeak_female_f2.wav")[: 16000 * 3]
    session.push_audio((x * 32767).astype(np.int16), 16000)
    assert session.analysis_due()
    session.analyze()
    state = json.loads(json.dumps(session.state()))
    assert state["stage"] == FORMING and state["speech_seconds"] > 1.0
    assert "perceived_sex" in state["traits"] and "embedding" not in state["traits"]
    assert (
        Session(ShapesEngine(SIZE), mapper=fake_mapper).id
        != Session(ShapesEngine(SIZE), mapper=fake_mapper).id
    )
    with pytest.raises(ValueError):
        Session(ShapesEngine(SIZE), size=SIZE * 2)


def test_mouth_relaxes_when_audio_stops_arriving() -> None:
    rng = np.random.default_rng(0)
    session = _session()
    loud = (rng.standard_normal(16000) * 0.3).astype(np.float32)
    session.push_audio(loud, 16000)
    assert session.animation_at(1.0).mouth_open > 0.3  # mid-"word" when the audio stops
    opens = [session.animation_at(1.0 + k / FPS).mouth_open for k in range(1, 31)]
    assert opens[0] > 0.3  # a short gap in delivery changes nothing
    assert opens[-1] == 0.0  # a long one relaxes the mouth...
    assert np.abs(np.diff(opens)).max() < 0.25  # ...gradually
    anim = session.animation_at(2.0)
    assert anim.v_rest == pytest.approx(1.0)


class CrossFadingShapesEngine(ShapesEngine):
    """`ShapesEngine` that can cross-fade prepared faces (as the ONNX Runtime engine can)."""

    @property
    def blends(self) -> bool:
        return True

    def blend(self, a, b, weight):  # type: ignore[no-untyped-def]
        (img_a, head_a), (img_b, head_b) = a, b
        return img_a + np.float32(weight) * (img_b - img_a), head_a if weight < 0.5 else head_b


def test_cross_fading_engine_prepares_few_keyframes_and_moves_every_frame(speaker_change) -> None:
    stepped_session, stepped, _ = speaker_change
    engine = CrossFadingShapesEngine(SIZE)
    session = Session(engine, seed=0, fps=FPS, mapper=fake_mapper)
    x = np.concatenate([_voice("flite_female_slt.wav"), _voice("flite_male_rms.wav")])
    run = _run(session, x)
    assert [r for _, r in session.face_changes] == [r for _, r in stepped_session.face_changes]
    assert engine.prepares == session.prepares
    assert engine.prepares <= 0.5 * stepped_session.prepares
    # The same bound on the parameters, and they move continuously (not in steps); hair and
    # beard style choices switch once per morph, the pictures dissolving between keyframes.
    params = np.array(run["params"])
    span = PARAM_HIGH - PARAM_LOW
    walks = np.setdiff1d(np.arange(params.shape[1]), STYLE_CHOICES)
    assert (np.abs(np.diff(params[:, walks], axis=0)) / span[walks]).max() <= 1.5 / (MIN_MORPH_S * FPS) + 1e-6
    # A skin pixel (away from eyes and mouth) follows the morph by small steps on every
    # frame rather than by bigger steps on every other frame.
    def skin(frames: list[np.ndarray]) -> np.ndarray:
        return np.array([f[SIZE // 2 + SIZE // 10, SIZE // 2].astype(float) for f in frames])

    jumps = np.abs(np.diff(skin(run["frames"]), axis=0)).max(axis=1)
    stepped_jumps = np.abs(np.diff(skin(stepped["frames"]), axis=0)).max(axis=1)
    assert jumps.max() <= stepped_jumps.max()
    assert np.count_nonzero(jumps > 0) > np.count_nonzero(stepped_jumps > 0)
