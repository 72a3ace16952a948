"""One WHIP caller in its own process, for churn tests that end callers abruptly.

``python -m benchmarks.whip_caller BASE_URL [--voice WAV]`` calls ``BASE_URL/whip`` with
the voice (looped) as a real aiortc peer, receives the face, prints one line
``session <id>`` once the answer is applied, and runs until it gets SIGTERM or SIGINT
(then it hangs up with ``DELETE`` and exits 0) or SIGKILL (then it simply vanishes, as
a crashed phone or browser does). Exits 1 with the reason when the call is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from benchmarks import serving


async def _call(base: str, voice: Path) -> int:
    caller = serving.Caller()
    try:
        await caller.start(base, voice)
    except Exception as exc:  # noqa: BLE001 - the reason goes to the parent on stderr
        print(f"refused: {exc}", file=sys.stderr, flush=True)
        await caller.pc.close()
        return 1
    print(f"session {caller.session_id}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await caller.stop(base)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one call until told to hang up."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.whip_caller", description=__doc__)
    parser.add_argument("base", help="server base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--voice", type=Path, default=serving.VOICE, help="WAV file to send")
    args = parser.parse_args(argv)
    return asyncio.run(_call(args.base.rstrip("/"), args.voice))


if __name__ == "__main__":
    sys.exit(main())
