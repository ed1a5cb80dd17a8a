"""
URDF/xacro of every shipped profile.

Expands for each hardware, agrees with the YAML and with the controller configuration.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
import xml.etree.ElementTree as ET

import pytest
from robot_touch.core.profile import ArmProfile, load_profile
from robot_touch.paths import share_dir
import yaml

ARMS = ['so101', 'open_manipulator_x', 'servo6']
HARDWARE = ['mock', 'gazebo']
CASES = [(a, h) for a in ARMS for h in HARDWARE]
CASE_IDS = [f'{a}-{h}' for a, h in CASES]
PLUGINS = {'mock': 'mock_components/GenericSystem', 'gazebo': 'gz_ros2_control/GazeboSimSystem'}


@lru_cache(maxsize=None)
def profile(name: str) -> ArmProfile:
    return load_profile(name)


@lru_cache(maxsize=None)
def expanded(name: str, hardware: str) -> ET.Element:
    return ET.fromstring(profile(name).urdf_xml(hardware=hardware))


@pytest.mark.parametrize('arm,hardware', CASES, ids=CASE_IDS)
def test_xacro_expands_with_the_right_hardware_plugin(arm: str, hardware: str) -> None:
    root = expanded(arm, hardware)
    assert root.tag == 'robot' and root.get('name') == arm
    plugins = [p.text for p in root.iter('plugin') if p.text and p.text.strip()]
    assert plugins == [PLUGINS[hardware]]
    gz = [p for p in root.iter('plugin') if p.get('filename') == 'gz_ros2_control-system']
    if hardware == 'gazebo':
        assert len(gz) == 1
        params = gz[0].find('parameters')
        assert params is not None and Path(params.text).is_file()
        assert Path(params.text).name == f'{arm}.yaml'
    else:
        assert gz == []


@pytest.mark.parametrize('arm,hardware', CASES, ids=CASE_IDS)
def test_ros2_control_block_lists_every_joint_with_the_yaml_limits(
    arm: str, hardware: str
) -> None:
    p = profile(arm)
    block = expanded(arm, hardware).find('ros2_control')
    assert block is not None
    joints = [j for j in block.findall('joint') if j.find('command_interface') is not None]
    assert [j.get('name') for j in joints] == [s.name for s in p.all_joints]
    for j, spec in zip(joints, p.all_joints):
        cmd = j.find('command_interface')
        assert cmd.get('name') == 'position'
        params = {e.get('name'): float(e.text) for e in cmd.findall('param')}
        assert params == pytest.approx({'min': spec.lower, 'max': spec.upper})
        assert [s.get('name') for s in j.findall('state_interface')] == ['position', 'velocity']


@pytest.mark.parametrize('arm,hardware', CASES, ids=CASE_IDS)
def test_ros2_control_block_follows_the_parser_rules_for_mimic_joints(
    arm: str, hardware: str
) -> None:
    """
    ros2_control's component parser (Jazzy component_parser.cpp).

    Each listed joint is a non-fixed URDF joint; a URDF mimic joint has no command interface and
    the joint it mimics is listed. gz_ros2_control moves a mimic joint only when it is listed (the
    OpenMANIPULATOR-X right jaw hung free in Gazebo before).
    """
    root = expanded(arm, hardware)
    urdf = {j.get('name'): j for j in root.findall('joint')}
    listed = {j.get('name'): j for j in root.find('ros2_control').findall('joint')}
    for name, joint in listed.items():
        assert name in urdf and urdf[name].get('type') != 'fixed', name
    mimics = {name: j.find('mimic') for name, j in urdf.items() if j.find('mimic') is not None}
    if arm == 'open_manipulator_x':
        assert set(mimics) == {'gripper_right_joint'}
    for name, mimic in mimics.items():
        assert name in listed, f'mimic joint {name} is not in <ros2_control>'
        assert listed[name].findall('command_interface') == []
        states = [s.get('name') for s in listed[name].findall('state_interface')]
        assert states == ['position', 'velocity']
        assert mimic.get('joint') in listed


@pytest.mark.parametrize('namespace', ['', 'arm1', '/cell/arm2/'])
def test_gazebo_plugin_puts_the_controller_manager_in_the_namespace(namespace: str) -> None:
    """
    Check that the gazebo plugin puts the controller manager in the arm's namespace.

    gz_ros2_control reads <ros><namespace> inside its <plugin> (Jazzy
    gz_ros2_control_plugin.cpp); none means /.
    """
    xml = profile('so101').urdf_xml(
        hardware='gazebo', namespace=namespace, controllers='/x/c.yaml'
    )
    root = ET.fromstring(xml)
    (plugin,) = [p for p in root.iter('plugin') if p.get('filename') == 'gz_ros2_control-system']
    assert plugin.findtext('parameters') == '/x/c.yaml'
    found = plugin.findtext('ros/namespace')
    assert found == ('/' + namespace.strip('/') if namespace else None)


def test_unknown_hardware_inside_xacro_is_one_clear_error() -> None:
    """
    Check that an unknown hardware inside the xacro is one clear error.

    The xacro itself refuses a hardware it has no plugin for (xacro.fatal; `<xacro:error>`
    is no xacro directive and failed with "unknown macro name").
    """
    import xacro

    with pytest.raises(xacro.XacroException, match='hardware must be mock or gazebo, got real'):
        xacro.process_file(str(profile('so101').urdf_path), mappings={'hardware': 'real'})


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_urdf_joint_limits_are_the_yaml_limits(arm: str) -> None:
    p = profile(arm)
    urdf = p.urdf_joints
    for spec in p.all_joints:
        u = urdf[spec.name]
        assert u['type'] == ('prismatic' if spec.prismatic else 'revolute')
        assert (u['lower'], u['upper'], u['velocity']) == pytest.approx(
            (spec.lower, spec.upper, spec.velocity)
        )


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_geometry_is_primitives_only(arm: str) -> None:
    root = expanded(arm, 'mock')
    assert list(root.iter('mesh')) == []
    for link in root.findall('link'):
        for tag in ('visual', 'collision'):
            for elem in link.findall(tag):
                shapes = [g.tag for g in elem.find('geometry')]
                assert shapes and set(shapes) <= {'box', 'cylinder', 'sphere'}, (
                    link.get('name'),
                    shapes,
                )


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_chain_from_base_to_tip_is_one_tree(arm: str) -> None:
    p = profile(arm)
    parent_of = {j['child']: j['parent'] for j in p.urdf_joints.values()}
    link = p.tip_link
    while link in parent_of and link != p.base_link:
        link = parent_of[link]
    assert link == p.base_link


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_controller_config_matches_the_profile(arm: str) -> None:
    from robot_touch.gazebo import controllers_config

    p = profile(arm)
    data = yaml.safe_load((share_dir() / 'config' / 'controllers' / f'{arm}.yaml').read_text())
    # The shipped file is what a profile of one's own gets generated.
    assert data == controllers_config(p)
    cm = data['/**/controller_manager']['ros__parameters']
    assert cm['update_rate'] > 0
    assert cm['joint_state_broadcaster']['type'] == 'joint_state_broadcaster/JointStateBroadcaster'
    # forward_command_controller is in package.xml; position_controllers is not.
    forward = 'forward_command_controller/ForwardCommandController'
    assert cm['forward_position_controller']['type'] == forward
    assert cm['arm_controller']['type'] == 'joint_trajectory_controller/JointTrajectoryController'
    assert set(cm) == {
        'update_rate',
        'joint_state_broadcaster',
        'forward_position_controller',
        'arm_controller',
    }
    # Both carry what teleop streams (include_gripper: true): arm joints, then the gripper.
    streamed = p.joint_names + [p.gripper.name]
    fwd = data['/**/forward_position_controller']['ros__parameters']
    assert fwd['joints'] == streamed and fwd['interface_name'] == 'position'
    traj = data['/**/arm_controller']['ros__parameters']
    assert traj['joints'] == streamed
    assert traj['command_interfaces'] == ['position']
    assert traj['state_interfaces'] == ['position', 'velocity']


def test_unknown_hardware_is_refused_before_xacro_runs() -> None:
    with pytest.raises(ValueError, match='hardware must be one of'):
        profile('so101').urdf_xml(hardware='real')
