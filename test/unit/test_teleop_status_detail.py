"""
Teleop's status tells the truth.

Once joint_states arrive, an idle teleop no longer says it is waiting for them.
"""

from __future__ import annotations

from robot_touch.core.kinematics import ArmKinematics
from robot_touch.core.teleop_core import Code, TeleopConfig, TeleopCore


def test_idle_teleop_stops_saying_it_waits_once_joint_states_arrive(so101) -> None:
    core = TeleopCore(so101, TeleopConfig(rate=100.0), kinematics=ArmKinematics(so101))
    core.step(0.0)
    assert core.status().code == Code.NO_JOINT_STATES
    for i in range(1, 20):  # 0.2 s of joint_states at 100 Hz, no input: idle
        core.on_joint_states(so101.joint_names, so101.home, i * 0.01)
        core.step(i * 0.01)
    status = core.status()
    assert status.code == Code.OK
    assert 'waiting' not in status.detail
