"""Bring up robot_touch on a ROS 2 install.

    ros2 launch robot_touch bringup.launch.py arm:=so101 backend:=virtual ui:=true
    ros2 launch robot_touch bringup.launch.py backend:=serial port:=/dev/ttyUSB0
    ros2 launch robot_touch bringup.launch.py backend:=sim namespace:=arm1
    ros2 launch robot_touch bringup.launch.py network:=lan   # reachable from the network (no auth)

The node list comes from robot_touch.graph.describe(), the same description that
`robot-touch run` uses, so both launchers always start the same graph.
backend:=gazebo starts Gazebo through gazebo.launch.py plus teleop and the UI.
"""
from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
    UnsetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robot_touch.graph import BACKENDS, GraphConfig, describe
from robot_touch.graph import LAN_WARNING, NETWORKS, check_rmw, dds_environment


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _graph(context, *args, **kwargs):
    value = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    config = GraphConfig(
        arm=value("arm"),
        backend=value("backend"),
        port=value("port"),
        ui=_truthy(value("ui")),
        namespace=value("namespace"),
        control_rate=float(value("control_rate")),
        network=value("network"),
    )
    check_rmw(config.network)
    # Who can reach the graph, before any process starts (robot_touch.graph.dds_environment).
    environment = dds_environment(config.network, get_package_share_directory("robot_touch"))
    actions = [
        UnsetEnvironmentVariable(key) if setting is None else SetEnvironmentVariable(key, setting)
        for key, setting in environment.items()
    ]
    if config.network == "lan":
        actions.append(LogInfo(msg=f"WARNING: {LAN_WARNING}"))
    if config.backend == "gazebo":
        share = get_package_share_directory("robot_touch")
        actions.append(
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(os.path.join(share, "launch", "gazebo.launch.py")),
                launch_arguments={"arm": config.arm, "namespace": config.namespace}.items(),
            )
        )
    for spec in describe(config):
        if spec.ros_node:
            action = Node(
                package="robot_touch",
                executable=spec.executable,
                name=spec.name,
                namespace=config.namespace or None,
                parameters=[spec.parameters],
                output="screen",
                emulate_tty=True,
            )
        else:
            action = ExecuteProcess(cmd=[spec.executable, *spec.arguments], name=spec.name, output="screen")
        actions.append(action)
        if spec.required:
            # A required process that exits takes the whole graph down, as `robot-touch run` does.
            actions.append(
                RegisterEventHandler(
                    OnProcessExit(
                        target_action=action,
                        on_exit=[EmitEvent(event=Shutdown(reason=f"{spec.name} exited"))],
                    )
                )
            )
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("arm", default_value="so101", description="arm profile name or path to its YAML"),
            DeclareLaunchArgument(
                "backend", default_value="virtual", choices=list(BACKENDS), description="what moves: virtual arm on a pty, real serial arm, MuJoCo, or Gazebo"
            ),
            DeclareLaunchArgument("port", default_value="", description="serial port URL for backend:=serial (e.g. /dev/ttyUSB0)"),
            DeclareLaunchArgument("ui", default_value="true", description="start the touch UI"),
            DeclareLaunchArgument("namespace", default_value="", description="ROS namespace for this arm (several arms on one network)"),
            DeclareLaunchArgument("control_rate", default_value="100.0", description="teleop and bridge cycle rate, Hz"),
            DeclareLaunchArgument(
                "network", default_value="local", choices=list(NETWORKS),
                description="who reaches the graph over DDS: local (this host: loopback and "
                "shared memory) or lan (the network, without authentication)",
            ),
            OpaqueFunction(function=_graph),
        ]
    )
