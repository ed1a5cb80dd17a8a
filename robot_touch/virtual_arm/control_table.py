"""
What the emulated bus-servo devices (Feetech STS, DYNAMIXEL Protocol 2.0) share.

Each servo is a :class:`Unit`: its physical model, its live control table (a bytearray),
the copy of its EEPROM area that survives a power cycle, and its bus state. Packets are
received into a byte buffer that a stalled sender cannot block for ever. Servos are found
by the id in their own table, so an id change takes effect as on the real bus, and two
servos given the same id both answer, their replies colliding on the wire as they would.
A servo answers only at its own baud rate when the host's line speed is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, ClassVar, Iterable, Mapping, Protocol

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
    table[register.address:register.address + register.size] = value.to_bytes(
        register.size, 'little', signed=signed
    )


def get_register(table: bytearray, register: Register, signed: bool = False) -> int:
    """Return the little-endian value of ``register`` in ``table``."""
    return int.from_bytes(
        table[register.address:register.address + register.size], 'little', signed=signed
    )


def overlaps(address: int, end: int, register: Register) -> bool:
    """Return True when the bytes ``address..end-1`` touch ``register``."""
    return address < register.address + register.size and register.address < end


@dataclass
class Unit:
    """One servo on the bus: physics, live table, persisted EEPROM, bus state."""

    servo: ServoModel
    table: bytearray
    persisted: bytearray
    #: the instruction a REG_WRITE left for ACTION, in whatever form the protocol needs
    registered: Any = None
    #: seconds until a rebooting servo listens again
    booting: float = 0.0
    #: the protocol's own extra state (turn count, clocks ...)
    extra: dict[str, Any] = field(default_factory=dict)


class ControlTableDevice(DeviceEmulator):
    """
    A bus of servos with control tables, receiving packets into a buffer.

    A subclass names its ID and Baud Rate registers and rate codes, builds each servo's
    factory table (``_new_unit``, with :meth:`_assembled`) and its power-on table
    (``_power_on``), and splits the buffer into packets (``_take_frames``).
    """

    #: the protocol's ID and Baud Rate registers, and Baud Rate code -> bits per second
    id_register: ClassVar[Any]
    baud_register: ClassVar[Any]
    baud_rates: ClassVar[Mapping[int, int]]
    #: encoder steps per turn
    resolution: ClassVar[int] = 4096

    def __init__(
        self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(servos, options)
        self._buffer = bytearray()
        self._idle = 0.0  # seconds since bytes last arrived (advanced by step)
        self._line_speed: int | None = None
        self.units: list[Unit] = [self._new_unit(sid, servo) for sid, servo in self.servos.items()]
        self._index()
        #: frames rejected (bad checksum or CRC, malformed ...), for tests and diagnostics
        self.rejected = 0

    # -- the servos -------------------------------------------------------------------------

    def _new_unit(self, servo_id: int, servo: ServoModel) -> Unit:
        """Return a servo as assembled into the arm: factory table with its id (and bus rate)."""
        raise NotImplementedError

    def _assembled(self, factory: bytes, servo_id: int, servo: ServoModel) -> Unit:
        """
        Return a powered-on unit whose persisted table is ``factory`` with the arm's id and rate.

        The id and the baud rate (option ``baudrate``, default the factory rate) are those the
        arm was assembled with.
        """
        codes = {bps: code for code, bps in self.baud_rates.items()}
        baud = int(self.options.get('baudrate', self.baud_rates[self.baud_register.default]))
        if baud not in codes:
            raise ValueError(
                f'{self.name} servos cannot run at {baud} baud (rates: {sorted(codes)})'
            )
        persisted = bytearray(factory)
        put_register(persisted, self.id_register, servo_id)
        put_register(persisted, self.baud_register, codes[baud])
        unit = Unit(servo, bytearray(len(factory)), persisted)
        self._power_on(unit)
        return unit

    def _power_on(self, unit: Unit) -> None:
        """Load the live table from the persisted EEPROM and the SRAM's power-on values."""
        raise NotImplementedError

    def _unit_id(self, unit: Unit) -> int:
        return unit.table[self.id_register.address]

    def _unit_baud(self, unit: Unit) -> int | None:
        """Bits per second the servo listens at."""
        return self.baud_rates.get(unit.table[self.baud_register.address])

    def _reset_turns(self, unit: Unit) -> None:
        """Forget the turns: the servo knows its angle within one turn (power-on, reset, clear)."""
        unit.extra['turns'] = math.floor(unit.servo.position / self.resolution) * self.resolution

    def _index(self) -> None:
        """Rebuild the id lookups after an id change (or at start)."""
        by_id: dict[int, list[Unit]] = {}
        for unit in self.units:
            by_id.setdefault(self._unit_id(unit), []).append(unit)
        self._by_id = by_id
        self.servos = {sid: units[0].servo for sid, units in by_id.items()}

    @property
    def tables(self) -> dict[int, bytearray]:
        """Live control table by servo id."""
        return {sid: units[0].table for sid, units in self._by_id.items()}

    def unit(self, servo_id: int) -> Unit:
        """Return the (first) servo answering to ``servo_id``; KeyError if none."""
        return self._by_id[servo_id][0]

    def unit_of(self, servo: ServoModel) -> Unit:
        """Return the unit holding ``servo`` (whatever its id is now)."""
        return next(u for u in self.units if u.servo is servo)

    def _listening(self, servo_id: int) -> list[Unit]:
        """Return the servos that hear a packet addressed to ``servo_id`` (at the line speed)."""
        return [u for u in self._by_id.get(servo_id, ()) if self._hears(u)]

    def _hears(self, unit: Unit) -> bool:
        if unit.booting > 0:
            return False
        baud = self._unit_baud(unit)
        return self._line_speed is None or baud is None or baud == self._line_speed

    def _all_listening(self) -> list[Unit]:
        """Every servo that hears a broadcast, in id order."""
        return sorted((u for u in self.units if self._hears(u)), key=self._unit_id)

    def set_line_speed(self, baudrate: int | None) -> None:
        self._line_speed = baudrate

    def power_cycle(self) -> None:
        for unit in self.units:
            self._power_on(unit)
        self._index()

    @staticmethod
    def collide(replies: Iterable[bytes]) -> bytes:
        """
        Return what the host receives when several servos answer at once.

        On a half-duplex bus idling high, the bytes are ANDed (the longest reply's tail arrives
        alone).
        """
        out = bytearray()
        for reply in replies:
            for i, byte in enumerate(reply):
                if i < len(out):
                    out[i] &= byte
                else:
                    out.append(byte)
        return bytes(out)

    # -- time and bytes ---------------------------------------------------------------------

    def reset(self) -> None:
        self._buffer.clear()
        for unit in self.units:
            unit.registered = None

    def step(self, dt: float) -> None:
        """Advance the servos; time without incoming bytes also ages a partial frame."""
        for unit in self.units:
            if unit.booting > 0:
                unit.booting = max(0.0, unit.booting - dt)
            self._step_unit(unit, dt)
        self._idle += dt

    def _step_unit(self, unit: Unit, dt: float) -> None:
        unit.servo.step(dt)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        if buf and self._idle > STALE_FRAME_S:
            buf.clear()
            self.rejected += 1
        self._idle = 0.0
        buf += data
        return self._take_frames(buf)

    def _take_frames(self, buf: bytearray) -> list[bytes]:
        """
        Execute every complete packet at the start of ``buf``; return the replies, in order.

        Each packet is removed, with any garbage before it. A partial packet stays in ``buf``.
        """
        raise NotImplementedError

    def _malformed(self) -> list[bytes]:
        self.rejected += 1
        return []
