"""
Emulated Lynxmotion SSC-32U: parses the board's ASCII commands line by line.

Device rules followed (Lynxmotion SSC-32U User Guide, "Commands"): a command line ends with
``<cr>``; spaces, tabs and line feeds are ignored and letters are not case sensitive; ``<esc>``
cancels the line being received; a group move starts every listed servo together and ends it
together after ``T`` ms (or later, if a servo's ``S`` speed needs longer); pulse widths are
kept within 500-2500 µs and ``P0`` stops a channel's pulses; ``QP`` answers one byte per
channel (pulse / 10), ``Q`` answers ``.`` or ``+``, ``VER`` the version text;
``STOP <ch>`` stops a servo where it is.

Strictness: a line that is not exactly one of those commands (mixed command types, unknown
letters, channel above 31, non-ASCII bytes) is ignored as a whole and counted in
:attr:`SSC32Device.rejected`: the host then sees no reply, which it can detect. The real board
is more lenient with some malformed lines; being strict here keeps host bugs visible.
Not emulated: digital/analog I/O, the pulse offset and register commands, the startup string.
The reported pulse is the modelled servo position (the board reports the pulse it outputs,
which during a timed move is the same ramp). The emulated board starts its pulses at the
arm's home pose, as a PWM arm must be set up (the SSC-32U's startup string) for its first
readback to be a position.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Mapping

from robot_touch.virtual_arm.device import DeviceEmulator, ServoModel

MAX_CHANNEL = 31
MIN_PULSE, MAX_PULSE = 500, 2500
#: Longer lines overflow the emulated receive buffer and are dropped (bounded memory on garbage).
MAX_LINE = 512
DEFAULT_VERSION = 'SSC32-V2.50USB'

_MOVE_LINE = re.compile(r'(?:#\d{1,2}P\d{1,5}(?:S\d{1,5})?)+(?:T\d{1,5})?')
_MOVE_ITEM = re.compile(r'#(\d{1,2})P(\d{1,5})(?:S(\d{1,5}))?')
_QUERY_LINE = re.compile(r'(?:QP\d{1,2})+')
_QUERY_ITEM = re.compile(r'QP(\d{1,2})')
_STOP_LINE = re.compile(r'STOP(\d{1,2})')
_IGNORED = str.maketrans('', '', ' \t\n')


class SSC32Device(DeviceEmulator):
    """
    SSC-32U board side; raw units are µs of pulse width, servo ids are channels 0-31.

    :param servos: channel -> model.
    :param options: ``version`` (the ``VER`` answer); other keys are ignored.
    """

    name: ClassVar[str] = 'ssc32'

    def __init__(
        self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(servos, options)
        self.version = str(self.options.get('version', DEFAULT_VERSION))
        self._line = bytearray()
        self._max_speed = {ch: servo.speed for ch, servo in self.servos.items()}
        #: pulse widths of channels without a modelled servo (the board drives them anyway)
        self._free_pulses: dict[int, int] = {}
        self._last_move: list[int] = []
        #: lines ignored as malformed, for tests and diagnostics
        self.rejected = 0

    def reset(self) -> None:
        """Forget a partly received line (controller reset)."""
        self._line.clear()

    def feed(self, data: bytes) -> list[bytes]:
        """Consume host bytes; one reply per complete query line (moves are silent)."""
        replies: list[bytes] = []
        for byte in data:
            if byte == 0x0D:
                reply = self._execute(bytes(self._line))
                self._line.clear()
                if reply:
                    replies.append(reply)
            elif byte == 0x1B:  # <esc>: cancel the line (guide, "Cancel Output")
                self._line.clear()
            elif len(self._line) >= MAX_LINE:
                self._line.clear()
                self.rejected += 1
            else:
                self._line.append(byte)
        return replies

    # -- one line ---------------------------------------------------------------------------

    def _execute(self, raw: bytes) -> bytes | None:
        try:
            line = raw.decode('ascii').translate(_IGNORED).upper()
        except UnicodeDecodeError:
            self.rejected += 1
            return None
        if not line:
            return None
        if _MOVE_LINE.fullmatch(line):
            return self._group_move(line)
        if _QUERY_LINE.fullmatch(line):
            return self._query_pulses(line)
        if line == 'Q':
            return (
                b'+'
                if any(self.servos[ch].moving for ch in self._last_move if ch in self.servos)
                else b'.'
            )
        if line == 'VER':
            return (self.version + '\r').encode('ascii')
        stop = _STOP_LINE.fullmatch(line)
        if stop and int(stop.group(1)) <= MAX_CHANNEL:
            servo = self.servos.get(int(stop.group(1)))
            if servo is not None:
                servo.goal = servo.position
            return None
        self.rejected += 1
        return None

    def _group_move(self, line: str) -> None:
        items = [(int(c), int(p), int(s) if s else None) for c, p, s in _MOVE_ITEM.findall(line)]
        before, has_time, after = line.rpartition('T')
        move_ms = int(after) if has_time else 0
        if any(ch > MAX_CHANNEL for ch, _, _ in items):
            self.rejected += 1
            return None
        # The slowest servo sets the duration, so that all of them arrive together.
        duration = move_ms / 1000.0
        planned: list[tuple[ServoModel, int, float]] = []
        for ch, pw, speed in items:
            if pw != 0:
                pw = min(MAX_PULSE, max(MIN_PULSE, pw))
            servo = self.servos.get(ch)
            if servo is None:
                self._free_pulses[ch] = pw
                continue
            if pw == 0:
                servo.torque_enabled = False
                continue
            if not servo.torque_enabled:
                # No pulse was being sent: the board jumps, the servo goes at its own speed.
                servo.torque_enabled = True
                servo.set_goal(pw)
                servo.speed = self._max_speed[ch]
                continue
            servo.set_goal(pw)
            distance = abs(servo.goal - servo.position)
            duration = max(duration, distance / self._max_speed[ch])
            if speed:
                duration = max(duration, distance / speed)
            planned.append((servo, ch, distance))
        for servo, ch, distance in planned:
            servo.speed = (
                distance / duration if duration > 0 and distance > 0 else self._max_speed[ch]
            )
        self._last_move = [ch for ch, _, _ in items]
        return None

    def _query_pulses(self, line: str) -> bytes | None:
        channels = [int(c) for c in _QUERY_ITEM.findall(line)]
        if any(ch > MAX_CHANNEL for ch in channels):
            self.rejected += 1
            return None
        reply = bytearray()
        for ch in channels:
            servo = self.servos.get(ch)
            if servo is None:
                pulse = self._free_pulses.get(ch, 0)
            else:
                pulse = servo.position if servo.torque_enabled else 0
            reply.append(min(255, max(0, int(pulse / 10.0 + 0.5))))
        return bytes(reply)
