"""
Free drive on the hardware side, without ROS.

The bridge core and its I/O worker releasing single joints (the others hold, commands refused, the
released goal following the hand) and holding them again exactly where they were left; the refusal
on PWM boards; the MuJoCo arm's passive actuators; the profile's e-stop policy.
"""

from __future__ import annotations

import numpy as np
import pytest
from robot_touch.bridge.hardware import HardwareConfig, HardwareWorker
from robot_touch.core.bridge_core import BridgeCore, build_converters, CommandRejected
from robot_touch.core.calibration import merge_calibration
from robot_touch.core.profile import load_profile
from robot_touch.errors import ProfileError
from robot_touch.protocols.base import ServoBus
from robot_touch.sim.gl import prepare_gl
from robot_touch.virtual_arm.device import ServoModel
import serial
from support.waiting import wait_for

UNITS = 651.8986  # so101 steps per rad


@pytest.fixture(scope='module')
def converters(so101):
    return build_converters(so101, merge_calibration(so101, None))


def raw_at(converters, positions):
    """Return what the servos read at ``positions`` (not clamped: a hand may go past a limit)."""
    return {j.servo_id: round(j.calibration.to_raw(p)) for j, p in zip(converters, positions)}


def latched(converters, positions) -> BridgeCore:
    core = BridgeCore(converters, has_gripper=True)
    core.on_connected(0.0)
    core.on_positions(raw_at(converters, positions), 0.0)
    core.goals(0.0)
    return core


def test_a_released_joint_gets_no_goal_and_holds_again_where_the_hand_left_it(converters):
    start = [0.1, 0.2, 0.3, 0.0, 0.0, 0.0]
    core = latched(converters, start)
    assert core.set_torque(False, 0.01, ['elbow_flex']) is None
    t, moved = 0.01, list(start)
    for k in range(20):  # a hand turns the elbow; the others hold
        t += 0.01
        moved[2] = 0.3 + 0.04 * k
        core.on_positions(raw_at(converters, moved), t)
        goals = core.goals(t)
        assert 3 not in goals and goals[1] == converters[0].to_raw(0.1)
    assert core.torque_state.released() == ['elbow_flex']
    with pytest.raises(CommandRejected, match=r'free drive \(elbow_flex released\)'):
        core.submit_command(start, t)
    assert core.set_torque(True, t, ['elbow_flex']) is None
    goals = core.goals(t + 0.01)
    assert goals[3] == converters[2].to_raw(moved[2])  # its measured position, before torque
    assert [goals[i] for i in (1, 2, 4, 5, 6)] == [
        converters[i].to_raw(start[i]) for i in (0, 1, 3, 4, 5)
    ]
    core.submit_command(moved, t + 0.02)  # every joint holds: commands are followed again


def test_a_joint_moved_outside_its_limits_is_refused_torque(converters):
    core = latched(converters, [0.0] * 6)
    core.set_torque(False, 0.0, ['shoulder_pan'])
    core.on_positions(raw_at(converters, [2.3, 0, 0, 0, 0, 0]), 0.1)
    refusal = core.set_torque(True, 0.1, ['shoulder_pan'])
    assert refusal.startswith('shoulder_pan is outside its limits (measured +2.29')
    assert core.torque_state.released() == ['shoulder_pan']
    with pytest.raises(ValueError, match="unknown joint 'knee'"):
        core.set_torque(False, 0.1, ['knee'])


class IdBus(ServoBus):
    """Emulated servos over loop://, with per-servo torque (as the bus-servo backends)."""

    name = 'id_test'
    servos: dict[int, ServoModel] = {}
    calls: list[tuple[str, object]] = []

    def _transact(self) -> None:
        self.port.write(b'\x01')
        if self.port.read(1) != b'\x01':
            raise serial.SerialException('loop did not echo')

    def ping(self, servo_id):
        return True

    def write_goals(self, goals):
        self._transact()
        self.calls.append(('goals', dict(goals)))
        for sid, raw in goals.items():
            self.servos[sid].set_goal(raw)

    def read_positions(self):
        self._transact()
        for servo in self.servos.values():
            servo.step(0.005)
        return {sid: round(self.servos[sid].position) for sid in self.ids}

    def set_torque(self, enabled, ids=None):
        self._transact()
        ids = list(self.ids if ids is None else ids)
        self.calls.append(('torque', (enabled, tuple(ids))))
        for sid in ids:
            servo = self.servos[sid]
            servo.torque_enabled = enabled


class PwmLikeBus(IdBus):
    reads_released = False


