"""
The emulated servos do what their manuals say, register by register, without a tty.

Feetech STS3215 (FT-SCS protocol, STS memory table) and DYNAMIXEL XM430-W350 (e-Manual):
factory values, Homing Offset / drive mode / position limits changing Present and Goal
Position exactly as documented, ID and baud-rate changes, reboot and factory reset, the
instructions a servo does not know. Ground truth is the servo model's actual encoder
position (``servo.position``), which no register touches.
"""

from __future__ import annotations

import pytest
from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols import feetech_tables as ft
from robot_touch.protocols.packet_utils import (
    dxl_crc16,
    dxl_packet,
    dxl_unstuff,
    feetech_checksum,
    feetech_packet,
    from_sign_magnitude,
    to_sign_magnitude,
)
from robot_touch.virtual_arm.device import ServoModel
from robot_touch.virtual_arm.dynamixel_device import DynamixelP2Device
from robot_touch.virtual_arm.feetech_device import FeetechSTSDevice


def settle(device, seconds: float = 3.0, dt: float = 0.01) -> None:
    for _ in range(round(seconds / dt)):
        device.step(dt)


# ---------------------------------------------------------------------------- Feetech


def sts(ids=(1, 2), position: float = 2048.0, **options) -> FeetechSTSDevice:
    return FeetechSTSDevice({i: ServoModel(i, position, position, 1.0) for i in ids}, options)


def ft_write(servo_id: int, register: ft.Register, value: int) -> bytes:
    if register.sign_bit is not None:
        value = to_sign_magnitude(value, register.sign_bit)
    return feetech_packet(
        servo_id,
        ft.INST_WRITE,
        bytes((register.address,)) + value.to_bytes(register.size, 'little'),
    )


def ft_read(device, servo_id: int, register: ft.Register) -> int | None:
    replies = device.feed(
        feetech_packet(servo_id, ft.INST_READ, bytes((register.address, register.size)))
    )
    if not replies:
        return None
    (reply,) = replies
    assert feetech_checksum(reply[2:-1]) == reply[-1] and reply[2] == servo_id
    raw = int.from_bytes(reply[5:-1], 'little')
    return raw if register.sign_bit is None else from_sign_magnitude(raw, register.sign_bit)


def test_sts_registers_hold_the_memory_tables_factory_values():
    device = sts(ids=(3,))
    for register in ft.REGISTERS:
        if register.writable or register in (
            ft.FIRMWARE_MAJOR,
            ft.FIRMWARE_MINOR,
            ft.MODEL_NUMBER,
        ):
            expected = register.default
            if register is ft.ID:
                expected = 3  # set when the arm was assembled
            if register is ft.TORQUE_LIMIT:
                expected = ft.MAX_TORQUE_LIMIT.default  # loaded from Max Torque Limit at power-on
            if register is ft.GOAL_POSITION:
                expected = 2048  # where the servo is, so that torque-on holds it there
            assert ft_read(device, 3, register) == expected, register
    # the measured gaps: firmware 0.0, Torque_Limit/Max_Torque_Limit/P_Coefficient 0
    assert (ft_read(device, 3, ft.FIRMWARE_MAJOR), ft_read(device, 3, ft.FIRMWARE_MINOR)) == (
        3,
        10,
    )
    assert (
        ft_read(device, 3, ft.P_COEFFICIENT) == 32
        and ft_read(device, 3, ft.MAX_TORQUE_LIMIT) == 1000
    )
    assert ft_read(device, 3, ft.TORQUE_ENABLE) == 0  # released at power-on


def test_sts_answers_reads_anywhere_in_its_table_and_only_there():
    device = sts()
    (whole,) = device.feed(feetech_packet(1, ft.INST_READ, bytes((0, ft.TABLE_SIZE))))
    assert len(whole) == ft.TABLE_SIZE + 6
    assert ft_read(device, 1, ft.MAXIMUM_ACCELERATION) == ft.MAXIMUM_ACCELERATION.default
    assert device.feed(feetech_packet(1, ft.INST_READ, bytes((ft.TABLE_SIZE - 1, 2)))) == []
    device.feed(
        ft_write(1, ft.MAXIMUM_ACCELERATION, 254)
    )  # what LeRobot's configure_motors writes
    assert ft_read(device, 1, ft.MAXIMUM_ACCELERATION) == 254


