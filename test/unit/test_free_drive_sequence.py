"""
Free drive without ROS.

The teleop core and the sequence of robot_touch.core.free_drive against a hardware stand-in whose
released joints a "hand" moves: braking to rest first, silence while released, re-latching to the
measured joints afterwards (no jump, no drift back to the old setpoint), refusals, and the e-stop
policies.
"""

from __future__ import annotations

import numpy as np
import pytest
from robot_touch.core.free_drive import FreeDrive, resolve_joints
from robot_touch.core.teleop_core import Code, TeleopConfig, TeleopCore

DT = 0.01
START = [0.0, 0.3, 0.3, 0.0, 0.0]


class Hardware:
    """
    An arm that follows teleop's commands while it holds torque, moved by hand while released.

    An arm that follows teleop's commands while it holds torque, and a hand that moves it
    while released; its torque switched per joint like the bridge's torque/<joint>.
    """

    def __init__(self, core: TeleopCore, refuse: dict[str, str] | None = None) -> None:
        self.core = core
        self.names = core.names + [core.gripper_spec.name]
        self.true = dict(zip(self.names, START + [0.0]))
        self.torque = dict.fromkeys(self.names, True)
        self.refuse = refuse or {}
        self.missing_services: str | None = None
        self.calls: list[tuple[tuple[str, ...], bool]] = []
        self.commands: list[list[float]] = []
        self.t = 0.0

    # the TorqueSwitch
    def missing(self, joints):
        return self.missing_services

    def switch(self, joints, on):
        self.calls.append((tuple(joints), on))
        out = []
        for j in joints:
            if j in self.refuse:
                out.append((j, False, self.refuse[j]))
            else:
                self.torque[j] = on
                out.append((j, True, 'ok'))
        return out

    def cycle(self, n: int = 1) -> None:
        for _ in range(n):
            self.t += DT
            self.core.on_joint_states(self.names, [self.true[n] for n in self.names], self.t)
            cmd = self.core.step(self.t, DT)
            if cmd is not None:
                self.commands.append(cmd.as_list())
                for name, value in zip(self.names, cmd.as_list()):
                    if self.torque[name]:
                        self.true[name] = value

    def hand(self, joint: str, value: float) -> None:
        assert not self.torque[joint], f'{joint} holds torque: a hand cannot move it'
        self.true[joint] = value


def make(so101, kin, policy='hold', **hardware):
    core = TeleopCore(so101, TeleopConfig(rate=1 / DT), kinematics=kin)
    hw = Hardware(core, **hardware)
    hw.cycle(2)
    fd = FreeDrive(core, hw, estop_policy=policy, clock=lambda: hw.t, sleep=lambda _s: hw.cycle())
    return core, hw, fd


def test_free_drive_stops_first_goes_silent_and_leaves_exactly_where_the_hand_left_it(so101, kin):
    core, hw, fd = make(so101, kin)
    core.on_joint_target(['shoulder_pan'], [1.0])
    hw.cycle(30)  # moving toward 1.0 when free drive is asked for
    assert 0.05 < hw.true['shoulder_pan'] < 0.9
    ok, message = fd.enter(hw.names)
    assert ok and 'released (torque off)' in message and 'sags under gravity' in message
    assert not any(hw.torque.values())
    stop = np.array(hw.commands[-1])
    status = core.status()
    assert status.code == Code.FREE_DRIVE and status.values['free_drive'] == ','.join(hw.names)
    # braked to rest before the release: the last commands stood still
    assert np.allclose(hw.commands[-1], hw.commands[-2], atol=1e-9)
    sent = len(hw.commands)
    hw.hand('shoulder_pan', -0.6)
    hw.hand('elbow_flex', 1.1)
    hw.cycle(50)
    assert len(hw.commands) == sent, 'no command while the joints are released'
    assert core.on_joint_target(['wrist_flex'], [0.5]) == Code.FREE_DRIVE
    assert core.home()[0] is False
    ok, message = fd.leave()
    assert ok and 'holding where the arm is' in message
    hw.cycle(1)
    first = np.array(hw.commands[sent])
    measured = np.array([hw.true[n] for n in hw.names])
    np.testing.assert_allclose(first, measured, atol=1e-12)  # no jump, not the old setpoint
    assert not np.allclose(first[:5], stop[:5], atol=0.1)
    hw.cycle(100)
    np.testing.assert_allclose(hw.commands[-1], measured, atol=1e-12)  # no drift back
    assert core.status().code == Code.OK


def test_torque_back_on_latches_only_to_joint_states_measured_after_it(so101, kin):
    core, hw, fd = make(so101, kin)
    fd.enter(['elbow_flex'])
    hw.hand('elbow_flex', 0.9)
    stale_reading = [hw.true[n] for n in hw.names]
    hw.cycle(5)
    t_before = hw.t
    fd.leave()
    # a message measured before the torque came back must not be latched to
    core.on_joint_states(hw.names, stale_reading[:2] + [0.3] + stale_reading[3:], t_before)
    assert core.step(t_before + 0.001, DT) is None
    hw.cycle(1)
    assert hw.commands[-1][2] == pytest.approx(0.9)


