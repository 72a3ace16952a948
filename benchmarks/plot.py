"""Draw a benchmark report as one panel of bars per area (log scale)."""

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
    rows = sum(max(len(v), 1) for v in areas.values())
    fig, axes = plt.subplots(len(areas), 1, figsize=(9, 1.2 + 0.28 * rows), squeeze=False)
    for ax, (name, vals) in zip(axes[:, 0], areas.items(), strict=True):
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
