"""The ROS half of `robot-touch run`'s status line: rates and the teleop code, as text."""

from __future__ import annotations

from robot_touch.run_monitor import GraphHealth


def test_nothing_seen_yet_says_so() -> None:
    assert (
        GraphHealth().summary(10.0)
        == 'no joint_states yet · commands 0 Hz · teleop: no status yet'
    )


def test_rates_count_the_last_window_only() -> None:
    h = GraphHealth(window=2.0)
    for i in range(400):  # 100 Hz for 4 s
        h.joint_states(i * 0.01)
    for i in range(100):  # 50 Hz for the first 2 s only
        h.command(i * 0.02)
    h.teleop_status('near_singularity')
    assert h.summary(4.0) == 'joint_states 100 Hz · commands 0 Hz · teleop near_singularity'


def test_e_stop_enable_and_bridge_errors_are_in_the_line() -> None:
    h = GraphHealth()
    h.teleop_status('estop', {'estop': 'true', 'enabled': 'false'})
    missing = 'port /dev/ttyUSB0 cannot be opened: ...; retrying every 0.2–2 s'
    h.hardware(2, missing, 1.0)
    assert h.summary(1.0) == (
        f'E-STOP latched · bridge ERROR: {missing} · no joint_states yet · commands 0 Hz · '
        'teleop estop, disabled'
    )
    h.hardware(0, 'following commands', 2.0)
    h.teleop_status('ok', {'estop': 'false', 'enabled': 'true'})
    assert h.summary(2.0) == 'no joint_states yet · commands 0 Hz · teleop ok, enabled'


def test_free_drive_says_which_joints_hang_loose() -> None:
    h = GraphHealth()
    values = {'estop': 'false', 'enabled': 'true', 'free_drive': 'elbow_flex,gripper'}
    h.teleop_status('free_drive', values)
    assert h.summary(1.0) == (
        'FREE DRIVE: elbow_flex, gripper released (torque off) · no joint_states yet · '
        'commands 0 Hz · teleop free_drive, enabled'
    )
