"""
The Gazebo side of the graph, described once.

Ros2_control controllers, their spawn order, the spawned model's name and the checks on the robot
description.

``launch/gazebo.launch.py`` turns this into launch actions; the tests read it directly.
Pure Python: no rclpy or launch import.

The facts here follow the upstream contracts (Jazzy and Kilted):

* gz_ros2_control reads its controller_manager parameters from the ``<parameters>`` element of
  its ``<plugin>`` and puts the controller manager in the namespace of the plugin's
  ``<ros><namespace>`` (``/`` without one); the controller manager then waits for
  ``robot_description`` in that namespace (gz_ros2_control ``gz_ros2_control_plugin.cpp``).
* The controller manager's ``spawner`` finds ``controller_manager`` relative to its own namespace
  and loads ``--param-file`` into each controller it spawns (controller_manager ``spawner.py``).
  joint_state_broadcaster gets no ``--param-file``: it has no section in our file, and the
  4.19-4.20 spawners fail on a file without the controller's section.
* Spawners run after the model exists and the broadcaster runs before the controllers, as the
  gz_ros2_control demos chain them (OnProcessExit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
import xml.etree.ElementTree as ET

from robot_touch.core.profile import ArmProfile, profiles_dir
from robot_touch.graph import OUTPUTS
from robot_touch.paths import share_dir, user_data_dir
import yaml

#: What teleop publishes (its parameter ``output``) → the controller that must be active.
OUTPUT_CONTROLLERS = {'position': 'forward_position_controller', 'trajectory': 'arm_controller'}
assert tuple(OUTPUT_CONTROLLERS) == OUTPUTS

#: Controller name → plugin type. All three ship in packages that package.xml depends on
#: (joint_state_broadcaster, forward_command_controller, joint_trajectory_controller).
CONTROLLER_TYPES = {
    'joint_state_broadcaster': 'joint_state_broadcaster/JointStateBroadcaster',
    'forward_position_controller': 'forward_command_controller/ForwardCommandController',
    'arm_controller': 'joint_trajectory_controller/JointTrajectoryController',
}

#: Controller manager cycle (Hz).
UPDATE_RATE = 100
#: arm_controller holds the measured position when no new trajectory arrived for this long
#: after the last one ended (s) — the serial bridge's command_timeout default.
COMMAND_TIMEOUT = 0.25
#: The gz_ros2_control plugin's file name in the URDF's <gazebo> block.
GZ_PLUGIN = 'gz_ros2_control-system'


def ros_namespace(namespace: str) -> str:
    """``arm1``, ``/arm1/`` → ``/arm1``; empty → ``/``."""
    return '/' + namespace.strip('/')


def entity_name(arm: str, namespace: str = '') -> str:
    """Return the model's name in Gazebo: unique per namespace, so arms can share a world."""
    label = namespace.strip('/').replace('/', '_')
    return f'{label}_{arm}' if label else arm


def controllers_config(profile: ArmProfile) -> dict[str, Any]:
    """
    Return the controller_manager parameter file for ``profile``.

    forward_position_controller and arm_controller both carry every joint teleop streams (the
    arm joints in profile order, then the gripper), so teleop's one message fits either
    output. arm_controller is set up for streaming: one point per message, ending at the
    joint's current velocity, and messages without the gripper are accepted (partial goals).
    Node keys start with ``/**/`` so the file serves an arm in any namespace.
    """
    joints = [j.name for j in profile.all_joints]
    return {
        '/**/controller_manager': {
            'ros__parameters': {
                'update_rate': UPDATE_RATE,
                **{name: {'type': kind} for name, kind in CONTROLLER_TYPES.items()},
            }
        },
        '/**/forward_position_controller': {
            'ros__parameters': {'joints': joints, 'interface_name': 'position'}
        },
        '/**/arm_controller': {
            'ros__parameters': {
                'joints': joints,
                'command_interfaces': ['position'],
                'state_interfaces': ['position', 'velocity'],
                'allow_partial_joints_goal': True,
                'allow_nonzero_velocity_at_trajectory_end': True,
                'cmd_timeout': COMMAND_TIMEOUT,
                'action_monitor_rate': 20.0,
                'constraints': {'stopped_velocity_tolerance': 0.05},
            }
        },
    }


