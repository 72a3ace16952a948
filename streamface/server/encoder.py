"""The face's VP8 encoder: aiortc's, configured for a clean synthetic picture.

aiortc encodes every video track with `aiortc.codecs.vpx.Vp8Encoder`, whose settings
suit a camera: among them libvpx's temporal denoiser (``noise-sensitivity`` 4). The face
is rendered, not filmed: it has no sensor noise to remove, so the denoiser only costs
CPU and smooths the picture the caller sees. Measured on 40 s of the live face (256 px,
`benchmarks/results/agentcost-vp8-settings.json`, `video_path-cpu.json`): without it one
encode takes 25-40 % less CPU, the received picture is 6 dB closer to what was rendered
(PSNR-Y 51 dB instead of 45 dB), and it needs fewer bits (about 330 kb/s instead of
455 kb/s at the same 500 kb/s CBR target). A faster ``cpu-used`` (-12, -16) would save
a little more at +9-10 % bits and -0.2-0.3 dB; it is left at aiortc's -6. Everything else (realtime deadline, ``cpu-used`` -6, CBR with
aiortc's bitrate control from the receiver's REMB, keyframes on request, RTP
packetizing) is aiortc's.

`use_face_encoder` puts it on an `RTCRtpSender` once the negotiated codec is known.

`SharedFaceEncoding` encodes a face track once, in its render thread, for every sender
that negotiated VP8: the track then hands those senders encoded packets, which aiortc
packetises on the loop (``Vp8Encoder.pack``) instead of sending every frame through its
encoder thread pool (a thread hand-off and a wake-up of the loop per frame per sender).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpSender
from aiortc.codecs import vpx
from aiortc.mediastreams import VIDEO_TIME_BASE
from av import Packet, VideoFrame
from av.frame import Frame
from av.video.frame import PictureType

log = logging.getLogger(__name__)

NOISE_SENSITIVITY = 0
"""libvpx temporal denoiser strength (aiortc's default: 4); 0 is off."""

_ENCODER_ATTR = "_RTCRtpSender__encoder"  # aiortc's private slot, filled on the first frame


class FaceVp8Encoder(vpx.Vp8Encoder):
    """aiortc's VP8 encoder without the temporal denoiser (a rendered face has no noise).

    Same interface and RTP output as `aiortc.codecs.vpx.Vp8Encoder`; like it, the libvpx
    context is opened again (with a keyframe) when the frame size or the target bitrate
    (more than 10 %) changes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.contexts_opened = 0
        """libvpx contexts opened so far (the first, then one per size or bitrate change)."""
        self.keyframe_wanted = False
        """Set when this sender's receiver asks for a keyframe while it sends a
        `SharedFaceEncoding`'s packets; that encoding clears it with its next keyframe."""

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        """Encode one frame into RTP payloads and its 90 kHz timestamp (aiortc's `encode`).

        The libvpx context is opened here, with this encoder's options, wherever aiortc's
        would open one (none yet, a new size, or the bitrate off by more than 10 %), so
        aiortc's own `encode` finds it current and keeps it.
        """
        assert isinstance(frame, VideoFrame)
        self._ensure_codec(frame)
        return super().encode(frame, force_keyframe)

    def encode_bitstream(self, frame: VideoFrame, force_keyframe: bool = False) -> bytes:
        """One yuv420p frame as VP8 bitstream (what `encode` packetises), same context rules."""
        codec = self._ensure_codec(frame)
        if force_keyframe:
            frame.pict_type = PictureType.I
        try:
            return b"".join(bytes(packet) for packet in codec.encode(frame))
        finally:
            frame.pict_type = PictureType.NONE  # the frame may go on to other encoders

    def pack(self, packet: Packet) -> tuple[list[bytes], int]:
        """RTP payloads of an encoded frame (aiortc's `pack`); none for an empty packet,
        which a track hands when it has no new picture for this tick."""
        if packet.size == 0:
            return [], 0
        return super().pack(packet)

    def _ensure_codec(self, frame: VideoFrame) -> Any:
        codec = self.codec
        if (
            codec is None
            or frame.width != codec.width
            or frame.height != codec.height
            or abs(self.target_bitrate - (codec.bit_rate or 0)) > 0.1 * (codec.bit_rate or 0)
        ):
            codec = self.codec = self._open(frame.width, frame.height)
        return codec

    def _open(self, width: int, height: int) -> Any:
        bitrate = self.target_bitrate
        codec = av.CodecContext.create("libvpx", "w")
        codec.width = width
        codec.height = height
        codec.bit_rate = bitrate
        codec.pix_fmt = "yuv420p"
        codec.gop_size = 3000  # kf_max_dist: keyframes come on request (PLI/FIR)
        codec.qmin = 2
        codec.qmax = 56
        codec.options = codec_options(bitrate)
        codec.thread_count = vpx.number_of_threads(width * height, multiprocessing.cpu_count())
        self.contexts_opened += 1
        return codec


def codec_options(bitrate: int) -> dict[str, str]:
    """libvpx options of the face encoder at ``bitrate`` (b/s): aiortc's, denoiser off."""
    return {
        "bufsize": str(bitrate),  # rc_buf_sz = 1000 ms
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(bitrate),  # minrate = maxrate = bit_rate: CBR
        "maxrate": str(bitrate),
        "noise-sensitivity": str(NOISE_SENSITIVITY),
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
    }


class SharedFaceEncoding:
    """One VP8 encoding of a face track, shared by every sender that negotiated VP8.

    The track's render thread calls `encode` right after drawing, so a frame is encoded
    once however many senders send it, and no sender hands frames to aiortc's encoder
    pool. Senders join with `attach` (their `FaceVp8Encoder` then only packetises): the
    encoding follows the lowest bitrate any of them was given (REMB) and makes a keyframe
    when one joins or when any asks for one (PLI/FIR, via ``keyframe_wanted``).
    """

    def __init__(self) -> None:
        self._encoder = FaceVp8Encoder()
        self._senders: tuple[FaceVp8Encoder, ...] = ()

    @property
    def active(self) -> bool:
        """Whether any sender takes this encoding's packets."""
        return bool(self._senders)

    @property
    def contexts_opened(self) -> int:
        """libvpx contexts opened so far by this encoding."""
        return self._encoder.contexts_opened

    def attach(self, sender_encoder: FaceVp8Encoder) -> None:
        """A sender takes the packets from now on (its next one is a keyframe). On the loop."""
        sender_encoder.keyframe_wanted = True
        self._senders = (*self._senders, sender_encoder)

    def detach(self, sender_encoder: FaceVp8Encoder) -> None:
        """A sender no longer takes packets. On the loop."""
        self._senders = tuple(s for s in self._senders if s is not sender_encoder)

    def encode(self, frame: VideoFrame) -> Packet:
        """``frame`` (yuv420p, its pts set) as one packet; in the render thread."""
        senders = self._senders  # replaced, never mutated, by the loop
        keyframe = False
        for sender in senders:
            if sender.keyframe_wanted:
                sender.keyframe_wanted = False
                keyframe = True
        if senders:
            self._encoder.target_bitrate = min(s.target_bitrate for s in senders)
        pts, time_base = frame.pts, frame.time_base or VIDEO_TIME_BASE  # encoding rebases them
        data = self._encoder.encode_bitstream(frame, keyframe)
        packet = Packet(data)
        packet.pts = pts
        packet.time_base = time_base
        packet.is_keyframe = bool(data) and data[0] & 1 == 0  # VP8's inverse key-frame bit
        return packet


def use_face_encoder(
    sender: RTCRtpSender, on_vp8: Callable[[FaceVp8Encoder], None] | None = None
) -> bool:
    """Encode ``sender``'s video with `FaceVp8Encoder` when VP8 is negotiated.

    The encoder is put in place when the sender starts (the codec is known only then);
    for any other codec aiortc's own encoder is used. ``on_vp8`` (the track's offer to hand
    a `SharedFaceEncoding`'s packets instead of frames) is then called with the encoder,
    after the sender's keyframe requests are made to set its ``keyframe_wanted``. Returns False (and logs why) when this aiortc has no encoder
    slot to fill; the sender then keeps aiortc's encoder.
    """
    if not hasattr(sender, _ENCODER_ATTR):
        log.warning("aiortc's RTCRtpSender has no encoder slot: the face uses aiortc's VP8 settings")
        return False
    start = sender.send

    async def send(parameters: Any) -> None:
        codecs = getattr(parameters, "codecs", None) or []
        if (
            codecs
            and codecs[0].mimeType.lower() == "video/vp8"
            and getattr(sender, _ENCODER_ATTR) is None
        ):
            encoder = FaceVp8Encoder()
            setattr(sender, _ENCODER_ATTR, encoder)
            if on_vp8 is not None and _forwards_keyframe_requests(sender, encoder):
                on_vp8(encoder)
        await start(parameters)

    sender.send = send  # type: ignore[method-assign]
    return True


def _forwards_keyframe_requests(sender: RTCRtpSender, encoder: FaceVp8Encoder) -> bool:
    """Make the sender's PLI/FIR handling also set ``encoder.keyframe_wanted``.

    aiortc only passes a keyframe request to the encoder it runs itself; with packets
    encoded elsewhere the request has to reach that encoding. False when this aiortc has
    no ``_send_keyframe`` (the track then hands frames, as without a shared encoding).
    """
    request = getattr(sender, "_send_keyframe", None)
    if not callable(request):
        log.warning("aiortc's RTCRtpSender has no _send_keyframe: the face is encoded per sender")
        return False

    def send_keyframe() -> None:
        request()
        encoder.keyframe_wanted = True

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]
    return True


def face_encoder_of(sender: RTCRtpSender) -> FaceVp8Encoder | None:
    """The sender's `FaceVp8Encoder`, or None (another codec, or not started yet)."""
    encoder = getattr(sender, _ENCODER_ATTR, None)
    return encoder if isinstance(encoder, FaceVp8Encoder) else None


__all__ = [
    "NOISE_SENSITIVITY",
    "FaceVp8Encoder",
    "SharedFaceEncoding",
    "codec_options",
    "face_encoder_of",
    "use_face_encoder",
]
