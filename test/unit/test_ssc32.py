"""
SSC-32U codec, host backend and emulated board.

Against the Lynxmotion SSC-32U User Guide's examples; hypothesis fuzzing of both parsers.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from robot_touch.protocols.base import ProtocolError
from robot_touch.protocols.pwm_readback import ReadbackEnvelope
from robot_touch.protocols.ssc32 import (
    decode_pulse_widths,
    group_move,
    query_pulse_widths,
    SSC32Bus,
)
from robot_touch.virtual_arm.device import ServoModel
from robot_touch.virtual_arm.ssc32_device import SSC32Device
from support.pwm_pty import read_master, ScriptedBoard


def servo(ch: int, position: float = 1500.0, speed: float = 5000.0) -> ServoModel:
    return ServoModel(servo_id=ch, position=position, goal=position, speed=speed)


def board(*channels: int, **positions: float) -> SSC32Device:
    return SSC32Device({ch: servo(ch, positions.get(f'ch{ch}', 1500.0)) for ch in channels})


def run(device: SSC32Device, seconds: float, dt: float = 0.01) -> None:
    for _ in range(round(seconds / dt)):
        device.step(dt)


# ---------------------------------------------------------------------------- codec


def test_group_move_is_the_guides_example_1():
    # Guide, "Multiple servo command": #5 P1600 #10 P750 T2500 <cr> (spaces are optional)
    assert group_move({5: 1600, 10: 750}, 2500) == b'#5P1600#10P750T2500\r'


@pytest.mark.parametrize(
    'move_time, expected',
    [(None, b'#0P1500\r'), (0, b'#0P1500\r'), (99999, b'#0P1500T65535\r')],
    ids=['none', 'zero', 'capped'],
)
def test_group_move_time(move_time, expected):
    assert group_move({0: 1500}, move_time) == expected


def test_each_queried_channel_gets_its_own_qp():
    # spaces are ignored by the board, so "QP 1 2" would mean channel 12
    assert query_pulse_widths([1, 2, 31]) == b'QP1QP2QP31\r'


@pytest.mark.parametrize(
    'reply, count, expected',
    [
        (bytes([150]), 1, [1500]),  # guide: 1500 µs reads back as 150
        (bytes([50, 250]), 2, [500, 2500]),
        (bytes([0, 49, 251]), 3, [None, None, None]),  # pulses off; outside 500-2500 µs
        (bytes([150]), 2, None),  # a lost byte would shift the channels
        (bytes([150, 150, 150]), 2, None),
    ],
    ids=['guide-150', 'ends', 'invalid-bytes', 'short', 'long'],
)
def test_decode_pulse_widths(reply, count, expected):
    assert decode_pulse_widths(reply, count) == expected


@given(st.binary(max_size=40), st.integers(1, 32))
def test_decode_pulse_widths_never_raises_and_checks_the_length(reply, count):
    widths = decode_pulse_widths(reply, count)
    assert (widths is None) == (len(reply) != count)
    assert widths is None or all(w is None or 500 <= w <= 2500 for w in widths)


# ---------------------------------------------------------------------------- readback envelope


@given(goal=st.integers(500, 2500), garbled=st.integers(0, 255))
def test_a_corrupted_readback_at_rest_never_gives_a_wrong_position(goal, garbled):
    envelope = ReadbackEnvelope(10)
    envelope.commanded(goal)
    assert envelope.accept(goal) == goal
    reported = envelope.accept(garbled * 10)
    assert reported in (None, goal)


def test_an_implausible_readback_is_believed_once_it_repeats():
    envelope = ReadbackEnvelope(10)
    envelope.commanded(1500)
    assert envelope.accept(1500) == 1500
    assert envelope.accept(2000) is None  # the servo cannot be there ...
    assert envelope.accept(2000) is None
    assert envelope.accept(2000) == 2000  # ... unless it keeps saying so (moved by someone else)


def test_readbacks_during_a_move_follow_the_ramp():
    envelope = ReadbackEnvelope(10)
    envelope.commanded(1000)
    assert envelope.accept(1000) == 1000
    envelope.commanded(1997)
    assert envelope.accept(1400) == 1400
    assert envelope.accept(1200) is None  # the ramp never goes back
    assert envelope.accept(1980) == 1980
    assert envelope.accept(2000) == 1997  # within the resolution of the goal: the goal


# ---------------------------------------------------------------------------- emulated board


def test_guide_example_1_both_servos_start_and_stop_together():
    device = board(5, 10)
    assert device.feed(b'#5 P1600 #10 P750 T2500 <cr>'.replace(b'<cr>', b'\r')) == []
    run(device, 1.25)
    s5, s10 = device.servos[5], device.servos[10]
    assert s5.position == pytest.approx(1550, abs=2) and s10.position == pytest.approx(1125, abs=2)
    assert device.feed(b'Q\r') == [b'+']
    run(device, 1.26)
    assert (s5.position, s10.position) == (pytest.approx(1600), pytest.approx(750))
    assert device.feed(b'Q\r') == [b'.']


def test_guide_example_2_a_speed_can_make_the_move_longer():
    # "#5 P1600 #17 P750 S500 #2 P2250 T2000": ch17 starting at 2000 needs 1250 µs at 500 µs/s,
    # so the whole move takes 2.5 s instead of 2.
    device = board(2, 5, 17, ch17=2000.0)
    device.feed(b'#5 P1600 #17 P750 S500 #2 P2250 T2000\r')
    run(device, 2.0)
    assert device.servos[17].position == pytest.approx(1000, abs=3)
    assert device.feed(b'Q\r') == [b'+']
    run(device, 0.51)
    assert [device.servos[ch].position for ch in (2, 5, 17)] == pytest.approx([2250, 1600, 750])


def test_qp_answers_the_guides_example_one_byte_per_channel():
    device = board(5, 6, ch6=2000.0)
    assert device.feed(b'QP 5 \r') == [bytes([150])]
    assert device.feed(b'QP5QP6\r') == [bytes([150, 200])]


def test_ver_answers_the_version_line():
    assert board(0).feed(b'ver\r') == [b'SSC32-V2.50USB\r']  # not case sensitive


def test_p0_stops_the_pulses_and_a_new_pulse_restarts_them():
    device = board(0)
    device.feed(b'#0P0\r')
    assert not device.servos[0].torque_enabled
    assert device.feed(b'QP0\r') == [b'\x00']
    device.feed(b'#0P1800T1000\r')
    assert device.servos[0].torque_enabled and device.servos[0].goal == 1800


@pytest.mark.parametrize('pulse, kept', [(100, 500), (3000, 2500)], ids=['low', 'high'])
def test_pulses_are_kept_within_500_2500(pulse, kept):
    device = board(0)
    device.feed(f'#0P{pulse}\r'.encode())
    assert device.servos[0].goal == kept


def test_a_line_arriving_in_pieces_runs_once_complete():
    device = board(3)
    assert device.feed(b'#3P16') == []
    assert device.servos[3].goal == 1500
    device.feed(b'00\r')
    assert device.servos[3].goal == 1600


def test_escape_cancels_the_line():
    device = board(3)
    device.feed(b'#3P2000\x1b\r')
    assert device.servos[3].goal == 1500


@pytest.mark.parametrize(
    'line',
    [
        b'#3P2000QP3\r',
        b'#32P1000\r',
        b'#3X2000\r',
        b'QP40\r',
        b'#3P2\xff00\r',
        b'HELLO\r',
        b'#3P1800T\r',
    ],
    ids=[
        'mixed-types',
        'channel-32',
        'unknown-letter',
        'qp-channel-40',
        'non-ascii',
        'unknown',
        'empty-time',
    ],
)
def test_garbled_lines_get_no_reply_and_change_nothing(line):
    device = board(3)
    assert device.feed(line) == []
    assert device.servos[3].goal == 1500 and device.servos[3].torque_enabled
    assert device.rejected == 1
    assert device.feed(b'QP3\r') == [bytes([150])]  # and the next line is fine


def test_stop_holds_a_servo_where_it_is():
    device = board(1)
    device.feed(b'#1P2000T1000\r')
    run(device, 0.5)
    device.feed(b'STOP 1\r')
    held = device.servos[1].position
    run(device, 0.5)
    assert device.servos[1].position == held and 1700 < held < 1800


def test_reset_drops_a_partial_line():
    device = board(1)
    device.feed(b'#1P2')
    device.reset()
    device.feed(b'000\r')  # "000" alone is garbage now
    assert device.servos[1].goal == 1500


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_the_board_parser_never_raises_and_keeps_goals_in_range(chunks):
    device = board(0, 1, 31)
    for chunk in chunks:
        replies = device.feed(chunk)
        assert len(replies) <= chunk.count(b'\r') and all(replies)  # at most one reply per line
        device.step(0.01)
    for s in device.servos.values():
        assert 500 <= s.goal <= 2500 and s.speed > 0


@given(
    st.lists(
        st.sampled_from(
            [
                b'#',
                b'P',
                b'S',
                b'T',
                b'Q',
                b'V',
                b'E',
                b'R',
                b'1',
                b'5',
                b'0',
                b' ',
                b'\r',
                b'\x1b',
            ]
        ),
        max_size=60,
    )
)
def test_the_board_parser_survives_near_valid_command_soup(tokens):
    device = board(0, 1, 5)
    device.feed(b''.join(tokens))
    for s in device.servos.values():
        assert 500 <= s.goal <= 2500


# ---------------------------------------------------------------------------- host backend


@pytest.mark.timeout(10)
def test_write_goals_sends_one_timed_group_move(raw_pty):
    master, port = raw_pty
    bus = SSC32Bus(port, [0, 1, 2], {'move_time_ms': 20})
    bus.write_goals({0: 1500, 2: 2400})
    assert read_master(master) == b'#0P1500#2P2400T20\r'
    assert bus.stats.writes == 1


@pytest.mark.timeout(10)
def test_torque_off_and_on(raw_pty):
    master, port = raw_pty
    bus = SSC32Bus(port, [0, 1], {'move_time_ms': 20})
    bus.write_goals({0: 1600, 1: 1700})
    read_master(master)
    bus.set_torque(False)
    assert read_master(master) == b'#0P0#1P0\r'
    bus.set_torque(True)
    assert read_master(master) == b'#0P1600#1P1700\r'  # back at the last goals, at once


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    'goals',
    [{0: 499}, {0: 2501}, {5: 1500}, {0: 1500.5}, {0: True}],
    ids=['low', 'high', 'unknown-channel', 'float', 'bool'],
)
def test_bad_goals_are_refused_before_anything_is_sent(raw_pty, goals):
    master, port = raw_pty
    bus = SSC32Bus(port, [0, 1], {})
    with pytest.raises(ProtocolError):
        bus.write_goals({1: 1500, **goals})
    assert read_master(master) == b''


@pytest.mark.parametrize(
    'ids, options',
    [
        ([32], {}),
        ([], {}),
        ([1, 1], {}),
        ([0], {'move_time_ms': -1}),
        ([0], {'reply_timeout_ms': 'fast'}),
    ],
    ids=['channel-32', 'no-channels', 'twice', 'negative-time', 'not-a-number'],
)
def test_bad_setup_is_a_user_error(raw_pty, ids, options):
    with pytest.raises(ProtocolError):
        SSC32Bus(raw_pty[1], ids, options)


@pytest.mark.timeout(10)
def test_a_silent_board_reads_as_missing_after_retries(raw_pty):
    master, port = raw_pty
    bus = SSC32Bus(port, [0, 1], {'reply_timeout_ms': 20}, retries=1)
    assert bus.read_positions() == {0: None, 1: None}
    assert bus.stats.timeouts == 2 and bus.stats.retries == 1
    assert read_master(master) == b'QP0QP1\rQP0QP1\r'
    assert bus.version() is None and not bus.ping(0)


@pytest.mark.timeout(60)
@settings(max_examples=50)
@given(st.lists(st.binary(max_size=6), min_size=1, max_size=3))
def test_random_replies_never_raise_and_never_leave_the_pulse_range(raw_pty_session, replies):
    master, port = raw_pty_session
    peer = ScriptedBoard(master)
    try:
        peer.replies = list(replies)
        bus = SSC32Bus(port, [0, 1, 2], {'reply_timeout_ms': 5, 'move_time_ms': 0})
        bus.write_goals({0: 1500, 1: 1500, 2: 1500})
        for ch, pw in bus.read_positions().items():
            assert pw is None or 500 <= pw <= 2500
    finally:
        peer.close()
