"""The benchmark verdicts: soak pass/fail, RSS per added session, the summary table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ is no package dep

from benchmarks.__main__ import format_summary, summary_rows  # noqa: E402
from benchmarks.load import _actors_cpu_s, _window, rss_per_session  # noqa: E402
from benchmarks.soak import evaluate  # noqa: E402


def _samples(
    rss: list[float], tasks: list[int], threads: list[int], p95: list[float]
) -> list[dict[str, Any]]:
    return [
        {
            "t_s": 10.0 * (i + 1),
            "rss_mb": r,
            "tasks": t,
            "os_threads": th,
            "sessions": 2,
            "audio_to_mouth_ms_p95": p,
            "frame_interval_ms_p99": 40.0,
            "received_fps_min": 30.0,
        }
        for i, (r, t, th, p) in enumerate(zip(rss, tasks, threads, p95, strict=True))
    ]


IDLE = {"tasks": 3, "os_threads": 1}
AFTER = {"tasks": 3, "os_threads": 6, "sessions": 0}


def test_steady_soak_passes() -> None:
    s = _samples([500, 560, 561, 561, 562, 562, 563], [21] * 7, [12] * 6 + [13], [40] * 7)
    verdict = evaluate(s, warmup_s=15.0, idle=IDLE, after=AFTER)
    assert verdict["passed"], verdict
    assert verdict["rss_growth_pct"] < 1


def test_soak_catches_growth_leaks_and_rising_latency() -> None:
    grow = _samples([500, 560, 580, 600, 620, 640, 660], [21] * 7, [12] * 7, [40] * 7)
    assert not evaluate(grow, 15.0, IDLE, AFTER)["rss_growth_ok"]
    leak = _samples([560] * 7, [21, 21, 23, 25, 27, 29, 31], [12] * 7, [40] * 7)
    assert not evaluate(leak, 15.0, IDLE, AFTER)["tasks_steady_ok"]
    threads = _samples([560] * 7, [21] * 7, [12, 12, 14, 16, 18, 20, 22], [40] * 7)
    assert not evaluate(threads, 15.0, IDLE, AFTER)["threads_steady_ok"]
    slow = _samples([560] * 7, [21] * 7, [12] * 7, [40, 40, 40, 50, 60, 70, 80])
    assert not evaluate(slow, 15.0, IDLE, AFTER)["latency_steady_ok"]
    steady = _samples([560] * 7, [21] * 7, [12] * 7, [40] * 7)
    left = evaluate(steady, 15.0, IDLE, {"tasks": 9, "os_threads": 6, "sessions": 0})
    assert not left["tasks_after_hangup_ok"] and not left["passed"]


def test_rss_per_added_session_is_the_slope() -> None:
    rounds = [{"clients": n, "agent_rss_mb": 400.0 + 40.0 * n} for n in (1, 2, 3)]
    assert rss_per_session(rounds, idle_mb=380.0) == 40.0
    assert rss_per_session(rounds[:1], idle_mb=400.0) == 40.0  # one round: against idle
    assert rss_per_session([], idle_mb=400.0) is None


def test_a_load_window_takes_what_a_session_added_since_its_mark() -> None:
    mark = {"frames_handed": 10, "audio_drawn": 4, "frames_resent": 1, "frames_late": 0}
    now = {
        "frames_handed": 13, "audio_drawn": 6, "frames_resent": 2, "frames_late": 1,
        "frame_interval_ms": [33.0, 34.0, 80.0, 33.0, 33.5], "audio_to_frame_ms": [9.0, 20.0, 21.0],
    }
    got = _window(mark, now)
    assert got["intervals"] == [80.0, 33.0, 33.5] and got["latency"] == [20.0, 21.0]
    assert (got["handed"], got["resent"], got["late"]) == (3, 1, 1)
    assert _window({}, {**now, "frames_handed": 0})["intervals"] == []  # nothing handed yet


def test_session_processes_cpu_counts_only_processes_seen_at_both_ends() -> None:
    before = {"a": {"pid": 1, "process_cpu_s": 5.0}, "b": {"pid": 2, "process_cpu_s": 1.0}}
    after = {
        "a": {"pid": 1, "process_cpu_s": 7.5},
        "b": {"pid": 3, "process_cpu_s": 0.5},  # another process: its CPU is not comparable
    }
    assert _actors_cpu_s(before, after) == 2.5
    assert _actors_cpu_s({"a": {"frames_handed": 1}}, {"a": {"frames_handed": 2}}) is None


def test_summary_rows_give_verdicts_against_targets() -> None:
    report = {
        "areas": {
            "live": {
                "audio_to_mouth_ms_p50": 30.0,
                "audio_to_mouth_ms_p95": 70.0,
                "audio_to_mouth_ms_p95_target": 60.0,
            },
            "load": {"knee_sessions": 5, "max_sessions_30fps_target": 4},
            "render": {
                "onnxruntime_1t_full_b1_ms_per_frame": 30.0,
                "target_onnxruntime_1t_full_ms": 40.0,
                "onnxruntime_1t_animate_b1_ms_per_frame": 5.0,
                "target_onnxruntime_1t_animate_ms": 8.0,
                "runs": [{"engine": "onnxruntime_1t", "path": "full", "batch": 4, "fps": 40.0}],
            },
        }
    }
    rows = {label: (value, verdict) for label, value, _, verdict in summary_rows(report)}
    assert rows["audio to mouth p95 (ms)"] == (70.0, "MISSED")
    assert rows["audio to mouth p50 (ms)"] == (30.0, "")
    assert rows["sessions at 30 fps, p99 <= 50 ms (knee)"] == (5, "ok")
    assert rows["render onnxruntime_1t full b4 (fps)"] == (40.0, "")
    assert "MISSED" in format_summary(summary_rows(report))


def test_churn_verdict_compares_the_final_quiet_point_with_the_first() -> None:
    from benchmarks.churn import evaluate as churn_evaluate

    first = {"os_threads": 10, "rss_mb": 560.0, "tasks": 3, "sessions": 0}
    good = churn_evaluate(first, {"os_threads": 12, "rss_mb": 585.0, "tasks": 3, "sessions": 0})
    assert good["passed"] and good["rss_change_pct"] == 4.46
    leaky = churn_evaluate(first, {"os_threads": 40, "rss_mb": 600.0, "tasks": 9, "sessions": 1})
    assert not leaky["passed"]
    assert not any(leaky[k] for k in ("threads_ok", "rss_ok", "tasks_ok", "sessions_ok"))


def test_whole_command_rows_judge_the_render_targets() -> None:
    report = {"areas": {"command": {
        "render_8s_x_realtime": 1.6, "render_30s_x_realtime": 2.4, "portrait_8s_wall_s": 2.1,
        "target_render_8s_x": 1.0, "target_render_30s_x": 3.0,
    }}}
    rows = {label: (value, target, verdict) for label, value, target, verdict in summary_rows(report)}
    assert rows["`streamface render`, whole command, 8 s clip (x realtime)"] == (1.6, 1.0, "ok")
    assert rows["`streamface render`, whole command, 30 s clip (x realtime)"] == (2.4, 3.0, "MISSED")
    assert rows["`streamface portrait`, whole command, 8 s clip (s)"][0] == 2.1


def test_callers_niced_only_inside_the_ramp_and_in_threads_they_start() -> None:
    """``--callers-nice``: the callers' thread (and threads it starts) yield to the agent."""
    import os
    import threading

    from benchmarks.load import _niced

    seen: dict[str, int] = {}

    def callers() -> None:  # its own thread: a nice value is per thread on Linux
        seen["before"] = os.getpriority(os.PRIO_PROCESS, 0)
        with _niced(3):
            seen["inside"] = os.getpriority(os.PRIO_PROCESS, 0)
            child = threading.Thread(target=lambda: seen.setdefault("child", os.getpriority(os.PRIO_PROCESS, 0)))
            child.start()
            child.join()
        seen["after"] = os.getpriority(os.PRIO_PROCESS, 0)

    main = os.getpriority(os.PRIO_PROCESS, 0)
    if main > 16:
        pytest.skip("already niced this far: nothing to lower")
    worker = threading.Thread(target=callers)
    worker.start()
    worker.join()
    assert seen["inside"] == seen["child"] == seen["before"] + 3
    if os.geteuid() == 0:  # going back needs the privilege
        assert seen["after"] == seen["before"]
    assert os.getpriority(os.PRIO_PROCESS, 0) == main  # this thread untouched
