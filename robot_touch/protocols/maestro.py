"""
Pololu Maestro host backend: the Maestro's binary serial protocol (compact or Pololu).

Facts from the Pololu Maestro Servo Controller User's Guide, section 5 ("Serial Interface"):

* command bytes have the MSB set, data bytes have it clear, so 14-bit values travel as two
  data bytes, low 7 bits first (Set Target of channel 0 to 1500 µs = 6000 quarter-µs:
  ``84 00 70 2E``);
* Pololu protocol: ``AA <device number> <command & 7F> <data>`` (default device number 12:
  ``AA 0C 04 00 70 2E``); with CRC enabled every command packet ends in a CRC-7 byte
  (:mod:`robot_touch.protocols.crc7`); the Maestro's replies never carry one;
* Set Target 0x84 (channel, target; 0 stops the pulses), Set Speed 0x87, Set Acceleration
  0x89, Get Position 0x90 (reply: 2 bytes, little-endian quarter-µs), Get Moving State 0x93
  (reply: 1 byte, Mini Maestros only), Set Multiple Targets 0x9F (count, first channel,
  targets; Mini Maestro 12/18/24 only), Get Errors 0xA1 (reply: 2 bytes of error bits, cleared
  by the read), Go Home 0xA2.

Raw units are µs of pulse width, like the SSC-32U's, so one PWM profile drives either board;
the quarter-µs of the wire are converted here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

from robot_touch.protocols.base import ProtocolError, ServoStatus
from robot_touch.protocols.crc7 import crc7
from robot_touch.protocols.packet_utils import check_goals, check_ids
from robot_touch.protocols.pwm_readback import limit_port_timeout, PULSES_OFF, PwmBus, Readback

SET_TARGET = 0x84
SET_SPEED = 0x87
SET_ACCELERATION = 0x89
SET_PWM = 0x8A
GET_POSITION = 0x90
GET_MOVING_STATE = 0x93
SET_MULTIPLE_TARGETS = 0x9F
GET_ERRORS = 0xA1
GO_HOME = 0xA2
POLOLU_START = 0xAA
DEFAULT_DEVICE_NUMBER = 12

#: Error register bits, in bit order (guide section 4.e, "Errors").
ERROR_NAMES = (
    'serial_signal',
    'serial_overrun',
    'serial_buffer_full',
    'serial_crc',
    'serial_protocol',
    'serial_timeout',
    'script_stack',
    'script_call_stack',
    'script_program_counter',
)
ERROR_MASK = (1 << len(ERROR_NAMES)) - 1

MAX_CHANNEL = 23  # Mini Maestro 24
MAX_TARGET = (1 << 14) - 1  # quarter-µs, 14 bits
MIN_GOAL_US, MAX_GOAL_US = 1, MAX_TARGET // 4


def split14(value: int) -> bytes:
    """Return a 14-bit value as two data bytes, low 7 bits first."""
    return bytes((value & 0x7F, (value >> 7) & 0x7F))


def join14(low: int, high: int) -> int:
    """Two data bytes back into their 14-bit value."""
    return (low & 0x7F) | (high & 0x7F) << 7


def error_flags(bits: int) -> list[str]:
    """Names of the set error bits (unknown bits as ``bit<n>``)."""
    return [
        ERROR_NAMES[i] if i < len(ERROR_NAMES) else f'bit{i}' for i in range(16) if bits >> i & 1
    ]


class MaestroFraming:
    """
    Wraps commands in the compact or the Pololu protocol, with or without CRC-7.

    :param pololu: use the Pololu protocol (needed when several devices share the line).
    :param device_number: the Maestro's device number (0-127) for the Pololu protocol.
    :param crc: append the CRC-7 byte (the Maestro's "Enable CRC" setting must match).
    """

    def __init__(
        self, pololu: bool = False, device_number: int = DEFAULT_DEVICE_NUMBER, crc: bool = False
    ) -> None:
        if (
            isinstance(device_number, bool)
            or not isinstance(device_number, int)
            or not 0 <= device_number <= 127
        ):
            raise ProtocolError(
                f'maestro: device_number must be an integer in 0..127, got {device_number!r}'
            )
        self.pololu = bool(pololu)
        self.device_number = device_number
        self.crc = bool(crc)

    def packet(self, command: int, data: bytes = b'') -> bytes:
        """One complete command packet."""
        if self.pololu:
            body = bytes((POLOLU_START, self.device_number, command & 0x7F)) + data
        else:
            body = bytes((command,)) + data
        return body + bytes((crc7(body),)) if self.crc else body


def decode_positions(reply: bytes, count: int) -> list[float | None] | None:
    """
    Get Position replies -> pulse widths (µs).

    None for the whole reply when its length is wrong (a lost byte shifts every later reply), None
    for a channel whose pulses are off.
    """
    if len(reply) != 2 * count:
        return None
    out: list[float | None] = []
    for i in range(count):
        quarter_us = reply[2 * i] | reply[2 * i + 1] << 8
        out.append(quarter_us / 4.0 if quarter_us else None)
    return out


class MaestroBus(PwmBus):
    """
    Pololu Maestro (Micro 6, Mini 12/18/24): channels 0-23, raw units µs of pulse width.

    Options (``protocol_options``):
        pololu_protocol: speak the Pololu protocol instead of the compact one (default False).
        device_number: the Maestro's device number for the Pololu protocol (default 12).
        crc: append CRC-7 to every command (default False; must match the board's setting).
        multiple_targets: the board has Set Multiple Targets (Mini Maestros; default False,
            which works on every Maestro).
        reply_timeout_ms: how long to wait for replies (default 40 ms).
    """

    name: ClassVar[str] = 'maestro'
    default_baudrate: ClassVar[int] = 115_200
    units: ClassVar[str] = 'us'
    goal_range: ClassVar[tuple[int, int] | None] = (MIN_GOAL_US, MAX_GOAL_US)
    max_channel: ClassVar[int] = MAX_CHANNEL
    readback_resolution: ClassVar[float] = 1.0
    readback_bytes: ClassVar[int] = 2

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(port, ids, options, retries)
        self.framing = MaestroFraming(
            pololu=bool(self.options.get('pololu_protocol', False)),
            device_number=self.options.get('device_number', DEFAULT_DEVICE_NUMBER),
            crc=bool(self.options.get('crc', False)),
        )
        self.multiple_targets = bool(self.options.get('multiple_targets', False))
        timeout_ms = self.options.get('reply_timeout_ms', 40)
        if (
            isinstance(timeout_ms, bool)
            or not isinstance(timeout_ms, (int, float))
            or not 0 < timeout_ms <= 10_000
        ):
            raise ProtocolError(
                f'maestro: option reply_timeout_ms must be in 0..10000 ms, got {timeout_ms!r}'
            )
        self.reply_timeout = timeout_ms / 1000.0
        limit_port_timeout(port, min(0.01, self.reply_timeout))

    # -- commands ---------------------------------------------------------------------------

    def ping(self, servo_id: int) -> bool:
        """Return True when the board answers Get Errors (the board answers for every channel)."""
        check_ids([servo_id], MAX_CHANNEL)
        return self.read_errors() is not None

    def write_goals(self, goals: Mapping[int, int]) -> None:
        """
        Send the goals in ONE write.

        Set Multiple Targets when allowed and the channels are contiguous, else one Set Target
        per channel.
        """
        checked = check_goals(goals, self._id_set, MIN_GOAL_US, MAX_GOAL_US)
        if not checked:
            return
        self._send(self.encode_targets({ch: us * 4 for ch, us in checked}))
        self._commanded(checked)

    def encode_targets(self, targets: Mapping[int, int]) -> bytes:
        """Return the bytes that set ``targets`` (channel -> quarter-µs, 0 = pulses off)."""
        channels = sorted(targets)
        contiguous = channels == list(range(channels[0], channels[0] + len(channels)))
        if self.multiple_targets and len(channels) > 1 and contiguous:
            data = bytes((len(channels), channels[0])) + b''.join(
                split14(targets[ch]) for ch in channels
            )
            return self.framing.packet(SET_MULTIPLE_TARGETS, data)
        return b''.join(
            self.framing.packet(SET_TARGET, bytes((ch,)) + split14(q)) for ch, q in targets.items()
        )

    def read_errors(self) -> int | None:
        """Get Errors: the error register (cleared by this read), None without a valid reply."""

        def parse(reply: bytes) -> int | None:
            if len(reply) == 2 and not self.port.in_waiting:
                bits = reply[0] | reply[1] << 8
                if not bits & ~ERROR_MASK:
                    return bits
            return None

        return self._ask(self.framing.packet(GET_ERRORS), 2, parse)

    def read_status(self) -> dict[int, ServoStatus]:
        """Board-wide error flags and moving state (Get Errors + Get Moving State), per channel."""

        def parse(reply: bytes) -> tuple[bool, list[str]] | None:
            if len(reply) == 3 and not self.port.in_waiting:
                bits = reply[0] | reply[1] << 8
                if not bits & ~ERROR_MASK and reply[2] in (0, 1):
                    return bool(reply[2]), error_flags(bits)
            return None

        answer = self._ask(
            self.framing.packet(GET_ERRORS) + self.framing.packet(GET_MOVING_STATE), 3, parse
        )
        if answer is None:
            return {ch: ServoStatus() for ch in self.ids}
        moving, flags = answer
        return {ch: ServoStatus(moving=moving, error_flags=list(flags)) for ch in self.ids}

    # -- protocol hooks (see PwmBus) --------------------------------------------------------

    def _position_query(self, channels: Sequence[int]) -> bytes:
        """Get Position of every channel, pipelined in one write."""
        return b''.join(self.framing.packet(GET_POSITION, bytes((ch,))) for ch in channels)

    def _decode_readback(self, reply: bytes, count: int) -> list[Readback] | None:
        decoded = decode_positions(reply, count)
        if decoded is None:
            return None
        return [
            PULSES_OFF if us is None else (us if MIN_GOAL_US <= us <= MAX_GOAL_US else None)
            for us in decoded
        ]

    def _encode_pulses(self, pulses: Mapping[int, int]) -> bytes:
        """Targets in quarter-µs (target 0 stops the pulses)."""
        return self.encode_targets({ch: us * 4 for ch, us in pulses.items()})
