"""Emulated Feetech STS bus (e.g. the SO-101's six STS3215): answers FT-SCS packets bytewise.

Each servo has a control table (bytearray, addresses per ``feetech_tables``). Writes to Goal
Position and Torque Enable drive the :class:`ServoModel`; reads refresh the "present" fields
from the model first, so the table is only as fresh as it needs to be.

Device rules followed (Feetech FT-SCS protocol manual): a packet with a bad checksum gets no
reply; the broadcast id (0xFE) gets no reply except PING, which every servo answers in id
order; SYNC READ is answered by each listed servo, in the order listed; SYNC WRITE and
ACTION never reply; WRITE/REG_WRITE reply only when Response Status Level (8) is 1.
Not emulated: EEPROM lock, id/baud changes (the ID and baud registers ignore writes),
multi-turn and wheel modes. Reads beyond the table get no reply (the FT-SCS error byte has no
code for it).
"""
from __future__ import annotations

from typing import ClassVar

from robot_touch.protocols import feetech_tables as ft
from robot_touch.protocols.packet_utils import (
    feetech_checksum,
    feetech_packet,
    from_sign_magnitude,
    to_sign_magnitude,
)
from robot_touch.virtual_arm.control_table import ControlTableDevice
from robot_touch.virtual_arm.control_table import get_register as _get
from robot_touch.virtual_arm.control_table import put_register as _put
from robot_touch.virtual_arm.device import ServoModel

#: Emulator defaults (not every STS3215 ships with these): wide enough for 7.4 V and 12 V servos.
DEFAULT_MAX_TEMPERATURE = 70  # degrees Celsius
DEFAULT_MAX_VOLTAGE = 140  # 0.1 V
DEFAULT_MIN_VOLTAGE = 40  # 0.1 V
_MAGNITUDE_LIMIT = (1 << 15) - 1


def _sign_magnitude(value: float) -> int:
    return to_sign_magnitude(max(-_MAGNITUDE_LIMIT, min(_MAGNITUDE_LIMIT, round(value))), 15)


