"""
`recorder` node.

Logs commanded and measured joints and the gripper; on shutdown writes a CSV and a plot.

Used by `robot-touch run --demo` to leave out/joint_paths.{csv,png} behind.
Parameters: `arm` (profile), `out_dir` (folder for the files).
"""

from __future__ import annotations

from pathlib import Path
import sys

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from robot_touch.core.profile import load_profile
from robot_touch.joint_log import JointLog
from robot_touch.nodes._common import run_node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__('recorder')
        arm = self.declare_parameter(
            'arm', 'so101', ParameterDescriptor(description='arm profile name or YAML path')
        ).value
        self.out_dir = Path(
            self.declare_parameter(
                'out_dir',
                'out',
                ParameterDescriptor(description='folder for joint_paths.csv/.png'),
            ).value
        )
        profile = load_profile(arm)
        self.log = JointLog(
            profile.joint_names,
            gripper=profile.gripper.name if profile.gripper is not None else None,
            units=['m' if j.prismatic else 'rad' for j in profile.all_joints],
        )
        self.create_subscription(
            Float64MultiArray, 'forward_position_controller/commands', self._on_command, 50
        )
        self.create_subscription(JointState, 'joint_states', self._on_state, 50)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg: Float64MultiArray) -> None:
        self.log.add_command(self._now(), msg.data)

    def _on_state(self, msg: JointState) -> None:
        self.log.add_measurement(self._now(), msg.name, msg.position)

    def save(self) -> None:
        csv_path = self.log.save_csv(self.out_dir / 'joint_paths.csv')
        png_path = self.log.save_plot(self.out_dir / 'joint_paths.png')
        print(
            f'recorder: {len(self.log.commanded)} commands, {len(self.log.measured)} '
            f'measurements -> {csv_path}, {png_path}',
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    """Record until Ctrl-C, then save the files."""
    return run_node('recorder', RecorderNode, argv, on_exit=RecorderNode.save)


if __name__ == '__main__':
    sys.exit(main())
