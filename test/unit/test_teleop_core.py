"""
TeleopCore without ROS.

Limits under random input, stale halt, e-stop, re-latch, singularities, bad input.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from robot_touch.core.kinematics import ArmKinematics
from robot_touch.core.profile import load_profile
from robot_touch.core.teleop_core import check_speed_override, Code, TeleopConfig, TeleopCore

RATE = 100.0
DT = 1.0 / RATE


class EchoArm:
    """A perfect arm: joint_states = the last command, stamped with the core's clock."""

    def __init__(self, core: TeleopCore, start: list[float], gripper: float | None = 0.0) -> None:
        self.core = core
        self.t = 0.0
        self.names = core.names + ([core.gripper_spec.name] if core.gripper_spec else [])
        self.state = list(start) + ([gripper] if core.gripper_spec else [])
        self.commands: list[np.ndarray] = []
        self.velocities: list[np.ndarray] = []
        self.publish = True

    def cycle(self, n: int = 1) -> None:
        for _ in range(n):
            self.t += DT
            if self.publish:
                self.core.on_joint_states(self.names, self.state, self.t)
            cmd = self.core.step(self.t, DT)
            if cmd is not None:
                self.state = cmd.as_list()
                self.commands.append(cmd.position.copy())
                self.velocities.append(cmd.velocity.copy())

    @property
    def q(self) -> np.ndarray:
        return np.array(self.state[: len(self.core.names)])


def make(so101, kin, start=(0.0, 0.3, 0.3, 0.0, 0.0), **config) -> tuple[TeleopCore, EchoArm]:
    core = TeleopCore(so101, TeleopConfig(rate=RATE, **config), kinematics=kin)
    arm = EchoArm(core, list(start))
    arm.cycle()
    return core, arm


def check_limits(
    core: TeleopCore, positions: np.ndarray, skip_acceleration: set[int] = frozenset()
) -> None:
    lim = core.limits
    assert np.all(positions >= lim.lower - 1e-9) and np.all(positions <= lim.upper + 1e-9), (
        'joint limit exceeded'
    )
    vel = np.diff(positions, axis=0) / DT
    ratio = np.max(np.abs(vel) / lim.velocity) if len(vel) else 0.0
    assert ratio <= 1 + 1e-6, f'velocity limit exceeded ×{ratio:.4f}'
    acc = np.diff(vel, axis=0) / DT
    bad = [
        i
        for i in np.nonzero(np.any(np.abs(acc) > lim.acceleration * (1 + 1e-3) + 1e-6, axis=1))[0]
        if i not in skip_acceleration
    ]
    assert not bad, f'acceleration limit exceeded at cycles {bad[:5]}'


# ---------------------------------------------------------------------------- start-up, poses


def test_no_command_before_joint_states_then_the_measured_position(so101, kin):
    core = TeleopCore(so101, TeleopConfig(rate=RATE), kinematics=kin)
    assert core.step(0.0) is None
    assert core.status().code == Code.NO_JOINT_STATES
    measured = [0.2, -0.4, 0.5, 0.1, -0.3]
    core.on_joint_states(so101.joint_names, measured, 0.01)
    cmd = core.step(0.01)
    np.testing.assert_allclose(cmd.position, measured)  # not home, not a stale target
    np.testing.assert_allclose(cmd.velocity, 0.0)
    assert core.status().code == Code.OK


def test_target_pose_converges_within_1_mm(so101, kin):
    core, arm = make(so101, kin)
    goal = kin.fk([0.4, 0.2, 0.6, -0.3, 0.5])
    quat = _quat_xyzw(goal[:3, :3])
    assert core.on_target_pose('base_link', goal[:3, 3], quat) == Code.OK
    arm.cycle(300)
    assert np.linalg.norm(kin.fk(arm.q)[:3, 3] - goal[:3, 3]) < 1e-3
    check_limits(core, np.array(arm.commands))


def test_gripper_is_appended_and_mapped_onto_its_range(so101, kin):
    core, arm = make(so101, kin)
    assert len(arm.state) == so101.dof + 1
    core.on_gripper(1.0)
    arm.cycle(200)
    assert arm.state[-1] == pytest.approx(so101.gripper.upper)
    assert core.on_gripper(1.7) == Code.CLAMPED  # the user sees "clamped"
    core.on_gripper(0.0)
    arm.cycle(200)
    assert arm.state[-1] == pytest.approx(so101.gripper.lower)