def test_sts_homing_offset_shifts_present_position_as_lerobot_computes_it():
    device = sts(position=2300.0)
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 2300
    # LeRobot's set_half_turn_homings: offset = present - 2047, then Present = Actual - Offset
    device.feed(ft_write(1, ft.HOMING_OFFSET, 2300 - 2047))
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 2047
    device.feed(ft_write(1, ft.HOMING_OFFSET, -200))
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 2500
    device.feed(
        ft_write(1, ft.HOMING_OFFSET, 2000)
    )  # wraps within the turn (single-turn feedback)
    assert ft_read(device, 1, ft.PRESENT_POSITION) == (2300 - 2000) % 4096
    assert device.servos[1].position == 2300.0  # the registers never move the servo


def test_sts_goal_in_the_offset_frame_and_clamped_to_the_limit_registers():
    device = sts()
    servo = device.servos[1]
    device.feed(ft_write(1, ft.HOMING_OFFSET, 100))
    device.feed(ft_write(1, ft.MAX_POSITION_LIMIT, 2500))
    device.feed(ft_write(1, ft.TORQUE_ENABLE, 1))
    device.feed(ft_write(1, ft.GOAL_POSITION, 3200))
    settle(device)
    # the measurement was Max=2500, goal 3200 -> Present 3200; the servo stops at its limit
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 2500
    assert servo.position == pytest.approx(2600)  # actual = present + offset
    device.feed(ft_write(1, ft.GOAL_POSITION, 1000))
    settle(device)
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 1000 and servo.position == pytest.approx(
        1100
    )


def test_sts_reversed_feedback_phase_mirrors_the_reading_and_the_drive():
    device = sts(position=1000.0)
    device.feed(ft_write(1, ft.PHASE, ft.PHASE.default | ft.PHASE_FEEDBACK_REVERSED))
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 4095 - 1000
    device.feed(ft_write(1, ft.TORQUE_ENABLE, 1))
    device.feed(ft_write(1, ft.GOAL_POSITION, 4095 - 1500))
    settle(device)
    assert device.servos[1].position == pytest.approx(1500)


def test_sts_torque_limit_zero_means_no_torque_and_128_sets_the_middle():
    device = sts(position=3000.0)
    device.feed(ft_write(1, ft.TORQUE_ENABLE, 1))
    device.feed(ft_write(1, ft.TORQUE_LIMIT, 0))
    device.feed(ft_write(1, ft.GOAL_POSITION, 1000))
    settle(device, 1.0)
    assert device.servos[1].position == 3000.0
    device.feed(ft_write(1, ft.TORQUE_ENABLE, 128))  # STS: the present position becomes 2048
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 2048
    assert ft_read(device, 1, ft.HOMING_OFFSET) == 3000 - 2048
    device.feed(feetech_packet(1, ft.INST_CALIBRATE, (100).to_bytes(2, 'little')))
    assert ft_read(device, 1, ft.PRESENT_POSITION) == 100


def test_sts_moving_servo_reports_its_speed():
    device = sts()
    device.feed(ft_write(1, ft.TORQUE_ENABLE, 1))
    device.feed(ft_write(1, ft.GOAL_SPEED, 1000))
    device.feed(ft_write(1, ft.GOAL_POSITION, 3500))
    settle(device, 0.2)
    assert ft_read(device, 1, ft.PRESENT_SPEED) == pytest.approx(1000, abs=1)
    assert ft_read(device, 1, ft.MOVING) == 1
    device.feed(ft_write(1, ft.GOAL_POSITION, 500))
    settle(device, 0.2)
    assert ft_read(device, 1, ft.PRESENT_SPEED) == pytest.approx(-1000, abs=1)


