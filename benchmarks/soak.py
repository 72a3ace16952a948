"""Soak: two live sessions for 10 minutes; RSS growth, leaked tasks or threads, latency trend.

A real ``streamface serve`` (default engine, live size) on loopback; two aiortc callers
send the shared voice (looped) over WHIP and receive the face for ``--minutes``. Every
``--every`` seconds the server's RSS and thread count (``/proc/PID/status``), its asyncio
task count (``GET /internal/stats``) and each session's audio-to-mouth p95 and frame
interval p99 (``GET /sessions``) are sampled, with the fps the callers receive.

Pass when, measured from the end of the warm-up (the first 20 % of the run, at least
30 s, when pools, caches and allocator arenas fill) to the end:

* RSS grows less than 5 %;
* threads and asyncio tasks do not grow (the median of the last third of the samples is
  at most the highest of the first third, plus one thread: executors start their threads
  lazily, up to a fixed bound), and after both callers hang up the task count
  is back to what it was before they called (threads: no more than during the calls,
  the worker pools keep theirs);
* latency does not rise: the median audio-to-mouth p95 of the last third of the samples
  is within 20 % (or 5 ms) of the first third's, and the same for interval p99.

Usage: ``python -m benchmarks.soak [--minutes 10] [--every 10]`` (``--minutes 1`` for a
quick run), or ``python -m benchmarks --only soak [--quick]``. Writes
``benchmarks/results/soak-<tag>.json``. Not part of the default benchmark run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

from benchmarks import serving

RSS_GROWTH_PCT = 5.0
LATENCY_RISE_PCT = 20.0
LATENCY_RISE_MS = 5.0
SESSIONS = 2


async def _sample(
    srv: serving.ServerProcess, callers: list[serving.Caller], t0: float, last: float
) -> dict[str, Any]:
    now = time.monotonic()
    stats = await serving.server_stats(srv)
    listed = await serving.sessions(srv.base)
    timing = [s["timing"] for s in listed]

    def worst(key: str) -> float | None:
        values = [t[key] for t in timing if t.get(key) is not None]
        return max(values) if values else None

    fps = [c.window(last, now)["received_fps"] for c in callers]
    return {
        "t_s": round(now - t0, 1),
        "rss_mb": stats["rss_mb"],
        "os_threads": stats["os_threads"],
        "threads": stats.get("threads"),
        "tasks": stats.get("tasks"),
        "sessions": len(listed),
        "audio_to_mouth_ms_p95": worst("audio_to_frame_ms_p95"),
        "frame_interval_ms_p99": worst("frame_interval_ms_p99"),
        "received_fps_min": round(min(fps), 2) if fps else 0.0,
    }


def _median(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return round(statistics.median(real), 2) if real else None


def _rise(first: float | None, last: float | None) -> tuple[float | None, bool]:
    """(rise in ms, within the target)."""
    if first is None or last is None:
        return None, False
    rise = last - first
    return round(rise, 2), rise <= max(LATENCY_RISE_MS, first * LATENCY_RISE_PCT / 100.0)


def evaluate(
    samples: list[dict[str, Any]], warmup_s: float, idle: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """Growth and pass/fail from the samples taken after the warm-up."""
    steady = [s for s in samples if s["t_s"] >= warmup_s] or samples[-1:]
    base, end = steady[0], steady[-1]
    third = max(1, len(steady) // 3)
    head, tail = steady[:third], steady[-third:]
    rss_growth = (
        None
        if not base["rss_mb"] or end["rss_mb"] is None
        else round(100.0 * (end["rss_mb"] - base["rss_mb"]) / base["rss_mb"], 2)
    )
    lat_first = _median([s["audio_to_mouth_ms_p95"] for s in head])
    lat_last = _median([s["audio_to_mouth_ms_p95"] for s in tail])
    int_first = _median([s["frame_interval_ms_p99"] for s in head])
    int_last = _median([s["frame_interval_ms_p99"] for s in tail])
    lat_rise, lat_ok = _rise(lat_first, lat_last)
    int_rise, int_ok = _rise(int_first, int_last)
    max_threads = max((s["os_threads"] or 0) for s in steady)
    checks = {
        "rss_growth_ok": rss_growth is not None and rss_growth < RSS_GROWTH_PCT,
        # a leak grows all along; pools filling lazily and one-off tasks do not
        "threads_steady_ok": (_median([s["os_threads"] for s in tail]) or 0)
        <= max((s["os_threads"] or 0) for s in head) + 1,
        "tasks_steady_ok": (_median([s["tasks"] for s in tail]) or 0)
        <= max((s["tasks"] or 0) for s in head),
        "tasks_after_hangup_ok": after.get("tasks") is not None
        and after["tasks"] <= (idle.get("tasks") or 0),
        "threads_after_hangup_ok": (after.get("os_threads") or 0) <= max_threads,
        "sessions_after_hangup_ok": after.get("sessions") == 0,
        "latency_steady_ok": lat_ok,
        "interval_steady_ok": int_ok,
        "both_sessions_live_ok": all(s["sessions"] == SESSIONS for s in samples),
    }
    return {
        "passed": all(checks.values()),
        **checks,
        "rss_start_mb": base["rss_mb"],
        "rss_end_mb": end["rss_mb"],
        "rss_growth_pct": rss_growth,
        "rss_growth_pct_target": RSS_GROWTH_PCT,
        "os_threads_start": base["os_threads"],
        "os_threads_end": end["os_threads"],
        "tasks_start": base["tasks"],
        "tasks_end": end["tasks"],
        "latency_p95_first_ms": lat_first,
        "latency_p95_last_ms": lat_last,
        "latency_p95_rise_ms": lat_rise,
        "latency_rise_ms_target": LATENCY_RISE_MS,
        "interval_p99_first_ms": int_first,
        "interval_p99_last_ms": int_last,
        "interval_p99_rise_ms": int_rise,
        "received_fps_min": min(s["received_fps_min"] for s in steady),
    }


async def soak(minutes: float, every_s: float) -> dict[str, Any]:
    """Run the soak; the samples and the verdict."""
    seconds = minutes * 60.0
    warmup_s = max(30.0, 0.2 * seconds)
    samples: list[dict[str, Any]] = []
    with serving.server(max_sessions=4) as srv:
        await serving.wait_healthy(srv)
        await asyncio.sleep(1.0)
        idle = await serving.server_stats(srv)
        callers = await serving.start_callers(srv.base, SESSIONS)
        t0 = time.monotonic()
        last = t0
        try:
            while time.monotonic() - t0 < seconds:
                await asyncio.sleep(min(every_s, max(0.5, seconds - (time.monotonic() - t0))))
                sample = await _sample(srv, callers, t0, last)
                last = t0 + sample["t_s"]
                samples.append(sample)
                print(f"  soak {sample}", file=sys.stderr, flush=True)
        finally:
            await serving.stop_callers(srv.base, callers)
        await asyncio.sleep(3.0)  # peers and sessions wind down
        after = await serving.server_stats(srv)
        if srv.proc.poll() is not None:
            raise RuntimeError(f"server died during the soak: {srv.log_tail()}")
    verdict = evaluate(samples, warmup_s, idle, after)
    return {
        **verdict,
        "minutes": minutes,
        "warmup_s": warmup_s,
        "sessions": SESSIONS,
        "idle": {k: idle.get(k) for k in ("tasks", "threads", "os_threads", "rss_mb")},
        "after_hangup": {
            k: after.get(k) for k in ("tasks", "threads", "os_threads", "rss_mb", "sessions")
        },
        "samples": samples,
    }


def run(
    quick: bool = False, minutes: float | None = None, every_s: float | None = None
) -> dict[str, Any]:
    """The soak as a benchmark area: 10 minutes (1 with ``quick``)."""
    if not serving.VOICE.exists():
        return {"skipped": f"voice not found: {serving.VOICE}"}
    minutes = minutes or (1.0 if quick else 10.0)
    return asyncio.run(soak(minutes, every_s or (5.0 if minutes <= 2 else 10.0)))


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.soak``: run, print the verdict, write JSON; exit 1 on fail."""
    from benchmarks import __main__ as bench

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (default 10)")
    parser.add_argument("--every", type=float, default=None, help="seconds between samples")
    parser.add_argument("--out", default=str(bench.RESULTS), help="results folder")
    args = parser.parse_args(argv)
    result = run(minutes=args.minutes, every_s=args.every)
    return bench.report_verdict("soak", result, args.out, args.minutes < 10, skip=("samples",))


if __name__ == "__main__":
    sys.exit(main())