def test_gripper_alone_while_the_arm_is_held(so101, kin):
    core, hw, fd = make(so101, kin)
    ok, _ = fd.enter(['gripper'])
    assert ok and hw.torque['gripper'] is False and hw.torque['shoulder_pan'] is True
    hw.hand('gripper', 0.8)
    sent = len(hw.commands)
    hw.cycle(10)
    assert len(hw.commands) == sent
    assert fd.leave()[0]
    hw.cycle(1)
    assert hw.commands[-1][-1] == pytest.approx(0.8)
    assert hw.commands[-1][:5] == pytest.approx(START)


@pytest.mark.parametrize(
    'setup, reason',
    [
        (lambda core, hw: core.set_estop(True), 'e-stop latched: release it first'),
        (
            lambda core, hw: setattr(hw, 'missing_services', 'no torque/gripper service'),
            'no torque/gripper service',
        ),
    ],
    ids=['estopped', 'hardware-without-torque-services'],
)
def test_refusals_say_why_and_change_nothing(so101, kin, setup, reason):
    core, hw, fd = make(so101, kin)
    setup(core, hw)
    ok, message = fd.enter(hw.names)
    assert not ok and message == f'free drive refused: {reason}'
    assert all(hw.torque.values()) and hw.calls == []
    assert core.free_drive_state() == ('off', [])


def test_refused_without_joint_states(so101, kin):
    core = TeleopCore(so101, TeleopConfig(rate=1 / DT), kinematics=kin)
    hw = Hardware(core)
    ok, message = FreeDrive(core, hw).enter(['gripper'])
    assert not ok and 'no joint_states' in message and hw.calls == []


def test_a_joint_the_hardware_cannot_release_rolls_the_others_back(so101, kin):
    reason = 'a released ssc32 servo reports no position'
    core, hw, fd = make(so101, kin, refuse={'elbow_flex': reason})
    ok, message = fd.enter(hw.names)
    assert not ok and message == f'free drive refused: elbow_flex: {reason}'
    assert all(hw.torque.values())
    assert hw.calls[-1][1] is True and 'elbow_flex' not in hw.calls[-1][0]
    hw.cycle(2)
    assert core.free_drive_state()[0] == 'off' and core.status().code != Code.FREE_DRIVE
    assert hw.commands[-1][:5] == pytest.approx(START, abs=1e-6)


def test_estop_in_free_drive_holds_where_the_arm_is_and_commands_nothing(so101, kin):
    core, hw, fd = make(so101, kin, policy='hold')
    fd.enter(hw.names)
    hw.hand('shoulder_lift', -0.2)
    hw.cycle(3)
    sent = len(hw.commands)
    core.set_estop(True)
    fd.estop_latched()
    assert all(hw.torque.values()) and core.free_drive_state()[0] == 'off'
    hw.cycle(20)
    assert len(hw.commands) == sent, 'no command (not even the old setpoint) while e-stopped'
    assert core.status().code == Code.ESTOP
    assert not fd.enter(hw.names)[0]  # e-stopped: refused
    core.set_estop(False)
    hw.cycle(2)
    assert hw.commands[-1][1] == pytest.approx(-0.2)  # re-latched where the hand left it


def test_estop_in_free_drive_with_the_release_policy_keeps_torque_off(so101, kin):
    core, hw, fd = make(so101, kin, policy='release')
    fd.enter(['wrist_flex'])
    core.set_estop(True)
    fd.estop_latched()
    assert hw.torque['wrist_flex'] is False and core.free_drive_state()[0] == 'on'
    hw.hand('wrist_flex', 0.4)
    assert fd.leave()[0]  # holding again is no motion: allowed while e-stopped
    sent = len(hw.commands)
    hw.cycle(5)
    assert len(hw.commands) == sent
    core.set_estop(False)
    hw.cycle(1)
    assert hw.commands[-1][3] == pytest.approx(0.4)


def test_torque_that_does_not_come_back_keeps_free_drive_and_says_so(so101, kin):
    core, hw, fd = make(so101, kin)
    fd.enter(['elbow_flex'])
    hw.refuse['elbow_flex'] = 'elbow_flex is outside its limits'
    ok, message = fd.leave()
    assert not ok and 'still in free drive: elbow_flex' in message
    status = core.status()
    assert status.code == Code.FREE_DRIVE and 'outside its limits' in status.detail
    del hw.refuse['elbow_flex']
    assert fd.leave()[0]


def test_free_drive_joints_are_checked(so101):
    known = [j.name for j in so101.all_joints]
    assert resolve_joints([], known, known) == known
    assert resolve_joints(['gripper'], known, known) == ['gripper']
    with pytest.raises(ValueError, match="'knee' not a joint of this arm"):
        resolve_joints(['knee'], known, known)
    with pytest.raises(ValueError, match='listed twice'):
        resolve_joints(['gripper', 'gripper'], known, known)
