"""
`sim_arm`: a MuJoCo-simulated arm on the same topics as Gazebo's ros2_control controllers.

Subscribes ``forward_position_controller/commands`` (std_msgs/Float64MultiArray, profile
joint order, gripper last when the array is dof+1 long) and ``arm_controller/joint_trajectory``
(trajectory_msgs/JointTrajectory, executed by time); publishes ``joint_states`` (position,
velocity, effort = actuator force); serves ``torque`` and ``torque/<joint>``
(std_srvs/SetBool, as the serial bridge: free drive, the actuators passive). Optionally
renders the arm to a PNG file now and then. Parameters: ``config/sim_arm.yaml``.

The physics is :mod:`robot_touch.sim.mujoco_arm`; this node only translates messages.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Sequence

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from robot_touch.core.profile import load_profile
from robot_touch.core.throttle import Throttle
from robot_touch.core.trajectory import TrajectoryError
from robot_touch.errors import RobotTouchError
from robot_touch.nodes._common import (
    declare_parameters,
    float_range,
    int_range,
    joint_torque_services,
    ParameterTable,
    run_node,
    trajectory_request,
)
from robot_touch.sim.common import (
    MAX_TIMESTEP,
    parse_positions,
    RenderUnavailable,
    SimCommandError,
)
from robot_touch.sim.gl import prepare_gl
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory

#: Seconds between two warnings of the same kind (bad commands arrive at the command rate).
WARN_PERIOD = 2.0
#: Seconds between real-time checks; a warning follows when the simulation lags.
RTF_CHECK_PERIOD = 5.0
RTF_WARN_BELOW = 0.9


#: name → (default, description, range kwargs); the same list is config/sim_arm.yaml
PARAMETERS: ParameterTable = {
    'arm': ('so101', 'arm profile: shipped name or path to a profile YAML', {}),
    'timestep': (
        MAX_TIMESTEP,
        f'physics time step (s); at most {MAX_TIMESTEP:g} ({1 / MAX_TIMESTEP:.0f} Hz)',
        {'floating_point_range': float_range(1e-4, MAX_TIMESTEP)},
    ),
    'publish_rate': (
        100.0,
        'joint_states messages per second (Hz)',
        {'floating_point_range': float_range(1.0, 1000.0)},
    ),
    'kp': (
        [0.0],
        'servo stiffness, N m/rad (N/m prismatic): one value for all joints or one per joint; '
        '0 = from the link masses',
        {},
    ),
    'kv': (
        [0.0],
        'servo damping, N m s/rad (N s/m prismatic): one value or one per joint; '
        '0 = critical damping',
        {},
    ),
    'initial_positions': (
        'home',
        "start pose: home (the profile's), zero, or comma-separated positions in joint order",
        {},
    ),
    'render_png': (
        '',
        'PNG file the arm is drawn to every render_period; empty = no rendering',
        {},
    ),
    'render_period': (
        1.0,
        'seconds between two renders to render_png',
        {'floating_point_range': float_range(0.05, 3600.0)},
    ),
    'render_width': (640, 'render width (pixels)', {'integer_range': int_range(16, 4096)}),
    'render_height': (480, 'render height (pixels)', {'integer_range': int_range(16, 4096)}),
}


class SimArmNode(Node):
    """Message translation around a :class:`MujocoArm` stepped by a :class:`RealTimeRunner`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('sim_arm', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'config/sim_arm.yaml')

        # MuJoCo is imported here, not with this module: main() chooses its OpenGL backend first
        from robot_touch.sim.mujoco_arm import MujocoArm, RealTimeRunner

        profile = load_profile(p['arm'])
        try:
            initial = parse_positions(p['initial_positions'], profile)
        except ValueError as exc:
            raise RobotTouchError(f'initial_positions: {exc}') from None
        try:
            self.arm = MujocoArm(
                profile,
                timestep=p['timestep'],
                kp=list(p['kp']),
                kv=list(p['kv']),
                initial_positions=initial,
            )
        except ValueError as exc:
            raise RobotTouchError(str(exc)) from None
        self.names = list(self.arm.names)
        self._warnings = Throttle(WARN_PERIOD)

        self.joint_state_pub = self.create_publisher(JointState, 'joint_states', 10)
        reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(
            Float64MultiArray, 'forward_position_controller/commands', self._on_command, reliable
        )
        self.create_subscription(
            JointTrajectory, 'arm_controller/joint_trajectory', self._on_trajectory, 10
        )
        self.create_timer(1.0 / p['publish_rate'], self._publish_state)
        self.create_service(SetBool, 'torque', self._on_torque)
        joint_torque_services(self, self.names, self._switch_torque)
        self.create_timer(RTF_CHECK_PERIOD, self._check_real_time)

        self.runner = RealTimeRunner(self.arm)
        self.runner.start()
        self._stop_render = threading.Event()
        self._render_thread: threading.Thread | None = None
        if p['render_png']:
            self._render_thread = threading.Thread(
                target=self._render_loop,
                args=(p['render_png'], p['render_period'], p['render_width'], p['render_height']),
                name='sim-render',
                daemon=True,
            )
            self._render_thread.start()
        gains = ', '.join(f'{n} {g.kp:.3g}/{g.kv:.3g}' for n, g in zip(self.names, self.arm.gains))
        self.get_logger().info(
            f'{profile.name}: {len(self.names)} joints simulated at '
            f'{1.0 / self.arm.timestep:.0f} Hz (MuJoCo, real time), '
            f'joint_states at {p["publish_rate"]:g} Hz; servo kp/kv: {gains}'
        )

    # ------------------------------------------------------------------ inputs

    def _on_command(self, msg: Float64MultiArray) -> None:
        try:
            clamped = self.arm.command(list(msg.data))
        except SimCommandError as exc:
            self._warn(f'command:{exc}', f'{exc}; the arm keeps its previous target')
            return
        if clamped:
            self._warn('clamp', f'command outside the joint limits, clamped: {", ".join(clamped)}')

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            request = trajectory_request(msg, self.get_clock().now().nanoseconds * 1e-9)
            clamped = self.arm.follow(
                request.names,
                request.times,
                request.positions,
                request.velocities,
                delay=request.delay,
                accelerations=request.accelerations,
            )
        except (SimCommandError, TrajectoryError) as exc:
            self._warn(f'trajectory:{exc}', f'{exc}; the arm keeps its previous target')
            return
        if clamped:
            self._warn(
                'clamp', f'trajectory outside the joint limits, clamped: {", ".join(clamped)}'
            )

    def _on_torque(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        response.success, response.message = self._switch_torque(None, bool(request.data))
        return response

    def _switch_torque(self, joint: str | None, enabled: bool) -> tuple[bool, str]:
        """Torque of one joint (None: the whole arm): the actuators passive or holding."""
        try:
            self.arm.set_torque(enabled, None if joint is None else [joint])
        except SimCommandError as exc:
            return False, str(exc)
        what = 'torque' if joint is None else f'{joint}: torque'
        done = 'enabled, holding where it is' if enabled else 'released (actuator passive)'
        return True, f'{what} {done}'

    def _warn(self, kind: str, text: str) -> None:
        """
        Warn at most once per WARN_PERIOD per kind, saying how many were not shown.

        One kind per distinct problem, so a flood of one does not hide another.
        """
        if self._warnings.allow(time.monotonic(), kind):
            self.get_logger().warning(text + self._warnings.suffix(kind))

    # ------------------------------------------------------------------ outputs

    def _publish_state(self) -> None:
        state = self.arm.state()
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = self.names
        msg.position = state.positions.tolist()
        msg.velocity = state.velocities.tolist()
        msg.effort = state.efforts.tolist()
        self.joint_state_pub.publish(msg)

    def _check_real_time(self) -> None:
        stats = self.runner.stats()
        if stats.recent_real_time_factor < RTF_WARN_BELOW:
            self._warn(
                'rtf',
                'simulation slower than real time: real-time factor '
                f'{stats.recent_real_time_factor:.2f} (machine busy?); '
                f'{stats.dropped:.2f} s of simulated time skipped so far',
            )
        else:
            self.get_logger().debug(f'real-time factor {stats.recent_real_time_factor:.3f}')

    def _render_loop(self, path: str, period: float, width: int, height: int) -> None:
        # The OpenGL context belongs to the thread that creates it, so all rendering is here.
        try:
            from robot_touch.sim.render import OffscreenRenderer

            renderer = OffscreenRenderer(self.arm.model, width=width, height=height)
        except RenderUnavailable as exc:
            self.get_logger().warning(f'{exc}; simulating without rendering')
            return
        self.get_logger().info(f'rendering to {path} every {period:g} s')
        try:
            while not self._stop_render.is_set():
                try:
                    renderer.save_png(self.arm.qpos(), path)
                except OSError as exc:
                    self.get_logger().error(
                        f'cannot write {path}: {exc.strerror}; rendering stopped'
                    )
                    return
                self._stop_render.wait(period)
        finally:
            renderer.close()

    def destroy_node(self) -> None:
        self.runner.stop()
        self._stop_render.set()
        if self._render_thread is not None:
            self._render_thread.join(timeout=5.0)
        s = self.runner.stats()
        summary = (
            f'stopped: {s.steps} steps, {s.sim_time:.1f} s simulated in {s.wall_time:.1f} s '
            f'(real-time factor {s.real_time_factor:.3f})'
        )
        if self.context.ok():
            self.get_logger().info(summary)
        else:  # after Ctrl-C the ROS logger can no longer reach /rosout
            print(f'[sim_arm] {summary}', file=sys.stderr)
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the node until Ctrl-C; a configuration error prints one line and returns 2."""
    prepare_gl()  # once, before mujoco is first imported
    return run_node('sim_arm', SimArmNode, args)


if __name__ == '__main__':
    sys.exit(main())