def test_joint_target_moves_named_joints_and_clamps_out_of_limit_values(so101, kin):
    core, arm = make(so101, kin)
    code = core.on_joint_target(['elbow_flex', 'wrist_roll'], [0.5, 99.0])
    assert code == Code.JOINT_LIMIT
    assert 'wrist_roll' in core.status().detail
    arm.cycle(300)
    roll = so101.joint('wrist_roll').upper
    np.testing.assert_allclose(arm.q, [0.0, 0.3, 0.5, 0.0, roll], atol=1e-9)


def test_home_service_moves_to_the_profile_home(so101, kin):
    core, arm = make(so101, kin)
    assert core.home()[0]
    arm.cycle(300)
    np.testing.assert_allclose(arm.q, so101.home, atol=1e-9)


# ---------------------------------------------------------------------------- safety


@pytest.mark.timeout(20)
def test_stale_jog_brakes_to_rest_within_limits(so101, kin):
    core, arm = make(so101, kin)
    for _ in range(30):
        core.on_joint_jog(['shoulder_pan'], [2.0], now=arm.t)
        arm.cycle()
    assert arm.velocities[-1][0] > 1.0
    arm.cycle(int(core.config.jog_timeout / DT) + 2)
    assert core.status().code == Code.HALTED
    arm.cycle(100)
    np.testing.assert_allclose(arm.velocities[-1], 0.0, atol=1e-12)
    check_limits(core, np.array(arm.commands))


def test_estop_decelerates_to_rest_within_the_limits_and_never_steps_back(so101, kin):
    core, arm = make(so101, kin)
    for _ in range(30):
        core.on_joint_jog(['shoulder_lift'], [2.0], now=arm.t)
        arm.cycle()
    moving = len(arm.commands)
    assert arm.velocities[-1][1] > 1.0
    core.set_estop(True)
    assert core.on_joint_jog(['shoulder_lift'], [2.0], now=arm.t) == Code.ESTOP
    assert core.on_target_pose('', [0.2, 0.0, 0.2], [0, 0, 0, 1]) == Code.ESTOP
    assert not core.home()[0]
    arm.cycle(100)
    stop = np.array(arm.commands[moving - 1:])
    check_limits(core, stop)  # a controlled stop: velocity and acceleration within the limits
    assert np.all(np.diff(stop[:, 1]) >= -1e-12)  # decelerates forward, never a step back
    np.testing.assert_allclose(arm.velocities[-1], 0.0, atol=1e-12)
    held = arm.q.copy()
    arm.cycle(20)
    np.testing.assert_allclose(arm.q, held)  # then holds where it stopped
    assert core.status().code == Code.ESTOP and core.status().level == 2
    core.set_estop(False)
    arm.cycle(50)
    np.testing.assert_allclose(arm.q, held, atol=1e-9)  # no motion until a new goal
    assert core.status().code == Code.OK


def test_joint_states_gap_brakes_then_ramps_the_command_to_where_the_arm_really_is(so101, kin):
    core, arm = make(so101, kin)
    core.on_joint_target(['shoulder_pan'], [1.5])
    arm.cycle(20)
    arm.publish = False  # backend gone
    arm.cycle(int(core.config.joint_states_timeout / DT) + 5)
    assert core.status().code == Code.NO_JOINT_STATES
    arm.cycle(100)
    held = arm.commands[-1].copy()
    # Meanwhile the arm was moved by hand; the backend comes back.
    moved = [-0.5, 0.1, 0.2, 0.3, 0.4]
    arm.state = moved + arm.state[len(moved):]
    arm.publish = True
    start = len(arm.commands)
    arm.cycle()
    assert core.status().code == Code.RELATCHING
    assert core.on_joint_target(['elbow_flex'], [0.2]) == Code.RELATCHING  # not yet
    # the command does not jump: it ramps from where it stood to where the arm is
    np.testing.assert_allclose(arm.commands[start - 1], held)
    arm.publish = False  # (the measured arm stays where it was moved: EchoArm would follow)
    for _ in range(300):
        arm.t += DT
        core.on_joint_states(arm.names, moved + arm.state[len(moved):], arm.t)
        cmd = core.step(arm.t, DT)
        arm.commands.append(cmd.position.copy())
    check_limits(core, np.array(arm.commands[start - 1:]))
    np.testing.assert_allclose(arm.commands[-1], moved, atol=1e-9)
    assert core.status().code == Code.OK


