"""``python -m streamface.livekit start|dev``: the StreamFace LiveKit worker."""

from livekit.agents import cli

from streamface.livekit.worker import make_server

if __name__ == "__main__":
    cli.run_app(make_server())