@pytest.fixture
def worker(so101):
    IdBus.servos = {
        j.servo_id: ServoModel(j.servo_id, 2000.0, 2000.0, 3000.0, torque_enabled=False)
        for j in so101.all_joints
    }
    IdBus.calls = []
    core = BridgeCore(build_converters(so101, merge_calibration(so101, None)), has_gripper=True)
    config = HardwareConfig(port='loop://', baudrate=1_000_000, protocol='id_test', rate=200.0)
    made = []

    def start(bus_class=IdBus):
        w = HardwareWorker(
            core,
            config,
            bus_class=bus_class,
            open_port=lambda url, baud, timeout: serial.serial_for_url(url, timeout=timeout),
        )
        w.start()
        made.append(w)
        wait_for(
            lambda: w.status().torque and ('torque', (True, tuple(range(1, 7)))) in IdBus.calls,
            10,
            'torque on',
        )
        return w

    yield start
    for w in made:
        w.stop()


@pytest.mark.timeout(20)
def test_the_worker_switches_one_servo_and_writes_its_goal_before_its_torque(worker):
    w = worker()
    assert w.request_torque(False, joints=['elbow_flex']) == (True, 'elbow_flex: torque released')
    assert IdBus.calls[-1] == ('torque', (False, (3,)))
    assert w.status().released == ['elbow_flex'] and not w.status().torque
    IdBus.servos[3].push(2400.0, 20000.0)  # the hand
    wait_for(lambda: IdBus.servos[3].position == 2400.0, 5, "the hand's move")
    IdBus.calls.clear()
    ok, message = w.request_torque(True, joints=['elbow_flex'])
    assert ok and message == 'elbow_flex: torque enabled, holding where it is'
    on = IdBus.calls.index(('torque', (True, (3,))))
    assert IdBus.calls[on - 1][0] == 'goals' and IdBus.calls[on - 1][1][3] == 2400
    assert not any(c[0] == 'goals' and 3 in c[1] and c[1][3] != 2400 for c in IdBus.calls)
    assert IdBus.servos[3].goal == 2400.0


@pytest.mark.timeout(20)
def test_a_pwm_board_refuses_to_release_single_joints(worker):
    w = worker(PwmLikeBus)
    ok, message = w.request_torque(False, joints=['gripper'])
    assert not ok and 'reports no position' in message and 'free drive needs bus servos' in message
    assert w.status().torque and all(s.torque_enabled for s in IdBus.servos.values())
    assert w.request_torque(False)[0]  # the whole arm still can be released


def test_the_simulated_arm_goes_limp_and_holds_again_where_it_fell(so101):
    prepare_gl()
    from robot_touch.sim.mujoco_arm import MujocoArm, SimCommandError

    arm = MujocoArm(so101, initial_positions=[0.0, -1.0, 1.0, 0.0, 0.0, 0.0])
    arm.command([0.0, -1.0, 1.0, 0.0, 0.0, 0.0])
    arm.run_for(0.3)
    before = arm.state().positions.copy()
    arm.set_torque(False, ['shoulder_lift'])
    with pytest.raises(SimCommandError, match=r'free drive \(shoulder_lift released\)'):
        arm.command([0.5, -1.0, 1.0, 0.0, 0.0, 0.0])
    arm.run_for(0.3)
    state = arm.state()
    assert abs(state.positions[1] - before[1]) > 0.05, 'a passive joint falls under gravity'
    assert state.efforts[1] == 0.0
    np.testing.assert_allclose(state.positions[[0, 4]], before[[0, 4]], atol=0.01)  # held
    arm.run_for(1.0)  # let it come to rest on its limit
    arm.set_torque(True, ['shoulder_lift'])
    there = arm.state().positions[1]
    arm.run_for(0.5)
    assert arm.state().positions[1] == pytest.approx(there, abs=0.01), 'held where it fell'
    assert arm.targets()[1] == pytest.approx(there, abs=1e-9)
    arm.command([0.0, -1.0, 1.0, 0.0, 0.0, 0.0])  # every joint holds: commands again


def test_the_profile_says_what_an_estop_in_free_drive_does(tmp_path, so101):
    assert so101.free_drive_estop == 'hold'
    text = so101.path.read_text().replace('  estop: hold', '  estop: brake')
    (tmp_path / 'arm.yaml').write_text(
        text.replace('../../urdf/', str(so101.urdf_path.parent) + '/')
    )
    with pytest.raises(ProfileError, match='free_drive.estop: must be one of hold, release'):
        load_profile(tmp_path / 'arm.yaml')
