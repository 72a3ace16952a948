"""``python -m streamface.cluster.capacity``: a node's measured capacity as a ray flag."""

from __future__ import annotations

import json
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
