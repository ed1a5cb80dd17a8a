"""
Teach by hand across real processes.

The virtual SO-101 (in this process, its hand moving released joints), the serial bridge and teleop
(child processes over DDS), and the `robot-touch free-drive` command. Ground truth is the
emulator's servo state.

One graph for the module: enter free drive → move two joints by hand → joint_states follow →
teach waypoints from the measured pose → leave → the command stream starts exactly at the
true pose and stays there → play the waypoints back to within one servo step; then the e-stop
during free drive of the gripper alone, and the refusals.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from diagnostic_msgs.msg import DiagnosticStatus
import numpy as np
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from robot_touch.core.profile import load_profile
from robot_touch.core.waypoints import WaypointList
from robot_touch.virtual_arm.server import VirtualArm
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from support.processes import RosProbe, spawn_node, terminate
from support.waiting import wait_for, wait_until

pytestmark = pytest.mark.ros

PROFILE = load_profile('so101')
NAMES = [s.name for s in PROFILE.all_joints]
STEP = 1.0 / PROFILE.joints[0].calibration.units_per_rad  # one servo step (rad)
WITHIN_STEP = STEP * (1 + 1e-9)  # one step, float rounding allowed
HAND_SPEED = 4.0  # rad/s


class Graph:
    """The arm, its bridge and teleop, and a probe in their namespace."""

    def __init__(self, arm: VirtualArm, namespace: str, env: dict[str, str]) -> None:
        self.arm, self.namespace, self.env = arm, namespace, env
        self.probe = RosProbe('free_drive_probe', namespace=namespace)
        self.states = self.probe.collect(JointState, 'joint_states')
        self.commands = self.probe.collect(
            Float64MultiArray, 'forward_position_controller/commands'
        )
        self.status = self.probe.collect(DiagnosticStatus, 'teleop/status')
        self.targets = self.probe.publisher(JointState, 'joint_target')

    def truth(self) -> np.ndarray:
        """Every joint's true position (rad), from the emulated servos."""
        state = self.arm.hand.state()
        return np.array([state[n]['position'] for n in NAMES])

    def torque(self) -> dict[str, bool]:
        return {n: s['torque'] for n, s in self.arm.hand.state().items()}

    def measured(self) -> np.ndarray | None:
        return np.array(self.states[-1][1].position) if self.states else None

    def code(self) -> str | None:
        return self.status[-1][1].message if self.status else None

    def free_drive(self, on: bool) -> SetBool.Response:
        return self.probe.call(SetBool, 'teleop/free_drive', SetBool.Request(data=on), timeout=15)

    def estop(self, on: bool) -> SetBool.Response:
        return self.probe.call(SetBool, 'teleop/estop', SetBool.Request(data=on))

    def set_joints(self, names: list[str]):
        value = ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=names)
        request = SetParameters.Request(
            parameters=[Parameter(name='free_drive_joints', value=value)]
        )
        return self.probe.call(SetParameters, 'teleop/set_parameters', request).results[0]

    def go_to(self, joints: dict[str, float]) -> None:
        self.targets.publish(JointState(name=list(joints), position=list(joints.values())))

    def cli(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, '-m', 'robot_touch.cli.main', *argv, '--namespace', self.namespace],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('free_drive')
    link = tmp / 'ttyARM'
    namespace = f'/fd_{uuid.uuid4().hex[:6]}'
    env = {'ROBOT_TOUCH_DATA': str(tmp / 'data')}
    with VirtualArm(PROFILE, link=link) as arm:
        bridge = spawn_node(
            'robot_touch.nodes.serial_bridge',
            'serial_bridge',
            {'arm': 'so101', 'port': str(link), 'rate': 100.0},
            namespace=namespace,
            env=env,
        )
        teleop = spawn_node(
            'robot_touch.nodes.teleop',
            'teleop',
            {'arm': 'so101', 'rate': 100.0},
            namespace=namespace,
            env=env,
        )
        g = Graph(arm, namespace, {**os.environ, **env})
        try:
            up = wait_for(
                lambda: (
                    (g.commands and g.code() == 'ok')
                    or bridge.poll() is not None
                    or teleop.poll() is not None
                ),
                40,
                'the graph commanding the arm',
            )
            assert up and bridge.poll() is None and teleop.poll() is None
            yield g
        finally:
            g.probe.close()
            logs = terminate(teleop) + terminate(bridge)
        assert 'Traceback' not in logs, logs[-4000:]


def near(a, b, tol: float) -> bool:
    return a is not None and bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) <= tol))


