"""Draw a benchmark report as one panel of bars per area (log scale), plus the load curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first


def plot_report(report: dict[str, Any], out: Path) -> Path:
    """Plot every positive numeric measurement of each area; return the PNG path."""
    areas = {
        name: {k: float(v) for k, v in res.items() if _is_number(v) and float(v) > 0 and k != "wall_s"}
        for name, res in report["areas"].items()
    }
    areas = {name: vals for name, vals in areas.items() if vals}
    if not areas:
        raise ImportError("nothing numeric to plot")
    rounds = report["areas"].get("load", {}).get("rounds") or []
    rows = sum(max(len(v), 1) for v in areas.values()) + (10 if rounds else 0)
    panels = len(areas) + (1 if rounds else 0)
    heights = [max(len(v), 1) for v in areas.values()] + ([10] if rounds else [])
    fig, axes = plt.subplots(
        panels, 1, figsize=(9, 1.2 + 0.28 * rows), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    if rounds:
        _plot_load(axes[-1, 0], rounds)
    for ax, (name, vals) in zip(axes[: len(areas), 0], areas.items(), strict=True):
        keys = list(vals)
        colours = ["#999999" if k.startswith("target") else "#3366aa" for k in keys]
        ax.barh(keys, [vals[k] for k in keys], color=colours)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_title(name, loc="left", fontsize=10)
        ax.tick_params(labelsize=7)
    machine = report["machine"]
    fig.suptitle(f"StreamFace benchmarks — {machine.get('cpu', '?')} ({report['date']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _plot_load(ax: Any, rounds: list[dict[str, Any]]) -> None:
    """Frame-interval p99 (server and client) and the slowest client's fps against N."""
    n = [r["clients"] for r in rounds]
    for key, label in (
        ("server_interval_ms_p99_worst", "interval p99, server (ms)"),
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
