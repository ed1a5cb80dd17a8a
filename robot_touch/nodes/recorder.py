"""
`recorder` node.

Logs commanded and measured joints and the gripper; on shutdown writes a CSV and a plot.

Used by `robot-touch run --demo` to leave out/joint_paths.{csv,png} behind.
Parameters: ``config/recorder.yaml``.
"""

from __future__ import annotations

from pathlib import Path
import sys
from typing import Any

from rclpy.node import Node
from robot_touch.core.profile import load_profile
from robot_touch.joint_log import JointLog
from robot_touch.nodes._common import declare_parameters, ParameterTable, run_node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

#: name → (default, description, range kwargs); the same list is config/recorder.yaml
PARAMETERS: ParameterTable = {
    'arm': ('so101', 'arm profile name or YAML path', {}),
    'out_dir': ('out', 'folder for joint_paths.csv/.png', {}),
}


class RecorderNode(Node):
    """Record commanded and measured joints; :meth:`save` writes the CSV and the plot."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('recorder', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'config/recorder.yaml')
        self.out_dir = Path(p['out_dir'])
        profile = load_profile(p['arm'])
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
        """Write joint_paths.csv and joint_paths.png to ``out_dir``."""
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
