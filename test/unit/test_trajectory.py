"""
One trajectory module for both backends: validation, sampling, and the two agreeing.

The serial bridge and the simulated arm used to disagree: velocities on some points only were
followed linearly by the bridge and refused by the sim, and a start stamp in the past was
clamped to now by the sim but replayed from the middle by the bridge. The same trajectories
go to both here; they must accept and refuse alike, plan the same goals, and — judged by the
virtual arm's true servo state and MuJoCo's true joint state — move the arm the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import time

import numpy as np
import pytest
from robot_touch.bridge.hardware import HardwareConfig, HardwareWorker
from robot_touch.core.bridge_core import BridgeCore, build_converters, CommandRejected
from robot_touch.core.calibration import merge_calibration
from robot_touch.core.trajectory import (
    parse_trajectory,
    start_delay,
    TrajectoryError,
    TrajectorySampler,
)
from robot_touch.sim.gl import prepare_gl
from robot_touch.virtual_arm.hand import Hand
from robot_touch.virtual_arm.server import VirtualArm
from support.waiting import wait_for

JOINTS = ('shoulder_pan', 'shoulder_lift', 'elbow_flex')


def sampler(times, positions, velocities=None, accelerations=None, start=0.0, at=(0.0,)):
    traj = parse_trajectory(['j'], times, positions, ['j'], velocities, accelerations)
    return TrajectorySampler(traj, start, list(at))


# ---------------------------------------------------------------------------- sampling


def test_linear_from_the_held_position_then_holds_the_last_point():
    traj = sampler([1.0, 2.0], [[1.0], [3.0]], start=10.0)
    assert traj.sample(9.0) == pytest.approx([0.0])
    assert traj.sample(10.5) == pytest.approx([0.5])  # from the held position to the first point
    assert traj.sample(11.5) == pytest.approx([2.0])
    assert traj.sample(20.0) == pytest.approx([3.0])
    assert traj.end == pytest.approx(12.0)


def test_cubic_with_velocities_eases_out_of_rest_and_meets_every_point():
    traj = sampler([0.0, 1.0], [[0.0], [1.0]], [[0.0], [0.0]], at=(5.0,))
    assert traj.sample(0.0) == pytest.approx([0.0])  # a point at t=0 replaces the held position
    assert traj.sample(0.5) == pytest.approx([0.5])
    assert traj.sample(0.1)[0] < 0.1  # slower than linear near rest
    eps = 1e-5
    assert (traj.sample(1.0)[0] - traj.sample(1.0 - eps)[0]) / eps == pytest.approx(0, abs=1e-3)


def test_cubic_velocities_at_the_points_are_the_given_ones():
    traj = sampler([0.0, 1.0, 3.0], [[0.0], [2.0], [3.0]], [[0.0], [1.5], [0.0]])
    for t, p in zip([0.0, 1.0, 3.0], [0.0, 2.0, 3.0]):
        assert traj.sample(t) == pytest.approx([p])
    eps = 1e-6
    slope = (traj.sample(1.0 + eps)[0] - traj.sample(1.0 - eps)[0]) / (2 * eps)
    assert slope == pytest.approx(1.5, rel=1e-4)


def test_quintic_with_accelerations_meets_positions_velocities_and_accelerations():
    traj = sampler([0.0, 2.0], [[0.0], [1.0]], [[0.2], [-0.3]], [[1.0], [-2.0]])
    eps = 1e-4

    def derivatives(t):
        a, b, c = (traj.sample(t + d)[0] for d in (-eps, 0.0, eps))
        return b, (c - a) / (2 * eps), (c - 2 * b + a) / eps**2

    for t, (p, v, a) in [(1e-3, (0.0, 0.2, 1.0)), (2.0 - 1e-3, (1.0, -0.3, -2.0))]:
        got = derivatives(t)
        assert got[0] == pytest.approx(p, abs=2e-3)
        assert got[1] == pytest.approx(v, abs=1e-2)
        assert got[2] == pytest.approx(a, abs=5e-2)


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    'names, times, positions, velocities, accelerations, message',
    [
        (['x'], [1.0], [[0.0]], None, None, 'unknown joint(s) x'),
        (['j', 'j'], [1.0], [[0.0, 0.0]], None, None, 'repeated joint names'),
        ([], [1.0], [[]], None, None, 'must name its joints'),
        (['j'], [1.0, 1.0], [[0.0], [0.1]], None, None, 'strictly increasing'),
        (['j'], [-0.1, 1.0], [[0.0], [0.1]], None, None, 'strictly increasing'),
        (['j'], [math.nan], [[0.0]], None, None, 'strictly increasing'),
        (['j'], [1.0], [[0.0, 1.0]], None, None, 'each of the 1 points needs 1 positions'),
        (['j'], [1.0, 2.0], [[0.0]], None, None, 'each of the 2 points needs 1 positions'),
        (['j'], [1.0], [[math.inf]], None, None, 'not a finite position for j'),
        (['j'], [1.0, 2.0], [[0.0], [1.0]], [[0.1], []], None, 'velocities must be given'),
        (['j'], [1.0], [[0.0]], [[math.nan]], None, 'not a finite velocity for j'),
        (['j'], [1.0, 2.0], [[0.0], [1.0]], [[0.0], [0.0]], [[], [1.0]], 'accelerations must'),
        (['j'], [1.0], [[0.0]], None, [[1.0]], 'accelerations need velocities'),
        (['j'], ['soon'], [[0.0]], None, None, 'must be numbers'),
    ],
    ids=[
        'unknown',
        'repeated',
        'unnamed',
        'times-equal',
        'time-negative',
        'time-nan',
        'wide-row',
        'missing-row',
        'inf-position',
        'velocities-on-some-points',
        'nan-velocity',
        'accelerations-on-some-points',
        'accelerations-without-velocities',
        'time-not-a-number',
    ],
)
def test_bad_trajectory_is_refused_with_one_reason(
    names, times, positions, velocities, accelerations, message
):
    with pytest.raises(TrajectoryError) as err:
        parse_trajectory(names, times, positions, ['j', 'k'], velocities, accelerations)
    assert message in str(err.value)


def test_no_points_means_cancel_and_empty_rows_mean_no_velocities():
    assert parse_trajectory([], [], [], ['j']) is None
    traj = parse_trajectory(['k', 'j'], [0.5], [[1.0, 2.0]], ['j', 'k'], [[]], [[]])
    assert traj is not None and traj.indices == (1, 0)
    assert traj.velocities is None and traj.accelerations is None


def test_start_delay_is_zero_for_a_zero_or_past_stamp():
    assert start_delay(0.0, 100.0) == 0.0
    assert start_delay(99.5, 100.0) == 0.0  # in the past: the whole trajectory, from now
    assert start_delay(100.25, 100.0) == pytest.approx(0.25)
    with pytest.raises(TrajectoryError):
        start_delay(math.inf, 100.0)


# ---------------------------------------------------------------------------- both backends


@dataclass(frozen=True)
class Case:
    """One trajectory fed to both backends; ``refused`` is the reason both must give."""

    positions: list[list[float]]
    times: list[float] = field(default_factory=lambda: [0.4, 0.8])
    velocities: list[list[float]] | None = None
    accelerations: list[list[float]] | None = None
    delay: float = 0.0
    names: tuple[str, ...] = JOINTS
    refused: str = ''


MOVE = [[0.3, -0.2, 0.4], [0.5, 0.1, 0.6]]
CASES = {
    'linear': Case(MOVE),
    'cubic': Case(MOVE, velocities=[[0.5, 0.5, 0.5], [0.0, 0.0, 0.0]]),
    'quintic': Case(MOVE, velocities=[[0.5] * 3, [0.0] * 3], accelerations=[[0.0] * 3] * 2),
    # the bridge used to follow these linearly; now both refuse
    'velocities-on-some-points': Case(
        MOVE, velocities=[[0.5, 0.5, 0.5], []], refused='velocities must be given'
    ),
    # the bridge used to start these half a second in (the first point already due)
    'stamp-in-the-past': Case(MOVE, delay=-0.5),
    'stamp-in-the-future': Case(MOVE, delay=0.2),
    'subset-other-order': Case([[0.4, -0.3], [0.2, 0.3]], names=('elbow_flex', 'shoulder_pan')),
    'clamped-to-the-limits': Case([[0.0, 0.0, 2.5], [0.0, 0.0, 2.5]]),
    'repeated-joint': Case(MOVE, names=('elbow_flex',) * 3, refused='repeated joint names'),
    'unknown-joint': Case(MOVE, names=('elbow', 'a', 'b'), refused='unknown joint(s) elbow'),
    'times-backwards': Case(MOVE, times=[0.8, 0.4], refused='strictly increasing'),
    'nan-position': Case([[0.3, math.nan, 0.4], MOVE[1]], refused='not a finite position'),
}
MOVING = ['linear', 'cubic', 'stamp-in-the-past', 'subset-other-order']


@pytest.fixture
def converters(so101):
    return build_converters(so101, merge_calibration(so101, None))


def bridge_at_home(converters) -> BridgeCore:
    # velocity_scale 0: the goals are the trajectory itself, so the plans compare exactly
    core = BridgeCore(converters, velocity_scale=0.0, has_gripper=True, stale_timeout=100.0)
    core.on_connected(0.0)
    core.on_positions({j.servo_id: j.to_raw(0.0) for j in converters}, 0.0)
    core.goals(0.0)
    return core


def submit_both(case: Case, core: BridgeCore, arm) -> tuple[str, str]:
    """Give ``case`` to both backends at time 0; return each one's refusal ('' if accepted)."""
    args = (list(case.names), case.times, case.positions, case.velocities)
    refusals = []
    try:
        core.submit_trajectory(
            *args, start=case.delay, now=0.0, accelerations=case.accelerations
        )
        refusals.append('')
    except CommandRejected as exc:
        refusals.append(str(exc).removeprefix('trajectory refused: '))
    prepare_gl()
    from robot_touch.sim.mujoco_arm import SimCommandError

    try:
        arm.follow(*args, delay=case.delay, accelerations=case.accelerations)
        refusals.append('')
    except SimCommandError as exc:
        refusals.append(str(exc).removeprefix('trajectory ignored: '))
    return refusals[0], refusals[1]


