"""
`teleop` node: touch targets → IK → smooth, safe joint commands (thin wrapper of TeleopCore).

Everything that decides anything is in :mod:`robot_touch.core.teleop_core`; this node only
turns messages into core calls and the core's output into messages. All names are relative.

Subscriptions
    ``target_pose`` (geometry_msgs/PoseStamped, frame_id = base link, "" or any frame fixed
    to the base link in the URDF, e.g. ``world``),
    ``jog`` (geometry_msgs/TwistStamped, frame_id as target_pose, or the tip link),
    ``joint_jog`` (sensor_msgs/JointState: name + velocity),
    ``joint_target`` (sensor_msgs/JointState: name + position; arm joints and/or the gripper),
    ``gripper`` (std_msgs/Float64, 0 = closed … 1 = open),
    ``joint_states`` (sensor_msgs/JointState, measured; NaN = a joint not measured). Teleop
    follows ONE publisher (the first heard, by publisher GID); a second one is a conflict
    (status ``joint_states_conflict``, nothing latched) until only one is left.
    Input stamps are ordered per publisher and may be at most ``max_stamp_lead`` seconds ahead
    of this computer's ROS clock.

Publications (parameter ``output``)
    ``position``: ``forward_position_controller/commands`` (std_msgs/Float64MultiArray): the
    arm joints in profile order, then the gripper as the LAST element when
    ``include_gripper`` is true and the profile has one (our serial bridge and the MuJoCo
    sim take one array; a ros2_control setup with a separate gripper controller sets
    ``include_gripper: false``).
    ``trajectory``: ``arm_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory):
    one point per cycle (positions, velocities, the gripper's included; time_from_start = one
    period), joint_names in the same order (gripper last when included).

``teleop/status`` (diagnostic_msgs/DiagnosticStatus)
    ``name`` "teleop", ``hardware_id`` the arm profile, ``level`` 0 OK / 1 WARN / 2 ERROR /
    3 STALE, ``message`` the stable status code (ok, clamped, unreachable,
    near_singularity, joint_limit, halted, disabled, estop, joint_states_conflict,
    no_joint_states, relatching, free_drive, invalid_pose, unknown_frame, unknown_joint,
    invalid_value, out_of_order; see core/teleop_status.py), ``values``
    key/values: ``detail`` (a sentence for people), ``mode``, ``enabled``, ``estop``,
    ``speed_override``, ``singularity_scale``, ``condition``, ``free_drive`` (the joints
    released, comma-separated; empty when off). Published on change and at ``status_rate``.

Services (:mod:`robot_touch.nodes.teleop_services` says more)
    ``teleop/home`` (std_srvs/Trigger), ``teleop/estop`` (std_srvs/SetBool, latched until
    data=false), ``teleop/enable`` (std_srvs/SetBool), ``teleop/free_drive`` (std_srvs/SetBool:
    teach by hand). Every request is answered, an e-stop even while an IK solve, a burst of
    targets or free drive's wait for the hardware is under way.

Timing
    A dedicated thread (:class:`robot_touch.core.periodic.PeriodicLoop`) runs the control
    cycle at ``rate`` with absolute deadlines (no drift, independent of the executor). A new
    goal (target_pose, joint_target, gripper, home) or an e-stop wakes it for an immediate
    cycle, which then restarts the schedule; that cycle advances the trajectory only by the
    real elapsed time, so limits hold in wall time.
    Jog streams do not wake it (they are velocities; the next regular cycle uses them).
    ``realtime_priority`` > 0 runs the control thread SCHED_FIFO (and the executor thread
    one step lower, as both share the GIL) where the system permits it.

Parameters: see ``config/teleop.yaml``; declared from the table in
:mod:`robot_touch.nodes.teleop_parameters`, and the core's ``TeleopConfig`` is built from the
declared values. The decisions around the core are pure too: start-up checks and the
one-commander rule (core/teleop_startup.py), the live parameters
(core/teleop_live_parameters.py), when to publish the status (core/teleop_status_gate.py).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, TwistStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from robot_touch.core import teleop_startup as startup
from robot_touch.core.free_drive import FreeDrive
from robot_touch.core.message_info import sender_id, stamp_seconds
from robot_touch.core.periodic import PeriodicLoop, set_realtime_priority
from robot_touch.core.profile import load_profile
from robot_touch.core.teleop_core import Code, Command, REJECTIONS, TeleopConfig, TeleopCore
from robot_touch.core.teleop_live_parameters import LiveParameters
from robot_touch.core.teleop_status_gate import StatusGate
from robot_touch.core.throttle import Throttle
from robot_touch.errors import RobotTouchError
from robot_touch.nodes._common import run_node
from robot_touch.nodes.teleop_parameters import declare_teleop_parameters
from robot_touch.nodes.teleop_services import TeleopServices
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

#: Seconds between two log lines about the same kind of bad input.
LOG_THROTTLE = 2.0
#: Seconds between two log lines about a failed control cycle.
CYCLE_ERROR_LOG_THROTTLE = 1.0
#: An event-triggered cycle waits until at least this share of a period after the last cycle.
MIN_EARLY_GAP = 0.1
#: Seconds between two looks at how many publishers the graph shows on joint_states.
GRAPH_CHECK_PERIOD = 0.5


class TeleopNode(Node):
    """The ``teleop`` node (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__('teleop')
        p = declare_teleop_parameters(self)
        self.profile = load_profile(p['arm'])
        try:
            self.output = startup.check_output(p['output'])
        except ValueError as exc:
            raise RobotTouchError(str(exc)) from None
        config = TeleopConfig.from_parameters(p)
        try:
            self.core = TeleopCore(self.profile, config)
        except ValueError as exc:
            raise RobotTouchError(f'teleop parameters: {exc}') from None
        warning = startup.max_joint_step_warning(self.profile, config)
        if warning:
            self.get_logger().warning(warning)
        self._rt_priority = int(p['realtime_priority'])
        self._status_gate = StatusGate(1.0 / p['status_rate'])
        self._joint_names = startup.command_joint_names(self.profile, config.include_gripper)
        self._period = config.period
        self._rejection_log = Throttle(LOG_THROTTLE)
        self._all_joints = [j.name for j in self.profile.all_joints]
        try:
            self._live = LiveParameters(
                self.core, self._all_joints, self._joint_names, p['free_drive_joints']
            )
        except ValueError as exc:
            raise RobotTouchError(str(exc)) from None

        self._refuse_a_second_commander()
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        if self.output == 'position':
            self._pub = self.create_publisher(
                Float64MultiArray, 'forward_position_controller/commands', qos
            )
        else:
            self._pub = self.create_publisher(
                JointTrajectory, 'arm_controller/joint_trajectory', qos
            )
        self._status_pub = self.create_publisher(DiagnosticStatus, 'teleop/status', 10)
        # Inputs (IK runs in the target_pose callback) in one group, the safety services in
        # another: the multi-threaded executor answers an e-stop while a solve is running.
        inputs = MutuallyExclusiveCallbackGroup()
        services = MutuallyExclusiveCallbackGroup()
        for msg_type, topic, callback in (
            (PoseStamped, 'target_pose', self._on_target_pose),
            (TwistStamped, 'jog', self._on_jog),
            (JointState, 'joint_jog', self._on_joint_jog),
            (JointState, 'joint_target', self._on_joint_target),
            (Float64, 'gripper', self._on_gripper),
        ):
            self.create_subscription(msg_type, topic, callback, qos, callback_group=inputs)
        # Best effort matches both reliable and sensor-data (best effort) publishers.
        self.create_subscription(
            JointState,
            'joint_states',
            self._on_joint_states,
            qos_profile_sensor_data,
            callback_group=services,
        )
        self.create_timer(GRAPH_CHECK_PERIOD, self._check_graph, callback_group=services)
        from robot_touch.nodes.torque_client import TorqueServices

        self.free_drive = FreeDrive(
            self.core,
            TorqueServices(self, self._all_joints),
            estop_policy=self.profile.free_drive_estop,
        )
        # Free drive waits for the hardware's torque services in a group of its own, so the
        # e-stop (services) and the joint_states (which it waits on) go on meanwhile.
        self._service_handlers = TeleopServices(
            self, self.core, self.free_drive, self._live, services, wake=lambda: self._loop.wake()
        )
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._cycle_error_log = Throttle(CYCLE_ERROR_LOG_THROTTLE)
        self._loop = PeriodicLoop(
            config.period,
            self._cycle,
            name='teleop_loop',
            min_gap_share=MIN_EARLY_GAP,
            on_error=self._cycle_failed,
            before_start=self._raise_priority,
        ).start()
        self.get_logger().info(
            f'teleop for {self.profile.name}: {config.rate:g} Hz, output {self.output}, '
            f'{"enabled" if config.start_enabled else "disabled"} at start'
        )

    def _refuse_a_second_commander(self) -> None:
        """
        One arm, one commander.

        Refuse to start if another node already publishes the command topics here
        (robot_touch/ownership.py). Waits out DDS discovery (~1 s).
        """
        from robot_touch.ownership import AlreadyOwned, graph_snapshot, hold_role, watch

        me = self.get_fully_qualified_name()
        ns = self.get_namespace()
        try:
            # instant on this host; the DDS graph below for the rest
            self._role_lock = hold_role('teleop', ns)
        except AlreadyOwned:
            domain = os.environ.get('ROS_DOMAIN_ID', '0')
            raise RobotTouchError(startup.second_teleop_refusal(ns, domain)) from None
        others = watch(
            lambda: graph_snapshot(self, ns, exclude=(me,)),
            startup.COMMANDER_DISCOVERY_WAIT,
            lambda snap: startup.other_commanders(snap, ns),
        )
        if others:
            raise RobotTouchError(startup.commanders_refusal(others, ns))

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        refusal = self._live.take_all((param.name, param.value) for param in params)
        if refusal:
            return SetParametersResult(successful=False, reason=refusal)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ inputs

    def _now(self) -> float:
        return time.monotonic()

    def _ros_time(self) -> float:
        """Return this computer's ROS time (s): the clock input stamps are compared with."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _check_graph(self) -> None:
        self.core.set_joint_states_publishers(self.count_publishers('joint_states'))

    def _result(self, code: Code, wake: bool = False) -> None:
        if code in REJECTIONS:
            if self._rejection_log.allow(self._now(), code):
                self.get_logger().warning(
                    f'input rejected ({code.value}): {self.core.status().detail}'
                    + self._rejection_log.suffix(code)
                )
        elif wake:
            self._loop.wake()

    def _on_target_pose(self, msg: PoseStamped, info: Any = None) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        code = self.core.on_target_pose(
            msg.header.frame_id,
            (p.x, p.y, p.z),
            (o.x, o.y, o.z, o.w),
            stamp=stamp_seconds(msg.header.stamp),
            clock=self._ros_time(),
            sender=sender_id(info),
        )
        self._result(code, wake=True)

    def _on_jog(self, msg: TwistStamped, info: Any = None) -> None:
        lin, ang = msg.twist.linear, msg.twist.angular
        code = self.core.on_jog(
            msg.header.frame_id,
            (lin.x, lin.y, lin.z),
            (ang.x, ang.y, ang.z),
            stamp=stamp_seconds(msg.header.stamp),
            now=self._now(),
            clock=self._ros_time(),
            sender=sender_id(info),
        )
        self._result(code)

    def _on_joint_jog(self, msg: JointState, info: Any = None) -> None:
        code = self.core.on_joint_jog(
            msg.name,
            msg.velocity,
            stamp=stamp_seconds(msg.header.stamp),
            now=self._now(),
            clock=self._ros_time(),
            sender=sender_id(info),
        )
        self._result(code)

    def _on_joint_target(self, msg: JointState, info: Any = None) -> None:
        code = self.core.on_joint_target(
            msg.name,
            msg.position,
            stamp=stamp_seconds(msg.header.stamp),
            clock=self._ros_time(),
            sender=sender_id(info),
        )
        self._result(code, wake=True)

    def _on_gripper(self, msg: Float64) -> None:
        self._result(self.core.on_gripper(msg.data), wake=True)

    def _on_joint_states(self, msg: JointState, info: Any = None) -> None:
        self.core.on_joint_states(msg.name, msg.position, self._now(), source=sender_id(info))

    # ------------------------------------------------------------------ loop

    def _raise_priority(self) -> None:
        """Run the control thread SCHED_FIFO when ``realtime_priority`` asks for it."""
        if self._rt_priority > 0:
            refused = set_realtime_priority(self._rt_priority)
            if refused:
                self.get_logger().warning(
                    f'realtime_priority {self._rt_priority}: not permitted ({refused}); '
                    'running with normal scheduling '
                    '(allow it with an rtprio limit in /etc/security/limits.conf)'
                )

    def _cycle(self, now: float, elapsed: float) -> None:
        cmd = self.core.step(now, elapsed)
        if cmd is not None:
            self._publish(cmd)
        self._publish_status(now)

    def _cycle_failed(self, exc: BaseException) -> None:
        """Say what happened (once a second); the loop goes on unless shutting down."""
        if not self.context.ok():
            self._loop.stop()  # shutting down (Ctrl-C): nothing left to publish to
            return
        if self._cycle_error_log.allow(self._now()):
            self.get_logger().error(
                f'control cycle failed: {exc!r}' + self._cycle_error_log.suffix()
            )

    def _publish(self, cmd: Command) -> None:
        if self.output == 'position':
            self._pub.publish(Float64MultiArray(data=cmd.as_list()))
            return
        point = JointTrajectoryPoint(
            positions=cmd.as_list(),
            velocities=cmd.velocities(),
            time_from_start=Duration(sec=0, nanosec=int(self._period * 1e9)),
        )
        msg = JointTrajectory(joint_names=self._joint_names, points=[point])
        self._pub.publish(msg)

    def _publish_status(self, now: float) -> None:
        status = self.core.status()
        if not self._status_gate.due(status.key(), now):
            return
        values = [KeyValue(key='detail', value=status.detail)]
        values += [KeyValue(key=k, value=v) for k, v in status.values.items()]
        self._status_pub.publish(
            DiagnosticStatus(
                level=bytes([status.level]),
                name='teleop',
                message=status.code.value,
                hardware_id=self.profile.name,
                values=values,
            )
        )

    def stop(self) -> None:
        """Stop the control thread (before destroy_node)."""
        self._loop.stop(timeout=1.0)


def main(argv: list[str] | None = None) -> int:
    """Console script ``teleop`` / ``ros2 run robot_touch teleop``."""
    # The control thread shares the GIL with the executor thread; Python's default 5 ms
    # switch interval would let a busy callback delay a cycle by that much.
    sys.setswitchinterval(0.0005)
    return run_node(
        'teleop',
        TeleopNode,
        argv,
        user_errors=(
            RobotTouchError,
            InvalidParameterValueException,
            InvalidParameterTypeException,
        ),
        before_spin=_executor_realtime,
        on_exit=TeleopNode.stop,
        # inputs, services, free drive (waiting for the hardware) each get a thread
        executor=lambda: MultiThreadedExecutor(num_threads=3),
    )


def _executor_realtime(node: TeleopNode) -> None:
    if node._rt_priority > 1:
        # The executor thread shares the GIL with the control thread: left at normal
        # priority it could be preempted while holding the GIL and stall the loop
        # (priority inversion), so it runs real-time too, one step below.
        set_realtime_priority(node._rt_priority - 1)  # if refused, the control thread said so


if __name__ == '__main__':
    sys.exit(main())
