"""`streamface serve`: the live server (WHIP in, face back, WHEP viewers, web client)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    """Declare ``streamface serve``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="live server: a caller speaks over WebRTC and gets a labelled synthetic face back",
        description=(
            "Serve the web client, WHIP ingest (POST /whip), WHEP viewers (POST /whep/{id}) "
            "and the live session list (GET /sessions). Loopback by default; any other "
            "address needs a token, which clients send as 'Authorization: Bearer <token>'. "
            "Sessions start only with the speaker's consent (?consent=true)."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080)")
    p.add_argument(
        "--engine",
        default="auto",
        help="generator engine: auto, onnxruntime, torch or tensorrt (default: auto)",
    )
    p.add_argument(
        "--token",
        default=None,
        help="bearer token required on API requests (default: $STREAMFACE_TOKEN); "
        "needed to bind a non-loopback address",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow cross-origin requests from ORIGIN (scheme://host:port); repeatable",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="also answer requests whose Host header is HOST (a name or address; "
        "repeatable). By default only loopback names and the bound address are "
        "answered (DNS-rebinding protection); other Hosts get 421",
    )
    p.add_argument(
        "--size",
        default=None,
        metavar="N|WxH",
        help="face video size: N for square or WIDTHxHEIGHT up to 2:1 for a wide call tile, "
        "e.g. 640x360 (default: 256, light enough for several live sessions on a small CPU)",
    )
    p.add_argument(
        "--max-sessions", type=int, default=16, help="live sessions at most (default: 16)"
    )
    p.add_argument(
        "--batch",
        choices=("auto", "on", "off"),
        default="auto",
        help="render all sessions' frames of a tick with one engine call: on, off, or auto "
        "(on for GPU engines, which get their throughput from large batches; off on the "
        "CPU, where it measured slower per frame) (default: auto)",
    )
    p.add_argument(
        "--batch-window-ms",
        type=float,
        default=4.0,
        metavar="MS",
        help="with batching: how long a tick's batch waits for a late session before it "
        "renders without it (default: 4)",
    )
    p.add_argument(
        "--audiohook-key",
        default=None,
        metavar="KEY",
        help="API key that Genesys Cloud AudioHook clients send as X-API-KEY on GET /audiohook "
        "(default: $STREAMFACE_AUDIOHOOK_KEY)",
    )
    p.add_argument(
        "--audiohook-secret",
        default=None,
        metavar="SECRET",
        help="the AudioHook integration's client secret (base64); when set, the request's "
        "HTTP message signature must verify (default: $STREAMFACE_AUDIOHOOK_SECRET)",
    )
    from streamface.cli.render import add_look_argument

    add_look_argument(p)
    p.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run each session as a Ray actor on a cluster node with free "
        "'streamface_session' capacity (ADDRESS: auto, host:port or ray://host:port; "
        "'local' starts a one-machine cluster here with --max-sessions slots, so sessions "
        "use every core); this process is then only the front door (see docs/DEPLOY_RAY.md)",
    )
    p.add_argument(
        "--ray-spares",
        type=int,
        default=1,
        metavar="N",
        help="with --ray: keep N warm session actors (engine loaded) in free slots so a "
        "new call starts at once (default: 1; 0 for none)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the server and serve until interrupted; sessions are closed on the way out."""
    from streamface.errors import StreamFaceError
    from streamface.server.app import LIVE_SIZE, create_app, default_session_factory
    from streamface.server.audiohook import AudioHookConfig
    from streamface.server.auth import ServerConfig

    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        allow_origins=tuple(args.allow_origin),
        allow_hosts=tuple(args.allow_host),
        max_sessions=args.max_sessions,
    ).with_env_token()
    audiohook_config = AudioHookConfig(args.audiohook_key, args.audiohook_secret).with_env()
    if not 0.0 <= args.batch_window_ms <= 30.0:
        raise StreamFaceError(f"--batch-window-ms must be between 0 and 30, got {args.batch_window_ms:g}")
    config.validate()  # refuse an unsafe bind before loading anything heavy
    audiohook_config.validate()
    from streamface.face.framing import parse_frame_size

    size = parse_frame_size(args.size) if args.size is not None else LIVE_SIZE
    if args.ray:
        if args.batch == "on":
            raise StreamFaceError(
                "--batch on batches one server's sessions; with --ray each session runs in "
                "a process of its own, with its own engine"
            )
        from streamface.cluster.front import create_ray_app

        ray_app = create_ray_app(
            config, args.ray, engine=args.engine, size=size,
            spares=max(0, args.ray_spares), look=args.look,
        )
        from streamface.cluster import LOCAL

        where = (
            f"\n  sessions: a process each, in a one-machine Ray cluster of {config.max_sessions} slots"
            if args.ray == LOCAL else f"\n  sessions: Ray actors on the cluster at {args.ray}"
        )
        _serve(ray_app, config, where)
        return 0
    try:
        import torch

        torch.set_num_threads(1)  # sessions run in parallel; one core per analysis is enough
    except ImportError:
        pass
    from streamface.offline import one_core

    # OpenBLAS too: its pool would wake a second thread for an analysis's larger products,
    # and that thread spins after each one, a core another session's frames need.
    one_core()
    app = create_app(
        config,
        default_session_factory(
            args.engine, size, args.look, batch=args.batch, batch_window_ms=args.batch_window_ms
        ),
        audiohook_config,
    )
    _serve(app, config)
    return 0


def _serve(app: Any, config: Any, where: str = "") -> None:
    """Run ``app`` until interrupted; ``where`` says where sessions run (for the banner)."""
    import errno

    from aiohttp import web

    from streamface.errors import StreamFaceError

    shown = f"[{config.host}]" if ":" in config.host else config.host

    def listening(_: str) -> None:  # aiohttp calls this once the socket is bound
        print(f"streamface serve: http://{shown}:{config.port}/  (Ctrl+C to stop){where}", flush=True)

    try:
        web.run_app(app, host=config.host, port=config.port, print=listening, access_log=None)
    except OSError as exc:
        reasons = {
            errno.EADDRINUSE: "is already in use (another streamface serve?); pick another with --port",
            errno.EACCES: "needs more privileges (ports below 1024); pick another with --port",
            errno.EADDRNOTAVAIL: "is not an address of this machine; check --host",
        }
        if exc.errno not in reasons:
            raise
        raise StreamFaceError(f"cannot listen on {shown}:{config.port}: the address {reasons[exc.errno]}") from exc