@pytest.mark.parametrize('name', list(CASES))
def test_both_backends_accept_refuse_and_plan_alike(so101, converters, name):
    prepare_gl()
    from robot_touch.sim.mujoco_arm import MujocoArm

    case = CASES[name]
    core, arm = bridge_at_home(converters), MujocoArm(so101)
    bridge_refusal, sim_refusal = submit_both(case, core, arm)
    assert bridge_refusal == sim_refusal, 'the same reason from both'
    if case.refused:
        assert case.refused in bridge_refusal
        assert core.trajectory is None and not arm.following
        return
    names = list(core.names)
    columns = [names.index(n) for n in case.names]
    end = max(case.delay, 0.0) + case.times[-1]
    for t in np.arange(0.05, end + 0.3, 0.05):
        arm.run_for(t - arm.time)
        # the sim sampled its last target one step before arm.time
        goals = core.goals(arm.time - arm.timestep)
        planned = np.array([j.to_joint(goals[j.servo_id]) for j in core.joints])
        np.testing.assert_allclose(
            arm.targets()[columns], planned[columns], atol=3e-3, err_msg=f'at {t:.2f} s'
        )
    final = np.clip(case.positions[-1], arm.lower[columns], arm.upper[columns])
    np.testing.assert_allclose(arm.targets()[columns], final, atol=1e-9)


