"""The teleop node as a real process over real DDS, with a perfect fake arm in the test process."""

from __future__ import annotations

import threading
from typing import Iterator

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped, TwistStamped
import numpy as np
import pytest
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray
from std_srvs.srv import SetBool
from support.processes import RosProbe, spawn_node, terminate
from trajectory_msgs.msg import JointTrajectory

pytestmark = pytest.mark.ros

START = [0.0, 0.3, 0.3, 0.0, 0.0, 0.2]  # so101 arm joints + gripper (rad)
STARTUP_TIMEOUT = 20.0


class FakeArm:
    """Publishes joint_states = the last command at 100 Hz (an arm that follows perfectly)."""

    def __init__(
        self,
        probe: RosProbe,
        names: list[str],
        start: list[float],
        command_topic: str,
        trajectory: bool = False,
    ) -> None:
        self.names = names
        self.state = list(start)
        self.lock = threading.Lock()
        self.pub = probe.publisher(JointState, 'joint_states')
        self.commands = probe.collect(
            JointTrajectory if trajectory else Float64MultiArray,
            command_topic,
            callback=self._echo,
        )
        self.trajectory = trajectory
        probe.node.create_timer(0.01, self._publish)

    def _echo(self, msg) -> None:
        data = list(msg.points[0].positions) if self.trajectory else list(msg.data)
        with self.lock:
            self.state = data

    def _publish(self) -> None:
        with self.lock:
            self.pub.publish(JointState(name=self.names, position=[float(v) for v in self.state]))

    def last(self) -> np.ndarray:
        with self.lock:
            return np.array(self.state)


class Rig:
    def __init__(self, probe: RosProbe, arm: FakeArm, status: list) -> None:
        self.probe, self.arm, self.status = probe, arm, status

    def wait_status(
        self, code: str, timeout: float = 5.0, after: int = 0
    ) -> DiagnosticStatus | None:
        """Return the first teleop/status message with ``code`` from index ``after`` on."""

        def find():
            for _t, msg in list(self.status)[after:]:
                if msg.message == code:
                    return msg
            return None

        return self.probe.wait_for(find, timeout)


@pytest.fixture(scope='module')
def rig(so101) -> Iterator[Rig]:
    proc = spawn_node('robot_touch.nodes.teleop', 'teleop', {'arm': 'so101', 'rate': 100.0})
    probe = RosProbe('teleop_test')
    try:
        arm = FakeArm(
            probe, so101.joint_names + ['gripper'], START, 'forward_position_controller/commands'
        )
        status = probe.collect(DiagnosticStatus, 'teleop/status')
        if not probe.wait_for(lambda: arm.commands, STARTUP_TIMEOUT):
            pytest.fail('teleop published no command within 20 s:\n' + terminate(proc))
        yield Rig(probe, arm, status)
    finally:
        probe.close()
        log = terminate(proc)
        assert 'Traceback' not in log, log


def pose_msg(xyz, quat_xyzw=(0.0, 0.0, 0.0, 1.0), frame: str = 'base_link') -> PoseStamped:
    m = PoseStamped()
    m.header.frame_id = frame
    m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in xyz)
    m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z, m.pose.orientation.w = (
        float(v) for v in quat_xyzw
    )
    return m


@pytest.mark.timeout(30)
def test_first_command_is_the_measured_position(rig):
    first = np.array(rig.arm.commands[0][1].data)
    np.testing.assert_allclose(first, START, atol=1e-9)  # latched to joint_states, not home
    assert len(first) == 6, '5 arm joints + the gripper appended last'


@pytest.mark.timeout(30)
def test_target_pose_stream_converges_within_1_mm(rig, kin):
    target = kin.fk([0.3, -0.2, 0.9, -0.4, 0.2])
    w = np.sqrt(max(0.0, 1 + np.trace(target[:3, :3]))) / 2
    R = target[:3, :3]
    quat = [
        (R[2, 1] - R[1, 2]) / (4 * w),
        (R[0, 2] - R[2, 0]) / (4 * w),
        (R[1, 0] - R[0, 1]) / (4 * w),
        w,
    ]
    pub = rig.probe.publisher(PoseStamped, 'target_pose')
    rig.probe.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    pub.publish(pose_msg(target[:3, 3], quat))

    def converged():
        q = rig.arm.last()[:5]
        return np.linalg.norm(kin.fk(q)[:3, 3] - target[:3, 3]) < 1e-3

    assert rig.probe.wait_for(converged, 10.0), (
        f'commanded tip {kin.fk(rig.arm.last()[:5])[:3, 3]} vs {target[:3, 3]}'
    )


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    'msg_type, topic, make_msg, code',
    [
        (PoseStamped, 'target_pose', lambda: pose_msg([float('nan'), 0.0, 0.2]), 'invalid_pose'),
        (
            PoseStamped,
            'target_pose',
            lambda: pose_msg([0.2, 0.0, 0.2], frame='camera'),
            'unknown_frame',
        ),
        (
            JointState,
            'joint_jog',
            lambda: JointState(name=['elbow'], velocity=[0.1]),
            'unknown_joint',
        ),
        (TwistStamped, 'jog', TwistStamped, 'ok'),
    ],
    ids=['nan_pose', 'unknown_frame', 'unknown_joint_name', 'valid_jog_clears'],
)
def test_bad_input_is_reported_on_teleop_status(rig, msg_type, topic, make_msg, code):
    before = len(rig.status)
    pub = rig.probe.publisher(msg_type, topic)
    rig.probe.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    # Publish until seen: discovery may still be completing on the node's side.
    found = rig.probe.wait_for(
        lambda: (pub.publish(make_msg()), rig.wait_status(code, 0.2, before))[1], 8.0
    )
    assert found is not None, (
        f'no teleop/status {code!r}; saw {[m.message for _t, m in rig.status[before:]]}'
    )
    assert found.name == 'teleop' and found.hardware_id == 'so101'
    detail = {kv.key: kv.value for kv in found.values}['detail']
    if code != 'ok':
        assert found.level == bytes([1]) and detail, 'a WARN with a sentence for the user'
    n = len(rig.arm.commands)
    assert rig.probe.wait_for(lambda: len(rig.arm.commands) > n + 5, 2.0), 'the loop keeps running'


