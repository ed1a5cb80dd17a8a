"""
TeleopCore under faults and hostile input (issue 10).

Continuous re-latching, stamps from the future and from skewed clocks, the floor and the workspace
box, frames fixed to the base, scaled quaternions, a second joint_states publisher, the e-stop as a
controlled stop inside the limits, and the gripper's velocity.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from robot_touch.core.kinematics import ArmKinematics
from robot_touch.core.profile import load_profile
from robot_touch.core.teleop_core import Code, TeleopConfig, TeleopCore
from robot_touch.core.teleop_workspace import EDGE_TOLERANCE
import yaml

RATE = 100.0
DT = 1.0 / RATE
START = [0.0, 0.3, 0.3, 0.0, 0.0]


class Arm:
    """joint_states = the last command (a perfect arm), from publisher ``source``."""

    def __init__(
        self, core: TeleopCore, start=START, gripper: float = 0.0, source: object = 'bridge'
    ) -> None:
        self.core, self.t, self.source = core, 0.0, source
        self.names = core.names + [core.gripper_spec.name]
        self.state = list(start) + [gripper]
        self.commands: list[list[float]] = []
        self.outputs = []
        self.publish = True
        self.frozen: list[float] | None = None  # measured values when the arm stops following

    def cycle(self, n: int = 1) -> None:
        for _ in range(n):
            self.t = round(self.t + DT, 9)
            if self.publish:
                self.core.on_joint_states(
                    self.names, self.frozen or self.state, self.t, source=self.source
                )
            cmd = self.core.step(self.t, DT)
            if cmd is not None:
                self.state = cmd.as_list()
                self.commands.append(cmd.as_list())
                self.outputs.append(cmd)

    @property
    def q(self) -> np.ndarray:
        return np.array(self.state[:5])


def make(so101, kin, **config) -> tuple[TeleopCore, Arm]:
    core = TeleopCore(so101, TeleopConfig(rate=RATE, **config), kinematics=kin)
    arm = Arm(core)
    arm.cycle()
    return core, arm


def max_step_ratio(core: TeleopCore, commands) -> float:
    """Return the largest command step as a share of the per-cycle bound (velocity limit x dt)."""
    c = np.array(commands)[:, :5]
    return float(np.max(np.abs(np.diff(c, axis=0)) / (core.limits.velocity * DT)))


def quat_xyzw(R: np.ndarray) -> list[float]:
    w = math.sqrt(max(0.0, 1 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + R[0, 0] - R[1, 1] - R[2, 2])) / 2, R[2, 1] - R[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - R[0, 0] + R[1, 1] - R[2, 2])) / 2, R[0, 2] - R[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - R[0, 0] - R[1, 1] + R[2, 2])) / 2, R[1, 0] - R[0, 1])
    return [x, y, z, w]


def tip_z(kin, commands) -> np.ndarray:
    return np.array([kin.fk(c[:5])[2, 3] for c in commands])


# ---------------------------------------------------------------------------- item 3: re-latching


def test_relatching_after_the_arm_stopped_following_never_jumps_the_command(so101, kin):
    core, arm = make(so101, kin)
    core.on_joint_target(['shoulder_pan', 'wrist_roll'], [1.2, 1.5])
    arm.cycle(20)
    arm.frozen = list(arm.state)  # unplugged: the arm stays, joint_states stop
    arm.publish = False
    arm.cycle(80)  # teleop runs on until the timeout, then brakes and holds
    arm.publish = True  # replugged: joint_states say where the arm stood
    arm.cycle(150)
    assert max_step_ratio(core, arm.commands) <= 1.0 + 1e-6
    np.testing.assert_allclose(
        arm.commands[-1][:5], arm.frozen[:5], atol=1e-9
    )  # back where the arm is
    assert core.status().code == Code.OK


def test_a_nan_joint_brakes_at_once_and_the_stream_ramps_back_when_it_is_measured_again(
    so101, kin
):
    core, arm = make(so101, kin)
    core.on_joint_target(['wrist_roll'], [2.0])
    arm.cycle(30)
    moving = arm.outputs[-1].velocity[4]
    assert moving > 1.0
    arm.frozen = list(arm.state)
    arm.frozen[4] = math.nan  # the bridge marks the silent wrist_roll
    start = len(arm.commands)
    arm.cycle(60)
    status = core.status()
    assert status.code == Code.NO_JOINT_STATES and 'wrist_roll' in status.detail
    roll = np.array(arm.commands[start - 1:])[:, 4]
    assert np.all(np.diff(roll) >= -1e-12) and roll[-1] == roll[-2]  # braked forward to rest
    assert core.on_joint_target(['wrist_roll'], [-2.0]) == Code.NO_JOINT_STATES
    arm.frozen[4] = roll[0]  # measured again where the bridge stopped it (behind the command)
    arm.cycle(120)
    assert max_step_ratio(core, arm.commands) <= 1.0 + 1e-6
    assert arm.commands[-1][4] == pytest.approx(roll[0])


# ---------------------------------------------------------------------------- item 6: stamps


def test_a_stamp_from_the_far_future_is_refused_and_locks_nothing_out(so101, kin):
    core, arm = make(so101, kin)
    clock = 1000.0
    code = core.on_joint_target(
        ['elbow_flex'], [0.5], stamp=2**31 - 1, clock=clock, sender='ui'
    )
    assert code == Code.OUT_OF_ORDER and "ahead of this computer's clock" in core.status().detail
    assert (
        core.on_joint_target(
            ['elbow_flex'], [0.4], stamp=clock + 0.01, clock=clock, sender='ui'
        )
        == Code.OK
    )
    # a stamp a little ahead is taken; the clock passes the mark it sets within max_stamp_lead
    assert (
        core.on_joint_target(
            ['elbow_flex'], [0.3], stamp=clock + 0.4, clock=clock, sender='ui'
        )
        == Code.OK
    )
    assert (
        core.on_joint_target(
            ['elbow_flex'], [0.2], stamp=clock + 0.1, clock=clock, sender='ui'
        )
        == Code.OUT_OF_ORDER
    )
    assert (
        core.on_joint_target(
            ['elbow_flex'], [0.2], stamp=clock + 0.45, clock=clock + 0.45, sender='ui'
        )
        == Code.OK
    )


def test_two_uis_with_skewed_clocks_do_not_lock_each_other_out(so101, kin):
    core, arm = make(so101, kin)
    clock = 500.0
    for k in range(5):
        now = clock + k * 0.05
        assert (
            core.on_joint_target(
                ['elbow_flex'], [0.3], stamp=now + 0.3, clock=now, sender='fast'
            )
            == Code.OK
        )
        assert (
            core.on_joint_target(
                ['elbow_flex'], [0.4], stamp=now, clock=now, sender='right'
            )
            == Code.OK
        )


# ------------------------------------------------------------------------ item 7: floor and box


@pytest.mark.parametrize(
    'xyz',
    [[0.0, 0.0, 0.0], [0.01, 0.0, 0.005], [0.05, 0.02, 0.0]],
    ids=['origin', 'near_origin', 'low'],
)
def test_a_target_whose_nearest_pose_is_below_the_floor_moves_nothing(so101, kin, xyz):
    core, arm = make(so101, kin)
    before = arm.q.copy()
    code = core.on_target_pose('base_link', xyz, [0, 0, 0, 1])
    arm.cycle(200)
    assert np.min(tip_z(kin, arm.commands)) >= -EDGE_TOLERANCE
    if code == Code.UNREACHABLE and 'not moving' in core.status().detail:
        np.testing.assert_allclose(arm.q, before, atol=1e-9)
        assert 'floor' in core.status().detail or 'box' in core.status().detail


def test_an_empty_pose_stamped_is_refused(so101, kin):
    core, arm = make(so101, kin)
    assert (
        core.on_target_pose('', [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], stamp=0.0)
        == Code.INVALID_POSE
    )
    assert 'empty' in core.status().detail


def test_jogging_down_stops_at_the_floor(so101, kin):
    core, arm = make(so101, kin)
    for _ in range(400):
        core.on_jog('base_link', [0.0, 0.0, -0.25], [0.0, 0.0, 0.0], now=arm.t)
        arm.cycle()
    z = tip_z(kin, arm.commands)
    assert -EDGE_TOLERANCE <= z.min() < 0.02  # went down to the floor, not through it


def test_joint_jogging_the_arm_onto_its_base_stops_at_the_floor(so101, kin):
    core, arm = make(so101, kin)
    for _ in range(400):
        core.on_joint_jog(
            ['shoulder_lift', 'elbow_flex', 'wrist_flex'], [1.5, 1.5, 1.5]
        )
        arm.cycle()
    assert tip_z(kin, arm.commands).min() >= -EDGE_TOLERANCE


# ---------------------------------------------------------------------- item 8: the default box


def test_the_default_box_holds_every_reachable_point_above_the_floor(so101, kin):
    core, arm = make(so101, kin)
    box = core.workspace
    rng = np.random.default_rng(3)
    for q in rng.uniform(so101.lower, so101.upper, size=(400, 5)):
        p = kin.fk(q)[:3, 3]
        if p[2] >= 0:
            assert box.outside(p) == 0.0, p
    # a reachable target at z = 0.49 m (above `reach` over the base) is reached, not clamped
    q = np.array([0.0, 0.0, -1.4, 0.0, 0.0])
    T = kin.fk(q)
    assert T[2, 3] > kin.reach()
    assert core.on_target_pose('base_link', T[:3, 3], quat_xyzw(T[:3, :3])) == Code.OK
    arm.cycle(400)
    assert np.linalg.norm(kin.fk(arm.q)[:3, 3] - T[:3, 3]) < 1e-3


# ---------------------------------------------------------------------------- item 9: frames


def test_a_target_in_the_world_frame_is_accepted(so101, kin):
    core, arm = make(so101, kin)
    target = kin.fk([0.3, 0.2, 0.4, 0.1, 0.0])[:3, 3]
    assert core.on_target_pose('world', target, [0, 0, 0, 1]) != Code.UNKNOWN_FRAME
    arm.cycle(300)
    assert np.linalg.norm(kin.fk(arm.q)[:3, 3] - target) < 1e-3


def test_frames_fixed_to_the_base_are_transformed_for_targets_and_jogs(tmp_path: Path, so101):
    # so101 mounted on a table: world -> base_link lifted 0.7 m and turned 90 degrees
    urdf = Path(so101.urdf_path).read_text()
    urdf = urdf.replace(
        '<parent link="world"/><child link="base_link"/>',
        '<parent link="world"/><child link="base_link"/>'
        '<origin xyz="0.1 0 0.7" rpy="0 0 1.5707963267948966"/>',
    )
    (tmp_path / 'arm.urdf.xacro').write_text(urdf)
    for name in ('common.xacro',):
        (tmp_path / name).write_text((Path(so101.urdf_path).parent / name).read_text())
    data = yaml.safe_load(Path(so101.path).read_text())
    data['urdf'] = 'arm.urdf.xacro'
    (tmp_path / 'arm.yaml').write_text(yaml.safe_dump(data, sort_keys=False))
    profile = load_profile(tmp_path / 'arm.yaml')
    kin = ArmKinematics(profile)
    np.testing.assert_allclose(
        kin.fk([0.0] * 5), ArmKinematics(so101).fk([0.0] * 5)
    )  # base frame: the same
    core = TeleopCore(profile, TeleopConfig(rate=RATE), kinematics=kin)
    arm = Arm(core)
    arm.cycle()
    in_base = kin.fk([0.2, 0.2, 0.4, 0.1, 0.0])[:3, 3]
    in_world = np.array([0.1 - in_base[1], in_base[0], 0.7 + in_base[2]])  # the same point
    assert (
        core.on_target_pose('world', in_world, [0, 0, 0.7071068, 0.7071068])
        != Code.UNKNOWN_FRAME
    )
    arm.cycle(300)
    assert np.linalg.norm(kin.fk(arm.q)[:3, 3] - in_base) < 1e-3
    # a jog along world x is a jog along base -y
    before = kin.fk(arm.q)[:3, 3]
    for _ in range(20):
        core.on_jog('world', [0.05, 0.0, 0.0], [0.0, 0.0, 0.0], now=arm.t)
        arm.cycle()
    moved = kin.fk(arm.q)[:3, 3] - before
    assert moved[1] < -0.005 and abs(moved[0]) < 0.3 * abs(moved[1])
    assert core.on_jog('table', [0.01, 0, 0], [0, 0, 0], now=arm.t) == Code.UNKNOWN_FRAME
    assert "'world'" in core.status().detail and "'tcp'" in core.status().detail


# ---------------------------------------------------------------------------- item 10: quaternions


@pytest.mark.parametrize('scale', [1e-200, 1e-20, 1e20, 1e200, 1.7e308], ids=str)
def test_a_scaled_quaternion_keeps_its_orientation(so101, kin, scale):
    from robot_touch.core.kinematics import pose_from_xyz_quat

    q = np.array([0.1, 0.7, 0.2, 0.6])
    q /= np.linalg.norm(q)
    expected = pose_from_xyz_quat([0.2, 0, 0.2], q)
    np.testing.assert_allclose(pose_from_xyz_quat([0.2, 0, 0.2], q * scale), expected, atol=1e-12)


# --------------------------------------------------------------------- item 11: one publisher


def test_a_second_joint_states_publisher_is_a_conflict_and_nothing_latches_to_it(so101, kin):
    core, arm = make(so101, kin)
    core.on_joint_target(['shoulder_pan'], [0.8])
    arm.cycle(100)
    arm.cycle(100)
    at = arm.q.copy()
    spoof = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper']
    for _ in range(20):
        assert (
            core.on_joint_states(spoof, [0.0] * 6, arm.t, source='spoofer')
            == Code.JOINT_STATES_CONFLICT
        )
        arm.cycle()
    assert core.status().code == Code.JOINT_STATES_CONFLICT and core.status().level == 2
    core.set_estop(True)
    arm.cycle(20)
    core.set_estop(False)
    ok, message = core.set_enabled(False)
    arm.cycle(50)
    ok, message = core.set_enabled(True)
    assert not ok and 'publishers' in message
    for _ in range(30):
        core.on_joint_states(spoof, [0.0] * 6, arm.t, source='spoofer')
        arm.cycle()
    np.testing.assert_allclose(arm.q, at, atol=1e-9)  # no jump toward the spoofed zeros
    assert max_step_ratio(core, arm.commands) <= 1.0 + 1e-6
    arm.cycle(150)  # the spoofer is gone: one publisher again
    assert core.set_enabled(True)[0]
    arm.cycle(10)
    assert core.status().code == Code.OK
    np.testing.assert_allclose(arm.q, at, atol=1e-9)


def test_the_graph_showing_two_publishers_is_a_conflict(so101, kin):
    core, arm = make(so101, kin)
    core.set_joint_states_publishers(2)
    arm.cycle()
    assert core.status().code == Code.JOINT_STATES_CONFLICT
    core.set_joint_states_publishers(1)
    arm.cycle(5)
    assert core.status().code == Code.OK


# ---------------------------------------------------------------------------- items 12-13: e-stop


def test_estop_with_a_lagging_measurement_never_steps_back(so101, kin):
    core, arm = make(so101, kin)
    core.on_joint_target(['shoulder_lift'], [1.2])
    lagging = []
    for _ in range(40):  # the arm reports where the command was 5 cycles ago
        lagging.append(list(arm.state))
        arm.frozen = lagging[max(0, len(lagging) - 5)]
        arm.cycle()
    start = len(arm.commands)
    core.set_estop(True)
    for _ in range(100):
        lagging.append(list(arm.state))
        arm.frozen = lagging[max(0, len(lagging) - 5)]
        arm.cycle()
    lift = np.array(arm.commands[start - 1:])[:, 1]
    assert np.all(np.diff(lift) >= -1e-12), 'the e-stop stepped the command back'
    assert max_step_ratio(core, arm.commands) <= 1.0 + 1e-6


def test_estop_holds_inside_the_limits_even_when_the_gripper_reads_past_one(so101, kin):
    core = TeleopCore(so101, TeleopConfig(rate=RATE), kinematics=kin)
    lower = so101.gripper.lower
    arm = Arm(core, gripper=lower - 0.000341)  # measured 0.02 degrees past the closed stop
    arm.frozen = list(arm.state)
    arm.cycle(5)
    core.set_estop(True)
    arm.cycle(50)
    gripper = [c[5] for c in arm.commands]
    assert min(gripper) >= lower


# ---------------------------------------------------------------- item 15: gripper velocity


def test_the_command_carries_the_gripper_velocity_while_it_moves(so101, kin):
    core, arm = make(so101, kin)
    core.on_gripper(1.0)
    arm.cycle(20)
    cmd = arm.outputs[-1]
    assert cmd.gripper_velocity > 0.5
    assert cmd.velocities()[-1] == cmd.gripper_velocity and len(cmd.velocities()) == 6
    g = [c[5] for c in arm.commands[-3:]]
    assert cmd.gripper_velocity == pytest.approx((g[-1] - g[-2]) / DT, rel=0.2)
