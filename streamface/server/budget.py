"""Per-connection budgets: how fast a caller's audio (and messages) may arrive.

A caller speaks in real time, so its audio cannot honestly arrive much faster than one
second per second. `AudioBudget` is a token bucket in seconds of audio: it refills at
``rate`` (a little faster than real time) up to ``burst_s`` (the jitter allowance: audio
held back by the network and then delivered at once). Audio over the budget is dropped
and counted, never queued; the part of a chunk that fits is kept. Dropped audio also
fills a second, leaking bucket: a caller whose excess keeps outrunning the leak (one
second per second) past ``flood_s`` is *flooding* and its connection should be closed
with `FloodError`'s reason. A caller briefly catching up after a stall only loses the
excess; one sending at a few times real time for long, or hundreds of times for an
instant, is closed.

`MessageBudget` is the same for the count of messages, so that many tiny messages
cannot cost the event loop what one big one may not: messages over its rate are still
read (a ``stop`` must not be lost) but count towards the flood that closes the caller.

Both are transport-neutral: telephony, WHIP and AudioHook endpoints keep one per
connection (or per track) and ask ``admit`` before decoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from streamface.errors import StreamFaceError

Clock = Callable[[], float]


class FloodError(StreamFaceError):
    """A caller kept sending faster than its budget; ``reason`` fits a WebSocket close."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class BudgetPolicy:
    """How much a caller may send.

    Attributes:
        rate: Units accepted per wall-clock second (seconds of audio, or messages).
        burst: Units that may arrive at once on top of that (the jitter allowance).
        flood: Dropped units, net of a leak of ``leak`` per second, after which the
            caller counts as flooding.
        leak: How fast the dropped-units bucket drains, per second.
    """

    rate: float
    burst: float
    flood: float
    leak: float

    def __post_init__(self) -> None:
        if min(self.rate, self.burst, self.flood, self.leak) <= 0:
            raise ValueError("budget rate, burst, flood and leak must be positive")


AUDIO_POLICY = BudgetPolicy(rate=1.25, burst=3.0, flood=20.0, leak=1.0)
"""Audio of one track: 1.25x real time plus 3 s of jitter; closed after 20 s of excess
beyond a leak of 1 s/s (a sender at 3x real time is closed after about 20 s, one at
hundreds of times real time within a second)."""

MESSAGE_POLICY = BudgetPolicy(rate=250.0, burst=500.0, flood=2000.0, leak=250.0)
"""Messages of one connection: platforms send 50 per second per track (20 ms chunks),
plus marks and DTMF; 250 per second with a burst of 500 leaves five times that."""


class _Bucket:
    """A token bucket with a drop counter and a leaking flood bucket."""

    def __init__(self, policy: BudgetPolicy, clock: Clock) -> None:
        self.policy = policy
        self._clock = clock
        self._tokens = policy.burst
        self._excess = 0.0
        self._last = clock()
        self.accepted = 0.0
        self.dropped = 0.0
        self.dropped_times = 0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        p = self.policy
        self._tokens = min(p.burst, self._tokens + elapsed * p.rate)
        self._excess = max(0.0, self._excess - elapsed * p.leak)

    def take(self, amount: float, *, partial: bool = True) -> float:
        """Take up to ``amount`` (all or nothing unless ``partial``); returns what fits.

        What does not fit is counted as dropped and fills the flood bucket.
        """
        self._refill()
        amount = max(0.0, amount)
        granted = min(amount, self._tokens)
        if not partial and granted < amount:
            granted = 0.0
        self._tokens -= granted
        self.accepted += granted
        over = amount - granted
        if over > 0:
            self.dropped += over
            self.dropped_times += 1
            self._excess += over
        return granted

    @property
    def flooding(self) -> bool:
        return self._excess > self.policy.flood


class AudioBudget:
    """How many seconds of one track's audio may be accepted now.

    Args:
        policy: Rate, jitter allowance and flood threshold (seconds of audio).
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(self, policy: BudgetPolicy = AUDIO_POLICY, clock: Clock = time.monotonic) -> None:
        self._bucket = _Bucket(policy, clock)

    def admit(self, seconds: float) -> float:
        """Seconds of a chunk of ``seconds`` that may be used (a prefix; 0 when none).

        The rest counts as dropped; check `flooding` afterwards.
        """
        return self._bucket.take(seconds)

    @property
    def flooding(self) -> bool:
        """Whether the caller has been over its budget for too long: close it."""
        return self._bucket.flooding

    def check(self) -> None:
        """Raise `FloodError` when `flooding`."""
        if self._bucket.flooding:
            p = self._bucket.policy
            raise FloodError(
                f"audio flood: arriving faster than {p.rate:g}x real time; "
                f"{self._bucket.dropped:.0f} s of audio dropped"
            )

    @property
    def accepted_s(self) -> float:
        """Seconds of audio accepted so far."""
        return self._bucket.accepted

    @property
    def dropped_s(self) -> float:
        """Seconds of audio dropped for arriving over the budget."""
        return self._bucket.dropped

    @property
    def dropped_chunks(self) -> int:
        """Chunks that lost some or all of their audio to the budget."""
        return self._bucket.dropped_times


class MessageBudget:
    """How many messages one connection may send before it counts as flooding.

    Args:
        policy: Messages per second, burst and flood threshold.
        clock: Monotonic seconds.
    """

    def __init__(
        self, policy: BudgetPolicy = MESSAGE_POLICY, clock: Clock = time.monotonic
    ) -> None:
        self._bucket = _Bucket(policy, clock)

    def admit(self) -> bool:
        """Count one message; whether it was within the rate.

        Raises:
            FloodError: too many messages for too long; close the connection.
        """
        ok = self._bucket.take(1.0, partial=False) > 0.0
        if self._bucket.flooding:
            raise FloodError(
                f"message flood: more than {self._bucket.policy.rate:g} messages per second"
            )
        return ok

    @property
    def dropped(self) -> int:
        """Messages that arrived over the rate."""
        return int(self._bucket.dropped_times)


__all__ = [
    "AUDIO_POLICY",
    "MESSAGE_POLICY",
    "AudioBudget",
    "BudgetPolicy",
    "FloodError",
    "MessageBudget",
]
