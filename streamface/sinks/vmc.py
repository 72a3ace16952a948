"""VMC protocol output: drive a VRM avatar in VTuber apps from the voice's motion.

The VMC protocol (Virtual Motion Capture) is OSC over UDP. ``streamface vmc`` sends one
OSC bundle per frame to a receiver (VSeeFace, VMagicMirror, Warudo, ...; port 39539 by
convention), in this order:

``/VMC/Ext/OK (int)1 (int)3 (int)0 (int)1``
    The sender's model is loaded, calibrated (3), in normal mode (0), tracking (1).
``/VMC/Ext/T (float)seconds``
    The sender's clock.
``/VMC/Ext/Bone/Pos (string)"Head" (float)px py pz qx qy qz qw``
    The head's local position and rotation (Unity coordinates: left-handed, Y up).
``/VMC/Ext/Blend/Val (string)name (float)value`` for each mouth and blink shape
    VRM 0 presets ``A I U E O Blink_L Blink_R``, or with ``vrm1=True`` the VRM 1
    expressions ``aa ih ou ee oh blinkLeft blinkRight``.
``/VMC/Ext/Blend/Apply``
    Apply the values above.

The values come from the same `Animator` that moves StreamFace's own face: the mouth's
openness spread over its vowel shapes (A; E/I for the bright one, narrow openings as I,
wider as E; U/O for the round one, narrow as U, wider as O), blinks, and idle head
motion with the speech nod. Openings under `CLOSED_BELOW` read as closed, so the mouth
shuts within 100 ms of silence instead of hanging slightly open.

Only motion leaves the machine: no audio and no inferred traits.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from streamface.errors import StreamFaceError
from streamface.face.animation import FaceAnimation
from streamface.motion.animator import SAMPLE_RATE, Animator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 39539
DEFAULT_RATE = 60.0
MAX_RATE = 60.0
VRM0_NAMES = ("A", "I", "U", "E", "O", "Blink_L", "Blink_R")
VRM1_NAMES = ("aa", "ih", "ou", "ee", "oh", "blinkLeft", "blinkRight")
CLOSED_BELOW = 0.25
"""Mouth openness (0..1) that reads as closed; above it the range is stretched back to 0..1."""
WIDE_AT = 0.6
"""Openness from which the bright vowel is all E (not I) and the round one all O (not U)."""
HEAD_POSITION = (0.0, 0.08, 0.0)
"""The Head bone's local position (metres above the neck, a typical VRM humanoid's)."""


@dataclass(frozen=True)
class Shapes:
    """One frame's blend shape values, in VRM 0 terms (0..1 each)."""

    a: float
    i: float
    u: float
    e: float
    o: float
    blink_l: float
    blink_r: float

    def values(self) -> tuple[float, ...]:
        """Values in the order of `VRM0_NAMES` / `VRM1_NAMES`."""
        return (self.a, self.i, self.u, self.e, self.o, self.blink_l, self.blink_r)


def shapes_for(anim: FaceAnimation) -> Shapes:
    """The blend shape values of one frame's animation."""
    total = anim.v_a + anim.v_ei + anim.v_ou
    opening = max(0.0, (anim.mouth_open - CLOSED_BELOW) / (1.0 - CLOSED_BELOW))
    if total <= 1e-9 or opening <= 0.0:
        a = bright = round_ = 0.0
    else:
        a, bright, round_ = (opening * v / total for v in (anim.v_a, anim.v_ei, anim.v_ou))
    wide = min(1.0, anim.mouth_open / WIDE_AT)
    blink = min(1.0, max(0.0, anim.blink))
    return Shapes(
        a=a,
        i=bright * (1.0 - wide),
        u=round_ * (1.0 - wide),
        e=bright * wide,
        o=round_ * wide,
        blink_l=blink,
        blink_r=blink,
    )