class FeetechSTSDevice(ControlTableDevice):
    """FT-SCS device side for a bus of STS servos.

    Args:
        servos: servo id -> model (raw units are STS steps, 4096 per turn).
        options: unused; accepted for the DeviceEmulator interface.
    """

    name: ClassVar[str] = "feetech_sts"

    #: frames rejected (bad checksum, malformed), for tests and diagnostics
    rejected: int
    #: servo id -> the params (address, data...) of a REG_WRITE awaiting ACTION
    _registered: dict[int, bytes]

    @staticmethod
    def _initial_table(servo_id: int, servo: ServoModel) -> bytearray:
        table = bytearray(ft.TABLE_SIZE)
        _put(table, ft.MODEL_NUMBER, ft.STS3215_MODEL_NUMBER)
        _put(table, ft.ID, servo_id)
        _put(table, ft.RESPONSE_STATUS_LEVEL, 1)
        _put(table, ft.MIN_POSITION_LIMIT, max(0, min(0xFFFF, round(servo.minimum))))
        _put(table, ft.MAX_POSITION_LIMIT, max(0, min(0xFFFF, round(servo.maximum))))
        _put(table, ft.MAX_TEMPERATURE_LIMIT, DEFAULT_MAX_TEMPERATURE)
        _put(table, ft.MAX_INPUT_VOLTAGE, DEFAULT_MAX_VOLTAGE)
        _put(table, ft.MIN_INPUT_VOLTAGE, DEFAULT_MIN_VOLTAGE)
        _put(table, ft.TORQUE_ENABLE, int(servo.torque_enabled))
        _put(table, ft.GOAL_POSITION, _sign_magnitude(servo.goal))
        return table

    # -- framing ------------------------------------------------------------------------

    def _take_frames(self, buf: bytearray) -> list[bytes]:
        replies: list[bytes] = []
        while True:
            start = buf.find(b"\xff\xff")
            if start < 0:
                # keep a trailing FF: it may be the first half of the next header
                del buf[: len(buf) - 1 if buf.endswith(b"\xff") else len(buf)]
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
        if not broadcast and servo_id not in self.servos:
            return []
        if instruction == ft.INST_PING:
            ids = sorted(self.servos) if broadcast else [servo_id]
            return [self._status(i) for i in ids]
        if instruction == ft.INST_READ:
            if broadcast or len(params) != 2:
                return self._malformed()
            data = self._read(servo_id, params[0], params[1])
            return [] if data is None else [self._status(servo_id, data)]
        if instruction in (ft.INST_WRITE, ft.INST_REG_WRITE):
            if len(params) < 2:
                return self._malformed()
            targets = sorted(self.servos) if broadcast else [servo_id]
            for target in targets:
                if instruction == ft.INST_WRITE:
                    self._write(target, params[0], params[1:])
                else:
                    self._registered[target] = params
            return [] if broadcast else self._ack(servo_id)
        if instruction == ft.INST_ACTION:
            targets = sorted(self._registered) if broadcast else [servo_id]
            for target in targets:
                registered = self._registered.pop(target, None)
                if registered is not None:
                    self._write(target, registered[0], registered[1:])
            return [] if broadcast else self._ack(servo_id)
        if instruction == ft.INST_SYNC_READ:
            if not broadcast or len(params) < 2:
                return self._malformed()
            address, size = params[0], params[1]
            replies = []
            for target in params[2:]:
                if target in self.servos:
                    data = self._read(target, address, size)
                    if data is not None:
                        replies.append(self._status(target, data))
            return replies
        if instruction == ft.INST_SYNC_WRITE:
            if not broadcast or len(params) < 2 or params[1] == 0 or (len(params) - 2) % (params[1] + 1):
                return self._malformed()
            address, size = params[0], params[1]
            for at in range(2, len(params), size + 1):
                target = params[at]
                if target in self.servos:
                    self._write(target, address, params[at + 1 : at + 1 + size])
            return []
        return self._malformed()  # unknown instruction: the FT-SCS error byte has no code for it

    def _ack(self, servo_id: int) -> list[bytes]:
        if _get(self.tables[servo_id], ft.RESPONSE_STATUS_LEVEL) == 0:
            return []
        return [self._status(servo_id)]

    def _status(self, servo_id: int, data: bytes = b"") -> bytes:
        return feetech_packet(servo_id, self._error_bits(servo_id), data)

    def _error_bits(self, servo_id: int) -> int:
        table, servo = self.tables[servo_id], self.servos[servo_id]
        bits = 0
        decivolts = round(servo.voltage * 10)
        if not _get(table, ft.MIN_INPUT_VOLTAGE) <= decivolts <= _get(table, ft.MAX_INPUT_VOLTAGE):
            bits |= 0x01
        if servo.temperature >= _get(table, ft.MAX_TEMPERATURE_LIMIT):
            bits |= 0x04
        return bits

    # -- control table ------------------------------------------------------------------

    def _read(self, servo_id: int, address: int, size: int) -> bytes | None:
        if size == 0 or address + size > ft.TABLE_SIZE:
            return None
        table, servo = self.tables[servo_id], self.servos[servo_id]
        _put(table, ft.TORQUE_ENABLE, int(servo.torque_enabled))
        _put(table, ft.GOAL_POSITION, _sign_magnitude(servo.goal))
        _put(table, ft.PRESENT_POSITION, _sign_magnitude(servo.position))
        direction = (servo.goal > servo.position) - (servo.goal < servo.position)
        _put(table, ft.PRESENT_SPEED, _sign_magnitude(direction * servo.speed if servo.moving else 0.0))
        _put(table, ft.PRESENT_VOLTAGE, max(0, min(255, round(servo.voltage * 10))))
        _put(table, ft.PRESENT_TEMPERATURE, max(0, min(255, round(servo.temperature))))
        _put(table, ft.SERVO_STATUS, self._error_bits(servo_id))
        _put(table, ft.MOVING, int(servo.moving))
        return bytes(table[address : address + size])

    def _write(self, servo_id: int, address: int, data: bytes) -> None:
        end = address + len(data)
        if end > ft.TABLE_SIZE:
            return
        table, servo = self.tables[servo_id], self.servos[servo_id]
        table[address:end] = data
        _put(table, ft.ID, servo_id)  # id changes are not emulated
        if address <= ft.TORQUE_ENABLE.address < end:
            servo.torque_enabled = table[ft.TORQUE_ENABLE.address] != 0
        goal = ft.GOAL_POSITION
        if address < goal.address + goal.size and goal.address < end:
            servo.set_goal(from_sign_magnitude(_get(table, goal), ft.GOAL_SIGN_BIT))
