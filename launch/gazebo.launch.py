"""Gazebo (gz sim) with an arm profile under gz_ros2_control.

    ros2 launch robot_touch gazebo.launch.py arm:=so101

Starts gz sim with an empty world, publishes robot_description (xacro with hardware:=gazebo,
which adds the gz_ros2_control-system plugin pointing at config/controllers/<arm>.yaml),
spawns the model, bridges /clock and spawns joint_state_broadcaster and
forward_position_controller (active: arm joints then gripper, the teleop node's default
stream) and arm_controller + gripper_controller (loaded inactive; switch with
`ros2 control switch_controllers` and set the teleop output to trajectory). The teleop
node's output topics are exactly these controllers' topics, so bringup.launch.py
backend:=gazebo adds only teleop and the UI.
Needs a ROS 2 install with ros_gz_sim, gz_ros2_control and ros2_controllers.
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


def _gazebo(context, *args, **kwargs):
    arm = LaunchConfiguration("arm").perform(context)
    namespace = LaunchConfiguration("namespace").perform(context) or None
    profile = load_profile(arm)
    share = get_package_share_directory("robot_touch")
    controllers = os.path.join(share, "config", "controllers", f"{profile.name}.yaml")
    description = profile.urdf_xml(hardware="gazebo")
    gz_sim = os.path.join(get_package_share_directory("ros_gz_sim"), "launch", "gz_sim.launch.py")
    spawner = lambda name, *extra: Node(  # noqa: E731
        package="controller_manager",
        executable="spawner",
        namespace=namespace,
        arguments=[name, "--param-file", controllers, *extra],
        output="screen",
    )
    return [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(gz_sim), launch_arguments={"gz_args": "-r -v 2 empty.sdf"}.items()
        ),
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            namespace=namespace,
            parameters=[{"robot_description": description, "use_sim_time": True}],
            output="screen",
        ),
        Node(
            package="ros_gz_sim",
            executable="create",
            namespace=namespace,
            arguments=["-topic", "robot_description", "-name", profile.name, "-z", "0.0"],
            output="screen",
        ),
        Node(
            package="ros_gz_bridge",
            executable="parameter_bridge",
            arguments=["/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock"],
            output="screen",
        ),
        spawner("joint_state_broadcaster"),
        spawner("forward_position_controller"),
        spawner("arm_controller", "--inactive"),
        spawner("gripper_controller", "--inactive"),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("arm", default_value="so101", description="arm profile name or path to its YAML"),
            DeclareLaunchArgument("namespace", default_value="", description="ROS namespace for this arm"),
            OpaqueFunction(function=_gazebo),
        ]
    )