@pytest.mark.timeout(30)
def test_estop_service_latches_holds_and_releases(rig):
    before = len(rig.status)
    res = rig.probe.call(SetBool, 'teleop/estop', SetBool.Request(data=True))
    assert res.success
    msg = rig.wait_status('estop', 2.0, before)
    assert msg is not None and msg.level == bytes([2])
    n = len(rig.arm.commands)
    held = np.array(rig.arm.commands[-1][1].data)
    pub = rig.probe.publisher(JointState, 'joint_target')
    rig.probe.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    pub.publish(JointState(name=['shoulder_pan'], position=[1.0]))  # refused while latched
    rig.probe.wait_for(lambda: len(rig.arm.commands) > n + 30, 5.0)
    np.testing.assert_allclose(
        np.array(rig.arm.commands[-1][1].data), held, atol=1e-12
    )  # still holding
    before = len(rig.status)
    assert rig.probe.call(SetBool, 'teleop/estop', SetBool.Request(data=False)).success
    assert rig.wait_status('ok', 2.0, before) is not None


@pytest.mark.timeout(30)
def test_free_drive_is_refused_by_hardware_without_torque_services(rig):
    """As on Gazebo (ros2_control has no torque switch): refused, saying why; the arm held."""
    held = np.array(rig.arm.commands[-1][1].data)
    res = rig.probe.call(SetBool, 'teleop/free_drive', SetBool.Request(data=True), timeout=10.0)
    assert not res.success
    assert (
        res.message.startswith(
            "free drive refused: the arm's hardware offers no torque/shoulder_pan service"
        )
        and 'Gazebo' in res.message
    ), res.message
    n = len(rig.arm.commands)
    assert rig.probe.wait_for(lambda: len(rig.arm.commands) > n + 10, 2.0), 'still commanding'
    np.testing.assert_allclose(np.array(rig.arm.commands[-1][1].data), held, atol=1e-9)
    assert rig.probe.call(SetBool, 'teleop/free_drive', SetBool.Request(data=False)).success


@pytest.mark.timeout(60)
def test_a_burst_of_estop_requests_is_answered_in_full(rig):
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    # a client that keeps every reply, as the service keeps every request
    qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)
    client = rig.probe.node.create_client(SetBool, 'teleop/estop', qos_profile=qos)
    try:
        assert client.wait_for_service(timeout_sec=5.0)
        futures = [client.call_async(SetBool.Request(data=True)) for _ in range(200)]
        rig.probe.wait_for(lambda: all(f.done() for f in futures), 30.0)
        answered = [f.result() for f in futures if f.done()]
        assert len(answered) == 200, f'{len(answered)} of 200 e-stop requests answered'
        assert all(r.success for r in answered)
    finally:
        rig.probe.node.destroy_client(client)
    before = len(rig.status)
    assert rig.probe.call(SetBool, 'teleop/estop', SetBool.Request(data=False)).success
    assert rig.wait_status('ok', 5.0, before) is not None


