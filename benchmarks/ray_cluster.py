"""Sessions over a Ray cluster: placement per node and the front door's signalling cost.

A local Ray cluster (``ray.cluster_utils.Cluster``: a head with no session capacity and
two worker nodes of ``CAPACITY`` sessions each, all on this machine) and two real server
processes side by side: ``streamface serve`` (sessions in the process) and
``streamface serve --ray ADDRESS`` (each session a Ray actor on a worker node). Both use
the default engine at the given face size.

* ``signalling``: for alternate WHIP calls to each server (the shared voice, aiortc
  caller), the time from the POST to the SDP answer and to the first face frame received,
  and the server's first-speech-to-first-face time; the Ray numbers include placing the
  actor and loading the engine in its new process, which is what a new call pays. Then a
  WHEP viewer of that running session: POST to answer and to first frame, which over Ray
  is the forwarding alone (front door to the session's actor and back). Ray is measured
  twice: a front door with ``--ray-spares 0`` (each call places a new actor, which loads
  the engine) and one with a warm spare (the default: the call starts in an actor that
  loaded it beforehand).
* ``placement``: ``2 x CAPACITY`` callers one after another over Ray; the node of each
  session (from ``GET /sessions``), whether one more is refused (503), and the frame rate
  each caller received over a window while all of them ran.

Usage: ``python -m benchmarks.ray_cluster [--quick] [--size N]``; also
``python -m benchmarks --only ray_cluster``. Results: benchmarks/results/ray_cluster-cpu.*
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from benchmarks.serving import Caller, server, sessions, stop_callers, wait_healthy

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CAPACITY = 2
"""Sessions per worker node."""


@contextlib.contextmanager
def local_cluster(workers: int = 2) -> Iterator[Any]:
    """Head (no session capacity) and ``workers`` nodes of `CAPACITY` sessions each."""
    from ray.cluster_utils import Cluster

    # Session actors import this tree, as the servers do.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0, "resources": {"streamface_session": 0}, "include_dashboard": False,
        },
    )
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=1, resources={"streamface_session": CAPACITY})
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


async def _timed_call(base: str) -> tuple[Caller, dict[str, Any]]:
    """One WHIP call: POST to answer, POST to first frame (seconds)."""
    caller = Caller()
    t0 = time.monotonic()
    await caller.start(base)
    answered = time.monotonic() - t0
    for _ in range(12_000):  # 120 s at most
        if caller.arrivals:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("no face frame within 120 s")
    return caller, {
        "post_to_answer_s": round(answered, 3),
        "post_to_first_frame_s": round(caller.arrivals[0] - t0, 3),
    }


async def _timed_view(base: str, session_id: str) -> dict[str, Any]:
    """One WHEP viewer of a running session: POST to answer, POST to first frame."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    first = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def read() -> None:
            await track.recv()
            if not first.done():
                first.set_result(time.monotonic())

        reader.append(asyncio.ensure_future(read()))

    reader: list[asyncio.Future[None]] = []
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        t0 = time.monotonic()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{base}/whep/{session_id}", data=pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp"},
            ) as resp,
        ):
            if resp.status != 201:
                raise RuntimeError(f"WHEP {resp.status}: {await resp.text()}")
            answer = await resp.text()
            location = resp.headers["Location"]
        answered = time.monotonic() - t0
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        first_frame = await asyncio.wait_for(first, 30) - t0
        async with aiohttp.ClientSession() as http, http.delete(base + location):
            pass
        return {"post_to_answer_s": round(answered, 4), "post_to_first_frame_s": round(first_frame, 3)}
    finally:
        await pc.close()
        for task in reader:
            task.cancel()
        await asyncio.gather(*reader, return_exceptions=True)


async def _speech_to_face(base: str, session_id: str, within_s: float = 30.0) -> float | None:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        for s in await sessions(base):
            if s["id"] == session_id and s["timing"]["speech_to_face_s"] is not None:
                return float(s["timing"]["speech_to_face_s"])
        await asyncio.sleep(0.25)
    return None


MODES = ("local", "ray_cold", "ray_spare")
"""Local sessions; Ray with a new actor per call (``--ray-spares 0``); Ray with a spare."""
KEYS = (
    "post_to_answer_s", "post_to_first_frame_s", "speech_to_face_s",
    "whep_post_to_answer_s", "whep_post_to_first_frame_s",
)


