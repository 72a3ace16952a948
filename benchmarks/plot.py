"""Draw a benchmark report: targets met or missed, render speed per engine, the load curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

OK, MISSED = "#3a8f4b", "#c0392b"


def plot_report(report: dict[str, Any], out: Path) -> Path:
    """Plot the headline numbers of ``report`` into a PNG at ``out``; return the path.

    Raises:
        ImportError: the report holds nothing to plot (kept as ImportError so callers
            treat it like a missing matplotlib: no plot, the JSON still stands).
    """
    from benchmarks.__main__ import SUMMARY, summary_rows

    senses = {label: sense for label, _area, _key, _target, sense in SUMMARY}
    targets = [
        (label, float(value), float(target), verdict, senses.get(label, "max"))
        for label, value, target, verdict in summary_rows(report)
        if verdict and _is_number(value) and _is_number(target) and float(target) > 0
    ]
    runs = report["areas"].get("render", {}).get("runs") or []
    rounds = report["areas"].get("load", {}).get("rounds") or []
    panels = [p for p, present in (("targets", targets), ("render", runs), ("load", rounds)) if present]
    if not panels:
        raise ImportError("nothing to plot")
    heights = {"targets": 0.4 * len(targets) + 1, "render": 0.25 * len(runs) + 1, "load": 3.2}
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(9, sum(heights[p] for p in panels) + 0.8), squeeze=False,
        gridspec_kw={"height_ratios": [heights[p] for p in panels]},
    )
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        if panel == "targets":
            _plot_targets(ax, targets)
        elif panel == "render":
            _plot_render(ax, runs)
        else:
            _plot_load(ax, rounds)
    machine = report["machine"]
    where = machine.get("gpu") or f"{machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores"
    fig.suptitle(f"StreamFace benchmarks: {where} ({report['date']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _plot_targets(ax: Any, rows: list[tuple[str, float, float, str, str]]) -> None:
    """Each target as measured / target: at most 1 is good for limits, at least 1 for floors."""
    labels = [f"{label}: {value:.4g} (target {target:g})" for label, value, target, _v, _s in rows]
    ratios = [value / target for _l, value, target, _v, _s in rows]
    colours = [OK if verdict == "ok" else MISSED for _l, _v, _t, verdict, _s in rows]
    ax.barh(labels, ratios, color=colours)
    ax.axvline(1.0, color="#333333", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("measured / target (green: met; limits must stay below 1, floors above)", fontsize=8)
    ax.set_title("targets", loc="left", fontsize=10)
    ax.tick_params(labelsize=7)


def _plot_render(ax: Any, runs: list[dict[str, Any]]) -> None:
    """Frames per second of every engine, path (full frame / animate) and batch size."""
    labels = [f"{r['engine']} {r['path']} batch {r['batch']}" for r in runs]
    ax.barh(labels, [float(r["fps"]) for r in runs], color="#3366aa")
    ax.axvline(30.0, color="#999999", lw=0.8, ls=":")
    ax.invert_yaxis()
    ax.set_xlabel("frames per second at 512x512 (dotted: 30 fps)", fontsize=8)
    ax.set_title("render", loc="left", fontsize=10)
    ax.tick_params(labelsize=7)


def _plot_load(ax: Any, rounds: list[dict[str, Any]]) -> None:
    """Frame-interval p99 (server and client) and the slowest client's fps against N."""
    n = [r["clients"] for r in rounds]
    for key, label in (
        ("server_interval_ms_p99_worst", "interval p99, in the agent (ms)"),
        ("client_interval_ms_p99_worst", "interval p99, received (ms)"),
    ):
        ax.plot(n, [r[key] if r[key] is not None else float("nan") for r in rounds], "o-", label=label)
    ax.plot(n, [r["client_fps_min"] for r in rounds], "s--", label="slowest client (fps)")
    ax.axhline(50.0, color="#999999", lw=0.8, ls=":")
    ax.axhline(30.0, color="#999999", lw=0.8, ls=":")
    ax.set_xlabel("concurrent WebRTC sessions", fontsize=8)
    ax.set_xticks(n)
    ax.set_title("load (dotted: 50 ms p99 and 30 fps)", loc="left", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=7)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