def test_sts_id_change_answers_from_the_old_id_and_lasts_only_when_unlocked():
    device = sts()
    (reply,) = device.feed(ft_write(1, ft.ID, 9))
    assert reply[2] == 1  # the acknowledgement comes from the old id
    assert device.feed(feetech_packet(1, ft.INST_PING)) == []
    assert len(device.feed(feetech_packet(9, ft.INST_PING))) == 1
    device.feed(feetech_packet(9, ft.INST_REBOOT))
    settle(device, 1.0)
    assert len(device.feed(feetech_packet(1, ft.INST_PING))) == 1  # Lock was 1: not kept
    device.feed(ft_write(1, ft.LOCK, 0))
    device.feed(ft_write(1, ft.ID, 9))
    device.feed(feetech_packet(9, ft.INST_REBOOT))
    settle(device, 1.0)
    assert len(device.feed(feetech_packet(9, ft.INST_PING))) == 1  # written unlocked: kept


def test_sts_servos_given_one_id_collide_on_the_wire():
    device = sts(ids=(1, 2))
    device.servos[2].position = 1000.0
    device.feed(ft_write(2, ft.ID, 1))
    (reply,) = device.feed(
        feetech_packet(1, ft.INST_READ, bytes((ft.PRESENT_POSITION.address, 2)))
    )
    # two servos answered at once: neither's reply arrives intact
    assert reply not in (
        feetech_packet(1, 0, (2048).to_bytes(2, 'little')),
        feetech_packet(1, 0, (1000).to_bytes(2, 'little')),
    )
    assert feetech_checksum(reply[2:-1]) != reply[-1]


def test_sts_baud_change_takes_effect_after_the_reply():
    device = sts()
    device.set_line_speed(1_000_000)
    (reply,) = device.feed(ft_write(1, ft.BAUD_RATE, 4))  # 115200
    assert reply[2] == 1
    assert device.feed(feetech_packet(1, ft.INST_PING)) == []  # deaf at 1 Mbps now
    device.set_line_speed(115_200)
    assert len(device.feed(feetech_packet(1, ft.INST_PING))) == 1


def test_sts_reboot_reloads_ram_and_restore_brings_back_the_factory_values():
    device = sts(position=1000.0)
    for register, value in (
        (ft.TORQUE_ENABLE, 1),
        (ft.ACCELERATION, 50),
        (ft.GOAL_POSITION, 3000),
        (ft.TORQUE_LIMIT, 300),
        (ft.LOCK, 0),
        (ft.HOMING_OFFSET, 20),
    ):
        device.feed(ft_write(1, register, value))
    settle(device, 0.1)
    assert device.feed(feetech_packet(1, ft.INST_REBOOT)) == []  # REBOOT never answers
    assert ft_read(device, 1, ft.ID) is None  # restarting: deaf
    settle(device, 1.0)
    at = device.servos[1].position
    assert ft_read(device, 1, ft.TORQUE_ENABLE) == 0 and ft_read(device, 1, ft.ACCELERATION) == 0
    assert ft_read(device, 1, ft.TORQUE_LIMIT) == 1000 and ft_read(device, 1, ft.LOCK) == 1
    assert ft_read(device, 1, ft.GOAL_POSITION) == round(at - 20)  # holds where it is
    assert ft_read(device, 1, ft.HOMING_OFFSET) == 20  # EEPROM, written unlocked: kept
    device.feed(ft_write(1, ft.ID, 5))
    (reply,) = device.feed(feetech_packet(5, ft.INST_RESTORE))
    assert reply[2] == 5
    assert ft_read(device, 5, ft.HOMING_OFFSET) == 0 and ft_read(device, 5, ft.ID) == 5  # id kept


def test_sts_unknown_instruction_and_broadcast_read_get_no_reply():
    device = sts()
    assert device.feed(feetech_packet(1, 0x10)) == []
    assert device.feed(feetech_packet(ft.BROADCAST_ID, ft.INST_READ, b'\x38\x02')) == []


