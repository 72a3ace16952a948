"""The Ray command lines: the capacity helper, and `serve --ray` with no cluster there."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamface.cluster.capacity import measured_capacity, resources_flag

REPO = Path(__file__).resolve().parent.parent


def test_capacity_is_the_load_benchmarks_knee() -> None:
    assert measured_capacity({"areas": {"load": {"knee_sessions": 5}}}) == 5
    assert measured_capacity({"load": {"knee_sessions": 3}}) == 3
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


def test_the_server_does_not_import_ray_without_ray() -> None:
    code = (
        "import sys, streamface.server.app, streamface.cli.serve, streamface.cli;"
        "from streamface.server.auth import ServerConfig;"
        "streamface.server.app.create_app(ServerConfig(port=0), lambda: None);"
        "streamface.cli.build_parser();"
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
