"""Churn soak: WHIP sessions of random length start and end for minutes; do threads and RSS return?

A real ``streamface serve`` (default engine, live size) on loopback. Callers are separate
processes (`benchmarks.whip_caller`, real aiortc peers sending the shared voice), so that
some can end abruptly: ``--concurrency`` callers at a time, each lasting a random
5-60 s, then hanging up with ``DELETE`` or killed with SIGKILL (``--abrupt`` of them),
which the server only notices when their audio stops. At the start and end of every
minute the server's RSS, OS threads (native ones too, ``/proc/PID/status``), asyncio
tasks and live sessions are recorded.

Worker pools start their threads lazily, so the reference is a *quiet point* after the
first minute: new calls pause, every session ends, and threads, RSS and tasks are read.
After the last minute the same is done again. Pass when, at that final quiet point:

* OS threads are within 2 of the first quiet point's;
* RSS is within 5 % of the first quiet point's (the level after the first minute);
* asyncio tasks are no more than at the first quiet point, and no session is left.

Usage: ``python -m benchmarks.churn [--minutes 10] [--concurrency 3] [--abrupt 0.5]``
(``--minutes 2`` for a quick run). Writes ``benchmarks/results/churn-<tag>.json``. Not
part of the default benchmark run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import serving

THREADS_WITHIN = 2
RSS_WITHIN_PCT = 5.0
MIN_S, MAX_S = 5.0, 60.0
QUIET_WITHIN_S = 60.0
ROOT = Path(__file__).resolve().parents[1]


class Churn:
    """Keeps ``concurrency`` caller processes going, each for a random time."""

    def __init__(self, base: str, voice: Path, concurrency: int, abrupt: float, seed: int) -> None:
        self.base = base
        self.voice = voice
        self.concurrency = concurrency
        self.abrupt = abrupt
        self.rng = random.Random(seed)
        self.running = True
        self.started = 0
        self.refused = 0
        self.hung_up = 0
        self.killed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Start callers while ``running``; each slot starts a new one when its caller ends."""
        while True:
            while self.running and len(self._tasks) < self.concurrency:
                task = asyncio.get_running_loop().create_task(self._one())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0.2)

    async def drain(self) -> None:
        """Stop starting callers and wait until those running have ended."""
        self.running = False
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _one(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.whip_caller", self.base, "--voice", str(self.voice),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
        )
        self.started += 1
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(60.0):
                line = (await proc.stdout.readline()).decode()
            if not line.startswith("session "):
                self.refused += 1
                return
            await asyncio.sleep(self.rng.uniform(MIN_S, MAX_S))
            if self.rng.random() < self.abrupt:
                proc.send_signal(signal.SIGKILL)
                self.killed += 1
            else:
                proc.send_signal(signal.SIGTERM)
                self.hung_up += 1
        except TimeoutError:
            self.refused += 1
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, TimeoutError):
                    async with asyncio.timeout(30.0):
                        await proc.wait()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


async def _read(srv: serving.ServerProcess, t0: float, label: str) -> dict[str, Any]:
    stats = await serving.server_stats(srv)
    return {
        "at": label,
        "t_s": round(time.monotonic() - t0, 1),
        "rss_mb": stats["rss_mb"],
        "os_threads": stats["os_threads"],
        "threads": stats.get("threads"),
        "tasks": stats.get("tasks"),
        "sessions": stats.get("sessions"),
        "collections": stats.get("collections"),
        "last_collect_ms": stats.get("last_collect_ms"),
    }


async def _quiet(srv: serving.ServerProcess, churn: Churn, t0: float, label: str) -> dict[str, Any]:
    """Let every call end, then read the server (its post-call collection included)."""
    await churn.drain()
    end = time.monotonic() + QUIET_WITHIN_S
    while time.monotonic() < end:
        if (await serving.internal_stats(srv.base)).get("sessions") == 0:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(4.0)  # peers close, the hub's collection runs (2 s after the end)
    return await _read(srv, t0, label)


