"""A LiveKit voice agent whose own (TTS) voice has a labelled synthetic face.

`StreamFaceAvatar` takes over the agent session's audio output and publishes the face
(video) with the voice (audio) from the agent's participant, paced together. Add your
agent's models to the `AgentSession` (``stt=``, ``llm=``, ``tts=``); run with
``python clients/livekit/avatar_agent.py dev`` and ``LIVEKIT_URL``, ``LIVEKIT_API_KEY``,
``LIVEKIT_API_SECRET`` set (``pip install 'streamface[livekit]'``).
"""

from __future__ import annotations

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli

# --8<-- [start:readme]
from streamface.livekit import StreamFaceAvatar


async def start_with_face(
    ctx: JobContext, session: AgentSession, agent: Agent, size: int = 256
) -> StreamFaceAvatar:
    """Start the agent with a face for its voice (the avatar starts first)."""
    avatar = StreamFaceAvatar(size=(size, size), fps=30)
    await avatar.start(session, room=ctx.room)
    await session.start(agent=agent, room=ctx.room)
    return avatar
# --8<-- [end:readme]


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session: AgentSession = AgentSession()  # add stt=, llm=, tts= for a talking agent
    await start_with_face(ctx, session, Agent(instructions="You are a helpful voice assistant."))


if __name__ == "__main__":
    cli.run_app(server)
