"""
Bring up robot_touch on a ROS 2 install.

    ros2 launch robot_touch bringup.launch.py arm:=so101 backend:=virtual ui:=true
    ros2 launch robot_touch bringup.launch.py backend:=serial port:=/dev/ttyUSB0
    ros2 launch robot_touch bringup.launch.py backend:=sim namespace:=arm1
    ros2 launch robot_touch bringup.launch.py backend:=gazebo output:=trajectory
    ros2 launch robot_touch bringup.launch.py network:=lan   # reachable from the network (no auth)
    ros2 launch robot_touch bringup.launch.py remote:=true remote_port:=9090   # tablets

The node list comes from robot_touch.graph.describe(), the same description that
`robot-touch run` uses, so both launchers always start the same graph. Every executable is
resolved in the package (install/robot_touch/lib/robot_touch after `colcon build`), never on
PATH. Every process of the graph is required: when one exits the launch ends, with code 1 if
it failed or could not be started.
backend:=gazebo starts Gazebo through gazebo.launch.py plus teleop and the UI.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    SetEnvironmentVariable,
    UnsetEnvironmentVariable,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import ExecutableInPackage
from robot_touch.graph import (
    BACKENDS,
    check_rmw,
    dds_environment,
    describe,
    GraphConfig,
    LAN_WARNING,
    NETWORKS,
    OUTPUTS,
    PACKAGE,
)
from robot_touch.launch_actions import required


def _truthy(text: str) -> bool:
    return text.strip().lower() in ('1', 'true', 'yes', 'on')


def _graph(context, *args, **kwargs):
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    config = GraphConfig(
        arm=value('arm'),
        backend=value('backend'),
        port=value('port'),
        ui=_truthy(value('ui')),
        namespace=value('namespace'),
        control_rate=float(value('control_rate')),
        output=value('output'),
        network=value('network'),
        remote=_truthy(value('remote')),
        remote_port=int(value('remote_port')),
        remote_bind=value('remote_bind'),
        remote_insecure=_truthy(value('remote_insecure')),
    )
    check_rmw(config.network)
    share = get_package_share_directory(PACKAGE)
    # Who can reach the graph, before any process starts (robot_touch.graph.dds_environment).
    environment = dds_environment(config.network, share)
    actions = [
        UnsetEnvironmentVariable(key) if setting is None else SetEnvironmentVariable(key, setting)
        for key, setting in environment.items()
    ]
    if config.network == 'lan':
        actions.append(LogInfo(msg=f'WARNING: {LAN_WARNING}'))
    if config.backend == 'gazebo':
        actions.append(
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'gazebo.launch.py')),
                launch_arguments={
                    'arm': config.arm,
                    'namespace': config.namespace,
                    'output': config.output,
                }.items(),
            )
        )
    for spec in describe(config):
        if spec.ros_node:
            action = Node(
                package=PACKAGE,
                executable=spec.executable,
                name=spec.name,
                namespace=config.namespace or None,
                parameters=[spec.parameters],
                output='screen',
                emulate_tty=True,
            )
        else:
            action = ExecuteProcess(
                cmd=[ExecutableInPackage(spec.executable, PACKAGE), *spec.arguments],
                name=spec.name,
                output='screen',
            )
        # Handlers first: the one for a failed start must exist before the action runs.
        if spec.required:
            actions += required(action, spec.name)
        actions.append(action)
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'arm', default_value='so101', description='arm profile name or path to its YAML'
            ),
            DeclareLaunchArgument(
                'backend',
                default_value='virtual',
                choices=list(BACKENDS),
                description='what moves: virtual arm on a pty, real serial arm, MuJoCo, or Gazebo',
            ),
            DeclareLaunchArgument(
                'port',
                default_value='',
                description='serial port URL for backend:=serial (e.g. /dev/ttyUSB0)',
            ),
            DeclareLaunchArgument('ui', default_value='true', description='start the touch UI'),
            DeclareLaunchArgument(
                'namespace',
                default_value='',
                description='ROS namespace for this arm (several arms on one network)',
            ),
            DeclareLaunchArgument(
                'control_rate',
                default_value='100.0',
                description='teleop and bridge cycle rate, Hz',
            ),
            DeclareLaunchArgument(
                'output',
                default_value='position',
                choices=list(OUTPUTS),
                description='what teleop publishes: position (forward_position_controller/'
                'commands) or trajectory (arm_controller/joint_trajectory); with '
                'backend:=gazebo the matching controller is the active one',
            ),
            DeclareLaunchArgument(
                'network',
                default_value='local',
                choices=list(NETWORKS),
                description='who reaches the graph over DDS: local (this host: loopback and '
                'shared memory) or lan (the network, without authentication)',
            ),
            DeclareLaunchArgument(
                'remote',
                default_value='false',
                description='start the secure gateway for tablets (rosbridge v2 over wss, token, '
                'allowlist, control lease; pair with `robot-touch pair`)',
            ),
            DeclareLaunchArgument('remote_port', default_value='9090', description='gateway port'),
            DeclareLaunchArgument(
                'remote_bind',
                default_value='::',
                description='address the gateway listens on (:: = all, IPv6 and IPv4)',
            ),
            DeclareLaunchArgument(
                'remote_insecure',
                default_value='false',
                description='plain ws:// without TLS (the gateway warns on every start)',
            ),
            OpaqueFunction(function=_graph),
        ]
    )
