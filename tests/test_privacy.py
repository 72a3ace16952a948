"""Privacy, end to end: a full live session leaves no audio-derived file or log line behind.

A real ``streamface serve`` subprocess, with its home, XDG folders, temporary folder and
working directory all pointed at fresh, empty folders, serves a real WebRTC (WHIP) caller
speaking a shared voice until a face forms, and a phone call over the telephony media
stream (the example client's own functions). Both sessions end; the server stops. Then:

* No file appeared during or after the calls (nothing is written once audio flows).
* The only files at all are the ones documented in docs/PRIVACY.md, made at start-up
  before any audio: the ONNX engine cache. They are checked to hold no audio either.
* The server's log, captured at DEBUG level, carries session ids and counts, never traits
  (no ``p_female``, no pitch or formant values, no age band).

A second test shows, in process, that a live session's buffers and embeddings are zero
once it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from server_util import wait_for, whip_call

from streamface import SYNTHETIC_NOTICE
from streamface.server.auth import SYNTHETIC_HEADER

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "clients" / "python"))

import telephony_client as tc  # noqa: E402

WATCHED = ("home", "config", "cache", "data", "state", "runtime", "tmp", "cwd")
"""Every folder the server may write to on its own (HOME, XDG_*, TMPDIR, cwd)."""

ALLOWED = re.compile(r"^cache/streamface/models/[^/]+/[^/]+$")
"""Documented files (docs/PRIVACY.md): the ONNX export of the face model and the sprite
layout, at start-up."""

# Words and patterns that would mean a trait or voice measurement reached the log.
TRAIT_PATTERNS = (
    re.compile(r"p_female"),
    re.compile(r"perceived"),
    re.compile(r"age_band|age band"),
    re.compile(r"\bf0[ _=:]"),
    re.compile(r"\bvtl\b"),
    re.compile(r"formant"),
    re.compile(r"\d+(\.\d+)? ?Hz\b(?! resampler)"),
    re.compile(r"\b(fe)?male\b"),
    re.compile(r"confidence"),
)

AUDIO_MAGIC = (b"RIFF", b"WAVE", b"fLaC", b"OggS", b"ID3", b"ftyp", b"\x1aE\xdf\xa3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _files(roots: dict[str, Path]) -> dict[str, tuple[int, float]]:
    """Every file under the watched folders: relative name -> (size, mtime)."""
    out: dict[str, tuple[int, float]] = {}
    for name, root in roots.items():
        for path in root.rglob("*"):
            if path.is_file() or path.is_symlink():
                st = path.lstat()
                out[f"{name}/{path.relative_to(root).as_posix()}"] = (st.st_size, st.st_mtime)
    return out


def _holds_audio(path: Path) -> str | None:
    """Why this file looks like audio (a container signature), or None."""
    data = path.read_bytes()
    for magic in AUDIO_MAGIC:
        if magic in data[:64]:
            return f"starts with the {magic!r} signature"
    if path.suffix == ".npz" and path.parent.name == "layout":
        return None  # the sprite layout: `_check_cache_file` reads what it holds
    if path.suffix not in (".onnx", ".json", ".txt", ".lock") and len(data) >= 32_000:
        return "an unexplained large binary"
    return None


LAYOUT_ARRAYS = {
    "eye_box", "mouth_box", "warp_box", "fields", "rise", "pixel", "lift_keys", "lift_values"
}


def _check_cache_file(path: Path) -> None:
    """An engine-cache file is the face model (its inputs are face parameters, not audio)
    or the sprite layout (pixel boxes, warp fields and the brow lift of mouth cells)."""
    if path.suffix == ".npz":
        with np.load(path) as z:
            assert set(z.files) == LAYOUT_ARRAYS, (path, z.files)
            assert z["fields"].ndim == 3 and z["lift_keys"].shape[1] == 6, path
        return
    if path.suffix != ".onnx":
        assert path.stat().st_size < 16_000, f"unexpected large file in the engine cache: {path}"
        return
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inputs = {i.name for i in model.graph.input}
    assert inputs <= {"params", "anim", "prepared"}, (path, inputs)


def _environment(roots: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMFACE_", "XDG_"))}
    env.update(
        HOME=str(roots["home"]),
        XDG_CONFIG_HOME=str(roots["config"]),
        XDG_CACHE_HOME=str(roots["cache"]),
        XDG_DATA_HOME=str(roots["data"]),
        XDG_STATE_HOME=str(roots["state"]),
        XDG_RUNTIME_DIR=str(roots["runtime"]),
        TMPDIR=str(roots["tmp"]),
        TMP=str(roots["tmp"]),
        TEMP=str(roots["tmp"]),
        OMP_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


async def _whip_until_face(base: str, voice: Path) -> dict[str, Any]:
    """A WebRTC caller speaks until the face forms; returns its last traits event."""
    client = await whip_call(base, voice)
    try:
        assert client.response["status"] == 201, client.response
        assert SYNTHETIC_NOTICE in client.response["headers"][SYNTHETIC_HEADER]
        location = client.location
        assert location is not None

        def face() -> dict[str, Any] | None:
            for event in reversed(client.events):
                if event.get("type") == "traits" and event.get("traits"):
                    return event
            return None

        assert await wait_for(lambda: face() is not None, 90.0), client.events
        event = face()
        assert event is not None and event["stage"] != "listening"
        session_id = location.rsplit("/", 1)[-1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/sessions/{session_id}") as resp:
                state = await resp.json()
                assert state["synthetic"] is True and state["notice"] == SYNTHETIC_NOTICE
            async with http.delete(f"{base}{location}") as resp:
                assert resp.status == 200
        return event
    finally:
        await client.close()


async def _phone_call(port: int, voice: Path) -> tc.CallResult:
    audio = tc.to_phone_audio(*tc.read_wav(voice))
    return await tc.stream_call(
        f"ws://127.0.0.1:{port}/media-stream",
        {"inbound": audio},
        params={"consent": "granted", "events": "streamface"},
        realtime=True,  # paced like a phone line, so the analysis runs before ``stop``
    )


def test_full_session_leaves_no_audio_derived_file_or_log(
    tmp_path: Path, shared_voices: dict[Path, str]
) -> None:
    roots = {name: tmp_path / "sandbox" / name for name in WATCHED}
    for root in roots.values():
        root.mkdir(parents=True)
    roots["runtime"].chmod(0o700)
    log_path = tmp_path / "server.log"  # outside the sandbox: the test's own record
    port = _free_port()
    voices = sorted(shared_voices)
    caller = next(p for p in voices if p.name == "flite_female_slt.wav")
    phone = next(p for p in voices if p.name == "flite_male_awb.wav")

    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamface", "-vv", "serve", "--port", str(port),
             "--size", "128", "--engine", "onnxruntime"],
            cwd=roots["cwd"],
            env=_environment(roots),
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            deadline = time.monotonic() + 240
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "streamface serve did not start"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    time.sleep(0.5)
            at_start = _files(roots)  # made before any audio: checked below

            async def calls() -> tuple[dict[str, Any], tc.CallResult]:
                face = await _whip_until_face(f"http://127.0.0.1:{port}", caller)
                return face, await _phone_call(port, phone)

            face, call = asyncio.run(calls())
            proc.send_signal(signal.SIGINT)  # graceful shutdown: every session closed
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log_path.read_text()[-3000:]

    # The calls really ran: a face formed for the caller, the phone call got traits.
    assert face["traits"]["perceived_sex"]["label"] == "female"
    assert call.close_code == 1000, call.close_reason
    assert any(e["type"] == "traits" and e["traits"] for e in call.events), call.events
    assert any(e["type"] == "ended" for e in call.events)

    # Nothing was written once audio flowed: same files, same sizes, same times.
    after = _files(roots)
    assert after == at_start, {k: after.get(k) for k in set(after) ^ set(at_start)}
    # What start-up wrote is the documented engine cache, and none of it is audio.
    unexpected = sorted(name for name in after if not ALLOWED.match(name))
    assert not unexpected, unexpected
    for name in after:
        root, _, rel = name.partition("/")
        path = roots[root] / rel
        assert _holds_audio(path) is None, (name, _holds_audio(path))
        _check_cache_file(path)

    # The log says what happened (ids, counts), never what the voice is like.
    log = log_path.read_text()
    assert "DEBUG" in log and "session" in log  # it was captured at DEBUG level
    session_ids = [e["session_id"] for e in call.events if e["type"] == "session"]
    assert session_ids and all(sid in log for sid in session_ids)
    for pattern in TRAIT_PATTERNS:
        hits = [line for line in log.splitlines() if pattern.search(line)]
        assert not hits, (pattern.pattern, hits[:5])


async def test_live_session_is_zeroed_when_it_ends(shared_voices: dict[Path, str]) -> None:
    """The real `Session` behind a live call: speech, mouth and embeddings zero at the end."""
    from fakes import ShapesEngine, fake_mapper
    from server_util import running_server

    from streamface.session import Session

    engine = ShapesEngine(64)
    voice = next(p for p in sorted(shared_voices) if p.name == "flite_male_rms.wav")
    async with running_server(
        session_factory=lambda: Session(engine, mapper=fake_mapper)
    ) as srv:
        client = await whip_call(srv.url, voice)
        try:
            assert client.response["status"] == 201
            session = srv.sessions[0]
            assert await wait_for(lambda: session.profile is not None, 60.0)
            profile = session.profile
            assert profile is not None and np.any(profile.embedding)
            assert session._audio.buffer._data.any()
            call_id = client.location.rsplit("/", 1)[-1] if client.location else ""
            assert await srv.hub.end(call_id, "caller hung up")
        finally:
            await client.close()
        assert session.profile is None
        assert not profile.embedding.any()
        assert not session._audio.buffer._data.any()
        assert not session._audio._rest.any()
        assert not session._mouth._ring.any()
        anchor = session._identity._anchor
        assert anchor is None or not anchor.any()
        assert json.dumps(session.state())  # still answers, with no traits left
        assert session.state()["traits"] is None
