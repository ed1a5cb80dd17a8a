"""What the emulated bus-servo devices (Feetech STS, DYNAMIXEL Protocol 2.0) share.

Both keep one control table (a bytearray) per servo, receive packets into a byte buffer that
a stalled sender cannot block for ever, and count the frames they reject.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from robot_touch.virtual_arm.device import DeviceEmulator, ServoModel

#: A servo's receiver abandons a packet whose bytes stop arriving. Without this, a false
#: header with a long LEN would swallow every following request until LEN bytes piled up.
#: (Emulator value: any gap far longer than a packet's wire time at the bus speed.)
STALE_FRAME_S = 0.1


class Register(Protocol):
    """A control-table register (``feetech_tables.Register``, ``dynamixel_tables.Register``)."""

    @property
    def address(self) -> int: ...

    @property
    def size(self) -> int: ...


def put_register(table: bytearray, register: Register, value: int, signed: bool = False) -> None:
    """Store ``value`` little-endian in ``register`` of ``table``."""
    table[register.address : register.address + register.size] = value.to_bytes(
        register.size, "little", signed=signed
    )


def get_register(table: bytearray, register: Register, signed: bool = False) -> int:
    """The little-endian value of ``register`` in ``table``."""
    return int.from_bytes(table[register.address : register.address + register.size], "little", signed=signed)


class ControlTableDevice(DeviceEmulator):
    """A bus of servos with control tables, receiving packets into a buffer.

    A subclass builds each servo's table (``_initial_table``) and splits the buffer into
    packets (``_take_frames``); instructions registered for ACTION are kept in
    ``_registered`` in whatever form the protocol needs.
    """

    def __init__(self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None) -> None:
        super().__init__(servos, options)
        self._buffer = bytearray()
        self.tables: dict[int, bytearray] = {sid: self._initial_table(sid, s) for sid, s in self.servos.items()}
        self._idle = 0.0  # seconds since bytes last arrived (advanced by step)
        self._registered: dict[int, Any] = {}
        #: frames rejected (bad checksum or CRC, malformed ...), for tests and diagnostics
        self.rejected = 0

    @staticmethod
    def _initial_table(servo_id: int, servo: ServoModel) -> bytearray:
        """The control table of a servo at power-on."""
        raise NotImplementedError

    def reset(self) -> None:
        self._buffer.clear()
        self._registered.clear()

    def step(self, dt: float) -> None:
        """Advance the servos; time without incoming bytes also ages a partial frame."""
        super().step(dt)
        self._idle += dt

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        if buf and self._idle > STALE_FRAME_S:
            buf.clear()
            self.rejected += 1
        self._idle = 0.0
        buf += data
        return self._take_frames(buf)

    def _take_frames(self, buf: bytearray) -> list[bytes]:
        """Execute every complete packet at the start of ``buf`` (removing it, and any garbage
        before it); the replies, in order. A partial packet stays in ``buf``."""
        raise NotImplementedError

    def _malformed(self) -> list[bytes]:
        self.rejected += 1
        return []