def head_quaternion(yaw: float, pitch: float, roll: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a head turned ``yaw``, ``pitch``, ``roll`` degrees (Unity's Z-X-Y order)."""
    hy, hp, hr = (math.radians(v) / 2.0 for v in (yaw, pitch, roll))
    cy, sy = math.cos(hy), math.sin(hy)
    cp, sp = math.cos(hp), math.sin(hp)
    cr, sr = math.cos(hr), math.sin(hr)
    # q = q_yaw(Y) * q_pitch(X) * q_roll(Z)
    x = cy * sp * cr + sy * cp * sr
    y = sy * cp * cr - cy * sp * sr
    z = cy * cp * sr - sy * sp * cr
    w = cy * cp * cr + sy * sp * sr
    return (x, y, z, w)


def _message(address: str, *args: Any) -> Any:
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build()


def frame_bundle(anim: FaceAnimation, t: float, *, vrm1: bool = False) -> bytes:
    """The OSC bundle (datagram) of one frame."""
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(_message("/VMC/Ext/OK", 1, 3, 0, 1))
    bundle.add_content(_message("/VMC/Ext/T", float(t)))
    qx, qy, qz, qw = head_quaternion(anim.yaw, anim.pitch, anim.roll)
    bundle.add_content(_message("/VMC/Ext/Bone/Pos", "Head", *map(float, HEAD_POSITION), qx, qy, qz, qw))
    names = VRM1_NAMES if vrm1 else VRM0_NAMES
    for name, value in zip(names, shapes_for(anim).values(), strict=True):
        bundle.add_content(_message("/VMC/Ext/Blend/Val", name, float(value)))
    bundle.add_content(_message("/VMC/Ext/Blend/Apply"))
    return bytes(bundle.build().dgram)


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6; a bare host takes port 39539).

    Raises:
        StreamFaceError: not HOST:PORT, or a port outside 1-65535.
    """
    host, port_text = text, str(DEFAULT_PORT)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise StreamFaceError(f"--to {text!r}: expected [IPv6]:PORT")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise StreamFaceError(f"--to {text!r}: expected [IPv6]:PORT")
            port_text = rest[1:]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise StreamFaceError(f"--to {text!r}: expected HOST:PORT with a port from 1 to 65535")
    return host, int(port_text)


class VmcSender:
    """A UDP socket aimed at one VMC receiver.

    Raises:
        StreamFaceError: the host does not resolve.
    """

    def __init__(self, host: str, port: int) -> None:
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise StreamFaceError(f"cannot resolve {host}: {exc}") from None
        family = info[0]
        self.address: Any = info[4]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sent = 0
        self.failed = 0

    def send(self, datagram: bytes) -> None:
        """Send one bundle; a receiver that is not there is no error (UDP)."""
        try:
            self._sock.sendto(datagram, self.address)
            self.sent += 1
        except OSError:
            self.failed += 1  # e.g. ICMP port unreachable reported on a later send

    def close(self) -> None:
        self._sock.close()


def run_vmc(
    source: Any,
    sender: Any,
    pacer: Any,
    *,
    animator: Animator | None = None,
    vrm1: bool = False,
    seconds: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Feed audio to the animator and send one bundle per tick until the end.

    Args:
        source: 16 kHz audio arriving in real time (``read_until(t)``, ``finished``).
        sender: Takes datagrams (`VmcSender`).
        pacer: A `FramePacer` (``elapsed()``, ``wait()``).
        animator: The motion; a fresh seeded one by default.
        vrm1: Send VRM 1 expression names.
        seconds: Stop after this long; None runs until the source ends or ``should_stop``.

    Returns:
        Bundles sent (the closing rest frame included).
    """
    if getattr(source, "rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise StreamFaceError(f"the VMC sender needs {SAMPLE_RATE} Hz audio")
    motion = animator or Animator(fps=getattr(pacer, "fps", DEFAULT_RATE))
    frames = 0
    t = 0.0
    try:
        while True:
            t = pacer.elapsed()
            chunk = source.read_until(t)
            if chunk.size:
                motion.push(np.asarray(chunk, np.float32))
            sender.send(frame_bundle(motion.at(t), t, vrm1=vrm1))
            frames += 1
            if source.finished or should_stop() or (seconds is not None and t >= seconds):
                break
            pacer.wait()
    finally:
        # Leave the avatar at rest, not frozen mid-word or mid-blink.
        rest = FaceAnimation()
        sender.send(frame_bundle(rest, t, vrm1=vrm1))
    return frames + 1