def test_disable_stops_commands_and_enable_relatches(so101, kin):
    core, arm = make(so101, kin)
    core.set_enabled(False)
    arm.cycle(5)
    n = len(arm.commands)
    arm.cycle(20)
    assert len(arm.commands) == n, 'no commands while disabled'
    assert core.status().code == Code.DISABLED
    assert core.on_joint_target(['elbow_flex'], [1.0]) == Code.DISABLED
    arm.state = [0.1, 0.1, 0.1, 0.1, 0.1] + arm.state[5:]
    core.set_enabled(True)
    arm.cycle()
    np.testing.assert_allclose(arm.commands[-1], [0.1] * 5)


def test_start_disabled_publishes_nothing(so101, kin):
    core, arm = make(so101, kin, start_enabled=False)
    arm.cycle(10)
    assert arm.commands == []
    assert core.status().code == Code.DISABLED


def test_jog_into_a_joint_limit_stops_there_with_joint_limit(so101, kin):
    core, arm = make(so101, kin)
    for _ in range(250):
        core.on_joint_jog(['wrist_flex'], [3.0], now=arm.t)
        arm.cycle()
    assert arm.q[3] == pytest.approx(so101.joint('wrist_flex').upper)
    assert core.status().code == Code.JOINT_LIMIT
    check_limits(core, np.array(arm.commands))


# ---------------------------------------------------------------------------- random sequences


def _quat_xyzw(R: np.ndarray) -> list[float]:
    w = math.sqrt(max(0.0, 1 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + R[0, 0] - R[1, 1] - R[2, 2])) / 2, R[2, 1] - R[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - R[0, 0] + R[1, 1] - R[2, 2])) / 2, R[0, 2] - R[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - R[0, 0] - R[1, 1] + R[2, 2])) / 2, R[1, 0] - R[0, 1])
    return [x, y, z, w]


unit = st.floats(-1.0, 1.0)
actions = st.one_of(
    st.tuples(st.just('pose'), st.lists(unit, min_size=5, max_size=5)),
    st.tuples(
        st.just('jog'),
        st.tuples(st.sampled_from(['base_link', 'tcp']), st.lists(unit, min_size=6, max_size=6)),
    ),
    st.tuples(st.just('joint_jog'), st.lists(st.floats(-4, 4), min_size=5, max_size=5)),
    st.tuples(st.just('joint_target'), st.lists(unit, min_size=5, max_size=5)),
    st.tuples(st.just('gripper'), st.floats(-0.5, 1.5)),
    st.tuples(st.just('estop'), st.booleans()),
    st.tuples(st.just('override'), st.floats(0.05, 1.0)),
    st.tuples(st.just('home'), st.none()),
)


@pytest.mark.timeout(60)
@settings(max_examples=40, deadline=None)
@given(
    sequence=st.lists(
        st.tuples(actions, st.integers(1, 40), st.booleans()), min_size=1, max_size=8
    )
)
def test_random_input_sequences_keep_every_limit(so101, kin, sequence):
    """
    Targets, jogs (repeated or going stale), e-stops and overrides in any order.

    The command stream stays inside the position, velocity and acceleration limits (an e-stop too:
    it is a controlled stop).
    """
    core, arm = make(so101, kin)
    lo, hi = np.array(so101.lower), np.array(so101.upper)
    for (kind, arg), cycles, repeat in sequence:
        for i in range(cycles):
            if i == 0 or (repeat and kind in ('jog', 'joint_jog')):
                if kind == 'pose':
                    q = lo + (np.array(arg) + 1) / 2 * (hi - lo)
                    T = kin.fk(q)
                    core.on_target_pose('base_link', T[:3, 3], _quat_xyzw(T[:3, :3]))
                elif kind == 'jog':
                    frame, tw = arg
                    core.on_jog(frame, np.array(tw[:3]) * 0.3, np.array(tw[3:]) * 2, now=arm.t)
                elif kind == 'joint_jog':
                    core.on_joint_jog(so101.joint_names, arg, now=arm.t)
                elif kind == 'joint_target':
                    core.on_joint_target(
                        so101.joint_names, lo + (np.array(arg) + 1) / 2 * (hi - lo)
                    )
                elif kind == 'gripper':
                    core.on_gripper(arg)
                elif kind == 'estop' and i == 0:
                    core.set_estop(arg)
                elif kind == 'override':
                    core.set_speed_override(arg)
                elif kind == 'home':
                    core.home()
            arm.cycle()
            assert 'safety net' not in core.status().detail
    check_limits(core, np.array(arm.commands))


