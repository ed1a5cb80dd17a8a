"""Emulated DYNAMIXEL X-series bus (e.g. OpenMANIPULATOR-X's XM430s) speaking Protocol 2.0.

Each servo has a control table (bytearray, addresses per ``dynamixel_tables``); Goal Position
and Torque Enable writes drive the :class:`ServoModel`, and reads refresh the "present" fields
from the model first.

Device rules followed (ROBOTIS e-Manual, Protocol 2.0 and XM430-W350):
  * received packets are checked (header ``FF FF FD 00``, id, length, CRC over the stuffed
    bytes) and then unstuffed; a bad CRC gets no reply (as the DeviceEmulator contract asks;
    firmware may answer with a CRC error instead). A packet whose body still holds an
    unstuffed ``FF FF FD`` is a protocol violation and is dropped, which catches hosts that
    skip stuffing. Outgoing status packets are stuffed.
  * the broadcast id gets no reply, except PING, answered by every servo in id order;
    SYNC READ is answered by each listed servo in the listed order; SYNC WRITE never replies.
  * Status Return Level (68): 0 answers only PING, 1 also READ, 2 (default) everything.
  * status error byte: bit 7 (alert) while Hardware Error Status (70) is non-zero, plus an
    error number: instruction (unknown instruction), data length (malformed parameters),
    access (read-only/undefined address, EEPROM while torque is on), data limit (goal outside
    the position limits in position mode), result fail (torque on while a shutdown error is
    latched).
  * hardware errors: input voltage outside the voltage limits, temperature above the limit.
    Errors in Shutdown (63) switch torque off until REBOOT.
Not emulated: id/baud changes, velocity/current modes, BULK READ/WRITE, FACTORY RESET.
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols.packet_utils import dxl_crc16, dxl_packet, dxl_unstuff
from robot_touch.virtual_arm.control_table import ControlTableDevice
from robot_touch.virtual_arm.control_table import get_register as _get
from robot_touch.virtual_arm.control_table import put_register as _put
from robot_touch.virtual_arm.device import ServoModel

_WRITABLE = bytearray(dxt.TABLE_SIZE)
for _reg in dxt.REGISTERS:
    if _reg.writable:
        _WRITABLE[_reg.address : _reg.address + _reg.size] = b"\x01" * _reg.size
_WRITABLE[dxt.ID.address] = 0  # id changes are not emulated
_WRITABLE[dxt.BAUD_RATE.address] = 0  # nor baud changes
_INT32 = (-(1 << 31), (1 << 31) - 1)


def _int32(value: float) -> int:
    return max(_INT32[0], min(_INT32[1], round(value)))


def _overlaps(address: int, end: int, register: dxt.Register) -> bool:
    return address < register.address + register.size and register.address < end


class DynamixelP2Device(ControlTableDevice):
    """Protocol 2.0 device side for a bus of X-series servos.

    Args:
        servos: servo id -> model (raw units are X-series steps, 4096 per turn).
        options: ``model_number`` and ``firmware`` reported by PING (default XM430-W350's);
            ``supply_voltage`` (default 12.0 V, the XM430's rated supply) powers every servo
            model left at ServoModel's default voltage, a 2S LiPo's 7.4 V, which is below the
            X series' 9.5 V minimum and would raise an input-voltage alert on every reply.
    """

    name: ClassVar[str] = "dynamixel_p2"

    #: frames rejected (bad CRC, unstuffed header, malformed), for tests and diagnostics
    rejected: int
    #: servo id -> (address, data) of a REG_WRITE awaiting ACTION
    _registered: dict[int, tuple[int, bytes]]

    def __init__(self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None) -> None:
        super().__init__(servos, options)
        supply = float(self.options.get("supply_voltage", 12.0))
        default_voltage = ServoModel.__dataclass_fields__["voltage"].default
        for servo in self.servos.values():
            if servo.voltage == default_voltage:
                servo.voltage = supply
        model = int(self.options.get("model_number", dxt.XM430_W350_MODEL_NUMBER))
        firmware = int(self.options.get("firmware", dxt.FIRMWARE_VERSION))
        for table in self.tables.values():
            _put(table, dxt.MODEL_NUMBER, model)
            _put(table, dxt.FIRMWARE, firmware)

    @staticmethod
    def _initial_table(servo_id: int, servo: ServoModel) -> bytearray:
        table = bytearray(dxt.TABLE_SIZE)
        for register in dxt.REGISTERS:
            if register.default:
                _put(table, register, register.default)
        _put(table, dxt.ID, servo_id)
        _put(table, dxt.MIN_POSITION_LIMIT, _int32(servo.minimum), signed=True)
        _put(table, dxt.MAX_POSITION_LIMIT, _int32(servo.maximum), signed=True)
        _put(table, dxt.TORQUE_ENABLE, int(servo.torque_enabled))
        _put(table, dxt.GOAL_POSITION, _int32(servo.goal), signed=True)
        return table

    def step(self, dt: float) -> None:
        """Advance the servos, then latch hardware errors (and shut down where configured)."""
        super().step(dt)
        for servo_id in self.servos:
            self._update_hardware_error(servo_id)

    # -- framing ------------------------------------------------------------------------

    def _take_frames(self, buf: bytearray) -> list[bytes]:
        replies: list[bytes] = []
        while True:
            start = buf.find(b"\xff\xff\xfd")
            if start < 0:
                # keep a trailing FF or FF FF: it may begin the next header
                keep = 2 if buf.endswith(b"\xff\xff") else 1 if buf.endswith(b"\xff") else 0
                del buf[: len(buf) - keep]
                break
            del buf[:start]
            if len(buf) < 7:
                break
            servo_id, length = buf[4], buf[5] | buf[6] << 8
            if buf[3] != 0x00 or servo_id in (0xFD, 0xFF) or length < 3 or length + 7 > dxt.MAX_PACKET:
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
        return replies

    # -- instructions -------------------------------------------------------------------

    def _execute(self, servo_id: int, instruction: int, params: bytes) -> list[bytes]:
        broadcast = servo_id == dxt.BROADCAST_ID
        if not broadcast and servo_id not in self.servos:
            return []
        if instruction == dxt.INST_PING:
            ids = sorted(self.servos) if broadcast else [servo_id]
            return [self._status(i, 0, self._ping_info(i)) for i in ids]
        if instruction == dxt.INST_SYNC_READ:
            if not broadcast or len(params) < 4:
                return self._malformed()
            address, size = params[0] | params[1] << 8, params[2] | params[3] << 8
            replies = []
            for target in params[4:]:
                if target in self.servos and self._level(target) >= 1:
                    error, data = self._read(target, address, size)
                    replies.append(self._status(target, error, data))
            return replies
        if instruction == dxt.INST_SYNC_WRITE:
            if not broadcast or len(params) < 4:
                return self._malformed()
            address, size = params[0] | params[1] << 8, params[2] | params[3] << 8
            if size == 0 or (len(params) - 4) % (size + 1):
                return self._malformed()
            for at in range(4, len(params), size + 1):
                if params[at] in self.servos:
                    self._write(params[at], address, params[at + 1 : at + 1 + size])
            return []
        targets = sorted(self.servos) if broadcast else [servo_id]
        if instruction == dxt.INST_READ:
            if broadcast:
                return self._malformed()
            if self._level(servo_id) < 1:
                return []
            if len(params) != 4:
                return [self._status(servo_id, dxt.ERR_DATA_LENGTH)]
            error, data = self._read(servo_id, params[0] | params[1] << 8, params[2] | params[3] << 8)
            return [self._status(servo_id, error, data)]
        if instruction in (dxt.INST_WRITE, dxt.INST_REG_WRITE):
            errors = [dxt.ERR_DATA_LENGTH] * len(targets)
            if len(params) >= 3:
                address, data = params[0] | params[1] << 8, params[2:]
                if instruction == dxt.INST_WRITE:
                    errors = [self._write(t, address, data) for t in targets]
                else:
                    errors = [self._check_write(t, address, data) for t in targets]
                    for target, error in zip(targets, errors):
                        if not error:
                            self._registered[target] = (address, data)
            return [] if broadcast else self._ack(servo_id, errors[0])
        if instruction == dxt.INST_ACTION:
            for target in targets:
                if target in self._registered:
                    self._write(target, *self._registered.pop(target))
            return [] if broadcast else self._ack(servo_id, 0)
        if instruction == dxt.INST_REBOOT:
            replies = [] if broadcast else self._ack(servo_id, 0)
            for target in targets:
                self._reboot(target)
            return replies
        return [] if broadcast else self._ack(servo_id, dxt.ERR_INSTRUCTION)

    def _ping_info(self, servo_id: int) -> bytes:
        """PING status parameters: model number (2 bytes) and firmware version."""
        table = self.tables[servo_id]
        model, firmware = dxt.MODEL_NUMBER, dxt.FIRMWARE
        return bytes(table[model.address : model.address + 2]) + bytes((table[firmware.address],))

    def _level(self, servo_id: int) -> int:
        return self.tables[servo_id][dxt.STATUS_RETURN_LEVEL.address]

    def _ack(self, servo_id: int, error: int) -> list[bytes]:
        return [self._status(servo_id, error)] if self._level(servo_id) >= 2 else []

    def _status(self, servo_id: int, error: int, data: bytes = b"") -> bytes:
        if self.tables[servo_id][dxt.HARDWARE_ERROR_STATUS.address]:
            error |= dxt.ERR_ALERT
        return dxl_packet(servo_id, dxt.INST_STATUS, bytes((error,)) + data)

    # -- control table ------------------------------------------------------------------

    def _update_hardware_error(self, servo_id: int) -> None:
        table, servo = self.tables[servo_id], self.servos[servo_id]
        bits = 0
        decivolts = round(servo.voltage * 10)
        if not _get(table, dxt.MIN_VOLTAGE_LIMIT) <= decivolts <= _get(table, dxt.MAX_VOLTAGE_LIMIT):
            bits |= 0x01
        if servo.temperature > _get(table, dxt.TEMPERATURE_LIMIT):
            bits |= 0x04
        table[dxt.HARDWARE_ERROR_STATUS.address] |= bits  # latched until reboot
        if table[dxt.HARDWARE_ERROR_STATUS.address] & table[dxt.SHUTDOWN.address]:
            servo.torque_enabled = False

    def _reboot(self, servo_id: int) -> None:
        self.tables[servo_id][dxt.HARDWARE_ERROR_STATUS.address] = 0
        self.servos[servo_id].torque_enabled = False
        self._update_hardware_error(servo_id)

    def _read(self, servo_id: int, address: int, size: int) -> tuple[int, bytes]:
        if size == 0 or address + size > dxt.TABLE_SIZE:
            return dxt.ERR_ACCESS, b""
        self._update_hardware_error(servo_id)
        table, servo = self.tables[servo_id], self.servos[servo_id]
        _put(table, dxt.TORQUE_ENABLE, int(servo.torque_enabled))
        _put(table, dxt.GOAL_POSITION, _int32(servo.goal), signed=True)
        _put(table, dxt.MOVING, int(servo.moving))
        _put(table, dxt.PRESENT_POSITION, _int32(servo.position), signed=True)
        _put(table, dxt.PRESENT_INPUT_VOLTAGE, max(0, min(0xFFFF, round(servo.voltage * 10))))
        _put(table, dxt.PRESENT_TEMPERATURE, max(0, min(255, round(servo.temperature))))
        return 0, bytes(table[address : address + size])

    def _check_write(self, servo_id: int, address: int, data: bytes) -> int:
        """The error number a write would get (0 = allowed); nothing is changed."""
        end = address + len(data)
        if end > dxt.TABLE_SIZE or not all(_WRITABLE[address:end]):
            return dxt.ERR_ACCESS
        table, servo = self.tables[servo_id], self.servos[servo_id]
        if address < dxt.EEPROM_END and servo.torque_enabled:
            return dxt.ERR_ACCESS
        if _overlaps(address, end, dxt.GOAL_POSITION):
            goal_bytes = bytearray(table[dxt.GOAL_POSITION.address : dxt.GOAL_POSITION.address + 4])
            for offset in range(4):
                at = dxt.GOAL_POSITION.address + offset
                if address <= at < end:
                    goal_bytes[offset] = data[at - address]
            goal = int.from_bytes(goal_bytes, "little", signed=True)
            lower = _get(table, dxt.MIN_POSITION_LIMIT, signed=True)
            upper = _get(table, dxt.MAX_POSITION_LIMIT, signed=True)
            if table[dxt.OPERATING_MODE.address] == 3 and not lower <= goal <= upper:
                return dxt.ERR_DATA_LIMIT
        if _overlaps(address, end, dxt.TORQUE_ENABLE) and data[dxt.TORQUE_ENABLE.address - address]:
            if table[dxt.HARDWARE_ERROR_STATUS.address] & table[dxt.SHUTDOWN.address]:
                return dxt.ERR_RESULT_FAIL
        return 0

    def _write(self, servo_id: int, address: int, data: bytes) -> int:
        """Apply a write if allowed; returns its error number (0 = done)."""
        error = self._check_write(servo_id, address, data)
        if error:
            return error
        end = address + len(data)
        table, servo = self.tables[servo_id], self.servos[servo_id]
        table[address:end] = data
        if _overlaps(address, end, dxt.TORQUE_ENABLE):
            servo.torque_enabled = table[dxt.TORQUE_ENABLE.address] != 0
        if _overlaps(address, end, dxt.GOAL_POSITION):
            servo.set_goal(_get(table, dxt.GOAL_POSITION, signed=True))
        return 0
