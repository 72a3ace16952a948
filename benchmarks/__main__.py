"""Run every benchmark, print a table, write JSON and a plot to benchmarks/results/.

Usage: ``python -m benchmarks [--quick] [--only NAME ...] [--out DIR]``.

Each area is a module here with ``run(quick: bool = False) -> dict``; keys carry units
(``*_ms``, ``*_fps``, ``*_x``) and targets are reported beside what was measured.
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

AREAS: tuple[str, ...] = ("ingest", "profile", "render", "face_quality", "talk", "live")
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
    parser.add_argument("--only", nargs="*", choices=AREAS, help="areas to run (default: all)")
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
    path = args.out / f"{tag}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    try:
        from benchmarks.plot import plot_report

        png = plot_report(report, path.with_suffix(".png"))
        print(f"wrote {png}", file=sys.stderr)
    except ImportError as exc:
        print(f"no plot ({exc}); pip install matplotlib", file=sys.stderr)
    return 0


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
