"""
`robot-touch calibrate` end to end on the virtual arm, its joints turned by the arm's hand.

Zero pose, directions, ranges, the file written, and the bridge (a real child process) then
reporting the arm's true joint angles through it.

The virtual SO-101 is built imperfectly (horns off by some teeth, the elbow servo mounted the
other way round), so the calibration has something to find; the hand works in true joint
angles, which are the ground truth the bridge is judged against.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from robot_touch.core.profile import Calibration, load_profile
from robot_touch.virtual_arm.server import VirtualArm
from sensor_msgs.msg import JointState
from support.processes import Console, RosProbe, spawn_node, terminate
from support.waiting import wait_for
import yaml

pytestmark = pytest.mark.ros

PROFILE = load_profile('so101')
SPECS = PROFILE.all_joints
UNITS = SPECS[0].calibration.units_per_rad
MOUNTING = {
    'shoulder_pan': Calibration(2100, 1, UNITS),
    'elbow_flex': Calibration(2000, -1, UNITS),  # mounted the other way round
    'wrist_roll': Calibration(1950, 1, UNITS),
    'gripper': Calibration(2200, 1, UNITS),
}
HAND_SPEED = 4.0  # rad/s


def raw(arm: VirtualArm, name: str, position: float) -> int:
    """Return what the servo reads with ``name`` at ``position`` (true angle)."""
    return round(arm.mounting[name].to_raw(position))


@pytest.mark.timeout(90)
def test_calibrate_by_hand_then_the_bridge_reports_the_true_angles(tmp_path):
    link = tmp_path / 'ttyARM'
    out = tmp_path / 'so101.yaml'
    with VirtualArm(PROFILE, mounting=MOUNTING, link=link, control=f'{link}.control') as arm:
        proc = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'robot_touch.cli.main',
                'calibrate',
                '--arm',
                'so101',
                '--port',
                str(link),
                '--out',
                str(out),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED='1'),
        )
        console = Console(proc)
        try:
            console.expect('torque released')
            console.expect('zero pose')
            for spec in SPECS:
                arm.hand.move(spec.name, 0.0, speed=HAND_SPEED)
            console.send()  # the CLI reads the pose again when Enter comes
            console.expect('Zero pose recorded')
            for spec in SPECS:
                console.expect(f'Move {spec.name} in its')
                if spec.name == 'shoulder_pan':  # a person at another terminal: the CLI's hand
                    moved = subprocess.run(
                        [
                            sys.executable,
                            '-m',
                            'robot_touch.cli.main',
                            'virtual-arm',
                            'move',
                            '--link',
                            str(link),
                            '--joint',
                            spec.name,
                            '--to',
                            '0.4',
                        ],
                        capture_output=True,
                        text=True,
                        timeout=30,
                    )
                    assert moved.returncode == 0 and 'shoulder_pan at 0.4000' in moved.stdout, (
                        moved.stderr
                    )
                else:
                    arm.hand.move(spec.name, 0.4, speed=HAND_SPEED)
                console.send()
                console.expect(f'{spec.name}: direction')
                arm.hand.move(spec.name, 0.0, speed=HAND_SPEED)
            console.expect('whole range')
            for spec in SPECS:  # end stop to end stop, the CLI watching
                for end in (spec.lower, spec.upper):
                    arm.hand.move(spec.name, end, speed=HAND_SPEED)
                    console.expect(f'{spec.name} {raw(arm, spec.name, end):5d}')
                arm.hand.move(spec.name, 0.0, speed=HAND_SPEED)
            console.send()
            console.expect('calibration written')
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        data = yaml.safe_load(out.read_text())
        for spec in SPECS:
            entry, truth = data['joints'][spec.name], arm.mounting[spec.name]
            assert entry['zero'] == pytest.approx(truth.zero, abs=1), spec.name
            assert entry['direction'] == truth.direction, spec.name
            ends = sorted(raw(arm, spec.name, x) for x in (spec.lower, spec.upper))
            assert (entry['raw_min'], entry['raw_max']) == tuple(ends), spec.name
            assert entry['servo'] == {
                'homing_offset': 0,
                'min_position_limit': 0,
                'max_position_limit': 4095,
                'drive_mode': 0,
            }
        assert 'elbow_flex: direction reversed' in ''.join(console.seen)

        # the bridge with that file: joint_states are the arm's true angles
        pose = {
            'shoulder_pan': -0.7,
            'shoulder_lift': 0.5,
            'elbow_flex': -0.9,
            'wrist_flex': 0.3,
            'wrist_roll': -1.2,
            'gripper': 0.9,
        }
        for name, value in pose.items():
            arm.hand.move(name, value, speed=HAND_SPEED)
        probe = RosProbe('calibrate_probe', namespace='/calibrated')
        states = probe.collect(JointState, 'joint_states')
        bridge = spawn_node(
            'robot_touch.nodes.serial_bridge',
            'serial_bridge',
            {
                'arm': 'so101',
                'port': str(link),
                'calibration_file': str(out),
                'torque_on_start': False,
            },
            namespace='/calibrated',
            env={'ROBOT_TOUCH_DATA': str(tmp_path / 'data')},
        )
        try:
            wait_for(
                lambda: len(states) > 3 or bridge.poll() is not None,
                30,
                'joint_states from the bridge',
            )
            assert bridge.poll() is None
            msg = states[-1][1]
            for name, position in zip(msg.name, msg.position):
                assert position == pytest.approx(pose[name], abs=1.5 / UNITS), (
                    name
                )  # within the servo's step
        finally:
            log = terminate(bridge)
            probe.close()
        assert 'servo settings checked at connect' in log, log