# ---------------------------------------------------------------------------- Dynamixel


def xm(ids=(1, 2), position: float = 2048.0, **options) -> DynamixelP2Device:
    return DynamixelP2Device(
        {i: ServoModel(i, position, position, 1.0, voltage=12.0) for i in ids}, options
    )


def dx_write(servo_id: int, register: dxt.Register, value: int) -> bytes:
    data = register.address.to_bytes(2, 'little') + value.to_bytes(
        register.size, 'little', signed=value < 0
    )
    return dxl_packet(servo_id, dxt.INST_WRITE, data)


def dx_status(reply: bytes) -> tuple[int, int, bytes]:
    assert dxl_crc16(reply[:-2]) == reply[-2] | reply[-1] << 8
    body = dxl_unstuff(reply[7:-2])
    return reply[4], body[1], body[2:]


def dx_read(device, servo_id: int, register: dxt.Register) -> int | None:
    params = register.address.to_bytes(2, 'little') + register.size.to_bytes(2, 'little')
    replies = device.feed(dxl_packet(servo_id, dxt.INST_READ, params))
    if not replies:
        return None
    sid, error, data = dx_status(replies[0])
    assert sid == servo_id and error & 0x7F == 0, error
    return int.from_bytes(data, 'little', signed=register.signed)


def dx_error(device, packet: bytes) -> int:
    (reply,) = device.feed(packet)
    return dx_status(reply)[1]


def test_xm430_registers_hold_the_emanuals_initial_values():
    device = xm(ids=(11,), baudrate=1_000_000)
    for register in dxt.REGISTERS:
        if register.default or register.writable:
            expected = {dxt.ID: 11, dxt.BAUD_RATE: 3, dxt.GOAL_POSITION: 2048}.get(
                register, register.default
            )
            if register in (dxt.GOAL_PWM, dxt.GOAL_CURRENT, dxt.GOAL_VELOCITY):
                expected = 0
            assert dx_read(device, 11, register) == expected, register
    assert dx_read(device, 11, dxt.INDIRECT_ADDRESSES[0]) == 224
    assert dx_read(device, 11, dxt.INDIRECT_ADDRESSES[-1]) == 661
    assert dx_read(device, 11, dxt.Register(0, dxt.TABLE_SIZE)) is not None  # the whole table


def test_xm430_homing_offset_adds_and_position_mode_ignores_large_ones():
    device = xm(position=1000.0)
    device.feed(dx_write(1, dxt.HOMING_OFFSET, 300))
    assert dx_read(device, 1, dxt.PRESENT_POSITION) == 1300  # Present = Actual + Homing Offset
    device.feed(dx_write(1, dxt.HOMING_OFFSET, 2000))
    assert (
        dx_read(device, 1, dxt.PRESENT_POSITION) == 1000
    )  # beyond +-1,024: ignored in position mode
    device.feed(dx_write(1, dxt.OPERATING_MODE, dxt.MODE_EXTENDED_POSITION))
    assert dx_read(device, 1, dxt.PRESENT_POSITION) == 3000  # used in extended position mode


def test_xm430_drive_mode_reverse_inverts_present_and_goal():
    device = xm(position=1000.0)
    device.feed(dx_write(1, dxt.DRIVE_MODE, dxt.DRIVE_MODE_REVERSE))
    device.feed(dx_write(1, dxt.HOMING_OFFSET, 50))
    assert dx_read(device, 1, dxt.PRESENT_POSITION) == 4095 - 1000 + 50  # offset keeps its sign
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    device.feed(dx_write(1, dxt.GOAL_POSITION, 4095 - 1500 + 50))
    settle(device)
    assert device.servos[1].position == pytest.approx(
        1500
    )  # a higher goal turned it the other way


