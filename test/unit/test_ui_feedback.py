"""
What the UI tells about outcomes.

A demo step that misses its target fails the demo, a refused service call is shown with its reason.
"""

from __future__ import annotations

from robot_touch.ui.feedback import (
    answer_text,
    HOME_TOLERANCE_RAD,
    judge_home,
    judge_step,
    TOLERANCE_MM,
)


def test_a_step_that_ends_far_from_its_target_fails() -> None:
    """The issue's run: "moved 0 mm, 67.1 mm from the target" was reported and exited 0."""
    assert (
        judge_step('top-view drag', 67.1)
        == 'top-view drag: the tip ended 67.1 mm from the target (tolerance 10 mm)'
    )
    assert judge_step('top-view drag', 0.4) is None
    assert judge_step('Home', None) is None  # no Cartesian target to miss
    assert (
        judge_step('top-view drag', None, needs_target=True)
        == 'top-view drag: the gesture set no target'
    )
    assert TOLERANCE_MM == 10.0


def test_home_fails_when_a_joint_is_not_home() -> None:
    home = {'a': 0.0, 'b': 1.0}
    assert judge_home({'a': 0.01, 'b': 0.99}, home) is None
    assert (
        judge_home({'a': 0.01, 'b': 0.8}, home)
        == f'Home: b ended 0.200 rad from home (tolerance {HOME_TOLERANCE_RAD:g} rad)'
    )


def test_a_refused_call_is_shown_with_its_reason() -> None:
    assert (
        answer_text('/arm1/teleop/home', False, 'not homing: e-stop latched')
        == 'Home refused: not homing: e-stop latched'
    )
    assert answer_text('/teleop/set_parameters', False, '') == 'Speed refused: no reason given'
    assert answer_text('/teleop/home', True, 'moving to home') is None


def test_a_refused_free_drive_says_refused_once() -> None:
    reason = 'e-stop latched: release it first'
    assert (
        answer_text('/teleop/free_drive', False, f'free drive refused: {reason}')
        == f'Free drive refused: {reason}'
    )
