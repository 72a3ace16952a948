"""The face's VP8 encoder: its settings, its pictures, and a real aiortc peer decoding them."""

from __future__ import annotations

import asyncio
import fractions

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from av import Packet, VideoFrame
from av.video.frame import PictureType

from streamface.server.encoder import (
    FaceVp8Encoder,
    SharedFaceEncoding,
    codec_options,
    face_encoder_of,
    use_face_encoder,
)
from streamface.server.peer import Peer
from streamface.server.tracks import FaceFanout, FaceTrack

SIZE = 96


def _picture(k: int) -> np.ndarray:
    """A smooth synthetic RGB picture that moves a little each frame (no noise)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    r = 128 + 90 * np.sin((x + 2 * k) / 11.0)
    g = 128 + 90 * np.cos((y - k) / 13.0)
    b = 128 + 60 * np.sin((x + y) / 17.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)


def _yuv(k: int) -> VideoFrame:
    frame = VideoFrame.from_ndarray(_picture(k), format="rgb24").reformat(format="yuv420p")
    frame.pts = k * 3000
    frame.time_base = fractions.Fraction(1, 90000)
    return frame


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-9))


def _round_trip(encoder: Vp8Encoder, frames: int) -> tuple[list[float], int]:
    """Encode, depayload and decode ``frames`` pictures; PSNR-Y of each and payload bytes."""
    decoder = Vp8Decoder()
    scores, size = [], 0
    for k in range(frames):
        source = _yuv(k)
        payloads, timestamp = encoder.encode(source)
        size += sum(len(p) for p in payloads)
        data = b"".join(vp8_depayload(p) for p in payloads)
        (decoded,) = decoder.decode(JitterFrame(data=data, timestamp=timestamp))
        y = slice(0, SIZE)
        scores.append(_psnr(decoded.to_ndarray(format="yuv420p")[y], source.to_ndarray()[y]))
    return scores, size


def test_face_encoder_turns_the_denoiser_off_and_keeps_the_rest() -> None:
    options = codec_options(400_000)
    assert options["noise-sensitivity"] == "0"
    assert options["deadline"] == "realtime" and options["cpu-used"] == "-6"
    assert options["minrate"] == options["maxrate"] == options["bufsize"] == "400000"
    encoder = FaceVp8Encoder()
    encoder.encode(_yuv(0))
    assert encoder.codec is not None
    assert encoder.codec.bit_rate == encoder.target_bitrate


def test_face_encoder_pictures_decode_closer_to_the_source_than_aiortcs() -> None:
    ours, _ = _round_trip(FaceVp8Encoder(), 30)
    theirs, _ = _round_trip(Vp8Encoder(), 30)
    assert min(ours) > 35.0, f"worst PSNR-Y {min(ours):.1f} dB"
    # The denoiser smooths a clean picture: without it the decoded face is closer to it.
    assert np.mean(ours[10:]) > np.mean(theirs[10:])


def test_face_encoder_reopens_on_a_bitrate_change_and_forces_keyframes() -> None:
    encoder = FaceVp8Encoder()
    encoder.encode(_yuv(0))
    encoder.encode(_yuv(1))
    assert encoder.contexts_opened == 1
    encoder.target_bitrate = 1_000_000  # REMB from the receiver: more than 10 % up
    encoder.encode(_yuv(2))
    assert encoder.contexts_opened == 2 and encoder.codec.bit_rate == 1_000_000
    payloads, _ = encoder.encode(_yuv(3), force_keyframe=True)
    data = b"".join(vp8_depayload(p) for p in payloads)
    assert data[0] & 1 == 0, "a forced frame must be a VP8 keyframe (P bit clear)"
    payloads, _ = encoder.encode(_yuv(4))
    assert b"".join(vp8_depayload(p) for p in payloads)[0] & 1 == 1


class _Pictures(VideoStreamTrack):
    """A 30 fps track of `_picture` frames."""

    def __init__(self) -> None:
        super().__init__()
        self.k = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(_picture(self.k), format="rgb24").reformat(format="yuv420p")
        self.k += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


async def _receive(
    track: MediaStreamTrack, codecs: list[str] | None, frames: int = 20
) -> tuple[list[VideoFrame], FaceVp8Encoder | None]:
    """A `Peer` sends ``track`` with ``add_face``; a real aiortc peer receives ``frames``."""
    peer = Peer(lambda reason: None)
    viewer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = viewer.addTransceiver("video", direction="recvonly")
    if codecs is not None:
        from aiortc import RTCRtpReceiver

        caps = RTCRtpReceiver.getCapabilities("video")
        transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType in codecs])
    got: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    viewer.on("track", lambda track: got.done() or got.set_result(track))
    try:
        await viewer.setLocalDescription(await viewer.createOffer())
        await peer.accept(viewer.localDescription.sdp)
        sender = peer.add_face(track)
        answer = await peer.answer()
        await viewer.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        remote = await asyncio.wait_for(got, 10)
        received = [await asyncio.wait_for(remote.recv(), 10) for _ in range(frames)]  # type: ignore[attr-defined]
        return received, face_encoder_of(sender)
    finally:
        await viewer.close()
        await peer.close()


@pytest.mark.slow
async def test_a_real_peer_decodes_the_face_encoded_by_face_vp8() -> None:
    frames, encoder = await _receive(_Pictures(), None)
    assert isinstance(encoder, FaceVp8Encoder) and encoder.contexts_opened >= 1
    last = frames[-1].to_ndarray(format="rgb24")
    assert last.shape == (SIZE, SIZE, 3)
    # The received picture is one of the sent ones, decoded close to it.
    best = max(_psnr(last, _picture(k)) for k in range(200))
    assert best > 30.0, f"received picture is {best:.1f} dB from every sent one"


@pytest.mark.slow
async def test_other_codecs_keep_aiortcs_encoder() -> None:
    frames, encoder = await _receive(_Pictures(), ["video/H264"])
    assert encoder is None and len(frames) == 20


def test_use_face_encoder_without_the_encoder_slot_changes_nothing() -> None:
    class Bare:
        async def send(self, parameters: object) -> None:
            return None

    bare = Bare()
    assert use_face_encoder(bare) is False  # type: ignore[arg-type]
    assert face_encoder_of(bare) is None  # type: ignore[arg-type]


def _decode_all(decoder: Vp8Decoder, payloads: list[bytes], timestamp: int) -> VideoFrame:
    data = b"".join(vp8_depayload(p) for p in payloads)
    (decoded,) = decoder.decode(JitterFrame(data=data, timestamp=timestamp))
    return decoded


def test_shared_encoding_is_packed_by_each_sender_and_follows_their_requests() -> None:
    encoding = SharedFaceEncoding()
    a, b = FaceVp8Encoder(), FaceVp8Encoder()
    assert not encoding.active
    encoding.attach(a)
    decoders = {id(a): Vp8Decoder(), id(b): Vp8Decoder()}
    scores = []
    for k in range(12):
        if k == 4:
            encoding.attach(b)  # joins mid-stream: its first packet is a keyframe
        if k == 8:
            a.keyframe_wanted = True  # a PLI from a's receiver
        source = _yuv(k)
        packet = encoding.encode(source)
        data = bytes(packet)
        keyframe = data[0] & 1 == 0
        assert keyframe == (k in (0, 4, 8)) == packet.is_keyframe, k
        assert source.pict_type == PictureType.NONE  # the frame can go on to other encoders
        for sender in (a, b) if k >= 4 else (a,):
            payloads, timestamp = sender.pack(packet)
            assert timestamp == k * 3000 and sender.codec is None  # packetising only
            decoded = _decode_all(decoders[id(sender)], payloads, timestamp)
            scores.append(_psnr(decoded.to_ndarray()[:SIZE], source.to_ndarray()[:SIZE]))
    assert min(scores) > 35.0
    assert encoding.contexts_opened == 1
    b.target_bitrate = 200_000  # REMB from b's receiver: the encoding follows the lowest
    encoding.encode(_yuv(12))
    assert encoding.contexts_opened == 2
    encoding.detach(b)
    encoding.detach(a)
    assert not encoding.active


def test_an_empty_packet_is_packed_into_nothing() -> None:
    encoder = FaceVp8Encoder()
    picture_id = encoder.picture_id
    empty = Packet(b"")
    empty.pts, empty.time_base = 3000, fractions.Fraction(1, 90000)
    assert encoder.pack(empty) == ([], 0) and encoder.picture_id == picture_id


async def _receive_face(
    codecs: list[str] | None, frames: int = 20
) -> tuple[list[VideoFrame], FaceTrack, FaceVp8Encoder | None]:
    """A `Peer` sends a `FaceTrack` (shared encoding) through a `FaceFanout`; aiortc receives."""
    calls = 0

    def render(t: float) -> np.ndarray:
        nonlocal calls
        calls += 1
        return _picture(round(t * 30))

    face = FaceTrack(render, encoding=SharedFaceEncoding())
    try:
        received, packer = await _receive(FaceFanout(face).subscribe(), codecs, frames)
        return received, face, packer
    finally:
        face.stop()
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_real_peer_decodes_the_face_encoded_once_in_the_render_thread() -> None:
    frames, face, packer = await _receive_face(None)
    assert face.encoding is not None and face.encoding.contexts_opened >= 1
    assert packer is not None and packer.codec is None, "the sender only packetises"
    for frame in frames[-3:]:
        picture = frame.to_ndarray(format="rgb24")
        best = max(_psnr(picture, _picture(k)) for k in range(300))
        assert best > 30.0, f"received picture is {best:.1f} dB from every sent one"


@pytest.mark.slow
async def test_other_codecs_get_frames_from_the_fanout() -> None:
    frames, face, packer = await _receive_face(["video/H264"], frames=10)
    assert packer is None and face.encoding is not None and face.encoding.contexts_opened == 0
    assert len(frames) == 10
