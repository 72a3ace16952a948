"""Shared by the live, load and soak benchmarks: a real server process and aiortc callers.

The server is ``python -m streamface serve`` on a free loopback port (default engine and
live size), its log in a temporary file (a pipe nobody reads would fill and stall it).
Callers are aiortc peers in the benchmark process: the shared voice in over WHIP
(looped), the face back on a recvonly video track, every frame's arrival time and pts
recorded. The server's own view comes from ``GET /sessions`` (per-session timing) and
``GET /internal/stats`` (tasks, threads, RSS; loopback only).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

VOICE = Path(__file__).resolve().parents[2] / "shared" / "voices" / "flite_female_slt.wav"
FRAME_MS = 1000.0 / 30.0
PTS_STEP = 3000  # one frame on the 90 kHz video clock


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``streamface serve``: its process, base URL and log file."""

    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the server's log (for error messages)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextlib.contextmanager
def server(
    max_sessions: int = 32, extra: tuple[str, ...] = (), tree: Path | None = None
) -> Iterator[ServerProcess]:
    """Start ``streamface serve`` on a free loopback port; stop it on exit.

    ``tree``: run the server from that source tree (its folder and PYTHONPATH) instead of
    the one this module is imported from (for before/after comparisons).
    """
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamface",
                    "serve",
                    "--port",
                    str(port),
                    "--max-sessions",
                    str(max_sessions),
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=tree,
            )
            try:
                yield ServerProcess(proc, f"http://127.0.0.1:{port}", log)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def wait_healthy(srv: ServerProcess, within_s: float = 180.0) -> None:
    """Poll ``/healthz`` until the server answers (it loads the engine first)."""
    end = time.monotonic() + within_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < end:
            if srv.proc.poll() is not None:
                raise RuntimeError(f"server exited: {srv.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{srv.base}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    raise TimeoutError("server did not come up")


def proc_status(pid: int) -> dict[str, str]:
    """``/proc/PID/status`` as a dict (empty where there is no procfs)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key: value.strip() for key, value in fields}


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MiB (None without procfs)."""
    value = proc_status(pid).get("VmRSS", "").split()
    return round(int(value[0]) / 1024.0, 1) if value else None


def os_threads(pid: int) -> int | None:
    """Threads of a process, native ones included (None without procfs)."""
    value = proc_status(pid).get("Threads")
    return int(value) if value else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far, in seconds (None without procfs)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields after the command name: state is index 0, utime 11 and stime 12 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine has been busy so far, all processes together
    (``/proc/stat``: everything but idle and I/O wait; None without procfs)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def get_json(url: str) -> Any:
    """GET a JSON document."""
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        resp.raise_for_status()
        return await resp.json()


async def sessions(base: str) -> list[dict[str, Any]]:
    """``GET /sessions``: each live session with its ``timing``."""
    return list((await get_json(f"{base}/sessions"))["sessions"])


async def internal_stats(base: str) -> dict[str, Any]:
    """``GET /internal/stats``: the server's tasks, threads, RSS and sessions."""
    return dict(await get_json(f"{base}/internal/stats"))


async def server_stats(srv: ServerProcess) -> dict[str, Any]:
    """`internal_stats` with the process's RSS (MB) and OS thread count read from /proc."""
    stats = await internal_stats(srv.base)
    stats["rss_mb"] = rss_mb(srv.pid)
    stats["os_threads"] = os_threads(srv.pid)
    return stats


def pct(values: list[float] | np.ndarray, q: float) -> float | None:
    """A percentile rounded to 0.01, None for no values."""
    if len(values) == 0:
        return None
    return round(float(np.percentile(np.asarray(values, dtype=np.float64), q)), 2)


class Caller:
    """One aiortc peer: the voice in (looped), the face out (arrival time and pts kept)."""

    def __init__(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.arrivals: list[float] = []
        self.pts: list[int] = []
        self.location: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._player: Any = None

    @property
    def session_id(self) -> str | None:
        """The server's id of this caller's session."""
        return None if self.location is None else self.location.rsplit("/", 1)[1]

    async def start(self, base: str, voice: Path = VOICE) -> None:
        """Offer audio (sendonly) and video (recvonly) over WHIP; apply the answer."""
        from aiortc import RTCSessionDescription
        from aiortc.contrib.media import MediaPlayer

        self._player = MediaPlayer(str(voice), loop=True)
        self.pc.addTransceiver(self._player.audio, direction="sendonly")
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{base}/whip?consent=true",
                data=self.pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp"},
            ) as resp,
        ):
            if resp.status != 201:
                raise RuntimeError(f"WHIP {resp.status}: {await resp.text()}")
            self.location = resp.headers["Location"]
            answer = await resp.text()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def _on_track(self, track: Any) -> None:
        if track.kind == "video":
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.arrivals.append(time.monotonic())
                self.pts.append(int(frame.pts or 0))

    async def stop(self, base: str) -> None:
        """Hang up (DELETE), close the peer and the player."""
        if self.location:
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as http, http.delete(base + self.location):
                    pass
        await self.pc.close()
        if self._player is not None and self._player.audio is not None:
            self._player.audio.stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def window(self, since: float, until: float | None = None) -> dict[str, Any]:
        """What this caller received in [since, until] (monotonic seconds).

        ``received_fps``: frames per second of arrivals; ``interval_ms_p99``: between
        arrivals; ``dropped``: frames the 30 fps pts clock skipped (never sent or lost);
        ``late``: arrivals 50 ms or more after the previous one.
        """
        end = time.monotonic() if until is None else until
        idx = [i for i, t in enumerate(self.arrivals) if since <= t <= end]
        if len(idx) < 2:
            return {"received_fps": 0.0, "interval_ms_p99": None, "dropped": None, "late": None}
        t = np.asarray([self.arrivals[i] for i in idx])
        pts = np.asarray([self.pts[i] for i in idx], dtype=np.int64)
        intervals = np.diff(t) * 1000.0
        steps = np.diff(pts)
        dropped = int(np.sum(np.maximum(np.rint(steps / PTS_STEP) - 1, 0)))
        return {
            "received_fps": round(float((len(t) - 1) / (t[-1] - t[0])), 2),
            "interval_ms_p99": pct(intervals, 99),
            "dropped": dropped,
            "late": int(np.sum(intervals >= 50.0)),
        }


async def start_callers(base: str, n: int, voice: Path = VOICE) -> list[Caller]:
    """Start ``n`` callers at once; on any failure stop those started and raise."""
    callers = [Caller() for _ in range(n)]
    results = await asyncio.gather(*(c.start(base, voice) for c in callers), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        await stop_callers(base, callers)
        raise errors[0]
    return callers


async def stop_callers(base: str, callers: list[Caller]) -> None:
    """Hang up every caller (errors ignored: the point is to end them)."""
    await asyncio.gather(*(c.stop(base) for c in callers), return_exceptions=True)