async def _wait_spare(base: str, within_s: float = 90.0) -> None:
    """Wait until a Ray front door has a warm spare (``/sessions`` says how many)."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        async with aiohttp.ClientSession() as http, http.get(base + "/sessions") as resp:
            body = await resp.json()
        if body.get("cluster", {}).get("spares", 0) >= 1:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("no warm spare within 90 s")


async def _measure(base: str, mode: str) -> dict[str, Any]:
    if mode == "ray_spare":
        await _wait_spare(base)
    caller, timing = await _timed_call(base)
    assert caller.session_id is not None
    timing["speech_to_face_s"] = await _speech_to_face(base, caller.session_id)
    view = await _timed_view(base, caller.session_id)
    timing["whep_post_to_answer_s"] = view["post_to_answer_s"]
    timing["whep_post_to_first_frame_s"] = view["post_to_first_frame_s"]
    await stop_callers(base, [caller])
    await asyncio.sleep(3.0)  # let an ended actor give its slot back
    return timing


def _summary(out: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"rounds": out}
    for key in KEYS:
        for mode in MODES:
            values = [r[key] for r in out.get(mode, []) if r[key] is not None]
            summary[f"{mode}_{key}_p50"] = (
                round(float(np.median(values)), 4) if values else None
            )
        local_p50 = summary[f"local_{key}_p50"]
        for mode in MODES[1:]:
            p50 = summary[f"{mode}_{key}_p50"]
            if local_p50 is not None and p50 is not None:
                summary[f"{mode}_overhead_{key}_p50"] = round(p50 - local_p50, 4)
    return summary


async def _placement(base: str, workers: list[str], window_s: float) -> dict[str, Any]:
    callers: list[Caller] = []
    try:
        for _ in range(CAPACITY * len(workers)):
            caller, _timing = await _timed_call(base)
            callers.append(caller)
        listed = {s["id"]: s["node"] for s in await sessions(base)}
        per_node = {n: sum(1 for c in callers if listed.get(c.session_id or "") == n)
                    for n in workers}
        extra = Caller()
        try:
            await extra.start(base)
            refused = None
        except RuntimeError as exc:
            refused = str(exc)
        finally:
            await stop_callers(base, [extra])
        await asyncio.sleep(2.0)
        since = time.monotonic()
        await asyncio.sleep(window_s)
        windows = [c.window(since) for c in callers]
        return {
            "sessions_per_node": list(per_node.values()),
            "extra_session": refused or "accepted",
            "extra_refused_503": bool(refused and refused.startswith("WHIP 503")),
            "received_fps": [w["received_fps"] for w in windows],
            "interval_ms_p99": [w["interval_ms_p99"] for w in windows],
        }
    finally:
        await stop_callers(base, callers)


async def _run_async(quick: bool, size: int) -> dict[str, Any]:
    rounds = 1 if quick else 3
    out: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with local_cluster() as cluster:
        workers = [n.node_id for n in cluster.worker_nodes]
        size_args = ("--size", str(size))
        ray_args = (*size_args, "--ray", cluster.address)
        with server(extra=size_args) as local:
            # a cold front door alone: another door's spares would serve its calls
            with server(extra=(*ray_args, "--ray-spares", "0")) as cold:
                await asyncio.gather(wait_healthy(local), wait_healthy(cold))
                for _ in range(rounds):
                    out["local"].append(await _measure(local.base, "local"))
                    out["ray_cold"].append(await _measure(cold.base, "ray_cold"))
            with server(extra=ray_args) as warm:
                await wait_healthy(warm)
                for _ in range(rounds):
                    out["local"].append(await _measure(local.base, "local"))
                    out["ray_spare"].append(await _measure(warm.base, "ray_spare"))
                placement = await _placement(warm.base, workers, 5.0 if quick else 10.0)
    return {"size": size, "capacity_per_node": CAPACITY, "workers": len(workers),
            "signalling": _summary(out), "placement": placement}


def run(quick: bool = False, size: int = 128) -> dict[str, Any]:
    """Measure placement and signalling overhead on a local cluster (see module doc)."""
    return asyncio.run(_run_async(quick, size))


def _markdown(result: dict[str, Any], info: dict[str, Any]) -> str:
    sig, pl = result["signalling"], result["placement"]
    rows = [
        ("WHIP POST to SDP answer (s)", "post_to_answer_s"),
        ("WHIP POST to first face frame (s)", "post_to_first_frame_s"),
        ("first speech to first face (s)", "speech_to_face_s"),
        ("WHEP viewer: POST to SDP answer (s)", "whep_post_to_answer_s"),
        ("WHEP viewer: POST to first frame (s)", "whep_post_to_first_frame_s"),
    ]
    lines = [
        f"Measured {info['when']} on {info['cpu']} ({info['cpu_count']} cores, load average "
        f"{info['load']}), Ray {info['ray']}, face {result['size']} px, default engine; "
        f"local cluster: head (0 sessions) + {result['workers']} workers x "
        f"{result['capacity_per_node']} sessions, all on this machine.",
        "",
        "| measured (p50) | local | Ray, new actor | adds | Ray, warm spare | adds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, key in rows:
        lines.append(
            f"| {label} | {sig.get(f'local_{key}_p50')} | {sig.get(f'ray_cold_{key}_p50')} | "
            f"{sig.get(f'ray_cold_overhead_{key}_p50')} | {sig.get(f'ray_spare_{key}_p50')} | "
            f"{sig.get(f'ray_spare_overhead_{key}_p50')} |"
        )
    lines += [
        "",
        f"Sessions per worker node: {pl['sessions_per_node']}; one more: "
        f"{'refused (503)' if pl['extra_refused_503'] else pl['extra_session']}.",
        f"Received fps of those sessions' callers (all running at once on these 2 cores): "
        f"{pl['received_fps']}; frame interval p99 (ms): {pl['interval_ms_p99']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_cluster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round, short window")
    parser.add_argument("--size", type=int, default=128, help="face size in pixels (128)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    import ray

    from benchmarks.__main__ import machine_info

    result = run(args.quick, args.size)
    machine = machine_info()
    info = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": machine.get("cpu"),
        "cpu_count": machine.get("cpu_count"),
        "load": [round(v, 2) for v in os.getloadavg()],
        "ray": ray.__version__,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ray_cluster-cpu.json").write_text(
        json.dumps({"machine": machine, **info, "ray_cluster": result}, indent=2) + "\n"
    )
    text = _markdown(result, info)
    (args.out / "ray_cluster-cpu.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