# ---------------------------------------------------------------------------- singularities


def _jog_for(
    core: TeleopCore, arm: EchoArm, linear, seconds: float, frame: str = 'base_link'
) -> None:
    for _ in range(int(seconds / DT)):
        core.on_jog(frame, linear, [0.0, 0.0, 0.0], now=arm.t)
        arm.cycle()


def test_so101_escapes_the_stretched_out_singularity(so101, kin):
    # Elbow at -1.2885 rad: upper arm and forearm in line (condition number ~4e5).
    start = [0.0, 0.0, -1.2885, 0.0, 0.0]
    assert kin.condition(start) > 1e4
    core, arm = make(so101, kin, start=start)
    p0 = kin.fk(arm.q)[:3, 3]
    outward = p0 / np.linalg.norm(p0) * 0.05
    _jog_for(core, arm, outward, 0.5)  # further out: impossible, must not move outward
    assert core.status().code == Code.NEAR_SINGULARITY
    assert float((kin.fk(arm.q)[:3, 3] - p0) @ outward) < 1e-4
    _jog_for(core, arm, -outward, 1.0)  # back toward the base: allowed
    p1 = kin.fk(arm.q)[:3, 3]
    assert float((p1 - p0) @ -outward / 0.05) > 0.01, 'moved at least 1 cm back toward the base'
    assert kin.condition(arm.q) < kin.condition(start) / 10
    check_limits(core, np.array(arm.commands))


def test_so101_slows_near_the_singularity_when_jogging_into_it(so101, kin):
    start = [0.0, 0.0, -1.2885 + 0.12, 0.0, 0.0]  # condition ~160: inside the slow-down band
    core, arm = make(so101, kin, start=start)
    p0 = kin.fk(arm.q)[:3, 3]
    _jog_for(core, arm, p0 / np.linalg.norm(p0) * 0.05, 1.0)
    assert core.status().code == Code.NEAR_SINGULARITY
    assert kin.condition(arm.q) <= core.config.singularity_stop * 1.05
    assert float(core.status().values['singularity_scale']) < 0.2


def test_open_manipulator_x_escapes_a_singularity():
    from robot_touch.core.teleop_singularity import inverse_condition
    from scipy.optimize import minimize

    profile = load_profile('open_manipulator_x')
    kin = ArmKinematics(profile)
    # The 4-DOF arm's singularity: tip on the pan axis, so the pan joint cannot move it
    # sideways. Found by search (coarse grid, then refined) rather than hard-coded.
    lo, hi = np.array(profile.lower[1:]), np.array(profile.upper[1:])
    grid = np.stack(
        np.meshgrid(*[np.linspace(a + 0.05, b - 0.05, 11) for a, b in zip(lo, hi)]), -1
    ).reshape(-1, 3)
    best = max(grid, key=lambda x: kin.condition(np.r_[0.0, x]))
    found = minimize(
        lambda x: inverse_condition(kin.condition(np.r_[0.0, np.clip(x, lo, hi)])),
        best,
        method='Nelder-Mead',
    )
    start = list(np.r_[0.0, np.clip(found.x, lo, hi)])
    assert kin.condition(start) > 1e4
    core = TeleopCore(profile, TeleopConfig(rate=RATE), kinematics=kin)
    arm = EchoArm(core, start)
    arm.cycle()
    p0 = kin.fk(arm.q)[:3, 3]
    _jog_for(core, arm, [0.0, 0.05, 0.0], 1.0)  # sideways: the direction the pan cannot give here
    assert kin.fk(arm.q)[1, 3] - p0[1] > 0.01, 'moved at least 1 cm sideways'
    assert kin.condition(arm.q) < 1000
    check_limits(core, np.array(arm.commands))


# ---------------------------------------------------------------------------- bad input

NAN = float('nan')


