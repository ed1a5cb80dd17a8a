"""
DYNAMIXEL Protocol 2.0 codec, host-side bytes, byte stuffing and the emulated X-series bus.

Example packets are the ROBOTIS e-Manual "DYNAMIXEL Protocol 2.0" examples (PING, READ,
WRITE, SYNC READ, SYNC WRITE and their status packets), byte for byte with their CRCs.
"""

from __future__ import annotations

import dynamixel_sdk as dxl
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols.base import ProtocolError
from robot_touch.protocols.dynamixel_p2 import DynamixelP2Bus
from robot_touch.protocols.packet_utils import (
    dxl_crc16,
    dxl_needs_stuffing,
    dxl_packet,
    dxl_stuff,
    dxl_unstuff,
)
from robot_touch.protocols.registry import get_bus_class, get_device_class
from robot_touch.virtual_arm.device import ServoModel
from robot_touch.virtual_arm.dynamixel_device import DynamixelP2Device
import serial

H = bytes.fromhex
BCAST = dxt.BROADCAST_ID


def make_device(
    ids=(1, 2, 3), position: float = 2048.0, torque: bool = True, **options
) -> DynamixelP2Device:
    """
    Return servos at their factory settings (torque off at power-on).

    With ``torque``, switched on as a host does before moving them.
    """
    servos = {i: ServoModel(i, position, position, 2000.0, voltage=12.0) for i in ids}
    device = DynamixelP2Device(servos, options)
    if torque:
        for i in ids:
            (reply,) = device.feed(write(i, dxt.TORQUE_ENABLE, 1))
            assert reply[8] == 0  # no error
    return device


def parse_status(frame: bytes) -> tuple[int, int, bytes]:
    """(id, error, params) of one well-formed, unstuffed status frame; asserts well-formedness."""
    assert frame[:4] == dxt.HEADER
    assert frame[5] | frame[6] << 8 == len(frame) - 7
    assert dxl_crc16(frame[:-2]) == frame[-2] | frame[-1] << 8
    body = dxl_unstuff(frame[7:-2])
    assert body is not None and body[0] == dxt.INST_STATUS
    return frame[4], body[1], body[2:]


def write(servo_id: int, register: dxt.Register, value: int) -> bytes:
    data = register.address.to_bytes(2, 'little') + value.to_bytes(
        register.size, 'little', signed=value < 0
    )
    return dxl_packet(servo_id, dxt.INST_WRITE, data)


def read(servo_id: int, register: dxt.Register) -> bytes:
    params = register.address.to_bytes(2, 'little') + register.size.to_bytes(2, 'little')
    return dxl_packet(servo_id, dxt.INST_READ, params)


# -- e-Manual examples --------------------------------------------------------------------

EMANUAL_PACKETS = [
    # (id, instruction, params, e-Manual bytes)
    (1, dxt.INST_PING, b'', 'FF FF FD 00 01 03 00 01 19 4E'),
    (1, dxt.INST_STATUS, H('00 06 04 26'), 'FF FF FD 00 01 07 00 55 00 06 04 26 65 5D'),
    (2, dxt.INST_STATUS, H('00 06 04 26'), 'FF FF FD 00 02 07 00 55 00 06 04 26 6F 6D'),
    (1, dxt.INST_READ, H('84 00 04 00'), 'FF FF FD 00 01 07 00 02 84 00 04 00 1D 15'),
    (1, dxt.INST_STATUS, H('00 A6 00 00 00'), 'FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0'),
    (1, dxt.INST_WRITE, H('74 00 00 02 00 00'), 'FF FF FD 00 01 09 00 03 74 00 00 02 00 00 CA 89'),
    (1, dxt.INST_STATUS, H('00'), 'FF FF FD 00 01 04 00 55 00 A1 0C'),
    (
        BCAST,
        dxt.INST_SYNC_READ,
        H('84 00 04 00 01 02'),
        'FF FF FD 00 FE 09 00 82 84 00 04 00 01 02 CE FA',
    ),
    (2, dxt.INST_STATUS, H('00 1F 08 00 00'), 'FF FF FD 00 02 08 00 55 00 1F 08 00 00 BA BE'),
    (
        BCAST,
        dxt.INST_SYNC_WRITE,
        H('74 00 04 00 01 96 00 00 00 02 AA 00 00 00'),
        'FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87',
    ),
]