@pytest.mark.timeout(120)
def test_teach_by_hand_then_the_stream_starts_at_the_true_pose_and_plays_back(graph, tmp_path):
    g = graph
    # teleop has a setpoint of its own before free drive: one it must never drift back to
    g.go_to({'shoulder_pan': 0.3, 'elbow_flex': 0.5, 'wrist_flex': -0.2})
    wait_for(
        lambda: near(g.truth()[[0, 2, 3]], [0.3, 0.5, -0.2], 2 * STEP), 10, 'the arm at the start'
    )
    before = np.array(g.commands[-1][1].data)

    entered = g.cli('free-drive', 'on')
    assert entered.returncode == 0, entered.stdout + entered.stderr
    assert (
        entered.stdout.startswith('free drive: shoulder_pan, shoulder_lift')
        and 'sags' in entered.stdout
    )
    assert not any(g.torque().values())
    wait_for(lambda: g.code() == 'free_drive', 5, 'teleop/status free_drive')
    sent = len(g.commands)

    taught = WaypointList(joint_names=PROFILE.joint_names)
    poses = (
        {'shoulder_pan': -0.4, 'shoulder_lift': -0.5, 'elbow_flex': 0.8},
        {'shoulder_pan': 0.2, 'wrist_flex': 0.6},
    )
    for pose in poses:
        for joint, value in pose.items():
            g.arm.hand.move(joint, value, speed=HAND_SPEED)
        # joint_states follow the hand, to the servo's step
        wait_for(lambda: near(g.measured(), g.truth(), STEP), 5, "joint_states at the hand's pose")
        measured = dict(zip(NAMES, g.measured()))
        gripper = measured.pop('gripper')
        spec = PROFILE.gripper
        taught.add(measured, gripper=(gripper - spec.lower) / (spec.upper - spec.lower))
    assert len(g.commands) == sent, 'teleop published nothing while the joints were released'

    # taught by hand, kept as any waypoints are: saved, loaded, played
    path = taught.save(tmp_path / 'taught.yaml', 'so101')
    played = WaypointList(joint_names=PROFILE.joint_names)
    played.load(path)
    assert [w.joints for w in played] == [w.joints for w in taught]

    truth = g.truth()
    left = g.cli('free-drive', 'off')
    assert left.returncode == 0 and 'holding where the arm is' in left.stdout, (
        left.stdout + left.stderr
    )
    assert all(g.torque().values())
    wait_for(lambda: len(g.commands) > sent, 5, 'commands after free drive')
    first = np.array(g.commands[sent][1].data)
    assert near(first, truth, WITHIN_STEP), f'first command {first} vs true {truth}'
    assert np.max(np.abs(first[:5] - before[:5])) > 0.5  # not the setpoint from before
    count = len(g.commands)
    wait_for(lambda: len(g.commands) > count + 50, 5, 'half a second of commands')
    stream = np.array([m.data for _t, m in list(g.commands)[sent:]])
    assert np.max(np.abs(stream - first)) == 0.0, 'the stream holds the measured pose: no drift'
    assert near(g.truth(), truth, WITHIN_STEP), 'torque on moved nothing'

    for wp in played:
        g.go_to({**wp.joints, 'gripper': truth[5]})
        goal = np.array([wp.joints[n] for n in PROFILE.joint_names])
        if not wait_until(lambda: near(g.truth()[:5], goal, STEP), 15):
            raise AssertionError(f'{wp.name}: {g.truth()} vs {goal}; {g.status[-1][1]}')
    time.sleep(0.3)
    assert near(g.truth()[:5], goal, STEP), f'the arm left {wp.name}: {g.truth()}'


@pytest.mark.timeout(90)
def test_gripper_alone_then_estop_holds_it_where_the_hand_left_it(graph):
    g = graph
    assert g.set_joints(['gripper']).successful
    reply = g.free_drive(True)
    assert reply.success and reply.message.startswith('free drive: gripper released'), (
        reply.message
    )
    torque = g.torque()
    assert torque['gripper'] is False and all(torque[n] for n in PROFILE.joint_names)
    refused = g.set_joints([])
    assert not refused.successful and 'leave it before choosing other joints' in refused.reason
    start = g.truth()
    g.arm.hand.move('gripper', 0.8, speed=HAND_SPEED)
    time.sleep(0.2)
    truth = g.truth()
    assert near(truth[:5], start[:5], WITHIN_STEP), f'the arm moved from {start} to {truth}'
    sent = len(g.commands)

    reply = g.estop(True)
    assert reply.success and reply.message.endswith('free drive: hold (arm profile)'), (
        reply.message
    )
    wait_for(lambda: g.torque()['gripper'], 5, 'the gripper holding again')
    wait_for(
        lambda: g.code() == 'estop' and g.status[-1][1].values[-1].value == '',
        5,
        'free drive over',
    )
    time.sleep(0.5)  # the e-stop holds: nothing may move, nothing be commanded, for a while
    assert near(g.truth(), truth, WITHIN_STEP), f'moved from {truth} to {g.truth()}'
    assert len(g.commands) == sent

    refused = g.free_drive(True)
    assert (
        not refused.success
        and refused.message == 'free drive refused: e-stop latched: release it first'
    )
    assert g.estop(False).success
    wait_for(lambda: len(g.commands) > sent, 5, 'commands after the release')
    assert abs(g.commands[sent][1].data[5] - truth[5]) <= WITHIN_STEP  # re-latched where left
    assert g.set_joints([]).successful


@pytest.mark.timeout(30)
def test_bad_free_drive_joints_are_refused_with_the_known_ones(graph):
    result = graph.set_joints(['knee'])
    assert (
        not result.successful
        and "'knee' not a joint of this arm (joints: shoulder_pan" in result.reason
    )
    bad = graph.cli('free-drive', 'on', '--joints', 'knee')
    assert bad.returncode == 1 and bad.stdout.startswith("refused: free_drive_joints: 'knee'"), (
        bad.stdout
    )
    assert all(graph.torque().values())
