"""What the agent-framework adapters (`streamface.pipecat`, `streamface.livekit`) share.

Nothing here imports Pipecat or LiveKit; the core never imports the adapters.
"""
