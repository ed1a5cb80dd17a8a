"""
Emulated Feetech STS bus (e.g. the SO-101's six STS3215): answers FT-SCS packets bytewise.

Each servo has the whole memory table of an STS3215 (``feetech_tables``, factory values,
addresses 0..86): every address in it can be read; writes land in it, except on read-only
bytes. The table drives the servo as the manual says:

* Present Position = the encoder reading (reversed by Phase bit 7) minus Homing Offset,
  wrapped into one turn unless Phase bit 4 asks for multi-turn feedback; Goal Position is
  in the same frame, clamped to Min/Max Position Limit (both 0: no limit);
* torque only with Torque Enable 1 and a non-zero Torque Limit (loaded from Max Torque
  Limit at power-on); Torque Enable 128 makes the present position 2048 (a new Homing
  Offset); Goal Speed and Acceleration (100 steps/s² units) shape the move, 0 = the
  servo's maximum; Operating Mode 1 turns at Goal Speed;
* EEPROM bytes survive a reboot only when written with Lock at 0; ID and Baud Rate changes
  take effect after the reply (sent from the old id), and a servo at another baud rate than
  the host's port hears nothing.

Device rules followed (Feetech FT-SCS protocol manual): a packet with a bad checksum gets no
reply; the broadcast id (0xFE) gets no reply except PING, which every servo answers in id
order; SYNC READ is answered by each listed servo, in the order listed; SYNC WRITE, ACTION
to the broadcast id and REBOOT never reply; WRITE/REG_WRITE reply only when Response Status
Level (8) is 1; RESTORE (0x06) loads the factory values except the id; REBOOT (0x08) reloads
the table (the servo is deaf while it restarts); RESET (0x0A) clears the turn count;
CALIBRATE (0x0B) sets the present position to 2048 or the value given. Reads beyond the table
and unknown instructions get no reply (the FT-SCS error byte has no code for them).
Not emulated: PWM and step modes (the servo holds still), load and current (read 0).
"""

from __future__ import annotations

import math
from typing import ClassVar

from robot_touch.protocols import feetech_tables as ft
from robot_touch.protocols.packet_utils import (
    feetech_checksum,
    feetech_packet,
    from_sign_magnitude,
    to_sign_magnitude,
)
from robot_touch.virtual_arm.control_table import ControlTableDevice, overlaps, Unit
from robot_touch.virtual_arm.control_table import get_register as _get
from robot_touch.virtual_arm.control_table import put_register as _put
from robot_touch.virtual_arm.device import ServoModel

#: STS3215 no-load speed: 0.222 s per 60° (datasheet, 7.4 V) = 4.7 rad/s, in steps/s
MAX_SPEED = 4.7 * ft.RESOLUTION / (2 * math.pi)
#: Acceleration register unit, steps/s² (memory table: 8.7°/s² per unit)
ACCELERATION_UNIT = 100.0
#: FT-SCS manual: a rebooted servo takes about this long before it answers again
BOOT_TIME = 0.8  # s

_WRITABLE = bytearray(ft.TABLE_SIZE)
_EEPROM = bytearray(ft.TABLE_SIZE)
_FACTORY = bytearray(ft.TABLE_SIZE)
for _reg in ft.REGISTERS:
    span = slice(_reg.address, _reg.address + _reg.size)
    if _reg.writable:
        _WRITABLE[span] = b'\x01' * _reg.size
    if _reg.eeprom:
        _EEPROM[span] = b'\x01' * _reg.size
    _FACTORY[span] = _reg.default.to_bytes(_reg.size, 'little')
_MAGNITUDE_LIMIT = (1 << 15) - 1


def _sign_magnitude(value: float, sign_bit: int = 15) -> int:
    limit = (1 << sign_bit) - 1
    return to_sign_magnitude(max(-limit, min(limit, round(value))), sign_bit)


def _signed(table: bytearray, register: ft.Register) -> int:
    raw = _get(table, register)
    return raw if register.sign_bit is None else from_sign_magnitude(raw, register.sign_bit)