def shipped_controllers_file(profile: ArmProfile) -> Path | None:
    """``config/controllers/<name>.yaml`` when ``profile`` is a shipped profile, else None."""
    shipped_profile = profiles_dir() / f'{profile.name}.yaml'
    if not shipped_profile.is_file() or shipped_profile.resolve() != profile.path.resolve():
        return None
    path = share_dir() / 'config' / 'controllers' / f'{profile.name}.yaml'
    return path if path.is_file() else None


def controllers_file(profile: ArmProfile) -> Path:
    """
    Return the controllers file to give gz_ros2_control and the spawners for ``profile``.

    A shipped profile uses its shipped file. Any other profile (``arm:=/path/my_arm.yaml``)
    gets :func:`controllers_config` written to ``<user data>/controllers/<name>.yaml``,
    rewritten on every launch so it follows the profile.
    """
    shipped = shipped_controllers_file(profile)
    if shipped is not None:
        return shipped
    folder = user_data_dir() / 'controllers'
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{profile.name}.yaml'
    text = (
        f'# Written by robot_touch for the profile {profile.path} on every Gazebo launch;\n'
        '# edits are overwritten (see config/controllers/ for the shipped arms).\n'
        + yaml.safe_dump(controllers_config(profile), sort_keys=False)
    )
    partial = path.with_suffix('.yaml.partial')
    partial.write_text(text, encoding='utf-8')
    partial.replace(path)  # atomic: a reader never sees half a file
    return path


@dataclass(frozen=True)
class Spawner:
    """One ``controller_manager spawner`` run."""

    controllers: tuple[str, ...]
    inactive: bool = False
    param_file: bool = True

    def arguments(self, controllers_path: Path | str) -> list[str]:
        """Return the spawner's command-line arguments."""
        args = list(self.controllers)
        if self.param_file:
            args += ['--param-file', str(controllers_path)]
        if self.inactive:
            args.append('--inactive')
        return args


def spawn_stages(output: str = 'position') -> list[list[Spawner]]:
    """
    Return the spawners in stages: a stage starts when every spawner of the one before exited.

    The controller teleop publishes to (``output``) is activated; the other one is loaded
    inactive (they share joints, so only one can be active).
    """
    if output not in OUTPUT_CONTROLLERS:
        raise ValueError(f'output must be one of {", ".join(OUTPUTS)}, got {output!r}')
    active = OUTPUT_CONTROLLERS[output]
    standby = tuple(name for name in OUTPUT_CONTROLLERS.values() if name != active)
    return [
        [Spawner(('joint_state_broadcaster',), param_file=False)],
        [Spawner((active,)), Spawner(standby, inactive=True)],
    ]


def check_description(urdf_xml: str, namespace: str, controllers_path: Path | str) -> None:
    """
    Refuse a robot description that gz_ros2_control would run apart from the spawners.

    :raises ValueError: naming what is missing (the plugin, its controllers file, its namespace).
    """
    root = ET.fromstring(urdf_xml)
    plugins = [p for p in root.iter('plugin') if p.get('filename', '').endswith(GZ_PLUGIN)]
    if len(plugins) != 1:
        raise ValueError(
            f'the robot description needs exactly one {GZ_PLUGIN} plugin (found {len(plugins)}): '
            "include urdf/common.xacro's rt_ros2_control with hardware:=gazebo"
        )
    plugin = plugins[0]
    given = (plugin.findtext('parameters') or '').strip()
    if given != str(controllers_path):
        raise ValueError(
            f'the {GZ_PLUGIN} plugin loads {given or "no parameters file"}, the spawners '
            f'{controllers_path}: pass the xacro argument controllers to rt_ros2_control'
        )
    wanted = ros_namespace(namespace)
    found = ros_namespace(plugin.findtext('ros/namespace') or '')
    if found != wanted:
        raise ValueError(
            f"the {GZ_PLUGIN} plugin's controller manager would be in {found}, the spawners "
            f'look in {wanted}: pass the xacro argument namespace to rt_ros2_control'
        )
