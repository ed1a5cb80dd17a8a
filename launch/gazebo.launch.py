"""
Gazebo (gz sim) with an arm profile under gz_ros2_control.

    ros2 launch robot_touch gazebo.launch.py arm:=so101 namespace:=arm1 output:=position

Starts gz sim with an empty world and publishes robot_description (xacro with
hardware:=gazebo: the gz_ros2_control-system plugin, its controllers file and its namespace)
from robot_state_publisher; spawns the model from that topic (named <namespace>_<arm>, so
several arms can share a world) and bridges /clock. Then, in order, as the gz_ros2_control
demos chain them: the model is spawned -> joint_state_broadcaster -> the controller teleop
publishes to (output:=position: forward_position_controller, output:=trajectory:
arm_controller) active, the other loaded inactive. A spawn or spawner that fails ends the
launch with an error. The controllers file is config/controllers/<arm>.yaml, or for a
profile of your own one generated from it (robot_touch/gazebo.py). bringup.launch.py
backend:=gazebo adds teleop and the UI.
Needs a ROS 2 install with ros_gz_sim, ros_gz_bridge, gz_ros2_control and ros2_controllers.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from robot_touch.core.profile import load_profile
from robot_touch.gazebo import (
    check_description,
    controllers_file,
    entity_name,
    spawn_stages,
)
from robot_touch.graph import OUTPUTS
from robot_touch.launch_actions import after_success

#: gz sim's arguments: run at once (-r), warnings and errors only (-v 2), the empty world.
GZ_ARGS = '-r -v 2 empty.sdf'
#: Gazebo's clock to ROS (/clock), so use_sim_time nodes run on simulation time.
CLOCK_BRIDGE = '/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock'


def _gazebo(context, *args, **kwargs):
    arm = LaunchConfiguration('arm').perform(context)
    namespace = LaunchConfiguration('namespace').perform(context).strip('/')
    output = LaunchConfiguration('output').perform(context)
    profile = load_profile(arm)
    controllers = controllers_file(profile)
    description = profile.urdf_xml(
        hardware='gazebo', namespace=namespace, controllers=str(controllers)
    )
    # A description of the user's own that ignores these xacro arguments would leave the
    # controller manager where the spawners never look: refuse it with the reason.
    check_description(description, namespace, controllers)
    ns = namespace or None
    gz_sim = os.path.join(get_package_share_directory('ros_gz_sim'), 'launch', 'gz_sim.launch.py')
    spawn = Node(
        package='ros_gz_sim',
        executable='create',
        namespace=ns,
        arguments=['-topic', 'robot_description', '-name', entity_name(profile.name, namespace)],
        output='screen',
    )
    actions = [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(gz_sim),
            launch_arguments={'gz_args': GZ_ARGS, 'on_exit_shutdown': 'true'}.items(),
        ),
        Node(
            package='robot_state_publisher',
            executable='robot_state_publisher',
            namespace=ns,
            parameters=[{'robot_description': description, 'use_sim_time': True}],
            output='screen',
        ),
        Node(
            package='ros_gz_bridge',
            executable='parameter_bridge',
            arguments=[CLOCK_BRIDGE],
            output='screen',
        ),
    ]
    previous = [spawn]
    for stage in spawn_stages(output):
        spawners = [
            Node(
                package='controller_manager',
                executable='spawner',
                namespace=ns,
                arguments=spawner.arguments(controllers),
                output='screen',
            )
            for spawner in stage
        ]
        actions += after_success(previous, spawners, f'bringing up {profile.name} in Gazebo')
        previous = spawners
    return actions + [spawn]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'arm', default_value='so101', description='arm profile name or path to its YAML'
            ),
            DeclareLaunchArgument(
                'namespace', default_value='', description='ROS namespace for this arm'
            ),
            DeclareLaunchArgument(
                'output',
                default_value='position',
                choices=list(OUTPUTS),
                description='the controller to activate: position (forward_position_controller)'
                ' or trajectory (arm_controller)',
            ),
            OpaqueFunction(function=_gazebo),
        ]
    )
