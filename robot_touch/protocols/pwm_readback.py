"""
Shared host side of the PWM servo boards (SSC-32U, Maestro).

Raw I/O, readback checks and :class:`PwmBus`, the bus logic both boards share.

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

import time
from typing import Any, Callable, ClassVar, Literal, Mapping, Sequence, TypeVar, Union

from robot_touch.protocols.base import BusStats, ServoBus
from robot_touch.protocols.packet_utils import check_ids, port_errors_as_port_gone

#: How many further identical readbacks make an implausible one believed.
CONFIRMATIONS = 2

#: What ``PwmBus._decode_readback`` reports for a channel whose pulses are off.
PULSES_OFF: Literal['off'] = 'off'
#: A decoded readback of one channel: its pulse width (µs) to check against the envelope,
#: None for a value no servo can have, or ``PULSES_OFF``.
Readback = Union[float, None, Literal['off']]

_T = TypeVar('_T')


class ReadbackEnvelope:
    """
    Where one channel's pulse can be, given what was read and commanded since.

    :param resolution: the readback's step in host units (10 µs for SSC-32 QP, 1 µs for Maestro).
    """

    def __init__(self, resolution: float) -> None:
        self.resolution = resolution
        self.low: float | None = None
        self.high: float | None = None
        self.goal: int | None = None
        self._doubted: float | None = None  # last readback rejected as implausible
        self._confirmed = 0  # readbacks since that agreed with it

    def commanded(self, goal: int) -> None:
        """Record a sent goal: the pulse may now be anywhere between its last span and ``goal``."""
        self.goal = goal
        if self.low is not None and self.high is not None:
            self.low, self.high = min(self.low, goal), max(self.high, goal)

    def released(self) -> None:
        """Pulses were switched off: nothing is known any more."""
        self.low = self.high = self.goal = self._doubted = None

    def accept(self, value: float) -> int | None:
        """
        Return the position to report for a readback of ``value``, or None if it cannot be true.

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
        reported = (
            self.goal
            if self.goal is not None and abs(value - self.goal) < tolerance
            else round(value)
        )
        # From now on the pulse can only move from here toward the goal.
        target = self.goal if self.goal is not None else reported
        self.low, self.high = min(reported, target), max(reported, target)
        return reported


def read_exactly(port: Any, count: int, timeout: float, stats: BusStats) -> bytes:
    """
    Read ``count`` bytes within ``timeout`` seconds; fewer if the deadline passes.

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
    current = getattr(port, 'timeout', None)
    if current is None or current > seconds:
        port.timeout = seconds


class PwmBus(ServoBus):
    """
    A PWM servo board: channels instead of servo ids, raw units µs of pulse width.

    What the boards share: readbacks checked against a :class:`ReadbackEnvelope` per channel
    and re-asked when implausible, pulses switched off and back on at the last goals, and
    queries retried until a reply parses. A subclass supplies the protocol through
    ``_position_query``, ``_decode_readback`` and ``_encode_pulses``, sets
    ``reply_timeout`` and limits the port's read timeout with :func:`limit_port_timeout`.
    """

    units: ClassVar[str] = 'us'
    #: a channel without pulses reports no position (see ServoBus.reads_released)
    reads_released: ClassVar[bool] = False
    #: highest channel number of the board
    max_channel: ClassVar[int]
    #: the readback's step in µs (see ReadbackEnvelope)
    readback_resolution: ClassVar[float]
    #: reply bytes per channel of a position readback
    readback_bytes: ClassVar[int]

    #: how long to wait for a reply, in seconds (set by the subclass)
    reply_timeout: float

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(port, check_ids(ids, self.max_channel), options, retries)
        self._id_set = frozenset(self.ids)
        self._envelopes = {ch: ReadbackEnvelope(self.readback_resolution) for ch in self.ids}
        self._last_goals: dict[int, int] = {}

    def read_positions(self) -> dict[int, int | None]:
        """Every channel's pulse width (µs) from one query, re-asked when implausible."""
        positions: dict[int, int | None] = dict.fromkeys(self.ids)
        pending = list(self.ids)
        self.stats.reads += 1
        with port_errors_as_port_gone(self.name):
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                self.port.reset_input_buffer()  # a late reply to an earlier query must not count
                self.port.write(self._position_query(pending))
                reply = read_exactly(
                    self.port, self.readback_bytes * len(pending), self.reply_timeout, self.stats
                )
                decoded = self._decode_readback(reply, len(pending))
                if decoded is None or self.port.in_waiting:
                    if reply:
                        self.stats.bad_replies += 1
                    continue
                pulses_off = set()
                for ch, value in zip(pending, decoded):
                    if value == PULSES_OFF:  # a valid answer, but no position to report
                        pulses_off.add(ch)
                        continue
                    accepted = None if value is None else self._envelopes[ch].accept(value)
                    if accepted is None:
                        self.stats.bad_replies += 1
                    positions[ch] = accepted
                pending = [ch for ch in pending if positions[ch] is None and ch not in pulses_off]
                if not pending:
                    break
        return positions

    def set_torque(self, enabled: bool, ids: Sequence[int] | None = None) -> None:
        """Switch the pulses off (servos limp) or on at the last goals, on ``ids`` (None: all)."""
        channels = self.ids if ids is None else [ch for ch in ids if ch in self._id_set]
        if enabled:
            goals = {ch: us for ch, us in self._last_goals.items() if ch in channels}
            if goals:
                self._send(self._encode_pulses(goals))
            return
        self._send(self._encode_pulses(dict.fromkeys(channels, 0)))
        for ch in channels:
            self._envelopes[ch].released()

    # -- protocol hooks ---------------------------------------------------------------------

    def _position_query(self, channels: Sequence[int]) -> bytes:
        """Return the query for ``channels``' pulse widths (``readback_bytes`` bytes each)."""
        raise NotImplementedError

    def _decode_readback(self, reply: bytes, count: int) -> list[Readback] | None:
        """
        Return a position reply for ``count`` channels -> one :data:`Readback` per channel.

        None for the whole reply when its length is wrong.
        """
        raise NotImplementedError

    def _encode_pulses(self, pulses: Mapping[int, int]) -> bytes:
        """Return the bytes that set ``pulses`` (channel -> µs, 0 = pulses off) at once."""
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------

    def _commanded(self, goals: Sequence[tuple[int, int]]) -> None:
        """Goals (channel, µs) were sent: remember them and widen the readback envelopes."""
        for ch, us in goals:
            self._last_goals[ch] = us
            self._envelopes[ch].commanded(us)

    def _ask(self, command: bytes, count: int, parse: Callable[[bytes], _T | None]) -> _T | None:
        """
        Send ``command`` and read ``count`` reply bytes until ``parse`` makes sense of them.

        Retries; None when no reply did.
        """
        with port_errors_as_port_gone(self.name):
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                self.port.reset_input_buffer()
                self.port.write(command)
                self.stats.reads += 1
                reply = read_exactly(self.port, count, self.reply_timeout, self.stats)
                parsed = parse(reply)
                if parsed is not None:
                    return parsed
                if reply:
                    self.stats.bad_replies += 1
        return None

    def _send(self, data: bytes) -> None:
        with port_errors_as_port_gone(self.name):
            self.port.write(data)
        self.stats.writes += 1
