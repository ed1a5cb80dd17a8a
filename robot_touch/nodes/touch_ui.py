"""
`touch_ui` node: the Kivy touchscreen app with an rclpy node spun in a background thread.

Publishes (relative names): ``target_pose`` (geometry_msgs/PoseStamped, frame = the profile's
base link), ``jog`` (geometry_msgs/TwistStamped), ``joint_target`` (sensor_msgs/JointState),
``gripper`` (std_msgs/Float64, 0 closed .. 1 open).
Subscribes: ``joint_states`` (sensor_msgs/JointState), ``teleop/status``
(diagnostic_msgs/DiagnosticStatus whose ``message`` starts with a status code of
:class:`robot_touch.core.teleop_core.Code`), and the command topics teleop sends to the arm
(``forward_position_controller/commands``, ``arm_controller/joint_trajectory``), only to count
them: the "Commands" rate on screen is what reaches the arm, not what this UI sends.
Calls: ``teleop/estop``, ``teleop/enable`` and ``teleop/free_drive`` (std_srvs/SetBool),
``teleop/home`` (std_srvs/Trigger), ``teleop/set_parameters`` (``speed_override``, and
``free_drive_joints`` just before free drive is asked for).

Parameters are listed with units and defaults in ``config/touch_ui.yaml`` (the table:
:mod:`robot_touch.nodes.touch_ui_parameters`). The app runs in its window through
:mod:`robot_touch.ui.windowed`; service answers are kept by
:class:`robot_touch.ui.service_answers.PendingCalls`. The node never touches widgets: the app
polls :meth:`TouchUiNode.latest_joint_state` and :meth:`TouchUiNode.latest_status` on Kivy's
thread.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import Mapping, Sequence

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped, TwistStamped
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile
from robot_touch.core.profile import ArmProfile, load_profile
from robot_touch.core.workspace_view import Pose
from robot_touch.errors import RobotTouchError
from robot_touch.nodes._common import declare_parameters
from robot_touch.nodes.touch_ui_parameters import CONFIG_FILE, PARAMETERS
from robot_touch.ui.command_rate import CommandRate
from robot_touch.ui.feedback import status_code
from robot_touch.ui.service_answers import ANSWER_TIMEOUT, PendingCalls, ServiceAnswer
from robot_touch.ui.settings import start_problem, UiSettings
from robot_touch.ui.windowed import quiet_kivy_logging, WindowedRun
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

__all__ = [
    'ANSWER_TIMEOUT',
    'CONFIG_FILE',
    'main',
    'PARAMETERS',
    'ServiceAnswer',
    'start_node',
    'stop_node',
    'TouchUiNode',
]


class TouchUiNode(Node):
    """The ROS side of the touch UI (see the module docstring for its interface)."""

    def __init__(self, **kwargs) -> None:
        super().__init__('touch_ui', **kwargs)
        values = declare_parameters(self, PARAMETERS, CONFIG_FILE)
        self.profile: ArmProfile = load_profile(values['arm'])
        problem = start_problem(values)
        if problem is not None:
            raise RobotTouchError(f'parameter {problem}')
        #: the declared parameters' values (read-only: read once at start-up)
        self.values = values
        self._lock = threading.Lock()
        self._joints: dict[str, float] = {}
        self._joints_stamp: float | None = None
        self._status: tuple[str, float] | None = None
        self._status_values: dict[str, str] = {}
        self._commands = CommandRate()

        qos = QoSProfile(depth=1)
        self.pub_target = self.create_publisher(PoseStamped, 'target_pose', qos)
        self.pub_jog = self.create_publisher(TwistStamped, 'jog', qos)
        self.pub_joint_target = self.create_publisher(JointState, 'joint_target', 10)
        self.pub_gripper = self.create_publisher(Float64, 'gripper', 10)
        self.create_subscription(
            JointState, 'joint_states', self._on_joint_states, qos_profile_sensor_data
        )
        self.create_subscription(DiagnosticStatus, 'teleop/status', self._on_status, 10)
        count = lambda _msg: self._count()  # noqa: E731
        self.create_subscription(
            Float64MultiArray, 'forward_position_controller/commands', count, 10
        )
        self.create_subscription(JointTrajectory, 'arm_controller/joint_trajectory', count, 10)
        self._calls = PendingCalls()
        self.cli_estop = self.create_client(SetBool, 'teleop/estop')
        self.cli_enable = self.create_client(SetBool, 'teleop/enable')
        self.cli_home = self.create_client(Trigger, 'teleop/home')
        self.cli_free_drive = self.create_client(SetBool, 'teleop/free_drive')
        teleop = values['teleop_node']
        self.cli_params = self.create_client(SetParameters, f'{teleop}/set_parameters')

    def ui_settings(self) -> UiSettings:
        """Return the app settings from the parameters."""
        return UiSettings.from_values(self.values)

    # -- incoming (executor thread)

    def _on_joint_states(self, msg: JointState) -> None:
        with self._lock:
            for name, pos in zip(msg.name, msg.position):
                if math.isfinite(pos):  # NaN: not measured (a silent servo); keep the last value
                    self._joints[name] = float(pos)
            self._joints_stamp = time.monotonic()

    def _on_status(self, msg: DiagnosticStatus) -> None:
        code = status_code(msg.message or '')
        values = {kv.key: kv.value for kv in msg.values}
        with self._lock:
            self._status = (code, time.monotonic())
            self._status_values = values

    def latest_joint_state(self) -> tuple[dict[str, float], float] | None:
        """(joint name → position, monotonic receive time) or None before the first message."""
        with self._lock:
            if self._joints_stamp is None:
                return None
            return dict(self._joints), self._joints_stamp

    def latest_status(self) -> tuple[str, float] | None:
        """(teleop status code, monotonic receive time) or None."""
        with self._lock:
            return self._status

    def latest_status_values(self) -> dict[str, str]:
        """Return the latest teleop status as key/values (enabled, estop, speed_override, …)."""
        with self._lock:
            return dict(self._status_values)

    def command_rate(self) -> float:
        """Commands to the arm (teleop's output) seen in the last second."""
        return self._commands.rate(time.monotonic())

    def _count(self) -> None:
        self._commands.count(time.monotonic())

    # -- outgoing (Kivy thread; rclpy publishers and clients are thread-safe)

    def publish_target(self, pose: Pose) -> None:
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.profile.base_link
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (
            float(v) for v in pose.position
        )
        q = pose.quaternion()
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = q
        self.pub_target.publish(msg)

    def publish_jog(self, linear: Sequence[float], angular: Sequence[float]) -> None:
        msg = TwistStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.profile.base_link
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in linear)
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = (float(v) for v in angular)
        self.pub_jog.publish(msg)

    def publish_joint_target(self, positions: Mapping[str, float]) -> None:
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(positions)
        msg.position = [float(v) for v in positions.values()]
        self.pub_joint_target.publish(msg)

    def publish_gripper(self, opening: float) -> None:
        self.pub_gripper.publish(Float64(data=float(opening)))

    def _call(self, client, request) -> bool:
        if not client.service_is_ready():
            self.get_logger().warning(f'service {client.srv_name} is not available')
            return False
        self._calls.add(client.srv_name, time.monotonic(), client.call_async(request))
        return True

    def take_answers(self, timeout: float = ANSWER_TIMEOUT) -> list[ServiceAnswer]:
        """
        Return the service answers that came back since the last call.

        Also calls unanswered for ``timeout`` s (success False, "no answer"). Polled on Kivy's
        thread.
        """
        return self._calls.take_answers(time.monotonic(), timeout)

    def call_estop(self, engaged: bool) -> bool:
        return self._call(self.cli_estop, SetBool.Request(data=engaged))

    def call_enable(self, enabled: bool) -> bool:
        return self._call(self.cli_enable, SetBool.Request(data=enabled))

    def call_home(self) -> bool:
        return self._call(self.cli_home, Trigger.Request())

    def call_free_drive(self, on: bool, joints: Sequence[str] = ()) -> bool:
        """
        Free drive on (of ``joints``; empty: the whole arm) or off.

        On sets teleop's ``free_drive_joints`` first and asks for free drive once that was
        accepted; a refusal of either is answered under the free drive service's name.
        """
        if not on:
            return self._call(self.cli_free_drive, SetBool.Request(data=False))
        for client in (self.cli_params, self.cli_free_drive):
            if not client.service_is_ready():
                self.get_logger().warning(f'service {client.srv_name} is not available')
                return False
        value = ParameterValue(
            type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=list(joints)
        )
        request = SetParameters.Request(
            parameters=[Parameter(name='free_drive_joints', value=value)]
        )
        future = self.cli_params.call_async(request)

        def then(done) -> None:  # the rclpy future, on the executor's thread
            result = done.result() if done.exception() is None else None
            if result is not None and all(r.successful for r in result.results):
                self._call(self.cli_free_drive, SetBool.Request(data=True))

        future.add_done_callback(then)
        self._calls.add(self.cli_free_drive.srv_name, time.monotonic(), future)
        return True

    def set_speed(self, fraction: float) -> bool:
        value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=float(fraction))
        return self._call(
            self.cli_params,
            SetParameters.Request(parameters=[Parameter(name='speed_override', value=value)]),
        )