class FeetechSTSDevice(ControlTableDevice):
    """
    FT-SCS device side for a bus of STS servos.

    :param servos: servo id -> model (raw units are STS steps, 4096 per turn).
    :param options: ``baudrate``: the rate the servos were set to when the arm was assembled
        (default 1 Mbps, the factory rate); ``boot_time``: seconds a rebooted servo is deaf
        (default 0.8, the manual's).
    """

    name: ClassVar[str] = 'feetech_sts'
    id_register: ClassVar[ft.Register] = ft.ID
    baud_register: ClassVar[ft.Register] = ft.BAUD_RATE
    baud_rates: ClassVar[dict[int, int]] = ft.BAUD_RATES
    resolution: ClassVar[int] = ft.RESOLUTION

    def _new_unit(self, servo_id: int, servo: ServoModel) -> Unit:
        servo.speed = MAX_SPEED
        return self._assembled(_FACTORY, servo_id, servo)

    def _power_on(self, unit: Unit) -> None:
        table = unit.table
        table[:] = bytes(ft.TABLE_SIZE)
        table[: ft.SRAM_START] = unit.persisted[: ft.SRAM_START]
        table[ft.GOAL_POSITION_2.address + 2:] = unit.persisted[ft.GOAL_POSITION_2.address + 2:]
        _put(table, ft.TORQUE_LIMIT, _get(table, ft.MAX_TORQUE_LIMIT))
        _put(table, ft.LOCK, ft.LOCK.default)
        servo = unit.servo
        servo.hand_target = None
        self._reset_turns(unit)
        unit.registered = None
        goal = self._present(unit)
        _put(table, ft.GOAL_POSITION, _sign_magnitude(goal))
        self._apply(unit)

    # -- the servo's physics seen through its table -------------------------------------------

    def _reversed(self, unit: Unit) -> bool:
        return bool(unit.table[ft.PHASE.address] & ft.PHASE_FEEDBACK_REVERSED)

    def _present(self, unit: Unit) -> float:
        """
        Present Position.

        Actual - Homing Offset (LeRobot's feetech.py), one turn unless Phase asks for multi-turn
        feedback.
        """
        raw = unit.servo.position - unit.extra['turns']
        if self._reversed(unit):
            raw = (ft.RESOLUTION - 1) - raw
        value = raw - _signed(unit.table, ft.HOMING_OFFSET)
        if not unit.table[ft.PHASE.address] & ft.PHASE_MULTI_TURN_FEEDBACK:
            value %= ft.RESOLUTION
        return value

    def present_position(self, servo_id: int) -> float:
        return self._present(self.unit(servo_id))

    def _executed_goal(self, unit: Unit) -> float:
        """Goal Position within Min/Max Position Limit (both 0: multi-turn, no limit)."""
        table = unit.table
        goal = _signed(table, ft.GOAL_POSITION)
        lower, upper = _get(table, ft.MIN_POSITION_LIMIT), _get(table, ft.MAX_POSITION_LIMIT)
        if lower or upper:
            goal = min(max(goal, lower), upper)
        return goal

    def _apply(self, unit: Unit) -> None:
        """Turn the table's settings into the model's drive: torque, goal, speed, acceleration."""
        table, servo = unit.table, unit.servo
        servo.torque_enabled = (
            table[ft.TORQUE_ENABLE.address] == 1 and _get(table, ft.TORQUE_LIMIT) > 0
        )
        goal_speed = abs(_signed(table, ft.GOAL_SPEED))
        servo.speed = min(MAX_SPEED, goal_speed) if goal_speed else MAX_SPEED
        servo.acceleration = table[ft.ACCELERATION.address] * ACCELERATION_UNIT
        mode = table[ft.OPERATING_MODE.address]
        if mode == 0:
            sign = -1.0 if self._reversed(unit) else 1.0
            servo.goal = servo.position + sign * (self._executed_goal(unit) - self._present(unit))
        elif mode == 1 and goal_speed:
            # constant speed: always a second ahead in the commanded direction
            servo.goal = servo.position + math.copysign(servo.speed, _signed(table, ft.GOAL_SPEED))
        else:
            servo.goal = servo.position

    def _step_unit(self, unit: Unit, dt: float) -> None:
        self._apply(unit)
        unit.servo.step(dt)

    # -- framing ------------------------------------------------------------------------

    def _take_frames(self, buf: bytearray) -> list[bytes]:
        replies: list[bytes] = []
        while True:
            start = buf.find(b'\xff\xff')
            if start < 0:
                # keep a trailing FF: it may be the first half of the next header
                del buf[: len(buf) - 1 if buf.endswith(b'\xff') else len(buf)]
                break
            del buf[:start]
            if len(buf) < 4:
                break
            servo_id, length = buf[2], buf[3]
            if servo_id == 0xFF or length < 2:
                # FF FF FF: the header starts one byte later; a length below 2 is impossible
                del buf[0]
                continue
            total = length + 4
            if len(buf) < total:
                break
            frame = bytes(buf[:total])
            if feetech_checksum(frame[2:-1]) != frame[-1]:
                # a false header inside garbage must not swallow the real packet behind it
                self.rejected += 1
                del buf[0]
                continue
            del buf[:total]
            replies += self._execute(servo_id, frame[4], frame[5:-1])
        return replies

    # -- instructions -------------------------------------------------------------------

    def _execute(self, servo_id: int, instruction: int, params: bytes) -> list[bytes]:
        broadcast = servo_id == ft.BROADCAST_ID
        units = self._all_listening() if broadcast else self._listening(servo_id)
        if not units:
            return []
        if instruction == ft.INST_SYNC_READ:
            return self._sync_read(broadcast, params)
        if instruction == ft.INST_SYNC_WRITE:
            return self._sync_write(broadcast, params)
        replies: list[bytes] = []
        if instruction == ft.INST_PING:
            replies = [self._status(u, self._unit_id(u)) for u in units]
            return replies if broadcast else [self.collide(replies)]
        if instruction == ft.INST_READ:
            if broadcast or len(params) != 2:
                return self._malformed()
            replies = [
                r for u in units if (r := self._read_reply(u, servo_id, params[0], params[1]))
            ]
        elif instruction in (ft.INST_WRITE, ft.INST_REG_WRITE):
            if len(params) < 2:
                return self._malformed()
            for unit in units:
                if instruction == ft.INST_WRITE:
                    self._write(unit, params[0], params[1:])
                else:
                    unit.registered = bytes(params)
                    unit.table[ft.ASYNC_WRITE_FLAG.address] = 1
                replies += self._ack(unit, servo_id)
        elif instruction == ft.INST_ACTION:
            for unit in units:
                registered, unit.registered = unit.registered, None
                unit.table[ft.ASYNC_WRITE_FLAG.address] = 0
                if registered is not None:
                    self._write(unit, registered[0], registered[1:])
                replies += self._ack(unit, servo_id)
        elif instruction == ft.INST_RESTORE:
            for unit in units:
                self._restore(unit)
                replies += self._ack(unit, servo_id)
        elif instruction == ft.INST_REBOOT:
            for unit in units:
                self._power_on(unit)
                unit.booting = float(self.options.get('boot_time', BOOT_TIME))
            self._index()
            return []
        elif instruction == ft.INST_RESET:
            for unit in units:
                self._reset_turns(unit)
                replies += self._ack(unit, servo_id)
        elif instruction == ft.INST_CALIBRATE:
            if len(params) not in (0, 2):
                return self._malformed()
            target = 2048 if not params else params[0] | params[1] << 8
            for unit in units:
                self._calibrate(unit, target)
                replies += self._ack(unit, servo_id)
        else:
            return (
                self._malformed()
            )  # unknown instruction: the FT-SCS error byte has no code for it
        self._index()  # an id written takes effect after the reply, sent from the old id
        if broadcast or not replies:
            return []
        return [self.collide(replies)]

    def _sync_read(self, broadcast: bool, params: bytes) -> list[bytes]:
        if not broadcast or len(params) < 2:
            return self._malformed()
        address, size = params[0], params[1]
        replies = []
        for target in params[2:]:
            answers = [
                r
                for u in self._listening(target)
                if (r := self._read_reply(u, target, address, size))
            ]
            if answers:
                replies.append(self.collide(answers))
        return replies

    def _sync_write(self, broadcast: bool, params: bytes) -> list[bytes]:
        if (
            not broadcast
            or len(params) < 2
            or params[1] == 0
            or (len(params) - 2) % (params[1] + 1)
        ):
            return self._malformed()
        address, size = params[0], params[1]
        for at in range(2, len(params), size + 1):
            for unit in self._listening(params[at]):
                self._write(unit, address, params[at + 1:at + 1 + size])
        self._index()
        return []

    def _ack(self, unit: Unit, reply_id: int) -> list[bytes]:
        if _get(unit.table, ft.RESPONSE_STATUS_LEVEL) == 0:
            return []
        return [self._status(unit, reply_id)]

    def _status(self, unit: Unit, reply_id: int, data: bytes = b'') -> bytes:
        return feetech_packet(reply_id, self._error_bits(unit), data)

    def _error_bits(self, unit: Unit) -> int:
        table, servo = unit.table, unit.servo
        bits = 0
        decivolts = round(servo.voltage * 10)
        if not _get(table, ft.MIN_INPUT_VOLTAGE) <= decivolts <= _get(table, ft.MAX_INPUT_VOLTAGE):
            bits |= 0x01
        if servo.temperature >= _get(table, ft.MAX_TEMPERATURE_LIMIT):
            bits |= 0x04
        return bits

    # -- control table ------------------------------------------------------------------

    def _read_reply(self, unit: Unit, reply_id: int, address: int, size: int) -> bytes | None:
        if size == 0 or address + size > ft.TABLE_SIZE:
            return None
        table, servo = unit.table, unit.servo
        present = self._present(unit)
        sign = -1.0 if self._reversed(unit) else 1.0
        _put(table, ft.PRESENT_POSITION, _sign_magnitude(present))
        _put(table, ft.PRESENT_SPEED, _sign_magnitude(sign * servo.velocity))
        _put(table, ft.PRESENT_VOLTAGE, max(0, min(255, round(servo.voltage * 10))))
        _put(table, ft.PRESENT_TEMPERATURE, max(0, min(255, round(servo.temperature))))
        _put(table, ft.SERVO_STATUS, self._error_bits(unit))
        _put(table, ft.MOVING, int(servo.moving))
        _put(table, ft.GOAL_POSITION_2, _sign_magnitude(self._executed_goal(unit)))
        return self._status(unit, reply_id, bytes(table[address:address + size]))

    def _write(self, unit: Unit, address: int, data: bytes) -> None:
        end = address + len(data)
        if end > ft.TABLE_SIZE:
            return
        table = unit.table
        keep = (
            table[ft.LOCK.address] == 0
            or overlaps(address, end, ft.LOCK)
            and data[ft.LOCK.address - address] == 0
        )
        for at, byte in enumerate(data, address):
            if _WRITABLE[at]:
                table[at] = byte
                if _EEPROM[at] and keep:
                    unit.persisted[at] = byte
        if overlaps(address, end, ft.TORQUE_ENABLE) and table[ft.TORQUE_ENABLE.address] == 128:
            self._calibrate(unit, 2048)
            table[ft.TORQUE_ENABLE.address] = 0
        self._apply(unit)

    def _calibrate(self, unit: Unit, target: int) -> None:
        """Set a Homing Offset that makes the present position ``target`` (kept in EEPROM)."""
        offset = _signed(unit.table, ft.HOMING_OFFSET) + self._present(unit) - target
        offset = (round(offset) + 2048) % ft.RESOLUTION - 2048
        encoded = _sign_magnitude(max(-2047, offset), ft.HOMING_SIGN_BIT)
        for table in (unit.table, unit.persisted):
            _put(table, ft.HOMING_OFFSET, encoded)
        self._apply(unit)

    def _restore(self, unit: Unit) -> None:
        """Restore factory values in the EEPROM area, the id kept (and the servo at 1 Mbps)."""
        servo_id = self._unit_id(unit)
        for table in (unit.table, unit.persisted):
            table[: ft.SRAM_START] = _FACTORY[: ft.SRAM_START]
            table[ft.GOAL_POSITION_2.address + 2:] = _FACTORY[ft.GOAL_POSITION_2.address + 2:]
            _put(table, ft.ID, servo_id)
        self._apply(unit)
