"""
backend:=gazebo from a colcon install, run by the upstream ROS 2 launch with stand-ins.

The stand-ins replace gz sim, ros_gz_sim create, ros_gz_bridge, robot_state_publisher and the
controller spawners (conftest.py). What each stand-in received is checked against the
upstream contracts:

* gz_ros2_control (Jazzy ``gz_ros2_control_plugin.cpp``): its controller manager runs in the
  plugin's ``<ros><namespace>`` with the plugin's ``<parameters>`` file and waits for
  ``robot_description`` there; so the spawners must look in that namespace and load that file.
* ros2_control's component parser (Jazzy ``component_parser.cpp``): every ``<ros2_control>``
  joint is a non-fixed URDF joint; a URDF mimic joint has no command interface and the joint
  it mimics is in the block; gz_ros2_control moves only the mimic joints listed there.
* controller types come from packages in package.xml; each controller's joints are
  ``<ros2_control>`` joints with the command interface it uses.
* ros_gz_sim ``create -topic`` reads the description (transient local) in its namespace;
  the /clock bridge feeds use_sim_time.

Gazebo itself and ros2_control are not installable here: nothing is simulated or spawned.
"""

from __future__ import annotations

from pathlib import Path
import re
import time
import xml.etree.ElementTree as ET

import pytest
from support.launch_ros import ros_node
from support.waiting import wait_until
import yaml

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
#: Plugin types → the package that provides them (ros2_controllers, Jazzy/Kilted).
CONTROLLER_PACKAGES = {
    'joint_state_broadcaster/JointStateBroadcaster': 'joint_state_broadcaster',
    'forward_command_controller/ForwardCommandController': 'forward_command_controller',
    'joint_trajectory_controller/JointTrajectoryController': 'joint_trajectory_controller',
}
#: ros_gz_bridge parameter_bridge: topic@ROS type, then [ (gz→ROS), ] (ROS→gz) or @ (both).
BRIDGE_SPEC = re.compile(r'^(/?[\w/]+)@([\w/]+)([\[\]@])([\w.]+)$')


def _exec_depends() -> set[str]:
    root = ET.parse(REPO / 'package.xml').getroot()
    return {e.text for e in root if e.tag in ('depend', 'exec_depend')}


def _spawners_done(records: list[dict]) -> bool:
    spawners = [r for r in records if r['tool'] == 'spawner']
    return len(spawners) >= 3 and all(r['exited'] for r in spawners)


def _ros2_control_contract(description: ET.Element) -> dict[str, set[str]]:
    """
    Check the <ros2_control> block as ros2_control's parser would.

    Returns joint → command interfaces.
    """
    urdf = {j.get('name'): j for j in description.findall('joint')}
    block = description.find('ros2_control')
    commands: dict[str, set[str]] = {}
    for joint in block.findall('joint'):
        name = joint.get('name')
        assert name in urdf and urdf[name].get('type') != 'fixed', name
        commands[name] = {c.get('name') for c in joint.findall('command_interface')}
    for name, joint in urdf.items():
        mimic = joint.find('mimic')
        if mimic is None:
            continue
        # gz_ros2_control drives a mimic joint only if the block lists it; DART has no mimic.
        assert name in commands, f'mimic joint {name} is not in <ros2_control>'
        assert commands[name] == set(), f'mimic joint {name} has command interfaces'
        assert mimic.get('joint') in commands
    return commands


def jtc_rejection(msg, params: dict) -> str | None:
    """
    Why joint_trajectory_controller would refuse ``msg`` on its topic, or None.

    The checks of ``JointTrajectoryController::validate_trajectory_msg`` (ros2_controllers
    Jazzy/Kilted joint_trajectory_controller.cpp), restated.
    """
    names = list(msg.joint_names)
    if not params.get('allow_partial_joints_goal', False) and len(names) != len(params['joints']):
        return "Joints on incoming trajectory don't match the controller joints."
    if not names or not msg.points:
        return 'empty joint names or points'
    for name in names:
        if name not in params['joints']:
            return f"Incoming joint {name} doesn't match the controller's joints."
    if not params.get('allow_nonzero_velocity_at_trajectory_end', False):
        if any(abs(v) > 1.1920929e-07 for v in msg.points[-1].velocities):
            return 'Velocity of last trajectory point is not zero'
    times = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points]
    if any(b <= a for a, b in zip(times, times[1:])):
        return 'time_from_start not strictly increasing'
    for point in msg.points:
        if len(point.positions) != len(names) or len(point.velocities) not in (0, len(names)):
            return 'point field size does not match joint_names'
    return None


