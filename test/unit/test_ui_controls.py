"""The UI offers what the arm has: no "Twist: wrist roll" on an arm without wrist roll."""

from __future__ import annotations

from robot_touch.core.profile import load_profile
from robot_touch.ui.controls import can_roll, gesture_hint, offered_gestures


def test_so101_has_wrist_roll_the_open_manipulator_has_not() -> None:
    assert can_roll(load_profile('so101')) and can_roll(load_profile('servo6'))
    omx = load_profile('open_manipulator_x')
    assert not can_roll(omx)
    assert offered_gestures(omx) == ['drag', 'double_tap', 'pinch', 'long_press']
    assert 'Twist' not in gesture_hint(omx)
    assert 'Twist: wrist roll' in gesture_hint(load_profile('so101'))
