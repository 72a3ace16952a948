"""`streamface serve` as a user runs it: starts, answers, stops cleanly on Ctrl+C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_starts_answers_and_stops_on_interrupt() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamface", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    health = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.3)
        if health is None:
            proc.kill()
            pytest.fail(f"no answer from streamface serve: {proc.communicate()[1][-2000:]}")
        assert health["ok"] is True and health["synthetic"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert b'id="consent"' in resp.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert f"http://127.0.0.1:{port}/" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_batch_on_loads_a_batching_engine() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamface", "-v", "serve", "--port", str(port), "--batch", "on",
         "--batch-window-ms", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/internal/stats", timeout=2) as resp:
                    stats = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.3)
        else:
            proc.kill()
            pytest.fail(f"no answer from streamface serve: {proc.communicate()[1][-2000:]}")
        assert stats["batching"] == {}  # no session yet
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "batched rendering on (window 5.0 ms)" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-window-ms", "99"], "--batch-window-ms must be between 0 and 30"),
        (["--batch", "sometimes"], "invalid choice"),
    ],
)
def test_serve_rejects_bad_batch_options(args: list[str], says: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streamface", "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2
    assert says in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_on_a_busy_port_says_so_without_a_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "streamface", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=120,
        )
    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "already in use" in out.stderr
    assert "Traceback" not in out.stderr
    assert "http://" not in out.stdout  # the address is announced only once it is bound
