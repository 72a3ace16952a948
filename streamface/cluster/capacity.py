"""A node's session capacity, from its measured load benchmark, as a ``ray start`` flag.

Each node advertises how many live sessions it can hold as the custom Ray resource
``streamface_session``. Measure the node as it will run them, each session in a process of
its own (``python -m benchmarks.load --ray --callers-nice 10`` on it, or on a machine of
the same type), then::

    python -m streamface.cluster.capacity benchmarks/results/load-ray-callers-nice10-cpu.json
    # --resources='{"streamface_session": 5}'
    ray start --address HEAD:6379 --resources='{"streamface_session": 5}'

The capacity is the benchmark's knee: the most sessions the node kept at 30 fps with a
frame interval p99 of 50 ms or less (``knee_sessions``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from streamface.cluster import RESOURCE


def measured_capacity(result: dict[str, Any]) -> int:
    """Sessions a node holds, from a ``python -m benchmarks`` result (its ``load`` area) or a
    ``python -m benchmarks.load`` one (its single ``load-...`` area, e.g. ``load-ray``:
    sessions in processes of their own, as a cluster node runs them).

    Raises:
        ValueError: the result has no load measurement.
    """
    areas = result.get("areas", result)
    load = areas.get("load") if isinstance(areas, dict) else None
    if load is None and isinstance(areas, dict):
        ramps = [v for k, v in areas.items() if k.startswith("load-")]
        load = ramps[0] if len(ramps) == 1 else None
    if not isinstance(load, dict) or not isinstance(load.get("knee_sessions"), int):
        raise ValueError("no load measurement (knee_sessions) in this result: "
                         "run 'python -m benchmarks --only load' on the node")
    return max(0, int(load["knee_sessions"]))


def resources_flag(capacity: int) -> str:
    """The ``ray start`` option that advertises ``capacity`` sessions."""
    return "--resources=" + json.dumps({RESOURCE: capacity})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streamface.cluster.capacity",
        description="Print the 'ray start' option advertising a node's measured session "
        "capacity (the load benchmark's knee).",
    )
    parser.add_argument("result", type=Path, help="a 'python -m benchmarks' result JSON")
    args = parser.parse_args(argv)
    try:
        capacity = measured_capacity(json.loads(args.result.read_text()))
    except json.JSONDecodeError as exc:
        print(f"capacity: {args.result} is not a benchmark result (JSON): {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"capacity: {exc}", file=sys.stderr)
        return 2
    print(resources_flag(capacity))
    return 0


if __name__ == "__main__":
    sys.exit(main())