def _teleop_command(namespace: str, output: str, joints: dict[str, float], timeout: float):
    """
    Play joint_state_broadcaster and return the first command teleop sends to the controller.

    ``joints`` are published at rest on ``joint_states``; the command is the one teleop sends to
    the active controller (None within ``timeout``).
    """
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from trajectory_msgs.msg import JointTrajectory

    ns = f'/{namespace}' if namespace else ''
    topic, kind = {
        'position': (f'{ns}/forward_position_controller/commands', Float64MultiArray),
        'trajectory': (f'{ns}/arm_controller/joint_trajectory', JointTrajectory),
    }[output]
    with ros_node('fake_joint_state_broadcaster') as node:
        box: list = []
        node.create_subscription(kind, topic, box.append, 10)
        states = node.create_publisher(JointState, f'{ns}/joint_states', 10)
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        end = time.monotonic() + timeout
        while not box and time.monotonic() < end and rclpy.ok(context=node.context):
            msg = JointState(name=list(joints), position=list(joints.values()))
            msg.header.stamp = node.get_clock().now().to_msg()
            states.publish(msg)
            executor.spin_once(timeout_sec=0.05)
        executor.remove_node(node)
        return box[0] if box else None


@pytest.mark.parametrize(
    ('arm', 'namespace', 'output'),
    [('so101', '', 'position'), ('open_manipulator_x', 'arm1', 'trajectory')],
    ids=['so101', 'omx-ns-trajectory'],
)
def test_gazebo_backend_gives_every_tool_what_its_contract_needs(
    start_launch, arm: str, namespace: str, output: str
) -> None:
    args = [f'arm:={arm}', 'backend:=gazebo', 'ui:=false', f'output:={output}']
    launch = start_launch(
        'bringup.launch.py', *args + ([f'namespace:={namespace}'] if namespace else [])
    )
    records = launch.wait_for_records(_spawners_done, TIMEOUT, 'the three spawners')
    ns = f'/{namespace}' if namespace else ''
    by_tool = {
        tool: [r for r in records if r['tool'] == tool]
        for tool in ('gz', 'robot_state_publisher', 'create', 'parameter_bridge', 'spawner')
    }
    assert all(len(v) == (3 if k == 'spawner' else 1) for k, v in by_tool.items()), {
        k: len(v) for k, v in by_tool.items()
    }
    (gz,), (rsp,), (create,), (bridge,) = (
        by_tool[t] for t in ('gz', 'robot_state_publisher', 'create', 'parameter_bridge')
    )

    assert gz['args'] == ['sim', '-r', '-v', '2', 'empty.sdf']

    # robot_state_publisher: in the arm's namespace, on simulation time, with the description.
    assert rsp['node'] == f'{ns}/robot_state_publisher'
    assert rsp['topic'] == f'{ns}/robot_description'
    assert rsp['use_sim_time'] is True
    description = ET.fromstring(rsp['robot_description'])
    assert description.get('name') == arm
    (plugin,) = [
        p for p in description.iter('plugin') if p.get('filename') == 'gz_ros2_control-system'
    ]
    controllers_path = Path(plugin.findtext('parameters'))
    assert controllers_path.is_absolute() and controllers_path.is_file()
    plugin_ns = '/' + (plugin.findtext('ros/namespace') or '').strip('/')
    assert plugin_ns == (ns or '/')
    commands = _ros2_control_contract(description)

    # create: read the same description from the topic in its namespace; a unique name.
    assert create['exit_code'] == 0, launch.tail()
    assert create['topic'] == f'{ns}/robot_description'
    assert create['xml'] == rsp['robot_description']
    assert create['flags']['name'] == (f'{namespace}_{arm}' if namespace else arm)

    # /clock from Gazebo, for every use_sim_time node.
    (spec,) = bridge['args']
    match = BRIDGE_SPEC.match(spec)
    assert match and match.groups() == ('/clock', 'rosgraph_msgs/msg/Clock', '[', 'gz.msgs.Clock')

    # Spawners: after the model exists, broadcaster first, in the plugin's namespace.
    jsb, *controllers = by_tool['spawner']
    assert jsb['controllers'] == ['joint_state_broadcaster'] and jsb['param_files'] == []
    assert jsb['started'] >= create['exited']
    active_name = {'position': 'forward_position_controller', 'trajectory': 'arm_controller'}[
        output
    ]
    (active,) = [s for s in controllers if not s['inactive']]
    (standby,) = [s for s in controllers if s['inactive']]
    assert active['controllers'] == [active_name]
    assert set(standby['controllers']) == {'forward_position_controller', 'arm_controller'} - {
        active_name
    }
    for spawner in by_tool['spawner']:
        assert spawner['exit_code'] == 0
        assert spawner['controller_manager'] == f'{plugin_ns.rstrip("/")}/controller_manager'
    for spawner in controllers:
        assert spawner['started'] >= jsb['exited']
        assert spawner['param_files'] == [str(controllers_path)]

    # The controllers file: types from packages we depend on, joints with their interfaces.
    config = yaml.safe_load(controllers_path.read_text())
    manager = config['/**/controller_manager']['ros__parameters']
    for spawner in by_tool['spawner']:
        for name in spawner['controllers']:
            kind = manager[name]['type']
            assert CONTROLLER_PACKAGES[kind] in _exec_depends(), kind
    forward = config['/**/forward_position_controller']['ros__parameters']
    trajectory = config['/**/arm_controller']['ros__parameters']
    for joint in forward['joints']:
        assert forward['interface_name'] in commands[joint]
    for joint in trajectory['joints']:
        assert set(trajectory['command_interfaces']) <= commands[joint]

    # teleop publishes to the active controller, messages the controller accepts.
    assert wait_until(lambda: f'output {output}' in launch.output(), 60.0, 0.1), launch.tail()
    at_rest = {
        j.get('name'): float(j.findtext("state_interface/param[@name='initial_value']") or 0.0)
        for j in description.find('ros2_control').findall('joint')
    }
    command = _teleop_command(namespace, output, at_rest, 60.0)
    assert command is not None, f'teleop sent no {output} command:\n{launch.tail()}'
    if output == 'position':
        # ForwardCommandController refuses a command whose size is not its joint count.
        assert len(command.data) == len(forward['joints'])
    else:
        assert jtc_rejection(command, trajectory) is None, jtc_rejection(command, trajectory)

    # Ctrl-C stops everything, the stand-ins that stay up included.
    assert launch.interrupt(30.0) == 0, launch.tail()
    for record in launch.read_records():
        assert record['exited'], record['tool']


