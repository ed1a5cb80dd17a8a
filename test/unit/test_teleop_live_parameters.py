"""Teleop's live parameters: speed_override and free_drive_joints taken, the rest refused."""

from __future__ import annotations

import pytest
from robot_touch.core.profile import load_profile
from robot_touch.core.teleop_config import TeleopConfig
from robot_touch.core.teleop_core import TeleopCore
from robot_touch.core.teleop_live_parameters import LiveParameters
from robot_touch.core.teleop_status import FreeDrivePhase

ARM = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll']
ALL = ARM + ['gripper']


class FakeCore:
    """The two things LiveParameters asks of the core, recorded."""

    def __init__(self) -> None:
        self.phase = FreeDrivePhase.OFF
        self.released: list[str] = []
        self.overrides: list[float] = []

    def free_drive_state(self) -> tuple[FreeDrivePhase, list[str]]:
        return self.phase, list(self.released)

    def set_speed_override(self, value: float) -> None:
        self.overrides.append(value)


def test_free_drive_joints_default_to_every_commanded_joint() -> None:
    assert LiveParameters(FakeCore(), ALL, ALL, []).free_drive_joints == ALL
    assert LiveParameters(FakeCore(), ALL, ARM, []).free_drive_joints == ARM
    assert LiveParameters(FakeCore(), ALL, ALL, ['wrist_roll']).free_drive_joints == [
        'wrist_roll'
    ]


def test_an_unknown_start_up_joint_is_one_error_naming_the_joints() -> None:
    with pytest.raises(ValueError) as err:
        LiveParameters(FakeCore(), ALL, ALL, ['elbow'])
    assert "'elbow' not a joint of this arm" in str(err.value)
    assert 'shoulder_pan' in str(err.value)


def test_speed_override_is_checked_and_handed_to_the_core() -> None:
    core = FakeCore()
    live = LiveParameters(core, ALL, ALL, [])
    assert live.take('speed_override', 0.5) is None
    assert core.overrides == [0.5]
    refusal = live.take('speed_override', 3.0)
    assert refusal == 'speed_override must be within [0.05, 1.0], got 3.0'
    assert core.overrides == [0.5]  # the bad value never reached the core


def test_a_start_up_parameter_is_refused_with_how_to_change_it() -> None:
    core = FakeCore()
    live = LiveParameters(core, ALL, ALL, [])
    assert live.take('rate', 50.0) == 'rate is read at start-up; restart teleop to change it'


def test_free_drive_joints_change_only_while_free_drive_is_off() -> None:
    core = FakeCore()
    live = LiveParameters(core, ALL, ALL, [])
    assert live.take('free_drive_joints', ['wrist_flex', 'wrist_roll']) is None
    assert live.free_drive_joints == ['wrist_flex', 'wrist_roll']
    assert live.take('free_drive_joints', None) is None  # unset: every commanded joint again
    assert live.free_drive_joints == ALL
    core.phase, core.released = FreeDrivePhase.ON, ['wrist_roll']
    refusal = live.take('free_drive_joints', ['gripper'])
    assert refusal == 'free drive is on (wrist_roll): leave it before choosing other joints'
    assert live.free_drive_joints == ALL  # unchanged


def test_a_bad_free_drive_joint_list_is_refused_and_keeps_the_old_one() -> None:
    live = LiveParameters(FakeCore(), ALL, ALL, ['gripper'])
    refusal = live.take('free_drive_joints', ['gripper', 'gripper'])
    assert refusal == "free_drive_joints: a joint is listed twice in ['gripper', 'gripper']"
    assert live.free_drive_joints == ['gripper']


def test_a_refused_request_changes_nothing() -> None:
    """
    Check that one refused parameter refuses the whole request, and none of it is taken.

    rclpy keeps the old values of a refused request: the core must agree with them.
    """
    core = FakeCore()
    live = LiveParameters(core, ALL, ALL, [])
    refusal = live.take_all(
        [('speed_override', 0.4), ('free_drive_joints', ['gripper']), ('rate', 10.0)]
    )
    assert refusal == 'rate is read at start-up; restart teleop to change it'
    assert core.overrides == [] and live.free_drive_joints == ALL
    assert live.take_all([('speed_override', 0.3), ('free_drive_joints', ['gripper'])]) is None
    assert core.overrides == [0.3] and live.free_drive_joints == ['gripper']
    assert live.take_all([]) is None


def test_the_real_core_takes_the_override() -> None:
    core = TeleopCore(load_profile('so101'), TeleopConfig())
    live = LiveParameters(core, ALL, ALL, [])
    assert live.take('speed_override', 0.25) is None
    assert core.speed_override == pytest.approx(0.25)
    assert live.take('free_drive_joints', ['gripper']) is None
