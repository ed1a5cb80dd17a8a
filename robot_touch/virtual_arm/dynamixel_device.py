"""
Emulated DYNAMIXEL X-series bus (e.g. OpenMANIPULATOR-X's XM430s) speaking Protocol 2.0.

Each servo has the whole XM430-W350 control table (``dynamixel_tables``: initial values of
the e-Manual, addresses 0..661 with the indirect addresses): every address can be read, and
the table drives the servo as the e-Manual says:

* Present Position = the encoder reading (mirrored within the turn by Drive Mode's reverse
  bit, see below) + Homing Offset (in Position Control Mode only offsets within +-1,024
  are used); it is reset to one turn at power-on, on entering Position Control Mode and on
  torque-on in it, and by CLEAR;
* Goal Position outside Min/Max Position Limit (Position Control Mode) or outside
  +-1,048,575 (the extended modes) is refused with a Data Limit Error; Velocity Control
  Mode turns at Goal Velocity; Profile Velocity/Acceleration shape a move (0 = none);
* Present Velocity, Moving, Moving Status and Realtime Tick follow the servo; Indirect Data
  reads and writes the address its Indirect Address holds.

Device rules followed (ROBOTIS e-Manual, Protocol 2.0 and XM430-W350):
  * received packets are checked (header ``FF FF FD 00``, id, length, CRC over the stuffed
    bytes) and then unstuffed; a bad CRC gets no reply (as the DeviceEmulator contract asks;
    firmware may answer with a CRC error instead). A packet whose body still holds an
    unstuffed ``FF FF FD`` is a protocol violation and is dropped, which catches hosts that
    skip stuffing. Outgoing status packets are stuffed (the fast reads' combined packet is
    not: its per-servo CRCs are over the bytes as sent).
  * the broadcast id gets no reply, except PING, answered by every servo in id order;
    SYNC/BULK READ are answered by each listed servo in the listed order, FAST SYNC/BULK
    READ by one packet the servos build together (a missing servo cuts it short);
    SYNC/BULK WRITE never reply.
  * Status Return Level (68): 0 answers only PING, 1 also READ, 2 (default) everything.
  * status error byte: bit 7 (alert) while Hardware Error Status (70) is non-zero, plus an
    error number: instruction (unknown instruction), data length (malformed parameters),
    data range (wrong CLEAR or FACTORY RESET parameter), access (read-only/undefined
    address, EEPROM while torque is on), data limit (goal outside its range), result fail
    (torque on while a shutdown error is latched, CLEAR while moving).
  * hardware errors: input voltage outside the voltage limits, temperature above the limit.
    Errors in Shutdown (63) switch torque off until REBOOT.
  * ID and Baud Rate changes take effect after the reply (sent from the old id); a servo at
    another baud rate than the host's port hears nothing. REBOOT replies, then reloads the
    RAM area (the servo is deaf while it restarts); FACTORY RESET replies, then restores the
    initial values (by its option: all, all but the id, all but id and baud rate).
Emulator assumptions (the e-Manual does not say): the reverse bit mirrors the reading
within the turn (4095 - position) so that Position Control Mode keeps its 0..4,095 range;
a reboot takes 0.3 s. Not emulated: current and PWM control (the servo holds still), the
time-based profile, Bus Watchdog, present current and PWM (read 0).

(Over 400 lines: the servo's table semantics and its single-servo instructions belong
together; the group instructions are in :mod:`robot_touch.virtual_arm.dynamixel_group`.)
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols.packet_utils import dxl_crc16, dxl_packet, dxl_unstuff
from robot_touch.virtual_arm.control_table import ControlTableDevice, overlaps, Unit
from robot_touch.virtual_arm.control_table import get_register as _get
from robot_touch.virtual_arm.control_table import put_register as _put
from robot_touch.virtual_arm.device import ServoModel
from robot_touch.virtual_arm.dynamixel_group import GroupInstructions

#: XM430-W350 no-load speed at 12 V: 46 rev/min (e-Manual), in steps/s
MAX_SPEED = 46.0 * dxt.RESOLUTION / 60.0
#: rev/min -> steps/s
_RPM = dxt.RESOLUTION / 60.0
BOOT_TIME = 0.3  # s, emulator value

_WRITABLE = bytearray(dxt.TABLE_SIZE)
_INITIAL = bytearray(dxt.TABLE_SIZE)
for _reg in dxt.REGISTERS + dxt.INDIRECT_ADDRESSES + dxt.INDIRECT_DATA:
    if _reg.writable:
        _WRITABLE[_reg.address:_reg.address + _reg.size] = b'\x01' * _reg.size
    _INITIAL[_reg.address:_reg.address + _reg.size] = _reg.default.to_bytes(
        _reg.size, 'little', signed=_reg.signed
    )
_INDIRECT = {
    reg.address: first + 2 * (reg.address - data)
    for first, data, count in dxt.INDIRECT_BLOCKS
    for reg in dxt.INDIRECT_DATA
    if data <= reg.address < data + count
}
_EXTENDED_MODES = (dxt.MODE_EXTENDED_POSITION, dxt.MODE_CURRENT_POSITION)
_INT32 = (-(1 << 31), (1 << 31) - 1)


def _int32(value: float) -> int:
    return max(_INT32[0], min(_INT32[1], round(value)))


class DynamixelP2Device(GroupInstructions, ControlTableDevice):
    """
    Protocol 2.0 device side for a bus of X-series servos.

    :param servos: servo id -> model (raw units are X-series steps, 4096 per turn).
    :param options: ``model_number`` and ``firmware`` reported by PING (default XM430-W350's);
        ``baudrate``: the rate the servos were set to when the arm was assembled (default 57,600,
        the factory rate); ``supply_voltage`` (default 12.0 V, the XM430's rated supply) powers
        every servo model left at ServoModel's default voltage, a 2S LiPo's 7.4 V, which is below
        the X series' 9.5 V minimum and would raise an input-voltage alert on every reply;
        ``boot_time`` (s).
    """

    name: ClassVar[str] = 'dynamixel_p2'
    id_register: ClassVar[dxt.Register] = dxt.ID
    baud_register: ClassVar[dxt.Register] = dxt.BAUD_RATE
    baud_rates: ClassVar[dict[int, int]] = dxt.BAUD_RATES
    resolution: ClassVar[int] = dxt.RESOLUTION

    def __init__(
        self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None
    ) -> None:
        options = dict(options or {})
        supply = float(options.get('supply_voltage', 12.0))
        default_voltage = ServoModel.__dataclass_fields__['voltage'].default
        for servo in servos.values():
            if servo.voltage == default_voltage:
                servo.voltage = supply
        super().__init__(servos, options)

    # -- the servos ---------------------------------------------------------------------

    def _new_unit(self, servo_id: int, servo: ServoModel) -> Unit:
        factory = bytearray(_INITIAL)
        model = int(self.options.get('model_number', dxt.XM430_W350_MODEL_NUMBER))
        _put(factory, dxt.MODEL_NUMBER, model)
        _put(factory, dxt.FIRMWARE, int(self.options.get('firmware', dxt.FIRMWARE_VERSION)))
        return self._assembled(factory, servo_id, servo)

    def _power_on(self, unit: Unit) -> None:
        """EEPROM as persisted, RAM at its initial values, position within one turn."""
        table = unit.table
        table[:] = _INITIAL
        table[: dxt.EEPROM_END] = unit.persisted[: dxt.EEPROM_END]
        unit.registered = None
        unit.servo.hand_target = None
        unit.extra.update(clock=0.0)
        self._reset_turns(unit)
        _put(table, dxt.GOAL_POSITION, _int32(self._present(unit)), signed=True)
        self._apply(unit)

    # -- the servo's physics seen through its table ---------------------------------------

    def _reversed(self, unit: Unit) -> bool:
        return bool(unit.table[dxt.DRIVE_MODE.address] & dxt.DRIVE_MODE_REVERSE)

    def _offset(self, unit: Unit) -> int:
        offset = _get(unit.table, dxt.HOMING_OFFSET, signed=True)
        if (
            unit.table[dxt.OPERATING_MODE.address] == dxt.MODE_POSITION
            and abs(offset) > dxt.POSITION_MODE_OFFSET_LIMIT
        ):
            return 0  # e-Manual: ignored in Position Control Mode
        return offset

    def _present(self, unit: Unit) -> float:
        """Present Position = Actual Position + Homing Offset (e-Manual)."""
        raw = unit.servo.position - unit.extra['turns']
        if self._reversed(unit):
            raw = (dxt.RESOLUTION - 1) - raw
        return raw + self._offset(unit)

    def present_position(self, servo_id: int) -> float:
        return self._present(self.unit(servo_id))

    def _apply(self, unit: Unit) -> None:
        """Turn the table into the model's drive: torque, goal, speed, acceleration."""
        table, servo = unit.table, unit.servo
        servo.torque_enabled = table[dxt.TORQUE_ENABLE.address] == 1
        limit = _get(table, dxt.VELOCITY_LIMIT)
        profile = _get(table, dxt.PROFILE_VELOCITY)
        cap = min(limit, profile) if profile else limit
        servo.speed = min(MAX_SPEED, cap * dxt.VELOCITY_UNIT_RPM * _RPM) if cap else MAX_SPEED
        servo.acceleration = (
            _get(table, dxt.PROFILE_ACCELERATION) * dxt.ACCELERATION_UNIT_RPM2 * _RPM / 60.0
        )
        mode = table[dxt.OPERATING_MODE.address]
        sign = -1.0 if self._reversed(unit) else 1.0
        if mode == dxt.MODE_POSITION or mode in _EXTENDED_MODES:
            goal = _get(table, dxt.GOAL_POSITION, signed=True)
            servo.goal = servo.position + sign * (goal - self._present(unit))
        elif mode == dxt.MODE_VELOCITY:
            velocity = _get(table, dxt.GOAL_VELOCITY, signed=True) * dxt.VELOCITY_UNIT_RPM * _RPM
            servo.speed = min(MAX_SPEED, abs(velocity))
            servo.goal = servo.position + sign * velocity  # a second ahead: turns at that speed
        else:
            servo.goal = servo.position

    def _step_unit(self, unit: Unit, dt: float) -> None:
        unit.extra['clock'] += dt
        self._apply(unit)
        unit.servo.step(dt)
        self._update_hardware_error(unit)

    def _update_hardware_error(self, unit: Unit) -> None:
        table, servo = unit.table, unit.servo
        bits = 0
        decivolts = round(servo.voltage * 10)
        if (
            not _get(table, dxt.MIN_VOLTAGE_LIMIT)
            <= decivolts
            <= _get(table, dxt.MAX_VOLTAGE_LIMIT)
        ):
            bits |= 0x01
        if servo.temperature > _get(table, dxt.TEMPERATURE_LIMIT):
            bits |= 0x04
        table[dxt.HARDWARE_ERROR_STATUS.address] |= bits  # latched until reboot
        if table[dxt.HARDWARE_ERROR_STATUS.address] & table[dxt.SHUTDOWN.address]:
            table[dxt.TORQUE_ENABLE.address] = 0
            servo.torque_enabled = False

    # -- framing ------------------------------------------------------------------------

    def _take_frames(self, buf: bytearray) -> list[bytes]:
        replies: list[bytes] = []
        while True:
            start = buf.find(b'\xff\xff\xfd')
            if start < 0:
                # keep a trailing FF or FF FF: it may begin the next header
                keep = 2 if buf.endswith(b'\xff\xff') else 1 if buf.endswith(b'\xff') else 0
                del buf[: len(buf) - keep]
                break
            del buf[:start]
            if len(buf) < 7:
                break
            servo_id, length = buf[4], buf[5] | buf[6] << 8
            if (
                buf[3] != 0x00
                or servo_id in (0xFD, 0xFF)
                or length < 3
                or length + 7 > dxt.MAX_PACKET
            ):
                # FF FF FD FD is stuffed data, not a header; the rest cannot be a packet
                del buf[0]
                continue
            total = length + 7
            if len(buf) < total:
                break
            frame = bytes(buf[:total])
            if dxl_crc16(frame[:-2]) != frame[-2] | frame[-1] << 8:
                self.rejected += 1
                del buf[0]  # a false header in garbage must not swallow the real packet
                continue
            del buf[:total]
            body = dxl_unstuff(frame[7:-2])
            if body is None:
                self.rejected += 1
                continue
            replies += self._execute(servo_id, body[0], body[1:])
            self._index()  # an id written takes effect after the reply, sent from the old id
        return replies

    # -- instructions -------------------------------------------------------------------

    def _execute(self, servo_id: int, instruction: int, params: bytes) -> list[bytes]:
        broadcast = servo_id == dxt.BROADCAST_ID
        units = self._all_listening() if broadcast else self._listening(servo_id)
        if not units:
            return []
        if instruction == dxt.INST_PING:
            replies = [self._status(u, self._unit_id(u), 0, self._ping_info(u)) for u in units]
            return replies if broadcast else [self.collide(replies)]
        group = self._group(broadcast, instruction, params)
        if group is not None:
            return group
        answers: list[bytes] = []
        for unit in units:
            error, data = self._one(unit, broadcast, instruction, params)
            if error is None:
                continue
            level = unit.table[dxt.STATUS_RETURN_LEVEL.address]
            if level >= 2 or (level == 1 and instruction == dxt.INST_READ):
                answers.append(self._status(unit, servo_id, error, data))
        for unit in units:
            pending = unit.extra.pop('pending', None)
            if pending is not None:  # reboot / factory reset: after the reply has gone
                pending(unit)
        return [] if broadcast or not answers else [self.collide(answers)]

    def _one(
        self, unit: Unit, broadcast: bool, instruction: int, params: bytes
    ) -> tuple[int | None, bytes]:
        """
        Execute a single-servo instruction on ``unit``.

        (error number or None for no reply, data).
        """
        if instruction == dxt.INST_READ:
            if broadcast:
                return None, b''
            if len(params) != 4:
                return dxt.ERR_DATA_LENGTH, b''
            return self._read(unit, params[0] | params[1] << 8, params[2] | params[3] << 8)
        if instruction in (dxt.INST_WRITE, dxt.INST_REG_WRITE):
            if len(params) < 3:
                return dxt.ERR_DATA_LENGTH, b''
            address, data = params[0] | params[1] << 8, params[2:]
            if instruction == dxt.INST_WRITE:
                return self._write(unit, address, data), b''
            error = self._check_write(unit, address, data)
            if not error:
                unit.registered = (address, data)
                unit.table[dxt.REGISTERED_INSTRUCTION.address] = 1
            return error, b''
        if instruction == dxt.INST_ACTION:
            if unit.registered is not None:
                self._write(unit, *unit.registered)
            unit.registered = None
            unit.table[dxt.REGISTERED_INSTRUCTION.address] = 0
            return 0, b''
        if instruction == dxt.INST_REBOOT:
            unit.extra['pending'] = self._reboot
            return 0, b''
        if instruction == dxt.INST_FACTORY_RESET:
            option = params[0] if len(params) == 1 else None
            if option not in (dxt.RESET_ALL, dxt.RESET_ALL_BUT_ID, dxt.RESET_ALL_BUT_ID_AND_BAUD):
                return dxt.ERR_DATA_RANGE, b''
            if broadcast and option == dxt.RESET_ALL:
                return 0, b''  # e-Manual: not activated by a broadcast "reset all"
            unit.extra['pending'] = lambda u: self._factory_reset(u, option)
            return 0, b''
        if instruction == dxt.INST_CLEAR:
            if bytes(params) != dxt.CLEAR_MULTI_TURN:
                return dxt.ERR_DATA_RANGE, b''
            if unit.servo.moving:
                return dxt.ERR_RESULT_FAIL, b''
            self._reset_turns(unit)
            return 0, b''
        return dxt.ERR_INSTRUCTION, b''

    def _status(self, unit: Unit, reply_id: int, error: int, data: bytes = b'') -> bytes:
        if unit.table[dxt.HARDWARE_ERROR_STATUS.address]:
            error |= dxt.ERR_ALERT
        return dxl_packet(reply_id, dxt.INST_STATUS, bytes((error,)) + data)

    def _ping_info(self, unit: Unit) -> bytes:
        """PING status parameters: model number (2 bytes) and firmware version."""
        table = unit.table
        return bytes(table[dxt.MODEL_NUMBER.address:dxt.MODEL_NUMBER.address + 2]) + bytes(
            (table[dxt.FIRMWARE.address],)
        )

    def _reboot(self, unit: Unit) -> None:
        self._power_on(unit)
        unit.booting = float(self.options.get('boot_time', BOOT_TIME))

    def _factory_reset(self, unit: Unit, option: int) -> None:
        keep = {dxt.RESET_ALL: (), dxt.RESET_ALL_BUT_ID: (dxt.ID,)}.get(
            option, (dxt.ID, dxt.BAUD_RATE)
        )
        kept = {reg: _get(unit.persisted, reg) for reg in keep}
        identity = unit.persisted[: dxt.FIRMWARE.address + 1]  # model and firmware stay
        unit.persisted[:] = _INITIAL
        unit.persisted[: dxt.FIRMWARE.address + 1] = identity
        for reg, value in kept.items():
            _put(unit.persisted, reg, value)
        self._reboot(unit)

    # -- control table ------------------------------------------------------------------

    def _refresh(self, unit: Unit) -> None:
        """Update the RAM feedback registers from the servo's state."""
        self._update_hardware_error(unit)
        table, servo = unit.table, unit.servo
        sign = -1.0 if self._reversed(unit) else 1.0
        present = self._present(unit)
        velocity = sign * servo.velocity / (dxt.VELOCITY_UNIT_RPM * _RPM)
        goal = _get(table, dxt.GOAL_POSITION, signed=True)
        moving = abs(velocity) > _get(table, dxt.MOVING_THRESHOLD)
        arrived = servo.torque_enabled and abs(goal - present) < 1.0
        _put(table, dxt.REALTIME_TICK, int(unit.extra['clock'] * 1000) % 32768)
        _put(table, dxt.MOVING, int(moving))
        _put(table, dxt.MOVING_STATUS, int(arrived) | (2 if moving else 0))
        _put(table, dxt.PRESENT_VELOCITY, _int32(velocity), signed=True)
        _put(table, dxt.PRESENT_POSITION, _int32(present), signed=True)
        _put(table, dxt.VELOCITY_TRAJECTORY, _int32(velocity), signed=True)
        _put(table, dxt.POSITION_TRAJECTORY, _int32(present), signed=True)
        _put(table, dxt.PRESENT_INPUT_VOLTAGE, max(0, min(0xFFFF, round(servo.voltage * 10))))
        _put(table, dxt.PRESENT_TEMPERATURE, max(0, min(255, round(servo.temperature))))

    def _read(self, unit: Unit, address: int, size: int) -> tuple[int, bytes]:
        if size == 0 or address + size > dxt.TABLE_SIZE:
            return dxt.ERR_ACCESS, b''
        self._refresh(unit)
        table = unit.table
        data = bytearray(table[address:address + size])
        for at in range(address, address + size):
            if (
                at in _INDIRECT
            ):  # Indirect Data: the byte at the address its Indirect Address holds
                target = int.from_bytes(table[_INDIRECT[at]:_INDIRECT[at] + 2], 'little')
                data[at - address] = table[target] if target < dxt.TABLE_SIZE else 0
        return 0, bytes(data)

    def _redirect(self, unit: Unit, address: int, data: bytes) -> list[tuple[int, int]]:
        """(address, byte) pairs a write really touches: Indirect Data goes where it points."""
        pairs = []
        for at, byte in enumerate(data, address):
            if at in _INDIRECT:
                at = int.from_bytes(unit.table[_INDIRECT[at]:_INDIRECT[at] + 2], 'little')
            pairs.append((at, byte))
        return pairs

    def _check_write(self, unit: Unit, address: int, data: bytes) -> int:
        """Return the error number a write would get (0 = allowed); nothing is changed."""
        end = address + len(data)
        if end > dxt.TABLE_SIZE:
            return dxt.ERR_ACCESS
        pairs = self._redirect(unit, address, data)
        if not all(at < dxt.TABLE_SIZE and _WRITABLE[at] for at, _ in pairs):
            return dxt.ERR_ACCESS
        table, servo = unit.table, unit.servo
        if servo.torque_enabled and any(at < dxt.EEPROM_END for at, _ in pairs):
            return dxt.ERR_ACCESS
        after = bytearray(table)
        for at, byte in pairs:
            after[at] = byte
        touched = {at for at, _ in pairs}
        mode = after[dxt.OPERATING_MODE.address]
        if any(overlaps(at, at + 1, dxt.GOAL_POSITION) for at in touched):
            goal = _get(after, dxt.GOAL_POSITION, signed=True)
            if mode == dxt.MODE_POSITION:
                lower, upper = (
                    _get(after, dxt.MIN_POSITION_LIMIT),
                    _get(after, dxt.MAX_POSITION_LIMIT),
                )
            else:
                lower, upper = -dxt.EXTENDED_GOAL_LIMIT, dxt.EXTENDED_GOAL_LIMIT
            if mode in (dxt.MODE_POSITION,) + _EXTENDED_MODES and not lower <= goal <= upper:
                return dxt.ERR_DATA_LIMIT
        if any(overlaps(at, at + 1, dxt.GOAL_VELOCITY) for at in touched):
            if abs(_get(after, dxt.GOAL_VELOCITY, signed=True)) > _get(after, dxt.VELOCITY_LIMIT):
                return dxt.ERR_DATA_LIMIT
        if dxt.TORQUE_ENABLE.address in touched and after[dxt.TORQUE_ENABLE.address]:
            if table[dxt.HARDWARE_ERROR_STATUS.address] & table[dxt.SHUTDOWN.address]:
                return dxt.ERR_RESULT_FAIL
        return 0

    def _write(self, unit: Unit, address: int, data: bytes) -> int:
        """Apply a write if allowed; returns its error number (0 = done)."""
        error = self._check_write(unit, address, data)
        if error:
            return error
        table = unit.table
        mode_before, torque_before = (
            table[dxt.OPERATING_MODE.address],
            table[dxt.TORQUE_ENABLE.address],
        )
        for at, byte in self._redirect(unit, address, data):
            table[at] = byte
            if at < dxt.EEPROM_END:
                unit.persisted[at] = byte  # X series: EEPROM writes are kept
        mode = table[dxt.OPERATING_MODE.address]
        entering_position = mode == dxt.MODE_POSITION and mode_before != mode
        torque_on_in_position = (
            mode == dxt.MODE_POSITION and table[dxt.TORQUE_ENABLE.address] and not torque_before
        )
        if entering_position or torque_on_in_position:
            self._reset_turns(unit)
        self._apply(unit)
        return 0