def test_a_custom_profile_gets_a_controllers_file_of_its_own(
    start_launch, launch_env, tmp_path: Path
) -> None:
    """
    arm:=/path/my_arm.yaml.

    Controllers are generated for the profile (there is no config/controllers/my_arm.yaml), and
    gz_ros2_control and the spawners get the same file.
    """
    share = Path(launch_env['AMENT_PREFIX_PATH'].split(':')[0]) / 'share' / 'robot_touch'
    profile = yaml.safe_load((share / 'config' / 'arms' / 'so101.yaml').read_text())
    profile.update(name='my_arm', urdf=str(share / 'urdf' / 'so101.urdf.xacro'))
    path = tmp_path / 'my_arm.yaml'
    path.write_text(yaml.safe_dump(profile))
    launch = start_launch('gazebo.launch.py', f'arm:={path}', 'namespace:=cell3')
    records = launch.wait_for_records(_spawners_done, TIMEOUT, 'the three spawners')
    (rsp,) = [r for r in records if r['tool'] == 'robot_state_publisher']
    (plugin,) = [
        p
        for p in ET.fromstring(rsp['robot_description']).iter('plugin')
        if p.get('filename') == 'gz_ros2_control-system'
    ]
    controllers_path = Path(plugin.findtext('parameters'))
    assert controllers_path == Path(launch_env['ROBOT_TOUCH_DATA']) / 'controllers' / 'my_arm.yaml'
    config = yaml.safe_load(controllers_path.read_text())
    assert config['/**/forward_position_controller']['ros__parameters']['joints'][-1] == 'gripper'
    for spawner in records:
        if spawner['tool'] == 'spawner' and spawner['param_files']:
            assert spawner['param_files'] == [str(controllers_path)]
            assert spawner['controller_manager'] == '/cell3/controller_manager'
    assert launch.interrupt(30.0) == 0, launch.tail()
