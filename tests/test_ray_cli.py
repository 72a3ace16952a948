"""The Ray command lines: the capacity helper, `serve --ray` with no cluster there, and
`serve --ray local` (a one-machine cluster of the server's own)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import av
import pytest

from streamface.cluster.capacity import measured_capacity, resources_flag

REPO = Path(__file__).resolve().parent.parent


def test_capacity_is_the_load_benchmarks_knee() -> None:
    assert measured_capacity({"areas": {"load": {"knee_sessions": 5}}}) == 5
    assert measured_capacity({"load": {"knee_sessions": 3}}) == 3
    ray_ramp = {"areas": {"load-ray-callers-nice10": {"knee_sessions": 6}}}  # benchmarks.load --ray
    assert measured_capacity(ray_ramp) == 6
    assert resources_flag(5) == '--resources={"streamface_session": 5}'
    with pytest.raises(ValueError, match="knee_sessions"):
        measured_capacity({"areas": {"render": {}}})


def test_command_prints_the_flag_or_exits_2(tmp_path: Path) -> None:
    good = tmp_path / "r.json"
    good.write_text(json.dumps({"areas": {"load": {"knee_sessions": 4}}}))
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    cmd = [sys.executable, "-m", "streamface.cluster.capacity"]
    out = subprocess.run([*cmd, str(good)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == '--resources={"streamface_session": 4}'
    for path in (bad, tmp_path / "missing.json"):
        out = subprocess.run([*cmd, str(path)], capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr


def test_serve_with_no_ray_cluster_there_exits_2_with_one_line() -> None:
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run(
        [sys.executable, "-m", "streamface", "serve", "--port", "0", "--ray", f"127.0.0.1:{port}"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("streamface serve: cannot join the Ray cluster at")
    assert out.stderr.count("\n") == 1, out.stderr
    out = subprocess.run(  # batching is one process's: refused before any cluster starts
        [sys.executable, "-m", "streamface", "serve", "--port", "0", "--ray", "local", "--batch", "on"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert out.returncode == 2 and "--batch on" in out.stderr and out.stderr.count("\n") == 1


def test_the_server_does_not_import_ray_without_ray() -> None:
    code = (
        "import sys, streamface.server.app, streamface.cli.serve, streamface.cli;"
        "from streamface.server.auth import ServerConfig;"
        "streamface.server.app.create_app(ServerConfig(port=0), lambda: None);"
        "streamface.cli.build_parser();"
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


@pytest.fixture
def voice(shared_voices: dict[Path, str]) -> Path:
    return next(p for p in shared_voices if p.name == "flite_female_slt.wav")


async def test_serve_ray_local_runs_each_session_in_a_process_of_its_own(voice: Path) -> None:
    """``serve --ray local``: one machine, sessions in actor processes, slots = --max-sessions;
    the server's look and frame size, a WHIP caller's ``?look=`` and ``POST .../look`` reach
    the session."""
    pytest.importorskip("ray")
    from server_util import get_json, read_frames, wait_for, whip_call

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamface", "serve", "--port", str(port), "--ray", "local",
           "--max-sessions", "2", "--ray-spares", "0", "--look", "3", "--size", "456x256"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    clients = []
    try:
        async def healthy() -> bool:
            try:
                return (await get_json(f"{base}/healthz"))[0] == 200
            except OSError:
                return False

        deadline = asyncio.get_running_loop().time() + 90
        while not await healthy():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert asyncio.get_running_loop().time() < deadline, "no /healthz in 90 s"
            await asyncio.sleep(0.5)
        clients.append(await whip_call(base, voice))
        clients.append(await whip_call(base, voice, query="look=5"))
        assert [c.response["status"] for c in clients] == [201, 201], [c.response for c in clients]
        track = await asyncio.wait_for(clients[0].video, 30)
        await read_frames(track, 10, within_s=30)
        frame = await asyncio.wait_for(track.recv(), 5)
        assert isinstance(frame, av.VideoFrame) and (frame.width, frame.height) == (456, 256)  # a call tile's framing
        status, stats = await get_json(f"{base}/internal/stats?intervals=3")
        pids = {e["id"]: e["pid"] for e in stats["live"]}
        assert len(set(pids.values()) | {proc.pid}) == 3, "sessions share a process"
        ids = [str(c.location).rsplit("/", 1)[-1] for c in clients]

        async def looks() -> list[int]:
            return [(await get_json(f"{base}/sessions/{i}"))[1].get("look") for i in ids]

        deadline = asyncio.get_running_loop().time() + 10
        while await looks() != [3, 5]:  # listings are at most a probe interval old
            assert asyncio.get_running_loop().time() < deadline, await looks()
            await asyncio.sleep(0.5)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base}/sessions/{ids[0]}/look", json={"look": 7}) as resp,
        ):
            assert resp.status == 200 and (await resp.json())["look"] == 7
        clients.append(await whip_call(base, voice))  # both slots are taken
        assert clients[2].response["status"] == 503, clients[2].response
    finally:
        for client in clients:
            await client.close()
        proc.terminate()
        proc.wait(timeout=30)
    # the cluster belonged to the server: its session processes are gone with it
    gone = await wait_for(lambda: not any(_alive(pid) for pid in pids.values()), 15)
    assert gone, "a session process outlived the server"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
