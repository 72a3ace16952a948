"""Shared fixtures: test voices, single-threaded torch, and a guard against leaked tasks."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_VOICES = REPO.parent / "shared" / "voices"
TEST_DATA = Path(__file__).resolve().parent / "data"


def _voice_table() -> dict[str, dict[str, str]]:
    meta = SHARED_VOICES / "voices.json"
    if not meta.exists():
        return {}
    return dict(json.loads(meta.read_text())["voices"])


VOICES: dict[str, dict[str, str]] = _voice_table()


@pytest.fixture(scope="session")
def shared_voices() -> dict[Path, str]:
    """Path of each shared test voice -> its intended sex ("female" / "male")."""
    if not VOICES:
        pytest.skip(f"shared voices not found at {SHARED_VOICES}")
    return {SHARED_VOICES / name: meta["sex"] for name, meta in VOICES.items()}


@pytest.fixture(autouse=True, scope="session")
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the C2PA development certificate (and any config) out of the user's home.

    Set in ``os.environ`` so the subprocesses tests start inherit it too.
    """
    if "STREAMFACE_CONFIG_DIR" not in os.environ:
        os.environ["STREAMFACE_CONFIG_DIR"] = str(tmp_path_factory.mktemp("streamface-config"))


@pytest.fixture(autouse=True, scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's model cache, out of the user's home: one folder for every test and the
    subprocesses they start, so the shipped renderer is exported once per size per run.

    Set in ``os.environ`` (as the config folder is) so subprocesses inherit it; a
    ``STREAMFACE_CACHE_DIR`` already set is kept. Tests about the first export, or about
    the cache itself, pass a folder of their own.
    """
    if not os.environ.get("STREAMFACE_CACHE_DIR"):
        os.environ["STREAMFACE_CACHE_DIR"] = str(tmp_path_factory.mktemp("streamface-cache"))
    return Path(os.environ["STREAMFACE_CACHE_DIR"])


@pytest.fixture(autouse=True)
def _torch_single_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail any test that leaves asyncio tasks running on its event loop."""
    yield
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if pending:
        # Tasks cancelled during teardown can need a few loop turns (and the ones they
        # await) to unwind; a leak is a task still running after that grace.
        await asyncio.wait(pending, timeout=1.0)
    leaked = [t for t in pending if not t.done()]
    assert not leaked, f"test left {len(leaked)} asyncio task(s) running: {leaked!r}"
