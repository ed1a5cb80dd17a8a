"""
The virtual arm's hand (turning released joints, reading the true servo state).

From Python, over its control channel and from the command line; the arm's mounting and the
host's line speed, read from the pty.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from robot_touch.cli.main import main as robot_touch
from robot_touch.core.profile import Calibration, load_profile
from robot_touch.protocols.registry import get_bus_class, open_port
from robot_touch.virtual_arm.hand import HandError, request
from robot_touch.virtual_arm.server import VirtualArm, VirtualArmError

SO101 = load_profile('so101')
UNITS = SO101.joints[0].calibration.units_per_rad


def test_the_hand_turns_a_released_joint_through_the_arms_mounting():
    mounting = {'shoulder_pan': Calibration(2100, -1, UNITS)}
    with VirtualArm(SO101, mounting=mounting) as arm:
        assert arm.servos[1].position == 2100  # at home (0 rad) the horn sits where it was mounted
        assert arm.hand.move('shoulder_pan', 0.5, speed=5.0) == pytest.approx(0.5)
        state = arm.hand.state()['shoulder_pan']
        assert state['encoder'] == pytest.approx(2100 - 0.5 * UNITS)  # mounted the other way round
        assert state['reported'] == pytest.approx(state['encoder']) and state['torque'] is False
        assert arm.hand.positions()['elbow_flex'] == pytest.approx(0.0)


def test_the_hand_cannot_turn_a_holding_servo_nor_an_unknown_joint():
    with VirtualArm(SO101) as arm:
        port = open_port(arm.port_path, SO101.baudrate)
        bus = get_bus_class('feetech_sts')(port, [s.servo_id for s in SO101.all_joints])
        try:
            bus.set_torque(True)
            with pytest.raises(HandError, match='shoulder_lift holds torque: release it'):
                arm.hand.move('shoulder_lift', 0.3)
            bus.set_torque(False)
            assert arm.hand.move('shoulder_lift', 0.3, speed=5.0) == pytest.approx(0.3)
        finally:
            bus.close()
            port.close()
        with pytest.raises(HandError, match="'knee' is not a joint of so101"):
            arm.hand.move('knee', 0.1)


def test_a_bad_mounting_is_refused():
    with pytest.raises(VirtualArmError, match='knee: not joints of so101'):
        VirtualArm(SO101, mounting={'knee': Calibration(2048, 1, UNITS)})


def test_a_host_at_another_baud_rate_gets_no_answer():
    with VirtualArm(SO101) as arm:
        for baud, answers in ((115_200, False), (1_000_000, True)):
            port = open_port(arm.port_path, baud)
            try:
                bus = get_bus_class('feetech_sts')(port, [1], {'latency_ms': 20}, retries=0)
                assert bus.ping(1) is answers, baud
            finally:
                port.close()


def test_the_control_channel_serves_the_hand_owner_only(tmp_path):
    control = tmp_path / 'arm.control'
    with VirtualArm(SO101, control=control) as arm:
        assert stat.S_IMODE(os.stat(control).st_mode) == 0o600
        reply = request(control, {'op': 'move', 'joint': 'wrist_roll', 'to': -1.0, 'speed': 6.0})
        assert reply['ok'] and reply['position'] == pytest.approx(-1.0)
        assert arm.hand.position('wrist_roll') == pytest.approx(-1.0)
        state = request(control, {'op': 'state'})
        assert (
            state['ok']
            and state['arm'] == 'so101'
            and state['joints']['wrist_roll']['servo_id'] == 5
        )
        assert request(control, {'op': 'fly'}) == {
            'ok': False,
            'error': "unknown op 'fly'; known: move, state",
        }
        assert (
            'must be a number'
            in request(control, {'op': 'move', 'joint': 'gripper', 'to': 'x'})['error']
        )
    assert not control.exists()  # removed when the arm stops


def test_a_stale_control_socket_is_replaced_and_a_file_is_not(tmp_path):
    import socket

    stale = tmp_path / 'stale.control'
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(stale))
    sock.close()  # left behind by a killed virtual arm: nobody listens
    with VirtualArm(SO101, control=stale):
        assert request(stale, {'op': 'state'})['ok']
    taken = tmp_path / 'notes.txt'
    taken.write_text('mine')
    with pytest.raises(HandError, match='not a stale control socket'):
        VirtualArm(SO101, control=taken).start()
    assert taken.read_text() == 'mine'


def test_cli_move_and_state_through_the_link(tmp_path, capsys):
    link = tmp_path / 'ttyARM'
    with VirtualArm(SO101, link=link, control=f'{link}.control') as arm:
        assert (
            robot_touch(
                [
                    'virtual-arm',
                    'move',
                    '--link',
                    str(link),
                    '--joint',
                    'gripper',
                    '--to',
                    '0.6',
                    '--speed',
                    '6',
                ]
            )
            == 0
        )
        assert capsys.readouterr().out.strip() == 'gripper at 0.6000'
        assert arm.hand.position('gripper') == pytest.approx(0.6)
        assert robot_touch(['virtual-arm', 'state', '--link', str(link)]) == 0
        assert json.loads(capsys.readouterr().out)['gripper']['position'] == pytest.approx(0.6)
        assert robot_touch(['virtual-arm', 'move', '--link', str(link), '--joint', 'gripper']) == 2
        assert 'give --joint NAME and --to RAD' in capsys.readouterr().err
    assert (
        robot_touch(
            ['virtual-arm', 'move', '--link', str(link), '--joint', 'gripper', '--to', '0']
        )
        == 2
    )
    assert 'no virtual arm answers on' in capsys.readouterr().err


def test_cli_serve_needs_an_arm():
    done = subprocess.run(
        [sys.executable, '-m', 'robot_touch.cli.main', 'virtual-arm'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and 'give --arm NAME_OR_PATH' in done.stderr


def test_the_hand_places_joints_of_an_arm_that_is_not_running():
    arm = VirtualArm(SO101)  # set up before start(): no time passes, the hand puts it there
    assert arm.hand.move('wrist_flex', -0.4) == pytest.approx(-0.4)
    assert arm.servos[4].hand_target is None
