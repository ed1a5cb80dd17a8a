"""
The Gazebo side of the graph (robot_touch/gazebo.py).

Controllers, spawn order, names, description checks — against the upstream parameter definitions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from robot_touch import gazebo
from robot_touch.core.profile import load_profile
from robot_touch.paths import share_dir
import yaml

#: joint_trajectory_controller parameters, in both ros2_controllers jazzy and kilted
#: (joint_trajectory_controller/src/joint_trajectory_controller_parameters.yaml; top level).
#: state_publish_rate was removed in 3.x, open_loop_control is gone in kilted.
JTC_PARAMETERS = {
    'joints',
    'command_joints',
    'command_interfaces',
    'state_interfaces',
    'speed_scaling',
    'allow_partial_joints_goal',
    'interpolate_from_desired_state',
    'allow_integration_in_goal_trajectories',
    'set_last_command_interface_value_as_state_on_activation',
    'action_monitor_rate',
    'interpolation_method',
    'allow_nonzero_velocity_at_trajectory_end',
    'cmd_timeout',
    'gains',
    'constraints',
}
JTC_CONSTRAINTS = {'stopped_velocity_tolerance', 'goal_time', 'decelerate_on_cancel'}
#: forward_command_controller/ForwardCommandController
#: (forward_command_controller/src/forward_command_controller_parameters.yaml).
FORWARD_PARAMETERS = {'joints', 'interface_name'}


def test_broadcaster_first_without_param_file_then_the_output_controller_active(so101) -> None:
    stages = gazebo.spawn_stages('position')
    assert [[s.controllers for s in stage] for stage in stages] == [
        [('joint_state_broadcaster',)],
        [('forward_position_controller',), ('arm_controller',)],
    ]
    (jsb,), (active, standby) = stages
    assert jsb.arguments('/c.yaml') == ['joint_state_broadcaster']
    assert active.arguments('/c.yaml') == [
        'forward_position_controller',
        '--param-file',
        '/c.yaml',
    ]
    assert standby.arguments('/c.yaml') == [
        'arm_controller',
        '--param-file',
        '/c.yaml',
        '--inactive',
    ]
    _, (active, standby) = gazebo.spawn_stages('trajectory')
    assert active.controllers == ('arm_controller',) and not active.inactive
    assert standby.controllers == ('forward_position_controller',) and standby.inactive
    with pytest.raises(ValueError, match='output must be one of position, trajectory'):
        gazebo.spawn_stages('velocity')


def test_entity_and_namespace_names() -> None:
    assert gazebo.entity_name('so101') == 'so101'
    assert gazebo.entity_name('so101', '/cell/arm1/') == 'cell_arm1_so101'
    assert gazebo.ros_namespace('') == '/' and gazebo.ros_namespace('arm1/') == '/arm1'


@pytest.mark.parametrize('arm', ['so101', 'open_manipulator_x', 'servo6'])
def test_controllers_use_only_upstream_parameters_and_stream(arm: str) -> None:
    config = gazebo.controllers_config(load_profile(arm))
    trajectory = config['/**/arm_controller']['ros__parameters']
    assert set(trajectory) <= JTC_PARAMETERS
    assert set(trajectory['constraints']) <= JTC_CONSTRAINTS
    # Teleop's one-point messages end at the current velocity; without this JTC refuses them.
    assert trajectory['allow_nonzero_velocity_at_trajectory_end'] is True
    # cmd_timeout only counts when above the goal_time tolerance (0 unless set).
    assert trajectory['cmd_timeout'] > trajectory['constraints'].get('goal_time', 0.0)
    assert set(config['/**/forward_position_controller']['ros__parameters']) <= FORWARD_PARAMETERS


def test_a_shipped_profile_uses_its_shipped_controllers_file(so101) -> None:
    assert gazebo.controllers_file(so101) == share_dir() / 'config' / 'controllers' / 'so101.yaml'


def test_a_profile_of_ones_own_gets_its_controllers_generated(tmp_path: Path, monkeypatch) -> None:
    """
    Check that a profile at a path of its own gets controllers generated, not a shipped file.

    Before, arm:=/path/my_arm.yaml pointed gz_ros2_control at
    config/controllers/my_arm.yaml, which does not exist. A profile at another path that
    borrows a shipped name does not get the shipped file either.
    """
    monkeypatch.setenv('ROBOT_TOUCH_DATA', str(tmp_path / 'data'))
    data = yaml.safe_load((share_dir() / 'config' / 'arms' / 'so101.yaml').read_text())
    for name in ('my_arm', 'so101'):
        data.update(name=name, urdf=str(share_dir() / 'urdf' / 'so101.urdf.xacro'))
        path = tmp_path / name / 'arm.yaml'
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(data))
        profile = load_profile(path)
        written = gazebo.controllers_file(profile)
        assert written == tmp_path / 'data' / 'controllers' / f'{name}.yaml'
        assert yaml.safe_load(written.read_text()) == gazebo.controllers_config(profile)


def test_description_checks_name_what_gz_ros2_control_would_miss(so101) -> None:
    good = so101.urdf_xml(hardware='gazebo', namespace='arm1', controllers='/c.yaml')
    gazebo.check_description(good, 'arm1', '/c.yaml')
    gazebo.check_description(good, '/arm1/', '/c.yaml')
    with pytest.raises(
        ValueError, match=r'controller manager would be in /arm1, the spawners look in /:'
    ):
        gazebo.check_description(good, '', '/c.yaml')
    with pytest.raises(ValueError, match='loads /c.yaml, the spawners /other.yaml'):
        gazebo.check_description(good, 'arm1', '/other.yaml')
    with pytest.raises(ValueError, match='exactly one gz_ros2_control-system plugin'):
        gazebo.check_description(so101.urdf_xml(hardware='mock'), '', '/c.yaml')
