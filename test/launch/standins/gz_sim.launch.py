"""
Stand-in for ros_gz_sim's launch/gz_sim.launch.py.

The same launch arguments as the upstream file (Jazzy), starting the ``gz`` stand-in with gz_args
instead of Gazebo.
"""

import os
import shlex

from ament_index_python.packages import get_package_prefix
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration


def _gz(context):
    gz_args = LaunchConfiguration('gz_args').perform(context)
    shutdown = LaunchConfiguration('on_exit_shutdown').perform(context).lower() == 'true'
    gz = os.path.join(get_package_prefix('ros_gz_sim'), 'lib', 'ros_gz_sim', 'gz_standin')
    return [
        ExecuteProcess(
            cmd=[gz, 'sim', *shlex.split(gz_args)],
            name='gazebo',
            output='screen',
            on_exit=Shutdown() if shutdown else None,
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument('gz_args', default_value=''),
            DeclareLaunchArgument('gz_version', default_value='8'),
            DeclareLaunchArgument('ign_args', default_value=''),
            DeclareLaunchArgument('ign_version', default_value=''),
            DeclareLaunchArgument('debugger', default_value='false'),
            DeclareLaunchArgument('on_exit_shutdown', default_value='false'),
            OpaqueFunction(function=_gz),
        ]
    )