def test_xm430_factory_limits_and_extended_mode():
    device = xm()
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    # the SDK's read_write example swings between 0 and 4095: inside the factory limits
    assert dx_error(device, dx_write(1, dxt.GOAL_POSITION, 4095)) == 0
    assert dx_error(device, dx_write(1, dxt.GOAL_POSITION, 0)) == 0
    assert dx_error(device, dx_write(1, dxt.GOAL_POSITION, 4096)) == dxt.ERR_DATA_LIMIT
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 0))
    device.feed(dx_write(1, dxt.MAX_POSITION_LIMIT, 2500))
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    assert dx_error(device, dx_write(1, dxt.GOAL_POSITION, 3200)) == dxt.ERR_DATA_LIMIT
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 0))
    device.feed(dx_write(1, dxt.OPERATING_MODE, dxt.MODE_EXTENDED_POSITION))
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    assert dx_error(device, dx_write(1, dxt.GOAL_POSITION, 6000)) == 0  # limits not used here
    settle(device, 4.0)
    assert dx_read(device, 1, dxt.PRESENT_POSITION) == 6000
    assert dx_error(device, dx_write(1, dxt.GOAL_POSITION, 1_048_576)) == dxt.ERR_DATA_LIMIT


def test_xm430_reports_velocity_while_moving_and_counts_its_tick():
    device = xm()
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    device.feed(dx_write(1, dxt.PROFILE_VELOCITY, 100))  # 22.9 rpm
    device.feed(dx_write(1, dxt.GOAL_POSITION, 4000))
    settle(device, 0.25)
    assert dx_read(device, 1, dxt.PRESENT_VELOCITY) == 100
    assert dx_read(device, 1, dxt.MOVING) == 1
    assert dx_read(device, 1, dxt.REALTIME_TICK) == pytest.approx(250, abs=15)
    settle(device, 33.0)
    assert dx_read(device, 1, dxt.REALTIME_TICK) < 32768  # wraps


def test_xm430_id_change_needs_torque_off_and_answers_from_the_old_id():
    device = xm()
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    assert dx_error(device, dx_write(1, dxt.ID, 7)) == dxt.ERR_ACCESS  # EEPROM while torque is on
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 0))
    (reply,) = device.feed(dx_write(1, dxt.ID, 7))
    assert dx_status(reply)[:2] == (1, 0)
    assert device.feed(dxl_packet(1, dxt.INST_PING)) == []
    assert dx_status(device.feed(dxl_packet(7, dxt.INST_PING))[0])[0] == 7


def test_xm430_reboot_resets_ram_keeps_eeprom():
    device = xm(position=1000.0)
    device.feed(dx_write(1, dxt.HOMING_OFFSET, 100))
    for register, value in (
        (dxt.TORQUE_ENABLE, 1),
        (dxt.LED, 1),
        (dxt.PROFILE_VELOCITY, 50),
        (dxt.GOAL_POSITION, 3000),
        (dxt.STATUS_RETURN_LEVEL, 1),
    ):
        device.feed(dx_write(1, register, value))
    settle(device, 0.2)
    assert (
        device.feed(dxl_packet(1, dxt.INST_REBOOT)) == []
    )  # status level 1: no status for reboot
    settle(device, 0.5)
    at = device.present_position(1)
    assert dx_read(device, 1, dxt.TORQUE_ENABLE) == 0 and dx_read(device, 1, dxt.LED) == 0
    assert (
        dx_read(device, 1, dxt.PROFILE_VELOCITY) == 0
        and dx_read(device, 1, dxt.STATUS_RETURN_LEVEL) == 2
    )
    assert dx_read(device, 1, dxt.GOAL_POSITION) == round(at)
    assert dx_read(device, 1, dxt.HOMING_OFFSET) == 100