def evaluate(first: dict[str, Any], final: dict[str, Any]) -> dict[str, Any]:
    """Pass/fail of the final quiet point against the first one."""
    rss_change = (
        None
        if not first["rss_mb"] or final["rss_mb"] is None
        else round(100.0 * (final["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 2)
    )
    checks = {
        "threads_ok": first["os_threads"] is not None
        and final["os_threads"] is not None
        and abs(final["os_threads"] - first["os_threads"]) <= THREADS_WITHIN,
        "rss_ok": rss_change is not None and abs(rss_change) <= RSS_WITHIN_PCT,
        "tasks_ok": final["tasks"] is not None and final["tasks"] <= (first["tasks"] or 0),
        "sessions_ok": final["sessions"] == 0,
    }
    return {
        "passed": all(checks.values()),
        **checks,
        "os_threads_first_quiet": first["os_threads"],
        "os_threads_final_quiet": final["os_threads"],
        "os_threads_target": f"within {THREADS_WITHIN}",
        "rss_mb_first_quiet": first["rss_mb"],
        "rss_mb_final_quiet": final["rss_mb"],
        "rss_change_pct": rss_change,
        "rss_change_pct_target": RSS_WITHIN_PCT,
        "tasks_first_quiet": first["tasks"],
        "tasks_final_quiet": final["tasks"],
    }


async def churn(
    minutes: float, concurrency: int, abrupt: float, voice: Path, seed: int = 0
) -> dict[str, Any]:
    """Run the churn soak; samples, counts and the verdict."""
    samples: list[dict[str, Any]] = []
    with serving.server(max_sessions=max(8, 2 * concurrency)) as srv:
        await serving.wait_healthy(srv)
        t0 = time.monotonic()
        idle = await _read(srv, t0, "idle")
        samples.append(idle)
        churner = Churn(srv.base, voice, concurrency, abrupt, seed)
        runner = asyncio.get_running_loop().create_task(churner.run())
        first: dict[str, Any] | None = None
        try:
            whole = max(1, round(minutes))
            for minute in range(1, whole + 1):
                churner.running = True
                samples.append(await _read(srv, t0, f"minute {minute} start"))
                await asyncio.sleep(60.0 if minutes >= 1 else minutes * 60.0)
                samples.append(await _read(srv, t0, f"minute {minute} end"))
                print(f"  churn {samples[-1]}", file=sys.stderr, flush=True)
                if minute == 1:
                    first = await _quiet(srv, churner, t0, "quiet after minute 1")
                    samples.append(first)
                    print(f"  churn {first}", file=sys.stderr, flush=True)
            final = await _quiet(srv, churner, t0, "quiet at the end")
            samples.append(final)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            await churner.drain()
        if srv.proc.poll() is not None:
            raise RuntimeError(f"server died during the churn: {srv.log_tail()}")
    assert first is not None
    return {
        **evaluate(first, final),
        "minutes": minutes,
        "concurrency": concurrency,
        "abrupt_fraction": abrupt,
        "session_length_s": [MIN_S, MAX_S],
        "callers_started": churner.started,
        "callers_refused": churner.refused,
        "callers_hung_up": churner.hung_up,
        "callers_killed": churner.killed,
        "os_threads_idle": idle["os_threads"],
        "rss_mb_idle": idle["rss_mb"],
        "samples": samples,
    }


def run(quick: bool = False, minutes: float | None = None) -> dict[str, Any]:
    """The churn soak as a benchmark area: 10 minutes (2 with ``quick``)."""
    if not serving.VOICE.exists():
        return {"skipped": f"voice not found: {serving.VOICE}"}
    return asyncio.run(churn(minutes or (2.0 if quick else 10.0), 3, 0.5, serving.VOICE))


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.churn``: run, print the verdict, write JSON; exit 1 on fail."""
    from benchmarks import __main__ as bench

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.churn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="run length (default 10)")
    parser.add_argument("--concurrency", type=int, default=3, help="callers at a time (default 3)")
    parser.add_argument(
        "--abrupt", type=float, default=0.5, help="fraction of callers killed with SIGKILL"
    )
    parser.add_argument("--voice", type=Path, default=serving.VOICE, help="WAV the callers send")
    parser.add_argument("--seed", type=int, default=0, help="seed of lengths and endings")
    parser.add_argument("--out", default=str(bench.RESULTS), help="results folder")
    args = parser.parse_args(argv)
    if not args.voice.exists():
        print(f"voice not found: {args.voice} (pass --voice)", file=sys.stderr)
        return 2
    result = asyncio.run(churn(args.minutes, args.concurrency, args.abrupt, args.voice, args.seed))
    return bench.report_verdict("churn", result, args.out, args.minutes < 10, skip=("samples",))


if __name__ == "__main__":
    sys.exit(main())
