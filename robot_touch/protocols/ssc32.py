"""
Lynxmotion SSC-32U (and SSC-32) host backend: the board's ASCII command protocol.

Facts from the Lynxmotion SSC-32U User Guide ("Commands"):

* a group move is ``#<ch>P<pw>[S<spd>] ... [T<time>]<cr>``: every servo in it starts and ends
  together, the move taking ``<time>`` ms; pulse widths are µs (normally 500-2500), channels
  0-31; spaces, tabs and line feeds are ignored, letters are not case sensitive;
* ``QP <ch> <cr>`` answers one binary byte per queried servo, pulse width / 10 (1500 µs -> 150);
  several servos may be queried in one command. Because spaces are ignored, ``QP 0 1``
  would read as ``QP01``; each channel therefore gets its own ``QP`` (``QP0QP1<cr>``);
* ``Q <cr>`` answers ``.`` when the last move is complete, ``+`` while it runs;
* ``VER <cr>`` answers the firmware version text, ending in ``<cr>``;
* ``#<ch>P0`` stops the pulses of a channel (the servo goes limp): Lynxmotion's answer on
  the RobotShop community forum ("Stopping servos").

The board has no checksum: see :mod:`robot_touch.protocols.pwm_readback` for how readbacks
are checked anyway.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Mapping, Sequence

from robot_touch.protocols.base import ProtocolError
from robot_touch.protocols.packet_utils import check_goals, check_ids, port_errors_as_port_gone
from robot_touch.protocols.pwm_readback import limit_port_timeout, PULSES_OFF, PwmBus, Readback

MAX_CHANNEL = 31
MIN_PULSE = 500  # µs
MAX_PULSE = 2500  # µs
QP_RESOLUTION = 10  # µs per QP reply unit
MAX_MOVE_TIME = 65535  # ms, the guide's limit for T


def group_move(goals: Mapping[int, int], move_time_ms: int | None = None) -> bytes:
    r"""
    Return the ASCII group move for ``goals``, e.g. ``#5P1600#10P750T2500\\r``.

    :param goals: channel -> pulse width in µs (0 stops the pulses).
    :param move_time_ms: the move's duration; None or 0 moves at once.
    """
    text = ''.join(f'#{ch}P{pw}' for ch, pw in goals.items())
    if move_time_ms:
        text += f'T{min(MAX_MOVE_TIME, move_time_ms)}'
    return (text + '\r').encode('ascii')


def query_pulse_widths(channels: Sequence[int]) -> bytes:
    r"""Return the query for several channels' pulse widths: ``QP0QP1...\\r`` (1 byte each)."""
    return (''.join(f'QP{ch}' for ch in channels) + '\r').encode('ascii')


def decode_pulse_widths(reply: bytes, count: int) -> list[int | None] | None:
    """
    Return a QP reply -> pulse width (µs) per channel.

    None for the whole reply when its length is wrong (a dropped or extra byte would shift every
    channel), None for a channel whose byte is no valid pulse (0 = pulses off, or outside 500-2500
    µs).
    """
    if len(reply) != count:
        return None
    widths: list[int | None] = []
    for byte in reply:
        pw = byte * QP_RESOLUTION
        widths.append(pw if MIN_PULSE <= pw <= MAX_PULSE else None)
    return widths


class SSC32Bus(PwmBus):
    """
    Lynxmotion SSC-32U servo controller: channels 0-31, raw units µs of pulse width.

    Options (``protocol_options``):
        move_time_ms: T of every group move. Default: the time since the previous
            ``write_goals`` (capped by ``max_move_time_ms``), so streamed goals are
            interpolated by the board over exactly one command period.
        max_move_time_ms: cap of the measured period (default 100 ms): after a pause the
            next goal must not crawl.
        reply_timeout_ms: how long to wait for a reply (default 40 ms: the board answers
            within 5 ms, an FTDI adapter adds up to its 16 ms latency timer).
    """

    name: ClassVar[str] = 'ssc32'
    default_baudrate: ClassVar[int] = 115_200
    units: ClassVar[str] = 'us'
    goal_range: ClassVar[tuple[int, int] | None] = (MIN_PULSE, MAX_PULSE)
    max_channel: ClassVar[int] = MAX_CHANNEL
    readback_resolution: ClassVar[float] = QP_RESOLUTION
    readback_bytes: ClassVar[int] = 1

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(port, ids, options, retries)
        self.move_time_ms = self._option_ms('move_time_ms', None)
        self.max_move_time_ms = self._option_ms('max_move_time_ms', 100) or 100
        self.reply_timeout = (self._option_ms('reply_timeout_ms', 40) or 40) / 1000.0
        self._last_write: float | None = None
        limit_port_timeout(port, min(0.01, self.reply_timeout))

    def _option_ms(self, key: str, default: int | None) -> int | None:
        value = self.options.get(key, default)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 <= value <= MAX_MOVE_TIME
        ):
            raise ProtocolError(
                f'{self.name}: option {key} must be a number of ms in 0..{MAX_MOVE_TIME}, '
                f'got {value!r}'
            )
        return int(value)

    # -- commands ---------------------------------------------------------------------------

    def ping(self, servo_id: int) -> bool:
        """Return True when the board answers ``VER`` (the board answers for every channel)."""
        check_ids([servo_id], MAX_CHANNEL)
        return self.version() is not None

    def version(self) -> str | None:
        """Return the firmware version text (e.g. ``SSC32-V2.50USB``), None when it is silent."""
        with port_errors_as_port_gone(self.name):
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                self.port.reset_input_buffer()
                self.port.write(b'VER\r')
                self.stats.reads += 1
                text = self._read_line()
                if text is not None:
                    return text
        return None

    def write_goals(self, goals: Mapping[int, int]) -> None:
        """One group move to every given channel, timed so that they all arrive together."""
        checked = check_goals(goals, self._id_set, MIN_PULSE, MAX_PULSE)
        if not checked:
            return
        now = time.monotonic()
        move_time = self.move_time_ms
        if move_time is None and self._last_write is not None:
            move_time = min(self.max_move_time_ms, round((now - self._last_write) * 1000.0))
        self._last_write = now
        self._send(group_move(dict(checked), move_time))
        self._commanded(checked)

    # -- protocol hooks (see PwmBus) --------------------------------------------------------

    def _position_query(self, channels: Sequence[int]) -> bytes:
        """One ``QP`` query for every channel."""
        return query_pulse_widths(channels)

    def _decode_readback(self, reply: bytes, count: int) -> list[Readback] | None:
        widths = decode_pulse_widths(reply, count)
        if widths is None:
            return None
        return [PULSES_OFF if byte == 0 else pw for pw, byte in zip(widths, reply)]

    def _encode_pulses(self, pulses: Mapping[int, int]) -> bytes:
        """One group move, at once (``#<ch>P0`` stops the pulses)."""
        return group_move(pulses)

    # -- I/O --------------------------------------------------------------------------------

    def _read_line(self) -> str | None:
        """Read a ``<cr>``-terminated printable reply, None if it is garbled or late."""
        data = bytearray()
        deadline = time.monotonic() + self.reply_timeout
        while time.monotonic() < deadline and len(data) < 64:
            chunk = self.port.read(1)
            if not chunk:
                continue
            if chunk == b'\r':
                text = data.decode('ascii', 'replace')
                if data and text.isprintable():
                    return text
                self.stats.bad_replies += 1
                return None
            data += chunk
        if data:
            self.stats.bad_replies += 1
        else:
            self.stats.timeouts += 1
        return None
