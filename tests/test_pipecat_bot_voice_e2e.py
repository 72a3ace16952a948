"""End to end: a face for the agent's own voice (``voice="bot"``) over SmallWebRTCTransport.

The pipeline is ``transport.input() -> StreamFaceProcessor(voice="bot") -> transport.output()``
with audio out enabled; a stand-in for a TTS service queues 3 s of a shared test voice as
`TTSAudioRawFrame`s all at once (as TTS services deliver faster than real time). A real
aiortc peer on loopback receives the agent's audio and the face. The face must follow the
audio as it plays (fed over ~3 s, not at once), reach a face from the bot's voice, and keep
the frame rate.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from scipy.signal import resample_poly

pytest.importorskip("pipecat")

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from conftest import SHARED_VOICES  # noqa: E402
from pipecat.frames.frames import TTSAudioRawFrame  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineWorker  # noqa: E402
from pipecat.transports.base_transport import TransportParams  # noqa: E402
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection  # noqa: E402
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from streamface.audio.decode import decode_file  # noqa: E402
from streamface.pipecat import StreamFaceProcessor  # noqa: E402

VOICE = SHARED_VOICES / "flite_male_awb.wav"
SIZE = 256
TTS_RATE = 24000


def tts_frames(seconds: float) -> list[TTSAudioRawFrame]:
    speech = decode_file(VOICE, max_seconds=seconds)
    up = resample_poly(speech, 3, 2)  # 16 -> 24 kHz
    pcm = (np.clip(up, -1, 1) * 32767).astype(np.int16)
    n = TTS_RATE // 25  # 40 ms chunks
    return [
        TTSAudioRawFrame(audio=pcm[i : i + n].tobytes(), sample_rate=TTS_RATE, num_channels=1)
        for i in range(0, len(pcm) - n + 1, n)
    ]


async def collect(track: MediaStreamTrack, until: float, out: list[tuple[float, object]]) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        try:
            frame = await asyncio.wait_for(track.recv(), 2.0)
        except (MediaStreamError, TimeoutError):
            return
        out.append((loop.time(), frame))


@pytest.mark.slow
async def test_bot_voice_gets_a_face_over_small_webrtc() -> None:
    if not VOICE.exists():
        pytest.skip(f"shared voice not found: {VOICE}")
    face = StreamFaceProcessor(size=(SIZE, SIZE), fps=30, voice="bot", consent=True)
    await face.ready()
    connection = SmallWebRTCConnection()
    client = RTCPeerConnection()
    tracks: dict[str, asyncio.Future[MediaStreamTrack]] = {
        "audio": asyncio.get_running_loop().create_future(),
        "video": asyncio.get_running_loop().create_future(),
    }
    client.on("track", lambda t: tracks[t.kind].set_result(t) if not tracks[t.kind].done() else None)
    client.addTransceiver("audio", direction="sendrecv")
    client.addTransceiver("video", direction="sendrecv")
    await client.setLocalDescription(await client.createOffer())
    await connection.initialize(sdp=client.localDescription.sdp, type="offer")
    answer = connection.get_answer()
    await client.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    transport = SmallWebRTCTransport(
        connection,
        TransportParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            video_out_enabled=True,
            video_out_is_live=True,
            video_out_width=SIZE,
            video_out_height=SIZE,
            video_out_framerate=30,
        ),
    )
    worker = PipelineWorker(Pipeline([transport.input(), face, transport.output()]))
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.ensure_future(runner.run())
    try:
        video = await asyncio.wait_for(tracks["video"], 10.0)
        audio = await asyncio.wait_for(tracks["audio"], 10.0)
        loop = asyncio.get_running_loop()
        until = loop.time() + 7.0
        videos: list[tuple[float, object]] = []
        audios: list[tuple[float, object]] = []
        readers = [
            asyncio.ensure_future(collect(video, until, videos)),
            asyncio.ensure_future(collect(audio, until, audios)),
        ]
        await asyncio.sleep(1.0)
        burst = tts_frames(3.0)
        queued_at = time.perf_counter()
        await worker.queue_frames(burst)  # the whole utterance at once
        await asyncio.gather(*readers)
        assert face.clock is not None
        stats = face.clock.stats
        session = face.clock.session
        # the face got the agent's audio as it played: over ~3 s, not when it was queued
        assert stats.audio_frames == len(burst)
        assert stats.first_speech is not None and stats.first_speech - queued_at < 0.5
        assert session.stage != "listening"  # a face from the bot's voice
        assert stats.first_face is not None and stats.first_face - queued_at >= 1.0  # >= 1 s heard
        window = np.array([t for t, _ in videos[30:]])
        fps = (len(window) - 1) / (window[-1] - window[0])
        assert fps >= 25.0, fps
        # the caller heard the agent: about 3 s of loud audio
        loud = [
            t for t, f in audios
            if float(np.sqrt(np.mean(np.square(f.to_ndarray().astype(np.float64) / 32768)))) > 0.01  # type: ignore[attr-defined]
        ]
        assert loud and 2.0 <= loud[-1] - loud[0] <= 4.0, (loud[:1], loud[-1:])
        print(f"pipecat bot voice e2e: {fps:.1f} fps, {stats.summary()}")
    finally:
        await worker.cancel()
        await asyncio.wait_for(running, 10.0)
        await connection.disconnect()
        await client.close()
