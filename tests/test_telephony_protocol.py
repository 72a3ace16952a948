"""The telephony media-stream protocol: parsing, order, consent, and garbage resistance."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamface.audio.mulaw import encode_mulaw
from streamface.errors import ConsentRequiredError
from streamface.telephony.protocol import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    MAX_REASON_BYTES,
    Connected,
    Dtmf,
    FaceEventType,
    Mark,
    Media,
    MediaFormat,
    Phase,
    ProtocolError,
    Start,
    Stop,
    StreamState,
    TelephonyConsentError,
    clip_reason,
    encode_event,
    parse_message,
    streamface_event,
)

SID = "MZ00000000000000000000000000000001"


def start_msg(**over: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": SID,
        "start": {
            "streamSid": SID,
            "accountSid": "AC1",
            "callSid": "CA1",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"consent": "granted"},
        },
    }
    msg.update(over)
    return msg


def media_msg(
    chunk: int = 1, seq: int = 2, track: str = "inbound", payload: bytes = b"\xff" * 160
) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": SID,
            "media": {
                "track": track,
                "chunk": str(chunk),
                "timestamp": str(20 * (chunk - 1)),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def started(**over: Any) -> StreamState:
    state = StreamState()
    state.feed(CONNECTED)
    state.feed(json.dumps(start_msg(**over)))
    return state


def refused(state: StreamState, raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        state.feed(raw)
    return info.value


# --- a valid stream ---------------------------------------------------------------------


def test_valid_twilio_stream_parses_in_order() -> None:
    state = StreamState()
    assert isinstance(state.feed(CONNECTED), Connected)
    start = state.feed(json.dumps(start_msg()))
    assert isinstance(start, Start)
    assert start.stream_sid == SID and start.tracks == ("inbound",) and start.call_sid == "CA1"
    assert start.consent
    pcm = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
    media = state.feed(media_msg(payload=encode_mulaw(pcm)))
    assert isinstance(media, Media)
    assert media.chunk == 1 and media.timestamp_ms == 0 and media.duration_s == pytest.approx(0.02)
    samples = media.samples()
    assert samples.dtype == np.int16 and samples.shape == (160,)
    assert np.max(np.abs(samples.astype(int) - pcm)) < 300  # mu-law round trip
    mark = state.feed(
        json.dumps(
            {"event": "mark", "sequenceNumber": "3", "streamSid": SID, "mark": {"name": "m1"}}
        )
    )
    assert mark == Mark(SID, "m1", 3)
    stop = state.feed(
        json.dumps(
            {"event": "stop", "sequenceNumber": "4", "streamSid": SID, "stop": {"callSid": "CA1"}}
        )
    )
    assert isinstance(stop, Stop) and state.phase is Phase.STOPPED
    assert state.chunks == {"inbound": 1}


def test_two_tracks_and_numbers_as_json_numbers() -> None:
    state = started(start={**start_msg()["start"], "tracks": ["inbound", "outbound"]})
    state.feed(media_msg(1, 2, "inbound"))
    state.feed(media_msg(1, 3, "outbound"))
    raw = json.loads(media_msg(2, 4, "inbound"))
    raw["media"]["chunk"] = 2
    raw["media"]["timestamp"] = 20
    raw["sequenceNumber"] = 4
    assert state.feed(json.dumps(raw)).chunk == 2
    assert state.chunks == {"inbound": 2, "outbound": 1}


def test_dtmf_is_accepted_and_track_suffix_normalised() -> None:
    state = started()
    event = state.feed(
        json.dumps(
            {"event": "dtmf", "streamSid": SID, "dtmf": {"track": "inbound_track", "digit": "5"}}
        )
    )
    assert event == Dtmf(SID, "inbound", "5")


# --- refusals ---------------------------------------------------------------------------


def test_consent_missing_or_not_granted_closes_1008() -> None:
    for params in ({}, {"consent": "denied"}, {"consent": "GRANTED "}, {"consent": "true"}):
        state = StreamState()
        state.feed(CONNECTED)
        body = start_msg()
        body["start"]["customParameters"] = params
        err = refused(state, json.dumps(body))
        assert isinstance(err, TelephonyConsentError) and isinstance(err, ConsentRequiredError)
        assert err.close_code == CLOSE_POLICY_VIOLATION
        assert "consent" in err.reason
        # the stream stays refused: no audio gets through afterwards
        assert refused(state, media_msg()) is err


def test_media_before_start_is_refused() -> None:
    state = StreamState()
    state.feed(CONNECTED)
    err = refused(state, media_msg())
    assert err.close_code == CLOSE_PROTOCOL_ERROR and "before 'start'" in err.reason


def test_start_before_connected_is_refused() -> None:
    err = refused(StreamState(), json.dumps(start_msg()))
    assert "before 'connected'" in err.reason


@pytest.mark.parametrize(
    ("fmt", "word"),
    [
        ({"encoding": "audio/l16", "sampleRate": 8000, "channels": 1}, "encoding"),
        ({"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1}, "sample rate"),
        ({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2}, "channel"),
        ({"encoding": "audio/x-mulaw", "sampleRate": True, "channels": 1}, "sample rate"),
    ],
)
def test_wrong_media_format_is_refused(fmt: dict[str, Any], word: str) -> None:
    state = StreamState()
    state.feed(CONNECTED)
    body = start_msg()
    body["start"]["mediaFormat"] = fmt
    err = refused(state, json.dumps(body))
    assert err.close_code == CLOSE_UNSUPPORTED_DATA and word in err.reason


@pytest.mark.parametrize("payload", ["not base64!", "YQ", "YQ==\n", "", "===="])
def test_bad_base64_is_refused(payload: str) -> None:
    state = started()
    raw = json.loads(media_msg())
    raw["media"]["payload"] = payload
    err = refused(state, json.dumps(raw))
    assert err.close_code == CLOSE_INVALID_PAYLOAD and "payload" in err.reason


@pytest.mark.parametrize(
    "raw",
    ["{", "[]", '"media"', "null", '{"event": NaN}', '{"event":"media","event":"stop"}', "{}"],
)
def test_malformed_json_is_refused(raw: str) -> None:
    err = refused(StreamState(), raw)
    assert err.close_code == CLOSE_INVALID_PAYLOAD


def test_oversized_and_binary_garbage_are_refused() -> None:
    err = refused(StreamState(max_bytes=1000), "x" * 1001)
    assert err.close_code == CLOSE_MESSAGE_TOO_BIG
    err = refused(StreamState(), b"\xff\xfe\x00")
    assert err.close_code == CLOSE_INVALID_PAYLOAD and "UTF-8" in err.reason


def test_order_and_identity_checks() -> None:
    state = started()
    state.feed(media_msg(1, 2))
    assert "does not increase" in refused(state, media_msg(1, 3)).reason
    state = started()
    assert "sequenceNumber" in refused(state, media_msg(1, 1)).reason
    state = started()
    assert "did not declare" in refused(state, media_msg(1, 2, "outbound")).reason
    state = started()
    other = json.loads(media_msg())
    other["streamSid"] = "MZother"
    assert "another streamSid" in refused(state, json.dumps(other)).reason
    state = started()
    assert "sent twice" in refused(state, json.dumps(start_msg(sequenceNumber="5"))).reason
    state = started()
    state.feed(json.dumps({"event": "stop", "streamSid": SID}))
    assert "after stop" in refused(state, media_msg()).reason


def test_unknown_event_and_bad_fields() -> None:
    state = started()
    assert "unknown event" in refused(state, '{"event":"hello"}').reason
    state = started()
    raw = json.loads(media_msg())
    raw["media"]["chunk"] = "-1"
    assert "chunk" in refused(state, json.dumps(raw)).reason
    state = started()
    raw = json.loads(media_msg())
    raw["media"]["track"] = "sideways"
    assert "track" in refused(state, json.dumps(raw)).reason


def test_reasons_fit_a_close_frame() -> None:
    long = clip_reason("é" * 500 + "\nsecond line")
    assert len(long.encode()) <= MAX_REASON_BYTES and "\n" not in long
    err = ProtocolError("x" * 1000)
    assert len(err.reason.encode()) <= MAX_REASON_BYTES


def test_streamface_event_is_json_and_says_synthetic() -> None:
    text = streamface_event(
        FaceEventType.TRAITS,
        stream_sid=SID,
        track="inbound",
        session_id="s1",
        traits={"perceived_sex": {"p_female": float("nan")}, "confidence": 0.5},
    )
    msg = json.loads(text)
    assert msg["event"] == "streamface" and msg["type"] == "traits" and msg["streamSid"] == SID
    assert "synthetic" in msg and msg["traits"]["perceived_sex"]["p_female"] is None


# --- properties -------------------------------------------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
event_names = st.sampled_from(["connected", "start", "media", "mark", "stop", "dtmf", "x", ""])


@st.composite
def garbled_messages(draw: st.DrawFn) -> str | bytes:
    """Random bytes, random text, random JSON, and valid messages with fields mutated."""
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return draw(st.text(max_size=200))
    if choice == 2:
        return json.dumps(draw(json_values))
    base = json.loads(media_msg()) if choice == 3 else start_msg()
    base["event"] = draw(event_names)
    section = base.get("media") or base.get("start")
    key = draw(st.sampled_from([*section.keys(), "streamSid", "sequenceNumber"]))
    target = base if key in ("streamSid", "sequenceNumber") else section
    target[key] = draw(json_values)
    text = json.dumps(base)
    cut = draw(st.integers(0, len(text)))
    return text if draw(st.booleans()) else text[:cut]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(garbled_messages(), min_size=1, max_size=8))
def test_garbage_never_crashes_only_protocol_errors(messages: list[str | bytes]) -> None:
    state = StreamState()
    for raw in messages:
        try:
            state.feed(raw)
        except ProtocolError as exc:
            assert 1000 <= exc.close_code <= 1011
            assert (
                exc.reason
                and len(exc.reason.encode()) <= MAX_REASON_BYTES
                and "\n" not in exc.reason
            )
            assert state.failed is exc
            break


@settings(max_examples=400, deadline=None)
@given(garbled_messages())
def test_stateless_parse_never_crashes(raw: str | bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_message(raw)


@st.composite
def valid_streams(draw: st.DrawFn) -> list[Any]:
    tracks = tuple(draw(st.sampled_from([["inbound"], ["outbound"], ["inbound", "outbound"]])))
    sid = draw(st.from_regex(r"MZ[0-9a-f]{1,32}", fullmatch=True))
    params = draw(
        st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=16), max_size=3)
    )
    params["consent"] = "granted"
    seq = 1
    events: list[Any] = [Connected("Call", "1.0.0")]
    events.append(Start(sid, tracks, MediaFormat(), params, "AC1", "CA1", seq))
    chunk = dict.fromkeys(tracks, 0)
    for _ in range(draw(st.integers(0, 12))):
        seq += 1
        kind = draw(st.integers(0, 5))
        if kind == 0:
            events.append(Mark(sid, draw(st.text(min_size=1, max_size=10).filter(str.strip)), seq))
        else:
            track = draw(st.sampled_from(tracks))
            chunk[track] += 1
            payload = draw(st.binary(min_size=1, max_size=320))
            events.append(Media(sid, track, chunk[track], 20 * chunk[track], payload, seq))
    events.append(Stop(sid, "AC1", "CA1", seq + 1))
    return events


@settings(max_examples=150, deadline=None)
@given(valid_streams())
def test_valid_streams_round_trip(events: list[Any]) -> None:
    state = StreamState()
    for event in events:
        parsed = state.feed(encode_event(event))
        assert parsed == event
    assert state.phase is Phase.STOPPED
