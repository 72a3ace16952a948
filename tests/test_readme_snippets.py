"""The README's platform snippets are the code the tests run, verbatim.

Each snippet lives in a runnable file between ``# --8<-- [start:readme]`` and
``# --8<-- [end:readme]`` markers (or is a whole small module); the README must contain it
unchanged in a ``python`` block. The Pipecat snippet runs in test_pipecat_webrtc_e2e.py;
the LiveKit ones run here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import REPO

README = (REPO / "README.md").read_text()


def marked(path: Path) -> str:
    text = path.read_text()
    start, end = "# --8<-- [start:readme]\n", "# --8<-- [end:readme]"
    assert start in text and end in text, path
    return text.split(start, 1)[1].split(end, 1)[0].rstrip() + "\n"


def python_blocks(markdown: str) -> list[str]:
    parts = markdown.split("```python\n")[1:]
    return [part.split("```", 1)[0] for part in parts]


SNIPPETS = {
    "pipecat bot": lambda: marked(REPO / "clients" / "pipecat" / "bot.py"),
    "livekit avatar": lambda: marked(REPO / "clients" / "livekit" / "avatar_agent.py"),
    "livekit worker": lambda: (REPO / "streamface" / "livekit" / "__main__.py").read_text().split('"""\n\n', 1)[1].rstrip() + "\n",
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_readme_shows_the_tested_snippet_verbatim(name: str) -> None:
    snippet = SNIPPETS[name]()
    assert len(snippet.splitlines()) >= 3
    assert snippet in python_blocks(README), f"README's {name} snippet differs from the tested code"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_livekit_worker_snippet_runs_the_agents_cli() -> None:
    pytest.importorskip("livekit.agents")
    done = subprocess.run(
        [sys.executable, "-m", "streamface.livekit", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "start" in done.stdout and "dev" in done.stdout


@pytest.mark.slow
async def test_livekit_avatar_snippet_gives_the_agent_session_a_face() -> None:
    """The README's avatar snippet with the real engine, in LiveKit's fake job context
    (no server: the room never connects, so nothing is published; the audio path is real)."""
    pytest.importorskip("livekit.agents")
    from livekit import rtc
    from livekit.agents import Agent, AgentSession
    from livekit.agents.testing import fake_job_context

    from streamface.livekit import FACE_LOAD

    example = load(REPO / "clients" / "livekit" / "avatar_agent.py", "streamface_livekit_avatar_agent")
    room = rtc.Room()
    session: AgentSession = AgentSession()
    with fake_job_context(room=room) as ctx:
        # the live default size: the run exports it once for every test
        avatar = await example.start_with_face(ctx, session, Agent(instructions="test"), size=256)
        try:
            assert FACE_LOAD.active == 1
            tail = session.output.audio
            while tail is not None and tail.next_in_chain is not None:
                tail = tail.next_in_chain
            assert tail is avatar.audio_output  # the agent's voice reaches the avatar
            pcm = (0.3 * 32767 * np.sin(np.arange(2400) / 24000 * 2 * np.pi * 200)).astype(np.int16)
            await avatar.audio_output.capture_frame(rtc.AudioFrame(pcm.tobytes(), 24000, 1, 2400))
            generator = avatar.generator
            for _ in range(50):
                if generator._queue or len(generator._pending):
                    break
                await asyncio.sleep(0.02)
            assert generator._queue or len(generator._pending), "the avatar runner did not read the audio"
            for _ in range(250):  # the first face renders in the background (slower on a busy machine)
                if generator.frames:
                    break
                await asyncio.sleep(0.02)
            assert generator.frames >= 1  # the real face rendered (publishing waits for a room)
        finally:
            await session.aclose()
            await avatar.aclose()
    assert FACE_LOAD.active == 0
