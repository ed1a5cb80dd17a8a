"""
The serial bridge's pure core.

Conversion, clamping, watchdog, trajectories, stale joints (by time, NaN in the joint state),
re-latching and rejoining, measured velocities, backoff and the once-and-clear fault book.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.core.bridge_core import (
    Backoff,
    BridgeCore,
    build_converters,
    CommandRejected,
    FaultBook,
    JointConverter,
    Watchdog,
)
from robot_touch.core.calibration import JointCalibration, merge_calibration

STEP = 0.01  # cycle period used below (100 Hz)


@pytest.fixture(scope='module')
def converters(so101):
    return build_converters(so101, merge_calibration(so101, None))


def make_core(converters, **kwargs) -> BridgeCore:
    kwargs.setdefault('command_timeout', 0.25)
    kwargs.setdefault('stale_timeout', 0.1)
    kwargs.setdefault('has_gripper', True)
    return BridgeCore(converters, **kwargs)


def raw_at(converters, positions):
    return {j.servo_id: j.to_raw(p) for j, p in zip(converters, positions)}


def connected_core(converters, positions=None, now=0.0, **kwargs) -> BridgeCore:
    """Return a core that is connected and has read ``positions`` once (latched there)."""
    core = make_core(converters, **kwargs)
    core.on_connected(now)
    core.on_positions(raw_at(converters, positions or [0.0] * len(converters)), now)
    return core


def goal_positions(core, goals):
    return [j.to_joint(goals[j.servo_id]) for j in core.joints]


# ---------------------------------------------------------------------------- conversion

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(data=st.data())
def test_radian_raw_radian_round_trip_within_one_raw_step(converters, data):
    joint = data.draw(st.sampled_from(converters))
    value = data.draw(st.floats(joint.lower, joint.upper))
    back = joint.to_joint(joint.to_raw(value))
    assert abs(back - value) <= 1.0 / joint.calibration.units_per_rad


@given(data=st.data())
def test_clamping_never_leaves_the_limits_and_refuses_non_finite(converters, data):
    joint = data.draw(st.sampled_from(converters))
    value = data.draw(st.floats(allow_nan=True, allow_infinity=True))
    if not math.isfinite(value):
        with pytest.raises(CommandRejected, match='not a finite position'):
            joint.clamp(value)
        return
    clamped, hit = joint.clamp(value)
    assert joint.lower <= clamped <= joint.upper
    assert hit == (not joint.lower <= value <= joint.upper)
    raw = joint.to_raw(value)
    lo, hi = sorted((joint.calibration.to_raw(joint.lower), joint.calibration.to_raw(joint.upper)))
    assert lo - 0.5 <= raw <= hi + 0.5


def test_calibrated_raw_range_narrows_the_limits(so101):
    spec = so101.joints[0]
    cal = JointCalibration(
        zero=2000, direction=-1, units_per_rad=651.8986, raw_min=1800, raw_max=2100
    )
    joint = JointConverter.build(
        spec.name, spec.servo_id, spec.lower, spec.upper, spec.velocity, cal
    )
    assert joint.lower == pytest.approx((2100 - 2000) * -1 / 651.8986)
    assert joint.upper == pytest.approx((1800 - 2000) * -1 / 651.8986)
    assert {joint.to_raw(v) for v in (-10.0, 10.0)} == {1800, 2100}


def test_calibrated_range_outside_the_limits_is_refused(so101):
    spec = so101.joints[0]
    cal = JointCalibration(zero=0, direction=1, units_per_rad=651.8986, raw_min=3000, raw_max=4000)
    with pytest.raises(ValueError, match='recalibrate'):
        JointConverter.build(spec.name, spec.servo_id, spec.lower, spec.upper, spec.velocity, cal)


# ---------------------------------------------------------------------------- small parts


def test_watchdog_expires_after_timeout_and_is_expired_before_first_feed():
    dog = Watchdog(0.25)
    assert dog.expired(0.0)
    dog.feed(1.0)
    assert not dog.expired(1.25)
    assert dog.expired(1.2501)


@pytest.mark.parametrize('timeout', [0.0, -1.0, math.nan], ids=['zero', 'negative', 'nan'])
def test_watchdog_needs_a_positive_timeout(timeout):
    with pytest.raises(ValueError, match='command_timeout must be positive'):
        Watchdog(timeout)


def test_backoff_doubles_to_the_maximum_and_resets():
    backoff = Backoff(0.2, 2.0)
    assert [backoff.next_delay() for _ in range(6)] == pytest.approx(
        [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    )
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


def test_fault_book_logs_once_and_clears_once():
    book = FaultBook()
    assert book.raise_('port', 'port gone')
    assert not book.raise_('port', 'port gone (attempt 2)')
    assert book.active == {'port': 'port gone (attempt 2)'}
    assert book.clear('port', 'recovered: port back')
    assert not book.clear('port')
    assert [(e.level, e.message) for e in book.drain()] == [
        ('warn', 'port gone'),
        ('info', 'recovered: port back'),
    ]
    assert book.drain() == []


# ---------------------------------------------------------------------------- the core


def test_nothing_is_written_before_the_first_reading(converters):
    core = make_core(converters)
    assert core.goals(0.0) == {}
    core.on_connected(0.0)
    assert core.goals(0.0) == {}
    core.on_positions(raw_at(converters, [0.1] * 6), 0.0)
    assert goal_positions(core, core.goals(0.01)) == pytest.approx([0.1] * 6, abs=2e-3)


def run_cycles(core, start, seconds, command=None, positions=None):
    """
    Cycle the core every STEP from ``start`` for ``seconds``; return (end time, goals per cycle).

    Each cycle streams ``command`` and reads back ``positions`` (default: the goals written, as
    a perfect servo).
    """
    t, out = start, []
    n = round(seconds / STEP)
    for _ in range(n):
        t = round(t + STEP, 9)
        if command is not None:
            core.submit_command(command, t)
        goals = core.goals(t)
        out.append(goal_positions(core, goals) if goals else None)
        back = positions if positions is not None else (out[-1] or core.measured)
        core.on_positions(raw_at(core.joints, back), t)
    return t, out


def test_a_far_command_is_reached_with_a_ramp_within_velocity_and_acceleration(converters):
    core = connected_core(converters)
    _t, path = run_cycles(core, 0.0, 2.0, [1.0, 0, 0, 0, 0, 0])
    pan = [p[0] for p in path]
    assert pan[-1] == pytest.approx(1.0, abs=2e-3)
    vel = [(b - a) / STEP for a, b in zip(pan, pan[1:])]
    acc = [(b - a) / STEP for a, b in zip(vel, vel[1:])]
    step = 1.0 / converters[0].calibration.units_per_rad  # goals are whole servo steps
    assert max(abs(v) for v in vel) <= converters[0].velocity + 2 * step / STEP
    assert max(abs(a) for a in acc) <= converters[0].acceleration + 4 * step / STEP**2
    assert abs(vel[0]) < 0.1 * converters[0].velocity  # starts gently, not at full speed


def test_arm_only_command_is_refused_without_a_gripper(converters):
    core = connected_core(converters, has_gripper=False)
    with pytest.raises(CommandRejected, match='has 5 values, expected 6'):
        core.submit_command([0.0] * 5, 0.0)


def test_arm_only_command_leaves_the_gripper_held(converters):
    core = connected_core(converters, [0.0, 0, 0, 0, 0, 0.5])
    core.submit_command([0.0] * 5, 0.0)
    core.goals(0.0)
    assert goal_positions(core, core.goals(0.5))[5] == pytest.approx(0.5, abs=2e-3)


@pytest.mark.parametrize(
    'values, reason',
    [
        ([0.0, math.nan, 0, 0, 0, 0], 'not a finite position'),
        ([0.0, 0, math.inf, 0, 0, 0], 'not a finite position'),
        ([0.0, 0], 'has 2 values, expected 6'),
    ],
    ids=['nan', 'inf', 'wrong-length'],
)
def test_bad_command_is_refused_and_changes_nothing(converters, values, reason):
    core = connected_core(converters)
    core.submit_command([0.5, 0, 0, 0, 0, 0], 0.0)
    before = (list(core.command), dict(core.counters.clamps), core.watchdog.last)
    with pytest.raises(CommandRejected, match=reason):
        core.submit_command(values, 0.1)
    assert (list(core.command), dict(core.counters.clamps), core.watchdog.last) == before
    assert core.counters.rejected == 1
    events = core.faults.drain()
    assert [e.level for e in events] == ['warn'] and reason in events[0].message
    core.submit_command([0.5, 0, 0, 0, 0, 0], 0.2)
    assert [e.message for e in core.faults.drain()] == ['recovered: commands valid again']


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_command_is_clamped_or_refused(converters, value):
    core = connected_core(converters)
    try:
        clamped = core.submit_command([value] * 6, 0.0)
    except CommandRejected:
        assert not math.isfinite(value) and core.command is None
        return
    assert all(j.lower <= c <= j.upper for j, c in zip(converters, clamped))


def test_clamps_are_counted_per_joint(converters):
    core = connected_core(converters)
    core.submit_command([99.0, 0, 0, 0, 0, -99.0], 0.0)
    assert core.command[0] == converters[0].upper
    assert core.counters.clamps['shoulder_pan'] == 1 and core.counters.clamps['gripper'] == 1
    assert core.counters.clamps['elbow_flex'] == 0


def test_watchdog_holds_where_the_goal_stands_and_a_later_command_ramps_from_there(converters):
    core = connected_core(converters)
    t, _ = run_cycles(core, 0.0, 0.3, [1.0, 0, 0, 0, 0, 0])
    moving = core.held[0]
    assert 0.05 < moving < 1.0
    t, path = run_cycles(core, t, 0.6)  # the stream stops: the ramp brakes, then holds
    stop = path[-1][0]
    assert core.holding and core.command is None
    assert all(b[0] >= a[0] - 1e-9 for a, b in zip(path, path[1:]))  # never a backwards step
    assert any('holding position' in e.message for e in core.faults.drain())
    t, path = run_cycles(core, t, 0.05, [-1.0, 0, 0, 0, 0, 0])
    assert stop - 0.01 < path[-1][0] < stop  # a gentle start from where it stood


def test_a_stream_within_the_limits_is_written_through_unchanged(converters, so101):
    from robot_touch.core.motion import JointLimits, SetpointGenerator

    core = connected_core(converters, [0.0] * 6)
    source = SetpointGenerator(JointLimits.from_specs(so101.all_joints), [0.0] * 6)
    source.move_to([1.2, -0.8, 0.9, 1.1, -2.0, 1.0])
    t, worst = 0.0, 0.0
    for _ in range(250):
        t = round(t + STEP, 9)
        command = list(source.step(STEP).position)
        core.submit_command(command, t)
        goals = goal_positions(core, core.goals(t))
        worst = max(worst, max(abs(g - c) for g, c in zip(goals, command)))
        core.on_positions(raw_at(converters, goals), t)
    assert worst <= 1.0 / converters[0].calibration.units_per_rad  # within one servo step


def test_reconnection_relatches_and_a_stream_that_ran_on_must_come_back_first(converters):
    core = connected_core(converters)
    t, _ = run_cycles(core, 0.0, 0.1, [0.2, 0, 0, 0, 0, 0])
    core.on_disconnected(t)
    assert core.goals(t + STEP) == {}
    core.submit_command([1.5, 0, 0, 0, 0, 0], t + 0.05)  # the commander moved on meanwhile
    core.on_connected(t + 0.1)
    assert core.goals(t + 0.1) == {}  # nothing until a fresh reading of every joint
    core.on_positions(raw_at(converters, [0.3, 0, 0, 0, 0, 0]), t + 0.1)
    t, path = run_cycles(core, t + 0.1, 0.3, [1.5, 0, 0, 0, 0, 0], positions=[0.3, 0, 0, 0, 0, 0])
    assert all(p[0] == pytest.approx(0.3, abs=2e-3) for p in path)  # held, not chasing 1.5
    assert 'rejoin' in core.faults.active
    ramp = [0.3 + 0.01 * k for k in range(6)]  # the commander comes back to the arm ...
    for value in reversed(ramp):
        t, _ = run_cycles(core, t, STEP, [value, 0, 0, 0, 0, 0], positions=[0.3, 0, 0, 0, 0, 0])
    assert 'rejoin' not in core.faults.active  # ... and is followed from there
    t, path = run_cycles(core, t, 0.5, [0.5, 0, 0, 0, 0, 0])
    assert path[-1][0] == pytest.approx(0.5, abs=2e-3)


def test_a_new_stream_after_the_watchdog_is_followed_from_the_held_position(converters):
    core = connected_core(converters)
    core.on_disconnected(0.0)
    core.on_connected(0.1)
    core.on_positions(raw_at(converters, [0.3, 0, 0, 0, 0, 0]), 0.11)
    t, path = run_cycles(core, 0.11, 1.0, [0.6, 0, 0, 0, 0, 0])  # no stream ran through the fault
    assert path[-1][0] == pytest.approx(0.6, abs=2e-3)


def test_stale_joint_is_nan_brakes_the_arm_and_its_recovery_relatches(converters):
    core = connected_core(converters)
    t, _ = run_cycles(core, 0.0, 0.3, [1.8, 0, 0, 0, 0, 0])
    reading = None
    pan = []
    for k in range(80):  # elbow_flex stops answering for 0.8 s; the stream turns back
        t = round(t + STEP, 9)
        core.submit_command([1.8 if k < 15 else -1.0, 0, 0, 0, 0, 0], t)
        pan.append(goal_positions(core, core.goals(t))[0])
        reading = core.on_positions({**raw_at(converters, core.held), 3: None}, t) or reading
    assert core.stale_joints() == ['elbow_flex']
    assert reading.stale[2]
    assert math.isnan(reading.positions[2]) and math.isnan(reading.velocities[2])
    errors = [e for e in core.faults.drain() if e.level == 'error']
    assert len(errors) == 1 and 'elbow_flex' in errors[0].message
    vel = [(b - a) / STEP for a, b in zip(pan, pan[1:])]
    assert min(vel) >= -1e-9 and vel[-1] == 0.0  # braked to rest; the turn back is not followed
    acc = [(b - a) / STEP for a, b in zip(vel, vel[1:])]
    step = 1.0 / converters[0].calibration.units_per_rad
    assert max(abs(a) for a in acc) <= converters[0].acceleration + 4 * step / STEP**2
    held = core.held[0]
    assert held < 1.8
    core.on_positions(raw_at(converters, [held, 0, 0.2, 0, 0, 0]), t + STEP)  # back, moved by hand
    assert core.stale_joints() == []
    back = [held, 0, 0.2, 0, 0, 0]
    t, path = run_cycles(core, t + STEP, 0.1, [-1.0, 0, 0, 0, 0, 0], positions=back)
    assert path[-1][2] == pytest.approx(0.2, abs=2e-3)  # re-latched where the arm is
    assert path[-1][0] == pytest.approx(held, abs=2e-3)  # the stream that ran on is not chased
    assert any(e.message.startswith('recovered') for e in core.faults.drain())


def test_a_joint_never_read_is_nan_and_silence_publishes_nothing(converters):
    core = make_core(converters)
    core.on_connected(0.0)
    reading = core.on_positions({1: 2048}, 0.0)
    assert reading.positions[0] == 0.0 and all(math.isnan(p) for p in reading.positions[1:])
    assert core.goals(0.0) == {}  # no goal while a position is unknown
    assert core.on_positions(raw_at(converters, [0.0] * 6), 0.01) is not None
    assert core.on_positions({}, 0.02) is None  # silence: nothing new to publish


def test_velocity_is_measured_over_at_least_20_ms_and_bounded(converters):
    core = connected_core(converters, now=0.0)
    reading = core.on_positions(raw_at(converters, [0.1, 0, 0, 0, 0, 0]), 0.1)
    assert reading.velocities[0] == pytest.approx(1.0, abs=0.02)
    assert reading.stamp == 0.1 and reading.fresh == [True] * 6
    # a one-step flicker 2 ms after the last reading is not 0.8 rad/s
    reading = core.on_positions({**raw_at(converters, [0.1, 0, 0, 0, 0, 0]), 2: 2049}, 0.102)
    assert abs(reading.velocities[1]) < 0.1
    reading = core.on_positions(raw_at(converters, [3.0, 0, 0, 0, 0, 0]), 0.13)  # a glitch
    assert reading.velocities[0] <= 2 * converters[0].velocity


def test_each_reading_is_stamped_with_when_it_was_read(converters):
    core = connected_core(converters, now=0.0)
    raw = raw_at(converters, [0.0] * 6)
    reading = core.on_positions(raw, 0.09, read_times={1: 0.05, 2: 0.06})
    assert reading.stamp == 0.05  # the oldest value in it
    late = dict.fromkeys(range(1, 7), 0.14)
    reading = core.on_positions({**raw, 4: None}, 0.15, read_times=late)
    assert reading.stamp == 0.09  # elbow_flex's value, still valid, was read at 0.09


def test_torque_off_writes_nothing_and_torque_on_holds_where_the_arm_was_left(converters):
    core = connected_core(converters)
    core.submit_command([1.0, 0, 0, 0, 0, 0], 0.0)
    core.set_torque(False, 0.1)
    assert core.goals(0.1) == {}
    core.on_positions(raw_at(converters, [-0.7, 0, 0, 0, 0, 0]), 0.2)  # moved by hand
    core.set_torque(True, 0.3)
    assert goal_positions(core, core.goals(0.3))[0] == pytest.approx(-0.7, abs=2e-3)


def test_trajectory_is_followed_by_name_and_replaced_by_a_newer_one(converters):
    core = connected_core(converters, velocity_scale=0.0)
    core.submit_trajectory(['elbow_flex'], [1.0], [[1.0]], None, start=0.0, now=0.0)
    assert goal_positions(core, core.goals(0.5))[2] == pytest.approx(0.5, abs=2e-3)
    assert core.goals(5.0) and core.held[2] == pytest.approx(1.0)  # holds the end, no watchdog
    core.submit_trajectory(['elbow_flex'], [1.0], [[0.0]], None, start=5.0, now=5.0)
    assert goal_positions(core, core.goals(5.5))[2] == pytest.approx(0.5, abs=2e-3)


@pytest.mark.parametrize(
    'names, times, points, reason',
    [
        (['nope'], [1.0], [[0.0]], 'unknown joint'),
        (['elbow_flex'], [1.0, 0.5], [[0.0], [0.1]], 'strictly increasing'),
        (['elbow_flex'], [1.0], [[math.nan]], 'not a finite position'),
        (['elbow_flex'], [1.0, 2.0], [[9.0], [math.inf]], 'not a finite position'),
        (['elbow_flex', 'wrist_flex'], [1.0], [[0.0]], 'needs 2 positions'),
    ],
    ids=['unknown-joint', 'times-backwards', 'nan', 'inf-after-a-clamped-point', 'ragged'],
)
def test_bad_trajectory_is_refused_and_the_old_one_keeps_running(
    converters, names, times, points, reason
):
    core = connected_core(converters)
    core.submit_trajectory(['elbow_flex'], [1.0], [[1.0]], None, start=0.0, now=0.0)
    old = core.trajectory
    with pytest.raises(CommandRejected, match=reason):
        core.submit_trajectory(names, times, points, None, start=0.0, now=0.0)
    assert core.trajectory is old
    assert core.counters.clamps['elbow_flex'] == 0  # nothing counted for a refused trajectory


def test_empty_trajectory_cancels_and_holds(converters):
    core = connected_core(converters)
    core.submit_trajectory(['elbow_flex'], [1.0], [[1.0]], None, start=0.0, now=0.0)
    core.submit_trajectory([], [], [], None, start=0.0, now=0.0)
    assert core.trajectory is None
    core.goals(0.0)
    assert core.goals(0.5) and core.held[2] == pytest.approx(0.0)