def start_node(
    args: Sequence[str] | None = None,
) -> tuple[TouchUiNode, SingleThreadedExecutor, threading.Thread]:
    """Init rclpy, create the node and spin it in a daemon thread."""
    rclpy.init(args=args)
    try:
        node = TouchUiNode()
    except Exception:
        rclpy.try_shutdown()
        raise
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, name='touch_ui_ros', daemon=True)
    thread.start()
    return node, executor, thread


def stop_node(
    node: TouchUiNode, executor: SingleThreadedExecutor, thread: threading.Thread | None = None
) -> None:
    """Stop spinning, destroy the node and shut rclpy down."""
    executor.shutdown(timeout_sec=2.0)
    if thread is not None:
        thread.join(timeout=2.0)
    node.destroy_node()
    if rclpy.ok():
        rclpy.shutdown()


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``touch_ui``: ROS arguments (``--ros-args ...``) pass through Kivy."""
    os.environ.setdefault('KIVY_NO_ARGS', '1')
    quiet_kivy_logging(sys.stderr.isatty())
    try:
        node, executor, thread = start_node(args if args is not None else sys.argv)
    except (RobotTouchError, InvalidParameterValueException, InvalidParameterTypeException) as exc:
        print(f'touch_ui: error: {exc}', file=sys.stderr)
        return 2
    run = WindowedRun()
    try:
        run.run(
            node,
            node.profile,
            node.ui_settings(),
            window_size=node.values['window_size'],
            fullscreen=node.values['fullscreen'],
            demo_out=node.values['demo_out'] if node.values['demo'] else None,
        )
    finally:
        stop_node(node, executor, thread)
        run.release()
    return run.exit_code()


if __name__ == '__main__':
    sys.exit(main())
