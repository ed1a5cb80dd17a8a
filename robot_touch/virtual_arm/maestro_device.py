"""
Emulated Pololu Maestro: parses the compact and the Pololu protocol bytewise.

Device rules followed (Pololu Maestro Servo Controller User's Guide, sections 4.e and 5):
both protocols are recognised on the fly; a Pololu-protocol packet for another device number
is skipped silently (daisy chains); with CRC enabled a packet whose CRC-7 byte is wrong sets
the "serial CRC error" bit and is ignored; an unknown command byte, a stray data byte, or a
packet interrupted by a new command byte sets the "serial protocol error" bit; Get Errors
answers the error register and clears it; Set Multiple Targets is refused like an unknown
command when the ``multiple_targets`` option is false (Micro Maestro 6).
A lone 0xAA before a command is the baud-rate detection byte and is no error. Targets are
clipped to the channel's Min/Max setting (guide 4.b, "Channel Settings"; factory values
992..2000 µs, stored in the Maestro by its Control Center, here the ``channel_range_us``
option).
The emulated Maestro starts with its channels' "On startup or error" setting at "Go to"
the arm's home pose, as a PWM arm must be set up for its first readback to be a position.

Not emulated: the Mini SSC protocol (0xFF), scripts, acceleration ramps (Set Acceleration is
accepted and ignored), and the move to the home positions that a real Maestro makes after an
error (its default "home" setting is to stop the pulses, which the host sees as positions
gone). The reported position is the modelled servo position; Set Speed limits its slew rate.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from robot_touch.protocols import maestro as m
from robot_touch.protocols.crc7 import crc7
from robot_touch.virtual_arm.device import DeviceEmulator, ServoModel

#: data bytes after the command byte, for the fixed-length commands
_DATA_LENGTH = {
    m.SET_TARGET: 3,
    m.SET_SPEED: 3,
    m.SET_ACCELERATION: 3,
    m.SET_PWM: 4,
    m.GET_POSITION: 1,
    m.GET_MOVING_STATE: 0,
    m.GET_ERRORS: 0,
    m.GO_HOME: 0,
}
_PROTOCOL_ERROR = 1 << m.ERROR_NAMES.index('serial_protocol')
_CRC_ERROR = 1 << m.ERROR_NAMES.index('serial_crc')
#: Set Speed unit: 0.25 µs per 10 ms = 25 µs/s (guide, "Set Speed")
_SPEED_UNIT = 25.0
#: every channel's Min and Max pulse as the Maestro ships (guide 3, "Default Settings")
FACTORY_RANGE_US = (992.0, 2000.0)


class MaestroDevice(DeviceEmulator):
    """
    Maestro board side; raw units are µs of pulse width, servo ids are channels.

    :param servos: channel -> model.
    :param options: ``device_number`` (default 12), ``crc`` (default False), ``channels`` (default
        24), ``multiple_targets`` (default True), ``channel_range_us`` ([min, max] pulse of every
        channel, default the factory [992, 2000]); other keys are ignored.
    """

    name: ClassVar[str] = 'maestro'

    def __init__(
        self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(servos, options)
        self.device_number = int(self.options.get('device_number', m.DEFAULT_DEVICE_NUMBER))
        self.crc = bool(self.options.get('crc', False))
        self.channels = int(self.options.get('channels', 24))
        self.multiple_targets = bool(self.options.get('multiple_targets', True))
        low, high = self.options.get('channel_range_us', FACTORY_RANGE_US)
        self.channel_range = (float(low), float(high))
        if not 0 < self.channel_range[0] < self.channel_range[1]:
            raise ValueError(
                f'channel_range_us must be [min, max] with 0 < min < max, got {[low, high]}'
            )
        #: the error register (guide 4.e), cleared by Get Errors
        self.errors = 0
        self._packet = bytearray()
        self._skipping = False  # inside a Pololu packet for another device
        self._max_speed = {ch: servo.speed for ch, servo in self.servos.items()}
        self._home = {ch: servo.goal for ch, servo in self.servos.items()}
        self._free_targets: dict[int, int] = {}  # quarter-µs of channels without a servo model

    def reset(self) -> None:
        """Forget a partly received packet (controller reset)."""
        self._packet.clear()
        self._skipping = False

    # -- parsing ----------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[bytes]:
        """Consume host bytes; return one reply per complete query packet."""
        replies: list[bytes] = []
        for byte in data:
            if byte & 0x80:
                self._start(byte)
            elif self._skipping:
                continue
            elif not self._packet:
                self.errors |= _PROTOCOL_ERROR  # a data byte with no command
                continue
            else:
                self._packet.append(byte)
            if self._packet:  # complete already? (commands without data complete at once)
                reply = self._maybe_complete()
                if reply:
                    replies.append(reply)
        return replies

    def _start(self, byte: int) -> None:
        interrupted = bool(self._packet) and self._packet != bytearray((m.POLOLU_START,))
        if interrupted:
            self.errors |= _PROTOCOL_ERROR
        self._packet = bytearray((byte,))
        self._skipping = False
        if byte != m.POLOLU_START and not self._known(byte):
            self.errors |= _PROTOCOL_ERROR
            self._packet.clear()
            self._skipping = True  # its data bytes are meaningless

    def _known(self, command: int) -> bool:
        return command in _DATA_LENGTH or (
            command == m.SET_MULTIPLE_TARGETS and self.multiple_targets
        )

    def _maybe_complete(self) -> bytes | None:
        packet = self._packet
        pololu = packet[0] == m.POLOLU_START
        if pololu:
            if len(packet) < 2:
                return None
            if len(packet) == 2 and packet[1] != self.device_number:
                packet.clear()
                self._skipping = True  # another device's packet
                return None
            if len(packet) < 3:
                return None
            command = packet[2] | 0x80
            if not self._known(command):
                self.errors |= _PROTOCOL_ERROR
                packet.clear()
                self._skipping = True
                return None
            head = 3
        else:
            command, head = packet[0], 1
        if command == m.SET_MULTIPLE_TARGETS:
            if len(packet) < head + 1:
                return None
            needed = head + 2 + 2 * packet[head]
        else:
            needed = head + _DATA_LENGTH[command]
        if self.crc:
            needed += 1
        if len(packet) < needed:
            return None
        body = bytes(packet)
        packet.clear()
        if self.crc:
            if crc7(body[:-1]) != body[-1]:
                self.errors |= _CRC_ERROR
                return None
            body = body[:-1]
        return self._execute(command, body[head:])

    # -- commands ---------------------------------------------------------------------------

    def _execute(self, command: int, data: bytes) -> bytes | None:
        if command == m.SET_TARGET:
            self._set_target(data[0], m.join14(data[1], data[2]))
        elif command == m.SET_MULTIPLE_TARGETS:
            count, first = data[0], data[1]
            if first + count > self.channels:
                self.errors |= _PROTOCOL_ERROR
                return None
            for i in range(count):
                self._set_target(first + i, m.join14(data[2 + 2 * i], data[3 + 2 * i]))
        elif command == m.SET_SPEED:
            self._set_speed(data[0], m.join14(data[1], data[2]))
        elif command == m.GET_POSITION:
            if data[0] >= self.channels:
                self.errors |= _PROTOCOL_ERROR
                return None
            quarter_us = self._position(data[0])
            return bytes((quarter_us & 0xFF, quarter_us >> 8))
        elif command == m.GET_MOVING_STATE:
            return b'\x01' if any(s.moving for s in self.servos.values()) else b'\x00'
        elif command == m.GET_ERRORS:
            errors, self.errors = self.errors, 0
            return bytes((errors & 0xFF, errors >> 8))
        elif command == m.GO_HOME:
            for ch, servo in self.servos.items():
                servo.set_goal(self._home[ch])
        # SET_ACCELERATION, SET_PWM: accepted, not modelled
        return None

    def _set_target(self, channel: int, quarter_us: int) -> None:
        if channel >= self.channels:
            self.errors |= _PROTOCOL_ERROR
            return
        servo = self.servos.get(channel)
        if servo is None:
            self._free_targets[channel] = quarter_us
        elif quarter_us == 0:
            servo.torque_enabled = False  # 0 stops the pulses (guide, "Set Target")
        else:
            servo.torque_enabled = True
            low, high = self.channel_range
            servo.set_goal(min(high, max(low, quarter_us / 4.0)))

    def _set_speed(self, channel: int, speed: int) -> None:
        servo = self.servos.get(channel)
        if servo is not None:
            limit = self._max_speed[channel]
            servo.speed = min(limit, speed * _SPEED_UNIT) if speed else limit

    def _position(self, channel: int) -> int:
        servo = self.servos.get(channel)
        if servo is None:
            return self._free_targets.get(channel, 0)
        if not servo.torque_enabled:
            return 0
        return max(0, min(0xFFFF, round(servo.position * 4.0)))
