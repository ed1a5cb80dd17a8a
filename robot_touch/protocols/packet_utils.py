"""
Small pure helpers shared by the bus-servo codecs: checksums, CRC, byte stuffing, encodings.

Also home of :class:`OpenPortMixin`, the glue that lets the vendors' SDK packet handlers run
over a pyserial port object we opened ourselves.
"""

from __future__ import annotations

from contextlib import contextmanager
import operator
import time
from typing import Any, Iterator

from dynamixel_sdk.protocol2_packet_handler import Protocol2PacketHandler
from robot_touch.protocols.base import PortGone, ProtocolError

try:
    import termios

    #: what a failing serial port raises: pyserial's SerialException is an OSError, but
    #: tcflush/tcdrain on a vanished tty raise termios.error, which is not
    PORT_ERRORS: tuple[type[BaseException], ...] = (OSError, termios.error)
except ImportError:  # not on POSIX
    PORT_ERRORS = (OSError,)


@contextmanager
def port_errors_as_port_gone(name: str) -> Iterator[None]:
    """Turn a failing port (unplugged adapter, EIO) into :class:`PortGone`."""
    try:
        yield
    except PORT_ERRORS as exc:
        raise PortGone(f'{name}: serial port failed: {exc}') from exc


_DXL_HEADER = b'\xff\xff\xfd'
_DXL_STUFFED = b'\xff\xff\xfd\xfd'
_DXL_CRC = Protocol2PacketHandler()


def feetech_checksum(body: bytes | bytearray) -> int:
    """
    FT-SCS checksum: ``~(ID + LEN + INSTR/ERROR + PARAMS) & 0xFF``.

    :param body: the packet without its ``FF FF`` header and without the checksum byte.
    """
    # Written here because scservo_sdk computes it only inline in txPacket/rxPacket; the
    # emulated device needs it on its own.
    return ~sum(body) & 0xFF


def feetech_packet(servo_id: int, instruction: int, params: bytes = b'') -> bytes:
    """Return a complete FT-SCS packet (a status packet when ``instruction`` is the error byte)."""
    body = bytes((servo_id, len(params) + 2, instruction)) + bytes(params)
    return b'\xff\xff' + body + bytes((feetech_checksum(body),))


def dxl_crc16(data: bytes | bytearray) -> int:
    """
    DYNAMIXEL Protocol 2.0 CRC-16 (polynomial 0x8005, initial 0) of ``data``.

    The dynamixel-sdk's own table implementation is used so host and emulator agree with it.
    """
    return _DXL_CRC.updateCRC(0, data, len(data))


def dxl_stuff(body: bytes) -> bytes:
    """
    Byte-stuff a Protocol 2.0 packet body (instruction/error + params): FF FF FD -> FF FF FD FD.

    ``bytes.replace`` is exact here: the pattern cannot overlap itself (FD != FF), so its
    left-to-right non-overlapping matches are precisely the places the e-Manual stuffs.
    (dynamixel_sdk's addStuffing works on whole packets as int lists, and its own txPacket
    discards the result, so it is not used on the way out.)
    """
    return body.replace(_DXL_HEADER, _DXL_STUFFED)


def dxl_unstuff(body: bytes) -> bytes | None:
    """
    Undo :func:`dxl_stuff`; None when ``body`` holds an unstuffed ``FF FF FD`` (a bad packet).

    (dynamixel_sdk's removeStuffing cannot tell a stuffed from a broken body, which the
    strict emulated device needs.)
    """
    start = 0
    while True:
        found = body.find(_DXL_HEADER, start)
        if found < 0:
            break
        if body[found + 3:found + 4] != b'\xfd':
            return None
        start = found + 4
    return body.replace(_DXL_STUFFED, _DXL_HEADER)


def dxl_needs_stuffing(body: bytes) -> bool:
    """Return True when an unstuffed body holds the header pattern and must be stuffed to send."""
    return _DXL_HEADER in body


def dxl_packet(servo_id: int, instruction: int, params: bytes = b'') -> bytes:
    """
    Return a complete, stuffed Protocol 2.0 packet.

    ``instruction`` 0x55 + error byte first in params makes a status packet.
    """
    body = dxl_stuff(bytes((instruction,)) + bytes(params))
    length = len(body) + 2
    head = b'\xff\xff\xfd\x00' + bytes((servo_id, length & 0xFF, length >> 8))
    crc = dxl_crc16(head + body)
    return head + body + bytes((crc & 0xFF, crc >> 8))


def to_sign_magnitude(value: int, sign_bit: int) -> int:
    """
    Feetech sign-magnitude: magnitude in the low bits, sign in ``sign_bit``.

    :raises ValueError: the magnitude does not fit below the sign bit.
    """
    magnitude = abs(value)
    if magnitude >= 1 << sign_bit:
        raise ValueError(f'{value} does not fit in {sign_bit} bits plus sign')
    return magnitude | (1 << sign_bit) if value < 0 else magnitude


def from_sign_magnitude(raw: int, sign_bit: int) -> int:
    """Inverse of :func:`to_sign_magnitude` (bits above the sign bit are ignored)."""
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