@pytest.mark.parametrize(
    'servo_id, instruction, params, expected',
    EMANUAL_PACKETS,
    ids=[
        'ping',
        'ping_status_id1',
        'ping_status_id2',
        'read',
        'read_status',
        'write',
        'write_status',
        'sync_read',
        'sync_read_status_id2',
        'sync_write',
    ],
)
def test_packets_match_emanual_examples(servo_id, instruction, params, expected):
    assert dxl_packet(servo_id, instruction, params) == H(expected)


def test_device_answers_emanual_examples():
    # the e-Manual's PING example device reports model 1030, firmware 38
    device = make_device(ids=(1, 2), model_number=1030, firmware=38)
    device.servos[1].position = 166
    device.servos[2].position = 2079
    assert device.feed(H('FF FF FD 00 01 03 00 01 19 4E')) == [
        H('FF FF FD 00 01 07 00 55 00 06 04 26 65 5D')
    ]
    assert device.feed(H('FF FF FD 00 01 07 00 02 84 00 04 00 1D 15')) == [
        H('FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0')
    ]
    assert device.feed(H('FF FF FD 00 FE 09 00 82 84 00 04 00 01 02 CE FA')) == [
        H('FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0'),
        H('FF FF FD 00 02 08 00 55 00 1F 08 00 00 BA BE'),
    ]
    assert device.feed(H('FF FF FD 00 FE 03 00 01 31 42')) == [  # broadcast ping: all, in id order
        H('FF FF FD 00 01 07 00 55 00 06 04 26 65 5D'),
        H('FF FF FD 00 02 07 00 55 00 06 04 26 6F 6D'),
    ]
    assert device.feed(H('FF FF FD 00 01 09 00 03 74 00 00 02 00 00 CA 89')) == [
        H('FF FF FD 00 01 04 00 55 00 A1 0C')
    ]
    assert device.servos[1].goal == 512
    assert (
        device.feed(H('FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87'))
        == []
    )
    assert (device.servos[1].goal, device.servos[2].goal) == (150, 170)


def test_host_sends_emanual_sync_write():
    """The bus's Goal Position SYNC WRITE, read back from a loop:// port, is the e-Manual's."""
    port = serial.serial_for_url('loop://', timeout=0.01)
    bus = DynamixelP2Bus(port, [1, 2], {'latency_ms': 2})
    bus.write_goals({1: 150, 2: 170})
    assert port.read(100) == H(
        'FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87'
    )


def test_registry_finds_dynamixel_classes():
    assert get_bus_class('dynamixel_p2') is DynamixelP2Bus
    assert get_device_class('dynamixel_p2') is DynamixelP2Device


# -- byte stuffing ------------------------------------------------------------------------

STUFFING_CASES = [
    (H('01 02 03'), H('01 02 03')),
    (H('FF FF FD'), H('FF FF FD FD')),
    (H('FF FF FD FD'), H('FF FF FD FD FD')),
    (H('FF FF FF FD 00'), H('FF FF FF FD FD 00')),
    (H('FF FF FD 01 FF FF FD'), H('FF FF FD FD 01 FF FF FD FD')),
]


@pytest.mark.parametrize(
    'plain, stuffed', STUFFING_CASES, ids=['none', 'header', 'header_fd', 'three_ff', 'twice']
)
def test_stuffing_examples(plain, stuffed):
    """Rule from the e-Manual: FD is added after every FF FF FD inside the packet."""
    assert dxl_stuff(plain) == stuffed
    assert dxl_unstuff(stuffed) == plain


