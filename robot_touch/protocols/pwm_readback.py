"""Shared host-side helpers for PWM servo boards (SSC-32U, Maestro): raw I/O and readback checks.

Hobby-servo boards answer position queries with bare bytes: no header, no checksum. A
dropped reply shows as a short read, but a byte flipped on the wire reads as a perfectly
formed position. :class:`ReadbackEnvelope` catches most such corruptions with what the host
already knows: a board only ever ramps a channel's pulse from where it was toward the last
goal it was sent, so a readback outside that span (plus the reply's resolution) cannot be
true. What stays undetectable is a corruption that lands inside the span, whose error is
then bounded by the span itself (at rest: by the reply's resolution).

A readback outside the span is believed only when the next two agree with it: independent
corruptions rarely produce the same value three times, while a true position (say the
envelope was wrong, or another host moved the channel) repeats, so a channel never stays
stale for long (one ``read_positions`` call with its retries).
"""
from __future__ import annotations

import termios
import time
from contextlib import contextmanager
from typing import Any, Iterator

from robot_touch.protocols.base import BusStats, PortGone

#: How many further identical readbacks make an implausible one believed.
CONFIRMATIONS = 2

class ReadbackEnvelope:
    """Where one channel's pulse can be, given what was read and commanded since.

    Args:
        resolution: the readback's step in host units (10 µs for SSC-32 QP, 1 µs for Maestro).
    """

    def __init__(self, resolution: float) -> None:
        self.resolution = resolution
        self.low: float | None = None
        self.high: float | None = None
        self.goal: int | None = None
        self._doubted: float | None = None  # last readback rejected as implausible
        self._confirmed = 0  # readbacks since that agreed with it

    def commanded(self, goal: int) -> None:
        """A goal was sent: the pulse may now be anywhere between its last span and ``goal``."""
        self.goal = goal
        if self.low is not None and self.high is not None:
            self.low, self.high = min(self.low, goal), max(self.high, goal)

    def released(self) -> None:
        """Pulses were switched off: nothing is known any more."""
        self.low = self.high = self.goal = self._doubted = None

    def accept(self, value: float) -> int | None:
        """The position to report for a readback of ``value``, or None if it cannot be true.

        A readback within the resolution of the last goal is reported as that goal, so a
        channel at rest reads back exactly what was commanded.
        """
        tolerance = self.resolution
        if self.low is not None and self.high is not None:
            if not self.low - tolerance < value < self.high + tolerance:
                if self._doubted is not None and abs(self._doubted - value) < tolerance:
                    self._confirmed += 1
                else:
                    self._doubted, self._confirmed = value, 0
                if self._confirmed < CONFIRMATIONS:
                    return None
        self._doubted, self._confirmed = None, 0
        reported = self.goal if self.goal is not None and abs(value - self.goal) < tolerance else round(value)
        # From now on the pulse can only move from here toward the goal.
        target = self.goal if self.goal is not None else reported
        self.low, self.high = min(reported, target), max(reported, target)
        return reported


@contextmanager
def port_errors_as_port_gone(name: str) -> Iterator[None]:
    """Turn a failing port (unplugged adapter, EIO) into :class:`PortGone`."""
    try:
        yield
    except (OSError, termios.error) as exc:  # SerialException is an OSError; tcflush raises termios.error
        raise PortGone(f"{name}: serial port failed: {exc}") from exc


def read_exactly(port: Any, count: int, timeout: float, stats: BusStats) -> bytes:
    """Read ``count`` bytes within ``timeout`` seconds; fewer if the deadline passes.

    pyserial's own read timeout is per call and set by whoever opened the port, so the
    deadline is kept here with a monotonic clock. A timeout is counted in ``stats``.
    """
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < count:
        chunk = port.read(count - len(data))
        if chunk:
            data += chunk
        elif time.monotonic() >= deadline:
            stats.timeouts += 1
            break
    return bytes(data)


def limit_port_timeout(port: Any, seconds: float) -> None:
    """Keep one blocking ``port.read`` no longer than ``seconds`` (so deadlines are honoured)."""
    current = getattr(port, "timeout", None)
    if current is None or current > seconds:
        port.timeout = seconds
