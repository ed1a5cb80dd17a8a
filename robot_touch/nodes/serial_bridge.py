"""
`serial_bridge`: the arm's hardware for the rest of the ROS graph.

Subscribes ``forward_position_controller/commands`` (std_msgs/Float64MultiArray, profile
joint order, gripper last) and ``arm_controller/joint_trajectory``
(trajectory_msgs/JointTrajectory); publishes ``joint_states`` and ``diagnostics``; serves
``torque`` (std_srvs/SetBool: every servo) and ``torque/<joint>`` (std_srvs/SetBool: one
joint, for free drive: a released joint is moved by hand while the others hold; refused on
PWM boards, whose released servos report no position). Torque goes back on holding exactly
where the joint was left: its goal is set to the measured position first. Parameters:
``config/serial_bridge.yaml``.

This node only translates messages: the decisions are in
:mod:`robot_touch.core.bridge_core`, the I/O thread in :mod:`robot_touch.bridge.hardware`.

``joint_states`` is published once per cycle in which at least one servo answered (and once
when a joint goes stale or comes back, or the port is lost), with every bridged joint in
profile order. ``header.stamp`` is when the oldest position in the message was read (each
reply's arrival time): no value is older than its stamp says. A joint whose read failed
keeps its last good reading until that reading is ``stale_timeout`` seconds old; then it is
*stale* and published as **NaN** (position and velocity, the ros2_control convention for "no
valid measurement"), listed as stale (ERROR) in ``diagnostics``, and the arm brakes to rest
and holds until it answers again. A joint never read since (re)connecting is NaN too: no
position is made up. ``velocity`` is measured from readings at least 20 ms apart (so one
servo step of quantisation cannot make it large), at most twice the joint's velocity limit;
NaN where no such pair of readings exists.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from robot_touch.bridge.hardware import HardwareConfig, HardwareWorker
from robot_touch.core.bridge_core import BridgeCore, build_converters, CommandRejected, Reading
from robot_touch.core.bridge_diagnostics import (
    connection_diagnostic,
    Diagnostic,
    servo_diagnostics,
)
from robot_touch.core.calibration import resolve_calibration
from robot_touch.core.profile import check_goal_range, load_profile
from robot_touch.core.trajectory import TrajectoryError
from robot_touch.errors import ProfileError, RobotTouchError
from robot_touch.nodes._common import (
    declare_parameters,
    float_range,
    int_range,
    joint_torque_services,
    ParameterTable,
    run_node,
    trajectory_request,
)
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory

DIAGNOSTICS_PERIOD = 1.0  # s


#: name → (default, description, range kwargs); the same list is config/serial_bridge.yaml
PARAMETERS: ParameterTable = {
    'arm': ('so101', 'arm profile: shipped name or path to a profile YAML', {}),
    'port': ('/dev/ttyUSB0', 'serial port or pyserial URL (socket://, rfc2217://, loop://)', {}),
    'baudrate': (
        0,
        "bits per second; 0 = the profile's",
        {'integer_range': int_range(0, 12_000_000)},
    ),
    'protocol': (
        '',
        "servo protocol (feetech_sts, dynamixel_p2, ssc32, maestro); empty = the profile's",
        {},
    ),
    'calibration_file': (
        '',
        "calibration YAML; empty = the user's default file if it exists, else the profile's "
        "values; 'profile' = the profile's values",
        {},
    ),
    'rate': (
        100.0,
        'write+read cycles per second (Hz)',
        {'floating_point_range': float_range(1.0, 1000.0)},
    ),
    'command_timeout': (
        0.25,
        'seconds without a command before the arm holds where it is',
        {'floating_point_range': float_range(0.01, 10.0)},
    ),
    'read_retries': (
        2,
        'repeats of a failed read before giving up for this cycle',
        {'integer_range': int_range(0, 10)},
    ),
    'stale_timeout': (
        0.15,
        "seconds a joint's newest reading may be old before it is stale "
        '(NaN in joint_states; the arm holds)',
        {'floating_point_range': float_range(0.005, 5.0)},
    ),
    'reconnect_backoff': (
        [0.2, 2.0],
        '[initial, maximum] seconds between reconnection attempts (doubling)',
        {},
    ),
    'torque_on_start': (
        True,
        'enable torque once the first positions are read '
        '(false: released until the torque service)',
        {},
    ),
    'torque_on_exit': (
        True,
        'after the shutdown hold keep torque on (true) or release it (false: the arm may fall)',
        {},
    ),
    'include_gripper': (True, 'the commands array is the arm joints then the gripper', {}),
    'velocity_scale': (
        1.0,
        "fraction of each joint's velocity limit the goals may move at "
        "(acceleration: the profile's); 0 = no limit at all",
        {'floating_point_range': float_range(0.0, 1.0)},
    ),
    'status_period': (
        1.0,
        'seconds between servo health reads (voltage, temperature, errors)',
        {'floating_point_range': float_range(0.1, 60.0)},
    ),
}


class SerialBridgeNode(Node):
    """Message translation around a :class:`HardwareWorker`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('serial_bridge', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'config/serial_bridge.yaml')
        backoff = list(p['reconnect_backoff'])
        if len(backoff) != 2 or not 0 < backoff[0] <= backoff[1]:
            raise RobotTouchError(
                'reconnect_backoff must be [initial, maximum] with 0 < initial ≤ maximum, '
                f'got {backoff}'
            )

        profile = load_profile(p['arm'])
        calibration, source = resolve_calibration(profile, p['calibration_file'])
        if source is not None:  # the profile's own was checked at load; a file may move the limits
            try:
                maps = {name: cal.calibration for name, cal in calibration.items()}
                check_goal_range(profile, maps)
            except ProfileError as exc:
                message = f'calibration {source}: {exc.field}: {exc.message}'
                raise RobotTouchError(message) from None
        try:
            joints = build_converters(profile, calibration, include_gripper=p['include_gripper'])
        except ValueError as exc:
            raise RobotTouchError(f'calibration {source}: {exc}') from None
        protocol = p['protocol'] or profile.protocol
        from robot_touch.protocols.registry import get_bus_class

        get_bus_class(protocol)  # an unknown protocol is a start-up error, not a fault to retry
        self.core = BridgeCore(
            joints,
            command_timeout=p['command_timeout'],
            stale_timeout=p['stale_timeout'],
            velocity_scale=p['velocity_scale'],
            has_gripper=bool(p['include_gripper'] and profile.gripper is not None),
            period=1.0 / p['rate'],
        )
        self.names = self.core.names
        config = HardwareConfig(
            port=p['port'],
            baudrate=p['baudrate'] or profile.baudrate,
            protocol=protocol,
            protocol_options=profile.protocol_options,
            rate=p['rate'],
            read_retries=p['read_retries'],
            reconnect_initial=backoff[0],
            reconnect_max=backoff[1],
            torque_on_start=p['torque_on_start'],
            torque_on_exit=p['torque_on_exit'],
            status_period=p['status_period'],
            servo_settings={
                j.servo_id: dict(calibration[j.name].servo)
                for j in joints
                if calibration[j.name].servo
            },
        )
        self.joint_state_pub = self.create_publisher(JointState, 'joint_states', 10)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(
            Float64MultiArray, 'forward_position_controller/commands', self._on_command, reliable
        )
        self.create_subscription(
            JointTrajectory, 'arm_controller/joint_trajectory', self._on_trajectory, 10
        )
        self.create_service(SetBool, 'torque', self._on_torque)
        joint_torque_services(self, self.names, self._on_joint_torque)
        self.create_timer(DIAGNOSTICS_PERIOD, self._publish_diagnostics)
        self.create_timer(0.1, self._stop_if_fatal)
        self.worker = HardwareWorker(
            self.core, config, on_state=self._publish_state, log=self._log
        )
        self.get_logger().info(
            f'{profile.name}: {len(joints)} joints on {config.port} '
            f'({protocol} @ {config.baudrate} baud, {config.rate:g} Hz); '
            f'calibration: {source or "profile defaults"}'
            + ('; servo settings checked at connect' if config.servo_settings else '')
        )
        self.worker.start()

    def _stop_if_fatal(self) -> None:
        """Stop the node with one line when a servo no longer fits the calibration."""
        if self.worker.fatal:
            raise RobotTouchError(self.worker.fatal)

    # ------------------------------------------------------------------ inputs

    def _on_command(self, msg: Float64MultiArray) -> None:
        try:
            self.worker.submit_command(list(msg.data))
        except CommandRejected:
            pass  # the core logged it once and counts it in diagnostics

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            request = trajectory_request(msg, self.get_clock().now().nanoseconds * 1e-9)
        except TrajectoryError as exc:
            self.get_logger().warning(f'trajectory refused: {exc}')
            return
        try:
            self.worker.submit_trajectory(
                request.names,
                request.times,
                request.positions,
                request.velocities,
                request.delay,
                request.accelerations,
            )
        except CommandRejected:
            pass  # the core logged it once and counts it in diagnostics

    def _on_torque(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        response.success, response.message = self.worker.request_torque(bool(request.data))
        return response

    def _on_joint_torque(self, joint: str, enabled: bool) -> tuple[bool, str]:
        return self.worker.request_torque(enabled, joints=[joint])

    # ------------------------------------------------------------------ outputs

    def _publish_state(self, reading: Reading) -> None:
        # called from the I/O thread: stamp with the time of the read, not of this call
        if not self.context.ok():
            return  # shutting down: the worker stops next
        age = max(0.0, time.monotonic() - reading.stamp)
        msg = JointState()
        msg.header.stamp = (self.get_clock().now() - Duration(seconds=age)).to_msg()
        msg.name = list(self.names)
        msg.position = reading.positions
        msg.velocity = reading.velocities
        self.joint_state_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        status = self.worker.status()
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        lines = [connection_diagnostic(status)] + servo_diagnostics(status, self.core.joints)
        msg.status = [_status(line) for line in lines]
        self.diagnostics_pub.publish(msg)

    def _log(self, level: str, message: str) -> None:
        if not self.context.ok():
            # Shutting down (SIGTERM): rosout is gone, the console is not (the shutdown hold).
            print(f'[{level.upper()}] [{self.get_name()}]: {message}', file=sys.stderr, flush=True)
            return
        # one call site per severity: rclpy refuses a call site whose severity changes
        logger = self.get_logger()
        if level == 'error':
            logger.error(message)
        elif level == 'warn':
            logger.warning(message)
        elif level == 'debug':
            logger.debug(message)
        else:
            logger.info(message)

    def destroy_node(self) -> None:
        self.worker.stop()
        super().destroy_node()


def _status(line: Diagnostic) -> DiagnosticStatus:
    """Return the message for one of the core's diagnostic lines."""
    status = DiagnosticStatus(
        name=line.name,
        hardware_id=line.hardware_id,
        message=line.message,
        level=bytes([int(line.level)]),
    )
    status.values = [
        KeyValue(key=k, value=str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in line.values.items()
    ]
    return status


def main(args: Sequence[str] | None = None) -> int:
    """Run the node until Ctrl-C; a configuration error prints one line and returns 2."""
    return run_node('serial_bridge', SerialBridgeNode, args)


if __name__ == '__main__':
    sys.exit(main())