@pytest.mark.parametrize('name', MOVING)
def test_mujoco_true_state_follows_the_plan(so101, name):
    prepare_gl()
    from robot_touch.sim.mujoco_arm import MujocoArm

    case = CASES[name]
    arm = MujocoArm(so101)
    arm.follow(list(case.names), case.times, case.positions, case.velocities, delay=case.delay)
    columns = [arm.names.index(n) for n in case.names]
    traj = parse_trajectory(case.names, case.times, case.positions, arm.names, case.velocities)
    plan = TrajectorySampler(traj, 0.0, np.zeros(len(columns)))
    arm.run_for(0.3)  # before the first point: a past stamp must not skip ahead to it
    true = arm.state().positions[columns]
    np.testing.assert_allclose(true, plan.sample(0.3), atol=0.05)
    arm.run_for(plan.duration + 1.0)
    np.testing.assert_allclose(arm.state().positions[columns], case.positions[-1], atol=0.01)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('name', MOVING)
def test_virtual_arm_true_state_follows_the_plan(so101, converters, name):
    """Check the serial bridge against the virtual arm's true servo state, in real time."""
    case = CASES[name]
    arm = VirtualArm(so101).start()
    worker = None
    try:
        # velocity_scale 0: goals are the trajectory itself (the bridge's own velocity and
        # acceleration limits would otherwise shape its start); the servo's slew follows it
        core = BridgeCore(converters, velocity_scale=0.0, has_gripper=True)
        config = HardwareConfig(
            port=arm.port_path, baudrate=so101.baudrate, protocol=so101.protocol
        )
        worker = HardwareWorker(core, config)
        worker.start()
        wait_for(
            lambda: worker.status().connected and None not in core.held, 10, 'positions latched'
        )
        hand = Hand(arm)
        traj = parse_trajectory(case.names, case.times, case.positions, core.names)
        plan = TrajectorySampler(traj, 0.0, np.zeros(len(case.names)))
        submitted = time.monotonic()
        worker.submit_trajectory(
            list(case.names), case.times, case.positions, case.velocities, case.delay
        )
        time.sleep(0.3)  # before the first point: a past stamp must not skip ahead to it
        elapsed = time.monotonic() - submitted
        true = np.array([hand.position(n) for n in case.names])
        # the servo lags its goal by a cycle or two; a skipped start is 0.2-0.4 rad further on
        assert np.all(np.abs(true - plan.sample(elapsed)) < 0.06), (true, plan.sample(elapsed))
        time.sleep(plan.duration + 0.8)
        true = np.array([hand.position(n) for n in case.names])
        np.testing.assert_allclose(true, case.positions[-1], atol=0.01)
    finally:
        if worker is not None:
            worker.stop()
        arm.stop()
