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
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

import av
from aiortc import RTCRtpSender
from aiortc.codecs import vpx
from av import VideoFrame
from av.frame import Frame

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

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        """Encode one frame into RTP payloads and its 90 kHz timestamp (aiortc's `encode`).

        The libvpx context is opened here, with this encoder's options, wherever aiortc's
        would open one (none yet, a new size, or the bitrate off by more than 10 %), so
        aiortc's own `encode` finds it current and keeps it.
        """
        assert isinstance(frame, VideoFrame)
        codec = self.codec
        if (
            codec is None
            or frame.width != codec.width
            or frame.height != codec.height
            or abs(self.target_bitrate - (codec.bit_rate or 0)) > 0.1 * (codec.bit_rate or 0)
        ):
            self.codec = self._open(frame.width, frame.height)
        return super().encode(frame, force_keyframe)

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


def use_face_encoder(sender: RTCRtpSender) -> bool:
    """Encode ``sender``'s video with `FaceVp8Encoder` when VP8 is negotiated.

    The encoder is put in place when the sender starts (the codec is known only then);
    for any other codec aiortc's own encoder is used. Returns False (and logs why) when
    this aiortc has no encoder slot to fill; the sender then keeps aiortc's encoder.
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
            setattr(sender, _ENCODER_ATTR, FaceVp8Encoder())
        await start(parameters)

    sender.send = send  # type: ignore[method-assign]
    return True


def face_encoder_of(sender: RTCRtpSender) -> FaceVp8Encoder | None:
    """The sender's `FaceVp8Encoder`, or None (another codec, or not started yet)."""
    encoder = getattr(sender, _ENCODER_ATTR, None)
    return encoder if isinstance(encoder, FaceVp8Encoder) else None


__all__ = ["NOISE_SENSITIVITY", "FaceVp8Encoder", "codec_options", "face_encoder_of", "use_face_encoder"]
