"""Teleop's start-up decisions, without ROS: output, command joints, step warning, commanders."""

from __future__ import annotations

import dataclasses

import pytest
from robot_touch.core.profile import load_profile
from robot_touch.core.teleop_config import TeleopConfig
from robot_touch.core.teleop_startup import (
    check_output,
    command_joint_names,
    commanders_refusal,
    max_joint_step_warning,
    ONE_COMMANDER,
    other_commanders,
    second_teleop_refusal,
)
from robot_touch.ownership import GraphSnapshot


@pytest.fixture(scope='module')
def so101():
    """Provide the SO-101 profile (five arm joints up to 4 rad/s, and a gripper)."""
    return load_profile('so101')


def test_the_two_outputs_are_accepted_and_anything_else_is_one_clear_error() -> None:
    assert check_output('position') == 'position'
    assert check_output('trajectory') == 'trajectory'
    with pytest.raises(ValueError) as err:
        check_output('velocity')
    # what the user sees (as the node's one error line)
    assert str(err.value) == (
        "parameter output must be one of position, trajectory, got 'velocity'"
    )


def test_the_command_carries_the_arm_joints_then_the_gripper_only_when_included(so101) -> None:
    arm = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll']
    assert command_joint_names(so101, include_gripper=True) == arm + ['gripper']
    assert command_joint_names(so101, include_gripper=False) == arm
    no_gripper = dataclasses.replace(so101, gripper=None)
    assert command_joint_names(no_gripper, include_gripper=True) == arm


def test_max_joint_step_below_one_full_speed_cycle_is_warned_about(so101) -> None:
    # fastest joint 4 rad/s: 0.04 rad per cycle at 100 Hz, 0.4 rad at 10 Hz
    assert max_joint_step_warning(so101, TeleopConfig(rate=100.0, max_joint_step=0.1)) is None
    assert max_joint_step_warning(so101, TeleopConfig(rate=100.0, max_joint_step=0.04)) is None
    warning = max_joint_step_warning(so101, TeleopConfig(rate=10.0, max_joint_step=0.1))
    assert warning == (
        'max_joint_step 0.1 rad is below one cycle at full speed (0.400 rad): '
        'fast moves will trip the output safety net'
    )
    # a slower velocity scale makes the same step enough
    slow = TeleopConfig(rate=10.0, max_joint_step=0.1, velocity_scale=0.25)
    assert max_joint_step_warning(so101, slow) is None


def test_a_publisher_on_either_command_topic_is_another_commander() -> None:
    snap = GraphSnapshot(
        '/arm1',
        publishers={
            'forward_position_controller/commands': ['/arm1/rig'],
            'arm_controller/joint_trajectory': ['/arm1/planner', '/arm1/rig'],
            'joint_states': ['/arm1/serial_bridge'],  # the hardware: not a commander
        },
        nodes=['rig', 'planner', 'serial_bridge', 'touch_ui'],
    )
    assert other_commanders(snap, '/arm1') == ['/arm1/planner', '/arm1/rig']


def test_a_teleop_node_counts_before_its_publisher_is_discovered() -> None:
    snap = GraphSnapshot('/arm1', publishers={}, nodes=['teleop', 'touch_ui'])
    assert other_commanders(snap, '/arm1') == ['/arm1/teleop']
    assert other_commanders(snap, '/') == ['/teleop']  # the root namespace
    assert other_commanders(GraphSnapshot('/', nodes=['touch_ui']), '/') == []


def test_the_refusals_name_who_and_how_to_get_out_of_the_way() -> None:
    assert second_teleop_refusal('/arm1', '112') == (
        f'another teleop already commands this arm (ROS_DOMAIN_ID 112, namespace /arm1): '
        f'{ONE_COMMANDER}'
    )
    assert commanders_refusal(['/rig', '/teleop'], '/') == (
        f'/rig, /teleop already commands this arm (/forward_position_controller/commands): '
        f'{ONE_COMMANDER}'
    )
    assert 'another namespace or ROS_DOMAIN_ID' in ONE_COMMANDER