class OpenPortMixin:
    """
    Makes a vendor SDK ``PortHandler`` subclass drive an already-open pyserial port.

    Why this exists: the ROBOTIS and Feetech SDK port handlers open a device *path* themselves
    (``serial.Serial(port_name)``), which rules out ``socket://``, ``loop://``, RFC 2217 and
    ports another layer opened (reconnect logic, the virtual arm's pty). Their packet handlers
    only call the handful of methods overridden here, so swapping the transport keeps all of
    the SDK's packet logic. Timing also changes: packet timeouts use ``time.monotonic`` (the
    SDKs use wall-clock time, which jumps with NTP) and a configurable latency allowance.

    Use as ``class _Port(OpenPortMixin, scservo_sdk.PortHandler)``.

    :param ser: the open pyserial port.
    :param latency_ms: time allowed on top of the reply's wire time (USB latency timer, servo
        return delay); the SDKs use 2 x 16 ms + 2 ms.
    """

    ser: Any
    is_open: bool
    is_using: bool
    baudrate: int
    packet_start_time: float
    packet_timeout: float
    tx_time_per_byte: float

    def __init__(self, ser: Any, latency_ms: float = 34.0) -> None:
        port_name = str(getattr(ser, 'port', None) or getattr(ser, 'name', 'open-port'))
        super().__init__(port_name)  # type: ignore[call-arg]
        self.ser = ser
        self.is_open = True
        self.latency_ms = float(latency_ms)
        self.baudrate = int(getattr(ser, 'baudrate', 1_000_000) or 1_000_000)
        # 10 bits per byte on the wire (start + 8 data + stop), in milliseconds
        self.tx_time_per_byte = 10_000.0 / self.baudrate
        # readPort blocks up to the port's read timeout: keep it within one packet timeout so
        # a missing reply costs about latency_ms, not a long (or infinite) port timeout.
        limit = max(0.001, self.latency_ms / 1000.0)
        if getattr(ser, 'timeout', None) is None or ser.timeout > limit:
            ser.timeout = limit

    def openPort(self) -> bool:  # SDK naming
        return True

    def closePort(self) -> None:
        # The port belongs to whoever opened it.
        self.is_open = False

    def setBaudRate(self, baudrate: int) -> bool:
        # Changing the baud rate is the port owner's business; refuse rather than re-open.
        return False

    def setupPort(self, cflag_baud: int) -> bool:
        return False

    def clearPort(self) -> None:
        # Drop late replies to an earlier, timed-out request so they cannot be taken for
        # replies to the next one (scservo_sdk's clearPort only drains the output).
        self.ser.reset_input_buffer()

    def getBytesAvailable(self) -> int:
        return int(self.ser.in_waiting)

    def readPort(self, length: int) -> bytes:
        # Blocks at most the port's read timeout; the SDK loops until its packet timeout.
        return self.ser.read(length)

    def writePort(self, packet: Any) -> int:
        return self.ser.write(bytes(packet))

    def setPacketTimeout(self, packet_length: int) -> None:
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + self.latency_ms

    def getCurrentTime(self) -> float:
        return time.monotonic() * 1000.0

    def getTimeSinceStart(self) -> float:
        return self.getCurrentTime() - self.packet_start_time


def check_ids(ids: Any, max_id: int) -> list[int]:
    """
    Validate a bus's servo ids: integers in 0..max_id, no duplicates.

    :raises ProtocolError: naming the offending id.
    """
    checked: list[int] = []
    for servo_id in ids:
        if (
            isinstance(servo_id, bool)
            or not isinstance(servo_id, int)
            or not 0 <= servo_id <= max_id
        ):
            raise ProtocolError(f'servo id {servo_id!r} is not an integer in 0..{max_id}')
        if servo_id in checked:
            raise ProtocolError(f'servo id {servo_id} is listed twice')
        checked.append(servo_id)
    if not checked:
        raise ProtocolError('a bus needs at least one servo id')
    return checked


def check_goals(goals: Any, known_ids: Any, lowest: int, highest: int) -> list[tuple[int, int]]:
    """
    Validate goal positions before anything is sent, so bad input never half-applies.

    :param goals: servo id -> raw goal (any integral number type, e.g. numpy ints).
    :param known_ids: the ids on this bus.
    :param lowest: the raw range the register can encode.
    :param highest: see ``lowest``.

    :returns: (id, goal) pairs as plain ints, in the order given.

    :raises ProtocolError: unknown id, non-integral goal, or goal outside the encodable range.
    """
    checked: list[tuple[int, int]] = []
    for servo_id, goal in goals.items():
        if servo_id not in known_ids:
            raise ProtocolError(f'servo id {servo_id!r} is not on this bus ({sorted(known_ids)})')
        try:
            if isinstance(goal, bool):
                raise TypeError
            value = operator.index(goal)
        except TypeError:
            raise ProtocolError(
                f'goal for servo {servo_id} must be an integer, got {goal!r}'
            ) from None
        if not lowest <= value <= highest:
            raise ProtocolError(
                f'goal {value} for servo {servo_id} is outside {lowest}..{highest}'
            )
        checked.append((servo_id, value))
    return checked