@pytest.mark.timeout(60)
def test_a_second_joint_states_publisher_is_a_conflict_and_teleop_holds(rig, so101):
    held = np.array(rig.arm.commands[-1][1].data)
    before = len(rig.status)
    spoof = rig.probe.publisher(JointState, 'joint_states')
    zeros = JointState(name=so101.joint_names + ['gripper'], position=[0.0] * 6)

    def conflict():
        spoof.publish(zeros)
        return rig.wait_status('joint_states_conflict', 0.05, before)

    msg = rig.probe.wait_for(conflict, 10.0)
    assert msg is not None and msg.level == bytes([2]), 'no joint_states_conflict status'
    for _ in range(30):  # keeps sending zeros: nothing is latched to them
        spoof.publish(zeros)
        rig.probe.wait_for(lambda: False, 0.01)
    np.testing.assert_allclose(np.array(rig.arm.commands[-1][1].data), held, atol=1e-6)
    res = rig.probe.call(SetBool, 'teleop/enable', SetBool.Request(data=True))
    assert not res.success and 'publishers' in res.message  # the answer says why
    rig.probe.node.destroy_publisher(spoof)
    before = len(rig.status)
    assert rig.wait_status('ok', 10.0, before) is not None, 'the conflict does not clear'
    np.testing.assert_allclose(np.array(rig.arm.commands[-1][1].data), held, atol=1e-6)


@pytest.mark.timeout(40)
def test_trajectory_output_in_a_namespace_gives_the_gripper_its_velocity(so101):
    proc = spawn_node(
        'robot_touch.nodes.teleop',
        'teleop',
        {'arm': 'so101', 'output': 'trajectory'},
        namespace='arm2',
    )
    probe = RosProbe('teleop_test_ns', namespace='arm2')
    try:
        names = so101.joint_names + ['gripper']
        arm = FakeArm(probe, names, START, 'arm_controller/joint_trajectory', trajectory=True)
        assert probe.wait_for(lambda: arm.commands, STARTUP_TIMEOUT), (
            'no JointTrajectory under /arm2'
        )
        msg = arm.commands[-1][1]
        assert list(msg.joint_names) == names
        assert len(msg.points) == 1 and msg.points[0].time_from_start.nanosec == 10_000_000
        np.testing.assert_allclose(msg.points[0].positions, START, atol=1e-9)
        pub = probe.publisher(Float64, 'gripper')
        probe.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
        pub.publish(Float64(data=1.0))  # open: the gripper moves

        def moving_gripper():
            points = [m.points[0] for _t, m in list(arm.commands)[-5:]]
            return any(abs(p.velocities[-1]) > 0.5 for p in points)

        assert probe.wait_for(moving_gripper, 5.0), 'the gripper moves, at velocity 0'
    finally:
        probe.close()
        terminate(proc)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    'value, ok, reason',
    [(0.5, True, ''), (2.0, False, '0.05'), (0.01, False, '0.05')],
    ids=['valid_0.5', 'too_fast', 'too_slow'],
)
def test_speed_override_is_set_live_and_validated(rig, value, ok, reason):
    from rcl_interfaces.msg import Parameter as ParameterMsg
    from rcl_interfaces.msg import ParameterType, ParameterValue
    from rcl_interfaces.srv import GetParameters, SetParameters

    def current() -> float:
        res = rig.probe.call(
            GetParameters, 'teleop/get_parameters', GetParameters.Request(names=['speed_override'])
        )
        return res.values[0].double_value

    before = current()
    param = ParameterMsg(
        name='speed_override',
        value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value),
    )
    res = rig.probe.call(
        SetParameters, 'teleop/set_parameters', SetParameters.Request(parameters=[param])
    )
    result = res.results[0]
    assert result.successful == ok
    assert reason in result.reason  # the refusal says the allowed range
    assert current() == (value if ok else before), 'a refused value leaves the last good one'


@pytest.mark.timeout(30)
def test_a_refused_atomic_request_changes_neither_the_parameter_nor_the_arm_speed(rig):
    """
    Check that a request with one refused parameter sets nothing, in rclpy nor in the core.

    The speed in teleop/status (the core's own) stays what the parameter says.
    """
    from rcl_interfaces.msg import Parameter as ParameterMsg
    from rcl_interfaces.msg import ParameterType, ParameterValue
    from rcl_interfaces.srv import GetParameters, SetParametersAtomically

    def current() -> float:
        res = rig.probe.call(
            GetParameters, 'teleop/get_parameters', GetParameters.Request(names=['speed_override'])
        )
        return res.values[0].double_value

    before = current()
    wanted = 0.3 if abs(before - 0.3) > 1e-9 else 0.4
    request = SetParametersAtomically.Request(
        parameters=[
            ParameterMsg(
                name='speed_override',
                value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=wanted),
            ),
            ParameterMsg(  # settable live, but this joint does not exist
                name='free_drive_joints',
                value=ParameterValue(
                    type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=['elbow']
                ),
            ),
        ]
    )
    res = rig.probe.call(SetParametersAtomically, 'teleop/set_parameters_atomically', request)
    assert not res.result.successful and 'elbow' in res.result.reason, res.result.reason
    assert current() == before
    since = len(rig.status)

    def speed_in_status() -> float | None:
        for _t, msg in rig.status[since:]:
            values = {kv.key: kv.value for kv in msg.values}
            if 'speed_override' in values:
                return float(values['speed_override'])
        return None

    seen = rig.probe.wait_for(speed_in_status, 5.0)
    assert seen == pytest.approx(before), 'the core took a speed the parameter does not have'