@pytest.mark.parametrize(
    'option, servo_id, baud',
    [(dxt.RESET_ALL, 1, 1), (dxt.RESET_ALL_BUT_ID, 4, 1), (dxt.RESET_ALL_BUT_ID_AND_BAUD, 4, 3)],
    ids=['all', 'all_but_id', 'all_but_id_and_baud'],
)
def test_xm430_factory_reset_options(option, servo_id, baud):
    device = xm(ids=(4,), baudrate=1_000_000)
    device.feed(dx_write(4, dxt.HOMING_OFFSET, -300))
    (reply,) = device.feed(dxl_packet(4, dxt.INST_FACTORY_RESET, bytes((option,))))
    assert dx_status(reply)[:2] == (4, 0)  # answered before resetting
    settle(device, 0.5)
    assert dx_read(device, servo_id, dxt.BAUD_RATE) == baud
    assert dx_read(device, servo_id, dxt.HOMING_OFFSET) == 0
    assert (
        device.feed(dxl_packet(dxt.BROADCAST_ID, dxt.INST_FACTORY_RESET, bytes((dxt.RESET_ALL,))))
        == []
    )
    settle(device, 0.5)
    assert dx_read(device, servo_id, dxt.ID) == servo_id  # a broadcast "reset all" is ignored


def test_xm430_clear_needs_a_stopped_servo():
    device = xm(position=9000.0)  # two turns on: extended mode counts them
    device.feed(dx_write(1, dxt.OPERATING_MODE, dxt.MODE_EXTENDED_POSITION))
    device.feed(dx_write(1, dxt.TORQUE_ENABLE, 1))
    device.feed(dx_write(1, dxt.GOAL_POSITION, 9000 - 8192 + 3000))
    settle(device, 0.05)
    assert (
        dx_error(device, dxl_packet(1, dxt.INST_CLEAR, dxt.CLEAR_MULTI_TURN))
        == dxt.ERR_RESULT_FAIL
    )
    settle(device, 4.0)
    assert dx_error(device, dxl_packet(1, dxt.INST_CLEAR, dxt.CLEAR_MULTI_TURN)) == 0
    assert 0 <= dx_read(device, 1, dxt.PRESENT_POSITION) < 4096
    assert (
        dx_error(device, dxl_packet(1, dxt.INST_CLEAR, b'\x01\x00\x00\x00\x00'))
        == dxt.ERR_DATA_RANGE
    )


def test_xm430_bulk_read_write_and_fast_sync_read():
    device = xm(ids=(1, 2))
    params = bytes((1, 144, 0, 2, 0, 2, 146, 0, 1, 0))  # the e-Manual's Bulk Read example
    replies = device.feed(dxl_packet(dxt.BROADCAST_ID, dxt.INST_BULK_READ, params))
    assert [dx_status(r)[0] for r in replies] == [1, 2]
    assert dx_status(replies[0])[2] == (120).to_bytes(2, 'little') and dx_status(replies[1])[
        2
    ] == bytes((32,))
    write = bytes((1, 65, 0, 1, 0, 1, 2, 84, 0, 2, 0)) + (640).to_bytes(2, 'little')
    assert device.feed(dxl_packet(dxt.BROADCAST_ID, dxt.INST_BULK_WRITE, write)) == []
    assert dx_read(device, 1, dxt.LED) == 1 and dx_read(device, 2, dxt.POSITION_P_GAIN) == 640
    device.servos[2].position = 3000.0
    (packet,) = device.feed(
        dxl_packet(dxt.BROADCAST_ID, dxt.INST_FAST_SYNC_READ, bytes((132, 0, 4, 0, 1, 2)))
    )
    assert packet[4] == dxt.BROADCAST_ID and dxl_crc16(packet[:-2]) == packet[-2] | packet[-1] << 8
    first = packet[8:8 + 8]  # error, id, 4 data bytes, the CRC of the packet so far
    assert first[:2] == b'\x00\x01' and int.from_bytes(first[2:6], 'little') == 2048
    assert dxl_crc16(packet[:14]) == first[6] | first[7] << 8
    assert packet[16:18] == b'\x00\x02' and int.from_bytes(packet[18:22], 'little') == 3000


def test_xm430_unknown_instruction_answers_instruction_error():
    assert dx_error(xm(), dxl_packet(1, 0x20)) == dxt.ERR_INSTRUCTION