@pytest.mark.parametrize(
    'call, code, user_sees',
    [
        (
            lambda c, t: c.on_target_pose('', [NAN, 0, 0.2], [0, 0, 0, 1]),
            Code.INVALID_POSE,
            'NaN',
        ),
        (
            lambda c, t: c.on_target_pose('', [0.2, 0, 0.2], [0, 0, 0, math.inf]),
            Code.INVALID_POSE,
            'NaN or infinite',
        ),
        (
            lambda c, t: c.on_target_pose('', [0.2, 0, 0.2], [0, 0, 0, 0]),
            Code.INVALID_POSE,
            'quaternion is zero',
        ),
        (
            lambda c, t: c.on_target_pose('camera', [0.2, 0, 0.2], [0, 0, 0, 1]),
            Code.UNKNOWN_FRAME,
            "'world'",
        ),
        (
            lambda c, t: c.on_jog('camera', [0.01, 0, 0], [0, 0, 0], now=t),
            Code.UNKNOWN_FRAME,
            "'tcp'",
        ),
        (lambda c, t: c.on_jog('', [NAN, 0, 0], [0, 0, 0], now=t), Code.INVALID_VALUE, 'finite'),
        (
            lambda c, t: c.on_joint_jog(['elbow'], [0.1], now=t),
            Code.UNKNOWN_JOINT,
            'known: shoulder_pan',
        ),
        (
            lambda c, t: c.on_joint_jog(['elbow_flex'], [0.1, 0.2], now=t),
            Code.INVALID_VALUE,
            '1 names but 2 values',
        ),
        (
            lambda c, t: c.on_joint_target(['elbow_flex'], [NAN]),
            Code.INVALID_VALUE,
            'not a finite number',
        ),
        (
            lambda c, t: c.on_joint_target(['elbow_flex', 'foo'], [0.1, 0.2]),
            Code.UNKNOWN_JOINT,
            "'foo'",
        ),
        (lambda c, t: c.on_gripper(NAN), Code.INVALID_VALUE, '0..1'),
        (
            lambda c, t: c.on_target_pose('', [5.0, 0, 0.2], [0, 0, 0, 1]),
            Code.UNREACHABLE,
            'nearest pose',
        ),
    ],
    ids=[
        'nan_position',
        'inf_quaternion',
        'zero_quaternion',
        'unknown_pose_frame',
        'unknown_jog_frame',
        'nan_jog',
        'unknown_jog_joint',
        'jog_length_mismatch',
        'nan_joint_target',
        'unknown_target_joint',
        'nan_gripper',
        'far_outside_workspace',
    ],
)
def test_bad_input_gets_a_status_code_and_the_loop_keeps_running(
    so101, kin, call, code, user_sees
):
    core, arm = make(so101, kin)
    core.on_joint_target(['shoulder_pan'], [0.5])
    arm.cycle(10)
    assert call(core, arm.t) == code
    status = core.status()
    assert status.code == code and user_sees in status.detail
    arm.cycle(300)  # rejected input does not disturb the goal in progress
    if code != Code.UNREACHABLE:
        assert arm.q[0] == pytest.approx(0.5)
    check_limits(core, np.array(arm.commands))


def test_out_of_order_stamps_are_rejected(so101, kin):
    core, arm = make(so101, kin)
    assert core.on_joint_target(['elbow_flex'], [0.5], stamp=10.0) == Code.OK
    assert core.on_joint_target(['elbow_flex'], [-0.5], stamp=9.5) == Code.OUT_OF_ORDER
    assert 'older' in core.status().detail
    arm.cycle(300)
    assert arm.q[2] == pytest.approx(0.5)


@pytest.mark.parametrize(
    'value', [0.0, 1.5, NAN, True, 'fast'], ids=['zero', 'above_1', 'nan', 'bool', 'text']
)
def test_speed_override_outside_its_range_is_refused_and_kept(so101, kin, value):
    core, _ = make(so101, kin, speed_override=0.5)
    with pytest.raises(ValueError, match=r'speed_override must be within \[0.05, 1.0\]'):
        core.set_speed_override(value)
    assert core.speed_override == 0.5
    assert check_speed_override(0.05) == 0.05


