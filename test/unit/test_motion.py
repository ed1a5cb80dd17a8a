"""SetpointGenerator: jerk-limited setpoints never leave the position, velocity or accel limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from robot_touch.core.motion import JointLimits, SetpointGenerator

PERIOD = 0.01
# Finite differences of a jerk-limited trajectory stay inside the limits; this only absorbs
# floating-point rounding.
REL_TOL = 1e-6


@pytest.fixture(scope='module')
def limits(so101) -> JointLimits:
    return JointLimits.from_specs(so101.joints)


def run(gen: SetpointGenerator, steps: int, dt: float = PERIOD) -> np.ndarray:
    return np.array([gen.step(dt).position for _ in range(steps)])


def check_limits(
    limits: JointLimits, positions: np.ndarray, dts: np.ndarray, vscale: float = 1.0
) -> None:
    """Positions inside the limits; finite-difference velocity and acceleration inside theirs."""
    tol = 1e-9
    assert np.all(positions >= limits.lower - tol), 'below a lower joint limit'
    assert np.all(positions <= limits.upper + tol), 'above an upper joint limit'
    vel = np.diff(positions, axis=0) / dts[1:, None]
    assert np.all(np.abs(vel) <= limits.velocity * vscale * (1 + REL_TOL) + 1e-9), np.max(
        np.abs(vel) / limits.velocity
    )
    # Acceleration between consecutive mean velocities (centred on the sample between them).
    acc = np.diff(vel, axis=0) / ((dts[1:-1, None] + dts[2:, None]) / 2)
    assert np.all(np.abs(acc) <= limits.acceleration * (1 + 1e-3) + 1e-6), np.max(
        np.abs(acc) / limits.acceleration
    )


def test_move_to_reaches_the_target_at_rest(limits):
    gen = SetpointGenerator(limits, [0.0] * 5)
    goal = [1.0, -1.0, 0.5, 1.2, -2.0]
    gen.move_to(goal)
    for _ in range(1000):
        sp = gen.step(PERIOD)
        if sp.settled:
            break
    assert sp.settled
    np.testing.assert_allclose(sp.position, goal, atol=1e-12)
    np.testing.assert_allclose(sp.velocity, 0.0, atol=1e-12)


def test_targets_outside_the_limits_are_clamped(limits):
    gen = SetpointGenerator(limits, [0.0] * 5)
    gen.move_to([10.0, -10.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(gen.target[:2], [limits.upper[0], limits.lower[1]])


def test_a_new_target_during_motion_blends_without_a_snap(limits):
    gen = SetpointGenerator(limits, [0.0] * 5)
    gen.move_to([1.5] * 5)
    a = run(gen, 30)
    gen.move_to([-1.5] * 5)  # reverse while moving fast
    b = run(gen, 200)
    path = np.vstack((a, b))
    check_limits(limits, path, np.full(len(path), PERIOD))
    assert path[-1][0] < 0, 'the new target was followed'


@pytest.mark.parametrize('scale', [0.05, 0.5], ids=['scale_0.05', 'scale_0.5'])
def test_speed_scale_caps_velocity_once_settled_to_it(limits, scale):
    gen = SetpointGenerator(limits, list(limits.lower + 0.01))
    gen.move_to(list(limits.upper - 0.01))
    run(gen, 20)  # moving at some speed, then slowed down live
    gen.set_speed_scale(scale)
    run(gen, 150)  # long enough to brake to the new cap
    vel = np.array([gen.step(PERIOD).velocity for _ in range(20)])
    assert np.all(np.abs(vel) <= limits.velocity * scale * (1 + REL_TOL))


def test_jog_stops_at_the_joint_limit_without_crossing_it(limits):
    gen = SetpointGenerator(limits, [0.0] * 5)
    gen.jog(limits.velocity)  # full speed towards every upper limit
    path = run(gen, 400)
    check_limits(limits, path, np.full(len(path), PERIOD))
    np.testing.assert_allclose(path[-1], limits.upper, atol=1e-9)


def test_brake_stops_within_limits_and_holds(limits):
    gen = SetpointGenerator(limits, [0.0] * 5)
    gen.jog(-limits.velocity)
    a = run(gen, 40)
    gen.brake()
    b = run(gen, 100)
    path = np.vstack((a, b))
    check_limits(limits, path, np.full(len(path), PERIOD))
    assert gen.mode == 'hold'
    np.testing.assert_allclose(gen.velocity, 0.0)


def test_latch_takes_the_measured_state_at_rest(limits):
    gen = SetpointGenerator(limits, [0.0] * 5)
    gen.move_to([1.0] * 5)
    run(gen, 20)
    gen.latch([0.3, 0.2, 0.1, 0.0, -0.1])
    sp = gen.step(PERIOD)
    np.testing.assert_allclose(sp.position, [0.3, 0.2, 0.1, 0.0, -0.1])
    np.testing.assert_allclose(sp.velocity, 0.0)
    assert sp.settled, 'the old target is forgotten'


@pytest.mark.parametrize(
    'call, message',
    [
        (lambda g: g.move_to([float('nan')] * 5), 'finite'),
        (lambda g: g.jog([1.0, 2.0]), '5 values'),
        (lambda g: g.set_speed_scale(1.5), r'within \[0, 1\]'),
        (lambda g: g.step(0.0), 'positive'),
    ],
    ids=['nan_target', 'wrong_length_jog', 'scale_above_1', 'zero_dt'],
)
def test_bad_arguments_raise_and_leave_the_state_alone(limits, call, message):
    gen = SetpointGenerator(limits, [0.1] * 5)
    before = gen.position
    with pytest.raises(ValueError, match=message):
        call(gen)
    np.testing.assert_array_equal(gen.position, before)
    assert gen.mode == 'hold'


joint_vectors = st.lists(st.floats(-3.0, 3.0), min_size=5, max_size=5)
actions = st.one_of(
    st.tuples(st.just('move'), joint_vectors),
    st.tuples(st.just('jog'), joint_vectors),
    st.tuples(st.just('brake'), st.none()),
    st.tuples(st.just('scale'), st.floats(0.0, 1.0)),
)


@settings(max_examples=150, deadline=None)
@given(
    sequence=st.lists(st.tuples(actions, st.integers(1, 40)), min_size=1, max_size=8),
    early=st.lists(st.floats(0.1, 1.0), min_size=1, max_size=5),
)
def test_random_goal_sequences_never_exceed_the_limits(limits, sequence, early):
    """
    ~150 examples × up to 320 steps.

    Position, velocity and acceleration stay in bounds, also with the shortened time steps of
    event-triggered cycles.
    """
    gen = SetpointGenerator(limits, [0.0] * 5)
    positions = [gen.position]
    dts = [PERIOD]
    k = 0
    for (kind, arg), steps in sequence:
        if kind == 'move':
            gen.move_to(arg)
        elif kind == 'jog':
            gen.jog(arg)
        elif kind == 'brake':
            gen.brake()
        else:
            gen.set_speed_scale(arg)
        for i in range(steps):
            # The first cycle after a new goal may come early (event-triggered): shorter dt.
            dt = PERIOD * early[k % len(early)] if i == 0 else PERIOD
            k += 1
            positions.append(gen.step(dt).position)
            dts.append(dt)
    check_limits(limits, np.array(positions), np.array(dts))
