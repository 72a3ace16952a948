"""`StreamFaceAvatar`: a labelled synthetic face for a LiveKit agent's own TTS voice.

LiveKit's avatar pattern, in-process: ``start`` routes the ``AgentSession``'s audio output
into a ``QueueAudioOutput`` and runs an ``AvatarRunner`` that reads it into a
`StreamFaceVideoGenerator` and publishes the face (video) and the voice (audio), paced
together by an ``AVSynchronizer``, from the agent's own participant. Interruptions reach
the generator through the runner's ``clear_buffer``. Each avatar counts as one session
in the worker's reported load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from livekit import rtc
from livekit.agents.voice.avatar import AvatarOptions, AvatarRunner, AvatarSession, QueueAudioOutput

from streamface.adapters.face_clock import FaceClock
from streamface.adapters.sessions import SessionFactory, shared_session_factory
from streamface.face.identity import require_look
from streamface.livekit.generator import StreamFaceVideoGenerator
from streamface.livekit.load import FACE_LOAD, FaceLoad

if TYPE_CHECKING:
    from livekit.agents import AgentSession

log = logging.getLogger(__name__)


class StreamFaceAvatar(AvatarSession[Any]):
    """Gives an agent's TTS voice a face, published by the agent itself.

    Call `start` before ``AgentSession.start`` (it takes over the session's audio output)::

        avatar = StreamFaceAvatar(size=(512, 512))
        await avatar.start(session, room=ctx.room)
        await session.start(agent=MyAgent(), room=ctx.room)

    Args:
        size: (width, height) of the published video; the square face is centred on it.
        fps: Video frames per second.
        sample_rate: Rate of the published audio.
        engine: Generator engine ("auto", "onnxruntime", "torch", "tensorrt").
        face_size: Side of the rendered face in pixels; default ``min(size)``.
        session_factory: Makes the `Session` (tests, or a custom engine).
        load: The load counter this avatar counts in (default: the process's).
        look: A look to keep (1 .. 2147483647): the seed alone chooses skin, hair, face
            shape and clothes, the same face in every call (the agent's brand face); 0, the
            default, draws them from the voice.

    Raises:
        ValueError: a bad ``look``.
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] = (512, 512),
        fps: float = 30.0,
        sample_rate: int = 24000,
        engine: str = "auto",
        face_size: int | None = None,
        session_factory: SessionFactory | None = None,
        load: FaceLoad = FACE_LOAD,
        look: int = 0,
    ) -> None:
        super().__init__()
        self.look = require_look(look)
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        face = int(face_size) if face_size else min(self.size)
        self.face_size = face - face % 2
        self._engine = engine
        self._factory = session_factory
        self._load = load
        self._counted: contextlib.ExitStack | None = None
        self.audio_output: QueueAudioOutput | None = None
        self.generator: StreamFaceVideoGenerator | None = None
        self.runner: AvatarRunner | None = None
        self._identity = ""

    @property
    def avatar_identity(self) -> str:
        """The agent's own identity: the face is published by the agent's participant."""
        return self._identity

    @property
    def provider(self) -> str:
        return "streamface"

    async def start(self, agent_session: AgentSession, room: rtc.Room) -> None:
        """Take over the session's audio output and start publishing the face.

        Raises:
            StreamFaceError: the engine cannot load here.
        """
        loop = asyncio.get_running_loop()
        factory = self._factory
        if factory is None:
            factory = await loop.run_in_executor(None, shared_session_factory, self._engine, self.face_size)
        session = await loop.run_in_executor(None, factory)
        if self.look:
            session.set_look(self.look)  # before the first face: only records the seed
        clock = FaceClock(session, fps=self.fps, size=self.size)
        self.generator = StreamFaceVideoGenerator(clock, fps=self.fps, sample_rate=self.sample_rate)
        self.audio_output = QueueAudioOutput(sample_rate=self.sample_rate)
        agent_session.output.audio = self.audio_output
        with contextlib.suppress(Exception):
            self._identity = room.local_participant.identity
        self.runner = AvatarRunner(
            room,
            audio_recv=self.audio_output,
            video_gen=self.generator,
            options=AvatarOptions(
                video_width=self.size[0],
                video_height=self.size[1],
                video_fps=self.fps,
                audio_sample_rate=self.sample_rate,
                audio_channels=1,
            ),
        )
        self._counted = contextlib.ExitStack()
        self._counted.enter_context(self._load.session())
        await self.runner.start()
        await super().start(agent_session, room)

    async def aclose(self) -> None:
        """Stop the runner and zero the face session's buffers (the agent stays in the room)."""
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.aclose()
        if self.generator is not None:
            await self.generator.clock.close()
        if self._counted is not None:
            self._counted.close()
            self._counted = None
        # AvatarSession.aclose would remove the avatar's participant: here, the agent itself.
        room, self._room = self._room, None
        if room is not None:
            with contextlib.suppress(Exception):
                room.off("connection_state_changed", self._on_connection_state_changed)
        await super().aclose()