@pytest.mark.parametrize(
    'config, message',
    [
        ({'rate': 0.0}, r'rate must be within \[10.0, 1000.0\], got 0.0'),
        ({'singularity_slow': 500.0, 'singularity_stop': 100.0}, 'below singularity_stop'),
        ({'workspace_min': [0, 0, 0]}, 'both workspace_min and workspace_max'),
        ({'velocity_scale': 2.0}, r'velocity_scale must be within \[0.01, 1.0\]'),
        ({'jog_timeout': NAN}, 'jog_timeout must be within'),
    ],
    ids=['zero_rate', 'thresholds_swapped', 'half_workspace', 'velocity_scale_above_1', 'nan'],
)
def test_bad_configuration_is_refused_by_name(so101, kin, config, message):
    with pytest.raises(ValueError, match=message):
        TeleopCore(so101, TeleopConfig(**config), kinematics=kin)


def test_the_config_is_built_from_declared_parameter_values() -> None:
    """Check that settings come from the values, unset arrays keep defaults, others are ignored."""
    config = TeleopConfig.from_parameters(
        {'rate': 250.0, 'workspace_min': None, 'status_rate': 2.0, 'max_stamp_lead': 0.0}
    )
    assert config.rate == 250.0 and config.workspace_min == () and config.max_stamp_lead == 0.0
    config.validate()  # the ends of a range are allowed (the parameter descriptors' ranges)


def test_speed_override_slows_the_motion(so101, kin):
    core, arm = make(so101, kin, speed_override=0.1)
    core.on_joint_target(['shoulder_pan'], [1.5])
    arm.cycle(200)
    assert np.max(np.abs(np.array(arm.velocities)[:, 0])) <= so101.joints[0].velocity * 0.1 * (
        1 + 1e-9
    )


@pytest.mark.parametrize('limit', [0.05, 0.25], ids=['5cm_s', '25cm_s'])
def test_joint_space_moves_keep_the_tip_under_the_cartesian_speed(so101, kin, limit):
    core, arm = make(so101, kin, cartesian_speed=limit)
    goal = kin.fk([1.2, -0.6, 1.0, 0.5, 0.0])
    core.on_target_pose('', goal[:3, 3], _quat_xyzw(goal[:3, :3]))
    arm.cycle(int((1.0 + 0.7 / limit) / DT))
    tips = np.array([kin.fk(q)[:3, 3] for q in arm.commands])
    speed = np.linalg.norm(np.diff(tips, axis=0), axis=1) / DT
    assert np.max(speed) <= limit * 1.05, f'peak tip speed {np.max(speed):.3f} m/s'
    assert np.linalg.norm(tips[-1] - goal[:3, 3]) < 1e-3, 'and still arrives'


def test_the_cartesian_step_is_pure_and_the_same_in_either_frame(so101, kin):
    """Check that a twist in the base frame and the same twist in the tool frame agree."""
    from robot_touch.core.motion import JointLimits
    from robot_touch.core.teleop_jog import cartesian_step

    limits = JointLimits.from_specs(so101.joints, 1.0, 1.0, 1.0)
    q = np.array([0.1, 0.3, 0.3, 0.2, 0.0])
    before = q.copy()
    R = kin.fk(q)[:3, :3]
    v = np.array([0.0, 0.03, -0.02])
    args = (kin, limits, TeleopConfig(), q)
    common = {'weights': so101.task_weights, 'override': 1.0}
    base = cartesian_step(*args, np.concatenate((v, [0.0] * 3)), in_base_frame=True, **common)
    tool = cartesian_step(
        *args, np.concatenate((R.T @ v, [0.0] * 3)), in_base_frame=False, **common
    )
    np.testing.assert_allclose(base.qd, tool.qd, atol=1e-12)
    assert base.scale == 1.0 and not base.hindered  # far from a singularity: full speed
    assert np.all(np.abs(base.qd) <= limits.velocity + 1e-12)
    np.testing.assert_array_equal(q, before)  # the setpoint is not changed
    tip = kin.jacobian(q)[:3] @ base.qd
    np.testing.assert_allclose(tip, v, atol=2e-3)  # the tip moves as asked


def test_ik_and_the_control_cycle_each_have_their_own_solver(so101):
    """Check that a core built from the profile never shares a solver between two threads."""
    core = TeleopCore(so101, TeleopConfig(rate=RATE))
    assert core.ik_kin is not core.kin
    assert core.guard.kin is core.kin  # the workspace checks run under the lock, with the cycle