@given(st.binary(max_size=64).map(lambda b: b.replace(b'\xfe', b'\xff').replace(b'\x00', b'\xfd')))
def test_stuffing_round_trip_and_agrees_with_sdk(body):
    stuffed = dxl_stuff(body)
    assert dxl_unstuff(stuffed) == body
    # dynamixel-sdk's addStuffing *returns* the right packet (its txPacket drops it)
    length = len(body) + 3
    packet = [0xFF, 0xFF, 0xFD, 0x00, 1, length & 0xFF, length >> 8, 0x03, *body, 0, 0]
    sdk = dxl.PacketHandler(2.0).addStuffing(packet)
    assert bytes(sdk[8:-2]) == dxl_stuff(bytes((0x03,)) + body)[1:]


def test_unstuffed_header_in_body_is_rejected():
    assert dxl_unstuff(H('01 FF FF FD 02')) is None
    assert dxl_unstuff(H('01 FF FF FD')) is None


def test_sdk_tx_skips_stuffing_and_device_rejects_it():
    """
    Why the bus stuffs by itself.

    Dynamixel-sdk sends FF FF FD unstuffed (4.1 drops addStuffing's result), and a strict device
    refuses that packet.
    """
    goal = -131073  # 0xFFFDFFFF: its bytes FF FF FD need stuffing
    params = [1, *goal.to_bytes(4, 'little', signed=True)]
    assert dxl_needs_stuffing(bytes(params))
    port = serial.serial_for_url('loop://', timeout=0.01)
    sdk_port = dxl.PortHandler('loop')
    sdk_port.ser, sdk_port.is_open = port, True
    dxl.PacketHandler(2.0).syncWriteTxOnly(sdk_port, 116, 4, params, len(params))
    sdk_bytes = port.read(100)
    device = make_device(ids=(1,))
    device.tables[1][dxt.OPERATING_MODE.address] = 4  # extended position: no limit check
    assert device.feed(sdk_bytes) == []
    assert device.servos[1].goal == 2048 and device.rejected == 1

    bus = DynamixelP2Bus(port, [1], {'latency_ms': 2})
    bus.write_goals({1: goal})
    bus_bytes = port.read(100)
    assert bus.stuffed_writes == 1
    assert H('FF FF FD FD') in bus_bytes[7:]
    assert device.feed(bus_bytes) == []
    assert device.servos[1].goal == goal


def test_status_reply_is_stuffed():
    device = make_device(ids=(1,))
    device.servos[1].position = 0x00FDFFFF  # bytes FF FF FD 00
    (reply,) = device.feed(read(1, dxt.PRESENT_POSITION))
    assert H('FF FF FD FD 00') in reply
    assert parse_status(reply) == (1, 0, (0x00FDFFFF).to_bytes(4, 'little'))


# -- host input validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    'goals',
    [{9: 100}, {1: 2.5}, {1: 1 << 31}, {1: None}],
    ids=['unknown_id', 'float', 'out_of_range', 'none'],
)
def test_write_goals_rejects_bad_input_before_sending(goals):
    port = serial.serial_for_url('loop://', timeout=0.001)
    bus = DynamixelP2Bus(port, [1, 2])
    with pytest.raises(ProtocolError):
        bus.write_goals({2: 100, **goals})
    assert port.read(100) == b''
    assert bus.stats.writes == 0


@pytest.mark.parametrize('ids', [[3, 3], [253], [254]], ids=['dup', 'reserved', 'broadcast'])
def test_bus_rejects_bad_ids(ids):
    with pytest.raises(ProtocolError):
        DynamixelP2Bus(serial.serial_for_url('loop://'), ids)


# -- emulated device ----------------------------------------------------------------------


def test_device_buffers_partial_frames_and_skips_garbage():
    device = make_device()
    frame = dxl_packet(2, dxt.INST_PING)
    replies = []
    for byte in H('FF 00 FF FF 13 FF FF FD') + frame:
        replies += device.feed(bytes((byte,)))
    assert [parse_status(r)[0] for r in replies] == [2]


