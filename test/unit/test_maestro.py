"""
Pololu Maestro codec, CRC-7, host backend and emulated board.

Against the examples of the Pololu Maestro Servo Controller User's Guide; hypothesis fuzzing
of both parsers.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from robot_touch.protocols.base import ProtocolError
from robot_touch.protocols.crc7 import crc7
from robot_touch.protocols.maestro import (
    decode_positions,
    error_flags,
    ERROR_NAMES,
    MaestroBus,
    MaestroFraming,
    split14,
)
from robot_touch.virtual_arm.device import ServoModel
from robot_touch.virtual_arm.maestro_device import MaestroDevice
from support.pwm_pty import read_master, ScriptedBoard


def servo(ch: int, position: float = 1500.0) -> ServoModel:
    return ServoModel(servo_id=ch, position=position, goal=position, speed=4000.0)


def board(*channels: int, **options) -> MaestroDevice:
    return MaestroDevice({ch: servo(ch) for ch in channels}, options)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ---------------------------------------------------------------------------- CRC-7 and framing


@pytest.mark.parametrize(
    'packet, crc',
    [
        ('83 01', 0x17),  # the guide's worked example (section 5.d)
        (
            'AA 01 10 00',
            0x6B,
        ),  # Pololu's answer on their forum: the CRC covers 0xAA and the device number
    ],
    ids=['guide', 'pololu-protocol'],
)
def test_crc7_examples(packet, crc):
    assert crc7(h(packet)) == crc


@given(st.binary(min_size=1, max_size=40), st.integers(0, 7), st.data())
def test_crc7_detects_every_single_bit_error(data, bit, pick):
    index = pick.draw(st.integers(0, len(data) - 1))
    garbled = bytearray(data)
    garbled[index] ^= 1 << bit
    assert crc7(bytes(garbled)) != crc7(data)


@pytest.mark.parametrize(
    'framing, command, data, expected',
    [
        (MaestroFraming(), 0x84, h('00 70 2E'), '84 00 70 2E'),  # guide: channel 0 to 1500 µs
        (MaestroFraming(), 0x84, h('02 70 2E'), '84 02 70 2E'),  # guide: channel 2 to 1500 µs
        (
            MaestroFraming(pololu=True),
            0x84,
            h('00 70 2E'),
            'AA 0C 04 00 70 2E',
        ),  # guide, device 12
        (MaestroFraming(crc=True), 0x83, h('01'), '83 01 17'),  # guide's CRC example, appended
        (MaestroFraming(pololu=True, device_number=1, crc=True), 0x90, h('00'), 'AA 01 10 00 6B'),
    ],
    ids=['compact', 'compact-ch2', 'pololu', 'crc', 'pololu-crc'],
)
def test_framing(framing, command, data, expected):
    assert framing.packet(command, data) == h(expected)


def test_targets_are_14_bits_in_two_data_bytes():
    assert split14(6000) == h('70 2E')  # 6000 quarter-µs = 1500 µs
    assert split14(16383) == h('7F 7F')


@pytest.mark.parametrize(
    'number', [-1, 128, '12', True], ids=['negative', '128', 'string', 'bool']
)
def test_bad_device_number_is_a_user_error(number):
    with pytest.raises(ProtocolError):
        MaestroFraming(pololu=True, device_number=number)


@pytest.mark.parametrize(
    'reply, count, expected',
    [
        (h('70 17'), 1, [1500.0]),
        (h('00 00 71 17'), 2, [None, 1500.25]),
        (h('70'), 1, None),
        (h('70 17 00'), 1, None),
    ],
    ids=['1500us', 'off-and-quarter', 'short', 'long'],
)
def test_decode_positions(reply, count, expected):
    assert decode_positions(reply, count) == expected


@given(st.binary(max_size=50), st.integers(1, 24))
def test_decode_positions_never_raises_and_checks_the_length(reply, count):
    positions = decode_positions(reply, count)
    assert (positions is None) == (len(reply) != 2 * count)


def test_error_flags_use_the_guides_names():
    assert error_flags(0b1_0001_1000) == [
        'serial_crc',
        'serial_protocol',
        'script_program_counter',
    ]


# ---------------------------------------------------------------------------- emulated board


def test_set_target_compact_and_pololu():
    device = board(0, 2)
    assert device.feed(h('84 00 70 2E')) == []
    assert device.servos[0].goal == 1500
    device.feed(h('84 02 40 3E'))  # 8000 quarter-µs
    assert device.servos[2].goal == 2000
    device.feed(h('AA 0C 04 00 20 1F'))  # 4000 quarter-µs, device 12
    assert device.servos[0].goal == 1000
    assert device.errors == 0


def test_pololu_packets_for_another_device_are_skipped_silently():
    device = board(0)
    device.feed(h('AA 0D 04 00 40 1F') + h('AA 0D 10 00'))
    assert device.servos[0].goal == 1500 and device.errors == 0


def test_get_position_and_moving_state():
    device = board(0, 1)
    assert device.feed(h('90 00')) == [h('70 17')]  # 6000 = 0x1770, little-endian
    assert device.feed(h('93')) == [h('00')]
    device.feed(h('84 01 40 3E'))
    assert device.feed(h('93')) == [h('01')]
    for _ in range(30):
        device.step(0.01)
    assert device.feed(h('90 01 93')) == [h('40 1F'), h('00')]


def test_target_zero_stops_the_pulses():
    device = board(0)
    device.feed(h('84 00 00 00'))
    assert not device.servos[0].torque_enabled
    assert device.feed(h('90 00')) == [h('00 00')]


def test_set_multiple_targets():
    device = board(1, 2, 3)
    device.feed(h('9F 02 02') + split14(4000) + split14(8000))
    assert [device.servos[ch].goal for ch in (1, 2, 3)] == [1500, 1000, 2000]


def test_a_micro_maestro_refuses_set_multiple_targets():
    device = board(1, 2, multiple_targets=False)
    device.feed(h('9F 02 01') + split14(4000) + split14(8000))
    assert device.servos[1].goal == 1500
    assert device.feed(h('A1')) == [h('10 00')]  # serial protocol error


def test_crc_mode_checks_every_packet_and_flags_bad_ones():
    device = board(0, crc=True)
    good = MaestroFraming(crc=True).packet(0x84, h('00') + split14(5000))
    device.feed(good[:-1] + bytes([good[-1] ^ 0x01]))
    assert device.servos[0].goal == 1500  # ignored ...
    assert device.feed(MaestroFraming(crc=True).packet(0xA1)) == [h('08 00')]  # ... and flagged
    assert device.feed(MaestroFraming(crc=True).packet(0xA1)) == [h('00 00')]  # Get Errors clears
    device.feed(good)
    assert device.servos[0].goal == 1250


@pytest.mark.parametrize(
    'data',
    [h('84 00 70 90 00'), h('80'), h('05'), h('84 30 70 2E'), h('90 30')],
    ids=['interrupted', 'unknown-command', 'stray-data', 'channel-48', 'get-channel-48'],
)
def test_protocol_errors_are_flagged_and_change_nothing(data):
    device = board(0)
    device.feed(data)
    assert device.servos[0].goal == 1500
    replies = device.feed(h('A1'))
    assert replies == [h('10 00')]


def test_a_lone_baud_rate_byte_is_no_error():
    device = board(0)
    device.feed(h('AA 84 00 70 2E'))
    assert device.errors == 0 and device.servos[0].goal == 1500


def test_go_home_and_set_speed():
    device = board(0)
    device.feed(h('87 00 04 00'))  # 4 x 0.25 µs / 10 ms = 100 µs/s
    device.feed(h('84 00 40 3E'))
    for _ in range(100):
        device.step(0.01)
    assert device.servos[0].position == pytest.approx(1600, abs=1)
    device.feed(h('A2'))
    assert device.servos[0].goal == 1500


def test_a_partial_packet_waits_and_reset_drops_it():
    device = board(0)
    device.feed(h('84 00'))
    device.feed(h('40 3E'))
    assert device.servos[0].goal == 2000
    device.feed(h('84 00'))
    device.reset()
    device.feed(h('70 2E'))
    assert device.servos[0].goal == 2000


@given(st.lists(st.binary(max_size=40), max_size=8), st.booleans())
def test_the_board_parser_never_raises(chunks, crc):
    device = board(0, 1, 23, crc=crc)
    for chunk in chunks:
        for reply in device.feed(chunk):
            assert len(reply) in (1, 2)
        device.step(0.01)
    for s in device.servos.values():
        assert 500 <= s.goal <= 2500


@given(
    channel=st.integers(0, 2),
    target=st.integers(4000, 8000),
    pololu=st.booleans(),
    index=st.integers(0, 10),
    bit=st.integers(0, 6),
)
def test_in_crc_mode_a_corrupted_packet_is_never_applied(channel, target, pololu, index, bit):
    device = board(0, 1, 2, crc=True)
    packet = bytearray(
        MaestroFraming(pololu=pololu, crc=True).packet(0x84, bytes([channel]) + split14(target))
    )
    index %= len(packet)
    packet[index] ^= 1 << bit  # bits 0-6: the command/data structure stays, the content changes
    device.feed(bytes(packet) + h('84'))  # a following command byte ends any packet made longer
    assert all(s.goal == 1500 for s in device.servos.values())


# ---------------------------------------------------------------------------- host backend


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    'options, goals, expected',
    [
        ({}, {0: 1500, 2: 2000}, '84 00 70 2E 84 02 40 3E'),
        ({'multiple_targets': True}, {0: 1500, 1: 2000}, '9F 02 00 70 2E 40 3E'),
        (
            {'multiple_targets': True},
            {0: 1500, 2: 2000},
            '84 00 70 2E 84 02 40 3E',
        ),  # not contiguous
        ({'pololu_protocol': True}, {0: 1500}, 'AA 0C 04 00 70 2E'),
        (
            {'pololu_protocol': True, 'device_number': 1, 'crc': True},
            {0: 1500},
            'AA 01 04 00 70 2E 19',
        ),
    ],
    ids=['compact', 'multiple', 'multiple-not-contiguous', 'pololu', 'pololu-crc'],
)
def test_write_goals_bytes(raw_pty, options, goals, expected):
    master, port = raw_pty
    bus = MaestroBus(port, [0, 1, 2], options)
    bus.write_goals(goals)
    wire = read_master(master)
    assert wire == h(expected)
    if options.get('crc'):
        assert crc7(wire[:-1]) == wire[-1]


@pytest.mark.timeout(10)
def test_torque_off_sends_target_zero(raw_pty):
    master, port = raw_pty
    bus = MaestroBus(port, [0, 1], {})
    bus.set_torque(False)
    assert read_master(master) == h('84 00 00 00 84 01 00 00')


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    'goals', [{0: 0}, {0: 4096}, {7: 1500}, {0: 1500.0}], ids=['zero', 'high', 'unknown', 'float']
)
def test_bad_goals_are_refused_before_anything_is_sent(raw_pty, goals):
    master, port = raw_pty
    bus = MaestroBus(port, [0, 1], {})
    with pytest.raises(ProtocolError):
        bus.write_goals({1: 1500, **goals})
    assert read_master(master) == b''


@pytest.mark.timeout(10)
def test_a_silent_board_reads_as_missing(raw_pty):
    master, port = raw_pty
    bus = MaestroBus(port, [0, 3], {'reply_timeout_ms': 20}, retries=1)
    assert bus.read_positions() == {0: None, 3: None}
    assert read_master(master) == h('90 00 90 03') * 2  # pipelined, then retried once
    assert bus.read_errors() is None and not bus.ping(0)
    assert all(s.moving is None for s in bus.read_status().values())


@pytest.mark.timeout(60)
@settings(max_examples=50)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=3))
def test_random_replies_never_raise_and_never_leave_the_pulse_range(raw_pty_session, replies):
    master, port = raw_pty_session
    peer = ScriptedBoard(master)
    try:
        bus = MaestroBus(port, [0, 1], {'reply_timeout_ms': 5})
        peer.replies = list(replies)
        for ch, us in bus.read_positions().items():
            assert us is None or 1 <= us <= 4095
        peer.replies = list(replies)
        for status in bus.read_status().values():
            assert status.moving in (None, True, False)
            assert set(status.error_flags) <= set(ERROR_NAMES)
    finally:
        peer.close()
