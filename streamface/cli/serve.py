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
        type=int,
        default=None,
        help="face video width and height in pixels (default: 256, light enough for "
        "several live sessions on a small CPU)",
    )
    p.add_argument(
        "--max-sessions", type=int, default=16, help="live sessions at most (default: 16)"
    )


def run(args: argparse.Namespace) -> int:
    """Start the server and serve until interrupted; sessions are closed on the way out."""
    from aiohttp import web

    from streamface.server.app import LIVE_SIZE, create_app, default_session_factory
    from streamface.server.auth import ServerConfig

    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        allow_origins=tuple(args.allow_origin),
        allow_hosts=tuple(args.allow_host),
        max_sessions=args.max_sessions,
    ).with_env_token()
    config.validate()  # refuse an unsafe bind before loading anything heavy
    try:
        import torch

        torch.set_num_threads(1)  # sessions run in parallel; one core per analysis is enough
    except ImportError:
        pass
    app = create_app(config, default_session_factory(args.engine, args.size or LIVE_SIZE))
    shown = f"[{config.host}]" if ":" in config.host else config.host
    print(f"streamface serve: http://{shown}:{config.port}/  (Ctrl+C to stop)", flush=True)
    web.run_app(app, host=config.host, port=config.port, print=None, access_log=None)
    return 0