def test_bad_crc_gets_no_reply_and_parser_recovers():
    device = make_device()
    bad = bytearray(dxl_packet(1, dxt.INST_PING))
    bad[-1] ^= 0x40
    assert device.feed(bytes(bad)) == []
    assert device.rejected == 1
    assert len(device.feed(dxl_packet(1, dxt.INST_PING))) == 1


def test_false_header_in_garbage_does_not_swallow_real_packet():
    device = make_device()
    replies = device.feed(H('FF FF FD 00 01 40 00 77') + dxl_packet(3, dxt.INST_PING) + bytes(70))
    assert [parse_status(r)[0] for r in replies] == [3]


def test_stale_partial_frame_is_abandoned_after_a_gap():
    device = make_device()
    assert device.feed(H('FF FF FD 00 01 00 03 03')) == []  # LEN 768 that never comes
    device.step(0.5)
    assert len(device.feed(dxl_packet(1, dxt.INST_PING))) == 1


def test_sync_read_answers_listed_present_servos_in_order():
    device = make_device()
    for servo_id, servo in device.servos.items():
        servo.position = -10.0 * servo_id
    replies = device.feed(dxl_packet(BCAST, dxt.INST_SYNC_READ, H('84 00 04 00 03 07 01')))
    assert [parse_status(r) for r in replies] == [
        (3, 0, (-30).to_bytes(4, 'little', signed=True)),
        (1, 0, (-10).to_bytes(4, 'little', signed=True)),
    ]


@pytest.mark.parametrize(
    'packet',
    [read(BCAST, dxt.PRESENT_POSITION), write(BCAST, dxt.GOAL_POSITION, 100)],
    ids=['read', 'write'],
)
def test_broadcast_gets_no_reply(packet):
    assert make_device().feed(packet) == []


def test_broadcast_write_applies_to_all():
    device = make_device()
    device.feed(write(BCAST, dxt.GOAL_POSITION, 1000))
    assert {s.goal for s in device.servos.values()} == {1000}


def test_write_outside_position_limits_is_refused():
    device = make_device()
    (reply,) = device.feed(write(1, dxt.GOAL_POSITION, 5000))
    assert parse_status(reply) == (1, dxt.ERR_DATA_LIMIT, b'')
    assert device.servos[1].goal == 2048


@pytest.mark.parametrize(
    'packet',
    [
        write(1, dxt.PRESENT_POSITION, 5),
        write(1, dxt.MAX_POSITION_LIMIT, 3000),
        read(1, dxt.Register(660, 4)),
    ],
    ids=['read_only', 'eeprom_with_torque_on', 'beyond_table'],
)
def test_access_errors(packet):
    device = make_device()
    (reply,) = device.feed(packet)
    assert parse_status(reply)[1] == dxt.ERR_ACCESS


def test_eeprom_write_allowed_with_torque_off():
    device = make_device()
    device.feed(write(1, dxt.TORQUE_ENABLE, 0))
    (reply,) = device.feed(write(1, dxt.MAX_POSITION_LIMIT, 3000))
    assert parse_status(reply) == (1, 0, b'')
    (reply,) = device.feed(read(1, dxt.MAX_POSITION_LIMIT))
    assert parse_status(reply)[2] == (3000).to_bytes(4, 'little')


def test_unknown_instruction_gets_instruction_error():
    (reply,) = make_device().feed(dxl_packet(1, 0x77))
    assert parse_status(reply) == (1, dxt.ERR_INSTRUCTION, b'')


