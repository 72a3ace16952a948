"""AudioHook messages and state machine, and RFC 9421 HMAC signatures, without sockets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import numpy as np
import pytest

from streamface.audio.mulaw import decode_mulaw
from streamface.telephony.audiohook import (
    MAX_FRAME_BYTES,
    AudioHookError,
    AudioHookState,
    ConsentRefused,
    DisconnectReason,
    ErrorCode,
    Phase,
    parse_message,
)
from streamface.telephony.signature import (
    NonceCache,
    Request,
    SignatureError,
    decode_secret,
    parse_signature_input,
    verify_request,
)

SID = "e160e428-53e2-487c-977d-96989bf5c99d"
STEREO = {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}
MONO = {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}


def msg(kind: str, seq: int, params: dict[str, Any] | None = None, **extra: Any) -> str:
    body = {"version": "2", "id": SID, "type": kind, "seq": seq, "serverseq": 0, "position": "PT0S",
            "parameters": params or {}}
    body.update(extra)
    return json.dumps(body)


def open_msg(media: list[dict[str, Any]] | None = None, consent: str | None = "granted", **params: Any) -> str:
    p = {"organizationId": "org", "conversationId": "conv-1", "media": media or [MONO, STEREO],
         "customConfig": {} if consent is None else {"consent": consent}}
    p.update(params)
    return msg("open", 1, p)


def opened_state() -> AudioHookState:
    state = AudioHookState(session_id=SID)
    state.receive(open_msg())
    return state


def test_open_chooses_stereo_pcmu_and_opened_acknowledges_it() -> None:
    state = opened_state()
    assert state.phase is Phase.OPEN and state.channels == ("external", "internal")
    reply = json.loads(state.opened())
    assert reply == {"version": "2", "id": SID, "type": "opened", "seq": 1, "clientseq": 1,
                     "parameters": {"startPaused": False, "media": [STEREO]}}
    assert json.loads(state.pong())["seq"] == 2


def test_stereo_frame_splits_external_left_internal_right() -> None:
    state = opened_state()
    frame = bytes([0x00, 0xFF] * 80)  # left loud negative, right silence
    samples = state.audio(frame)
    assert samples is not None and samples.shape == (2, 80)
    assert np.all(samples[0] == decode_mulaw(b"\x00")[0]) and np.all(samples[1] == 0)


def test_paused_stream_drops_audio_and_resumed_takes_it_again() -> None:
    state = opened_state()
    state.receive(msg("paused", 2))
    assert state.audio(b"\x7f\x7f") is None
    state.receive(msg("resumed", 3))
    assert state.audio(b"\x7f\x7f") is not None


@pytest.mark.parametrize(
    ("raw", "words", "code"),
    [
        ("{not json", "malformed JSON", ErrorCode.BAD_REQUEST),
        ("[1, 2]", "JSON object", ErrorCode.BAD_REQUEST),
        (msg("open", 1, version="1"), "version", ErrorCode.BAD_REQUEST),
        (msg("open", 0), "seq", ErrorCode.BAD_REQUEST),
        (msg("ping", 1, position="1.5 seconds"), "ISO 8601", ErrorCode.BAD_REQUEST),
        (msg("opened", 1), "server-only", ErrorCode.BAD_REQUEST),
        (msg("open", 1, {"organizationId": "o", "conversationId": "c"}), "media", ErrorCode.BAD_REQUEST),
        ("x" * 70000, "limit", ErrorCode.PAYLOAD_TOO_LARGE),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(raw: str, words: str, code: ErrorCode) -> None:
    with pytest.raises(AudioHookError, match=words) as info:
        parse_message(raw)
    assert info.value.code is code and info.value.reason is DisconnectReason.ERROR


def test_sequence_numbers_must_count_up_by_one_and_serverseq_must_exist() -> None:
    state = opened_state()
    with pytest.raises(AudioHookError, match="seq 3 where 2 was expected"):
        state.receive(msg("ping", 3))
    state = opened_state()
    with pytest.raises(AudioHookError, match="serverseq 5"):
        state.receive(msg("ping", 2, serverseq=5))


def test_another_sessions_id_is_a_conflict() -> None:
    state = opened_state()
    with pytest.raises(AudioHookError, match="id") as info:
        state.receive(msg("ping", 2, id="other"))
    assert info.value.code is ErrorCode.CONFLICT


def test_audio_before_open_and_oversized_or_ragged_frames() -> None:
    with pytest.raises(AudioHookError, match="audio before open"):
        AudioHookState().audio(b"\xff" * 160)
    state = opened_state()
    with pytest.raises(AudioHookError, match="over the") as info:
        state.audio(b"\xff" * (MAX_FRAME_BYTES + 2))
    assert info.value.code is ErrorCode.PAYLOAD_TOO_LARGE
    with pytest.raises(AudioHookError, match="whole 2-channel"):
        opened_state().audio(b"\xff" * 161)


@pytest.mark.parametrize(
    "media",
    [
        [{"type": "audio", "format": "L16", "channels": ["external"], "rate": 8000}],
        [{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 16000}],
        [{"type": "audio", "format": "PCMU", "channels": ["external", "external"], "rate": 8000}],
    ],
)
def test_unsupported_formats_are_refused_415(media: list[dict[str, Any]]) -> None:
    with pytest.raises(AudioHookError, match="unsupported media") as info:
        AudioHookState().receive(open_msg(media))
    assert info.value.code is ErrorCode.UNSUPPORTED_MEDIA


@pytest.mark.parametrize("consent", [None, "denied", "GRANTED"])
def test_open_without_consent_is_refused_unauthorized(consent: str | None) -> None:
    state = AudioHookState()
    with pytest.raises(ConsentRefused) as info:
        state.receive(open_msg(consent=consent))
    assert info.value.reason is DisconnectReason.UNAUTHORIZED
    disconnect = json.loads(state.disconnect(info.value.reason, info.value.info))
    assert disconnect["type"] == "disconnect" and disconnect["parameters"]["reason"] == "unauthorized"
    assert state.phase is Phase.DISCONNECTING


def test_connection_probe_needs_no_consent() -> None:
    state = AudioHookState()
    state.receive(open_msg(consent=None, conversationId="00000000-0000-0000-0000-000000000000"))
    assert state.open is not None and state.open.probe and state.phase is Phase.OPEN
    assert json.loads(state.opened())["parameters"] == {"startPaused": False, "media": []}


def test_server_pause_and_resume_requests_count_on() -> None:
    state = opened_state()
    assert [json.loads(m)["type"] for m in (state.opened(), state.pause(), state.resume())] == [
        "opened", "pause", "resume"]
    assert json.loads(state.resume())["seq"] == 4


def test_messages_before_open_and_after_close() -> None:
    with pytest.raises(AudioHookError, match="'paused' before open"):
        AudioHookState().receive(msg("paused", 1))
    state = opened_state()
    state.receive(msg("close", 2, {"reason": "end"}))
    assert json.loads(state.closed())["type"] == "closed"
    with pytest.raises(AudioHookError, match="after closed"):
        state.receive(msg("ping", 3))


# --- signatures -------------------------------------------------------------------------

SECRET = base64.b64encode(b"TopSecret-32-bytes-of-key-mat!!!").decode()
API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
NOW = 1_700_000_000
HEADERS = {
    "host": "audiohook.example.com",
    "audiohook-organization-id": "d7934305-0972-4844-938e-9060eef73d05",
    "audiohook-session-id": SID,
    "audiohook-correlation-id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    "x-api-key": API_KEY,
}
PARAMS = ('("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" '
          '"audiohook-correlation-id" "x-api-key");keyid="' + API_KEY + '";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";'
          f'alg="hmac-sha256";created={NOW};expires={NOW + 300}')
# The signature base written out by hand from RFC 9421 section 2.5, not by the code under test.
BASE = (
    '"@request-target": /api/v1/audiohook/ws?x=1\n'
    '"@authority": audiohook.example.com\n'
    '"audiohook-organization-id": d7934305-0972-4844-938e-9060eef73d05\n'
    f'"audiohook-session-id": {SID}\n'
    '"audiohook-correlation-id": 30b0e395-84d3-4570-ac13-9a62d8f514c0\n'
    f'"x-api-key": {API_KEY}\n'
    f'"@signature-params": {PARAMS}'
)
GOOD = base64.b64encode(hmac.new(base64.b64decode(SECRET), BASE.encode(), hashlib.sha256).digest()).decode()


def request(signature: str = GOOD, params: str = PARAMS, **headers: str) -> Request:
    all_headers = {**HEADERS, "signature-input": f"sig1={params}", "signature": f"sig1=:{signature}:"}
    all_headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return Request("GET", "https", "audiohook.example.com", "/api/v1/audiohook/ws", "x=1", all_headers)


def test_known_good_vector_verifies() -> None:
    sig = verify_request(request(), decode_secret(SECRET), api_key=API_KEY, now=NOW + 10)
    assert sig.label == "sig1" and sig.params["keyid"] == API_KEY and sig.params["created"] == NOW


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"x_api_key": "another-key-entirely"}, "does not match"),
        ({"audiohook_session_id": "0" * 36}, "does not match"),
        ({"signature": base64.b64encode(b"x" * 32).decode()}, "does not match"),
        ({"params": PARAMS.replace("hmac-sha256", "rsa-pss-sha512")}, "unsupported signature algorithm"),
        ({"params": PARAMS.replace(f'keyid="{API_KEY}"', 'keyid="other"')}, "keyid"),
        ({"params": PARAMS.replace(' "x-api-key"', "")}, "must cover"),
        ({"params": PARAMS.replace(f"created={NOW}", f"created={NOW + 3600}")}, "future"),
    ],
)
def test_bad_signatures_are_refused(change: dict[str, str], words: str) -> None:
    with pytest.raises(SignatureError, match=words):
        verify_request(request(**change), decode_secret(SECRET), api_key=API_KEY, now=NOW + 10)


def test_expired_stale_missing_and_replayed_signatures_are_refused() -> None:
    key = decode_secret(SECRET)
    with pytest.raises(SignatureError, match="expired"):
        verify_request(request(), key, now=NOW + 400)
    wrong_key = base64.b64decode(base64.b64encode(b"not the secret"))
    with pytest.raises(SignatureError, match="does not match"):
        verify_request(request(), wrong_key, now=NOW)
    bare = Request("GET", "https", "h", "/", "", dict(HEADERS))
    with pytest.raises(SignatureError, match="missing"):
        verify_request(bare, key, now=NOW)
    nonces = NonceCache()
    verify_request(request(), key, now=NOW, nonces=nonces)
    with pytest.raises(SignatureError, match="nonce already used"):
        verify_request(request(), key, now=NOW + 1, nonces=nonces)


def test_signature_input_parsing_and_secret_decoding() -> None:
    (sig,) = parse_signature_input(f"sig1={PARAMS}")
    assert sig.components[0] == "@request-target" and sig.params["expires"] == NOW + 300
    with pytest.raises(SignatureError):
        parse_signature_input("sig1=not-a-list")
    with pytest.raises(SignatureError, match="base64"):
        decode_secret("not base64!")