def test_status_return_level():
    device = make_device()
    device.feed(write(1, dxt.STATUS_RETURN_LEVEL, 1))
    assert device.feed(write(1, dxt.GOAL_POSITION, 100)) == []
    assert device.servos[1].goal == 100
    assert len(device.feed(read(1, dxt.PRESENT_POSITION))) == 1
    device.feed(write(1, dxt.STATUS_RETURN_LEVEL, 0))
    assert device.feed(read(1, dxt.PRESENT_POSITION)) == []
    assert len(device.feed(dxl_packet(1, dxt.INST_PING))) == 1


def test_overheat_sets_alert_shuts_down_until_reboot():
    device = make_device()
    device.servos[2].temperature = 90.0
    device.step(0.01)
    assert device.servos[2].torque_enabled is False
    (reply,) = device.feed(read(2, dxt.HARDWARE_ERROR_STATUS))
    assert parse_status(reply) == (2, dxt.ERR_ALERT, b'\x04')
    (reply,) = device.feed(write(2, dxt.TORQUE_ENABLE, 1))
    assert parse_status(reply)[1] == dxt.ERR_ALERT | dxt.ERR_RESULT_FAIL
    device.servos[2].temperature = 40.0
    (reply,) = device.feed(dxl_packet(2, dxt.INST_REBOOT))
    assert parse_status(reply)[1] == dxt.ERR_ALERT  # answered before rebooting
    assert device.feed(write(2, dxt.TORQUE_ENABLE, 1)) == []  # deaf while it restarts
    device.step(0.5)
    (reply,) = device.feed(write(2, dxt.TORQUE_ENABLE, 1))
    assert parse_status(reply) == (2, 0, b'')
    assert device.servos[2].torque_enabled is True


def test_low_voltage_is_reported_but_keeps_torque():
    device = make_device()
    device.servos[1].voltage = 7.4  # below the XM430's 9.5 V minimum
    device.step(0.01)
    (reply,) = device.feed(read(1, dxt.PRESENT_INPUT_VOLTAGE))
    assert parse_status(reply) == (1, dxt.ERR_ALERT, (74).to_bytes(2, 'little'))
    assert device.servos[1].torque_enabled is True  # input voltage is not in Shutdown's default


def test_reg_write_waits_for_action():
    device = make_device()
    device.feed(dxl_packet(1, dxt.INST_REG_WRITE, H('74 00 00 04 00 00')))
    assert device.servos[1].goal == 2048
    assert device.feed(dxl_packet(BCAST, dxt.INST_ACTION)) == []
    assert device.servos[1].goal == 1024


# -- fuzzing ------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=300), st.integers(1, 40))
def test_random_bytes_never_raise_and_replies_are_well_formed(data, chunk):
    device = make_device()
    for at in range(0, len(data), chunk):
        for reply in device.feed(data[at:at + chunk]):
            assert parse_status(reply)[0] in device.servos


def _valid_instruction_frames():
    goal = st.integers(-(1 << 31), (1 << 31) - 1)
    return st.one_of(
        goal.map(lambda g: write(1, dxt.GOAL_POSITION, g)),
        goal.map(
            lambda g: dxl_packet(
                BCAST,
                dxt.INST_SYNC_WRITE,
                H('74 00 04 00 02') + g.to_bytes(4, 'little', signed=True),
            )
        ),
        st.just(write(1, dxt.TORQUE_ENABLE, 0)),
        st.just(read(2, dxt.PRESENT_POSITION)),
        st.just(dxl_packet(3, dxt.INST_PING)),
    )


@settings(max_examples=300)
@given(_valid_instruction_frames(), st.data())
def test_flipped_byte_is_never_accepted(frame, data):
    index = data.draw(st.integers(0, len(frame) - 1))
    corrupted = bytearray(frame)
    corrupted[index] ^= data.draw(st.integers(1, 255))
    device = make_device()
    for table in device.tables.values():
        table[dxt.OPERATING_MODE.address] = 4
    before = [(s.goal, s.torque_enabled) for s in device.servos.values()]
    assert device.feed(bytes(corrupted)) == []
    assert [(s.goal, s.torque_enabled) for s in device.servos.values()] == before
