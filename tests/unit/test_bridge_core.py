"""The serial bridge's pure core: conversion, clamping, watchdog, trajectories, stale joints,
re-latching, backoff and the once-and-clear fault book."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from robot_touch.core.bridge_core import (
    Backoff,
    BridgeCore,
    CommandRejected,
    FaultBook,
    JointConverter,
    StaleTracker,
    TrajectorySampler,
    Watchdog,
    build_converters,
)
from robot_touch.core.calibration import JointCalibration, merge_calibration

STEP = 0.01  # cycle period used below (100 Hz)


@pytest.fixture(scope="module")
def converters(so101):
    return build_converters(so101, merge_calibration(so101, None))


def make_core(converters, **kwargs) -> BridgeCore:
    kwargs.setdefault("command_timeout", 0.25)
    kwargs.setdefault("stale_after", 3)
    kwargs.setdefault("has_gripper", True)
    return BridgeCore(converters, **kwargs)


def raw_at(converters, positions):
    return {j.servo_id: j.to_raw(p) for j, p in zip(converters, positions)}


def connected_core(converters, positions=None, now=0.0, **kwargs) -> BridgeCore:
    """A core that is connected and has read ``positions`` once (latched there)."""
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
        with pytest.raises(CommandRejected, match="not a finite position"):
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
    cal = JointCalibration(zero=2000, direction=-1, units_per_rad=651.8986, raw_min=1800, raw_max=2100)
    joint = JointConverter.build(spec.name, spec.servo_id, spec.lower, spec.upper, spec.velocity, cal)
    assert joint.lower == pytest.approx((2100 - 2000) * -1 / 651.8986)
    assert joint.upper == pytest.approx((1800 - 2000) * -1 / 651.8986)
    assert {joint.to_raw(v) for v in (-10.0, 10.0)} == {1800, 2100}


def test_calibrated_range_outside_the_limits_is_refused(so101):
    spec = so101.joints[0]
    cal = JointCalibration(zero=0, direction=1, units_per_rad=651.8986, raw_min=3000, raw_max=4000)
    with pytest.raises(ValueError, match="recalibrate"):
        JointConverter.build(spec.name, spec.servo_id, spec.lower, spec.upper, spec.velocity, cal)


# ---------------------------------------------------------------------------- small parts


def test_watchdog_expires_after_timeout_and_is_expired_before_first_feed():
    dog = Watchdog(0.25)
    assert dog.expired(0.0)
    dog.feed(1.0)
    assert not dog.expired(1.25)
    assert dog.expired(1.2501)


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.nan], ids=["zero", "negative", "nan"])
def test_watchdog_needs_a_positive_timeout(timeout):
    with pytest.raises(ValueError, match="command_timeout must be positive"):
        Watchdog(timeout)


def test_backoff_doubles_to_the_maximum_and_resets():
    backoff = Backoff(0.2, 2.0)
    assert [backoff.next_delay() for _ in range(6)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


def test_stale_tracker_marks_after_n_misses_and_reports_recovery_once():
    tracker = StaleTracker(2, stale_after=3)
    assert tracker.update([False, True]) == ([], [])
    assert tracker.update([False, True]) == ([], [])
    assert tracker.update([False, True]) == ([0], [])
    assert tracker.update([False, True]) == ([], [])
    assert tracker.update([True, True]) == ([], [0])
    assert tracker.stale == [False, False]


def test_fault_book_logs_once_and_clears_once():
    book = FaultBook()
    assert book.raise_("port", "port gone")
    assert not book.raise_("port", "port gone (attempt 2)")
    assert book.active == {"port": "port gone (attempt 2)"}
    assert book.clear("port", "recovered: port back")
    assert not book.clear("port")
    assert [(e.level, e.message) for e in book.drain()] == [("warn", "port gone"), ("info", "recovered: port back")]
    assert book.drain() == []


def test_trajectory_sampler_interpolates_from_start_and_holds_the_last_point():
    traj = TrajectorySampler([0], [1.0, 2.0], [[1.0], [3.0]], None, start=10.0, start_positions=[0.0])
    assert traj.sample(9.0) == [0.0]
    assert traj.sample(10.5) == pytest.approx([0.5])
    assert traj.sample(11.5) == pytest.approx([2.0])
    assert traj.sample(20.0) == [3.0]


def test_trajectory_sampler_hermite_matches_the_point_velocities():
    traj = TrajectorySampler([0], [0.0, 1.0], [[0.0], [1.0]], [[0.0], [0.0]], start=0.0, start_positions=[5.0])
    assert traj.sample(0.0) == [0.0]  # a point at t=0 replaces the start position
    assert traj.sample(0.5) == pytest.approx([0.5])
    assert traj.sample(0.1)[0] < 0.1  # eases out of rest, unlike linear


# ---------------------------------------------------------------------------- the core


def test_nothing_is_written_before_the_first_reading(converters):
    core = make_core(converters)
    assert core.goals(0.0) == {}
    core.on_connected(0.0)
    assert core.goals(0.0) == {}
    core.on_positions(raw_at(converters, [0.1] * 6), 0.0)
    assert goal_positions(core, core.goals(0.01)) == pytest.approx([0.1] * 6, abs=2e-3)


def test_command_is_followed_at_the_velocity_limit(converters):
    core = connected_core(converters)
    core.submit_command([1.0, 0, 0, 0, 0, 0], 0.0)
    core.goals(0.0)
    first = goal_positions(core, core.goals(STEP))[0]
    assert first == pytest.approx(converters[0].velocity * STEP, abs=2e-3)
    t = STEP
    while t < 1.0:
        t += STEP
        core.submit_command([1.0, 0, 0, 0, 0, 0], t)
        goals = core.goals(t)
    assert goal_positions(core, goals)[0] == pytest.approx(1.0, abs=2e-3)


def test_arm_only_command_is_refused_without_a_gripper(converters):
    core = connected_core(converters, has_gripper=False)
    with pytest.raises(CommandRejected, match="has 5 values, expected 6"):
        core.submit_command([0.0] * 5, 0.0)


def test_arm_only_command_leaves_the_gripper_held(converters):
    core = connected_core(converters, [0.0, 0, 0, 0, 0, 0.5])
    core.submit_command([0.0] * 5, 0.0)
    core.goals(0.0)
    assert goal_positions(core, core.goals(0.5))[5] == pytest.approx(0.5, abs=2e-3)


@pytest.mark.parametrize(
    "values, reason",
    [
        ([0.0, math.nan, 0, 0, 0, 0], "not a finite position"),
        ([0.0, 0, math.inf, 0, 0, 0], "not a finite position"),
        ([0.0, 0], "has 2 values, expected 6"),
    ],
    ids=["nan", "inf", "wrong-length"],
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
    assert [e.level for e in events] == ["warn"] and reason in events[0].message
    core.submit_command([0.5, 0, 0, 0, 0, 0], 0.2)
    assert [e.message for e in core.faults.drain()] == ["recovered: commands valid again"]


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
    assert core.counters.clamps["shoulder_pan"] == 1 and core.counters.clamps["gripper"] == 1
    assert core.counters.clamps["elbow_flex"] == 0


def test_watchdog_holds_at_the_measured_position_and_a_later_command_starts_there(converters):
    core = connected_core(converters)
    core.submit_command([1.0, 0, 0, 0, 0, 0], 0.0)
    t = 0.0
    for _ in range(10):
        t += STEP
        core.goals(t)
        # the arm lags: it is measured at 0.05 while the held goal runs ahead
        core.on_positions(raw_at(converters, [0.05, 0, 0, 0, 0, 0]), t)
    assert core.held[0] > 0.2
    t = 0.5  # no command for longer than the timeout
    goals = core.goals(t)
    assert goal_positions(core, goals)[0] == pytest.approx(0.05, abs=2e-3)
    assert core.holding and core.command is None
    assert any("holding position" in e.message for e in core.faults.drain())
    core.submit_command([-1.0, 0, 0, 0, 0, 0], t + STEP)
    assert goal_positions(core, core.goals(t + STEP))[0] == pytest.approx(0.05 - converters[0].velocity * STEP, abs=2e-3)


def test_reconnection_relatches_and_drops_commands_from_before(converters):
    core = connected_core(converters)
    core.submit_command([1.0, 0, 0, 0, 0, 0], 0.0)
    core.goals(0.0)
    core.on_disconnected(0.1)
    assert core.goals(0.11) == {}
    core.submit_command([1.5, 0, 0, 0, 0, 0], 0.2)  # arrives while the port is gone
    core.on_connected(0.3)
    assert core.goals(0.3) == {}  # nothing until a fresh reading
    core.on_positions(raw_at(converters, [0.3, 0, 0, 0, 0, 0]), 0.31)
    for t in (0.32, 0.33, 0.34):
        assert goal_positions(core, core.goals(t))[0] == pytest.approx(0.3, abs=2e-3)
    core.submit_command([1.5, 0, 0, 0, 0, 0], 0.35)  # newer than the reconnection: followed
    assert goal_positions(core, core.goals(0.36))[0] > 0.3


def test_stale_joint_holds_the_arm_and_its_recovery_relatches(converters):
    core = connected_core(converters, stale_after=3)
    good = raw_at(converters, [0.0] * 6)
    core.submit_command([0.5, 0, 0, 0, 0, 0], 0.0)
    t = 0.0
    for _ in range(3):
        t += STEP
        core.goals(t)
        core.submit_command([0.5, 0, 0, 0, 0, 0], t)
        reading = core.on_positions({**good, 3: None}, t)
    assert core.stale_joints() == ["elbow_flex"]
    assert reading.stale[2] and reading.positions[2] == 0.0  # the last good value, flagged
    errors = [e for e in core.faults.drain() if e.level == "error"]
    assert len(errors) == 1 and "elbow_flex" in errors[0].message
    held = core.held[0]
    core.submit_command([0.5, 0, 0, 0, 0, 0], t + STEP)
    core.goals(t + STEP)
    assert core.held[0] == held  # no motion while a joint is silent
    core.on_positions(raw_at(converters, [0.0, 0, 0.2, 0, 0, 0]), t + 2 * STEP)
    assert core.stale_joints() == []
    assert core.command is None  # the old command is not resumed
    assert goal_positions(core, core.goals(t + 3 * STEP))[2] == pytest.approx(0.2, abs=2e-3)
    assert any(e.message.startswith("recovered") for e in core.faults.drain())


def test_no_reading_no_joint_state(converters):
    core = make_core(converters)
    core.on_connected(0.0)
    assert core.on_positions({1: 2048}, 0.0) is None  # the other joints were never read
    assert core.on_positions(raw_at(converters, [0.0] * 6), 0.01) is not None
    assert core.on_positions({}, 0.02) is None  # silence: nothing new to publish


def test_velocity_is_the_finite_difference_of_fresh_readings(converters):
    core = connected_core(converters, now=0.0)
    reading = core.on_positions(raw_at(converters, [0.1, 0, 0, 0, 0, 0]), 0.1)
    assert reading.velocities[0] == pytest.approx(1.0, abs=0.02)
    assert reading.stamp == 0.1 and reading.fresh == [True] * 6


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
    core.submit_trajectory(["elbow_flex"], [1.0], [[1.0]], None, start=0.0, now=0.0)
    assert goal_positions(core, core.goals(0.5))[2] == pytest.approx(0.5, abs=2e-3)
    assert core.goals(5.0) and core.held[2] == pytest.approx(1.0)  # holds the end, no watchdog
    core.submit_trajectory(["elbow_flex"], [1.0], [[0.0]], None, start=5.0, now=5.0)
    assert goal_positions(core, core.goals(5.5))[2] == pytest.approx(0.5, abs=2e-3)


@pytest.mark.parametrize(
    "names, times, points, reason",
    [
        (["nope"], [1.0], [[0.0]], "must be distinct joints"),
        (["elbow_flex"], [1.0, 0.5], [[0.0], [0.1]], "strictly increasing"),
        (["elbow_flex"], [1.0], [[math.nan]], "not a finite position"),
        (["elbow_flex"], [1.0, 2.0], [[9.0], [math.inf]], "not a finite position"),
        (["elbow_flex", "wrist_flex"], [1.0], [[0.0]], "one position per joint"),
    ],
    ids=["unknown-joint", "times-backwards", "nan", "inf-after-a-clamped-point", "ragged"],
)
def test_bad_trajectory_is_refused_and_the_old_one_keeps_running(converters, names, times, points, reason):
    core = connected_core(converters)
    core.submit_trajectory(["elbow_flex"], [1.0], [[1.0]], None, start=0.0, now=0.0)
    old = core.trajectory
    with pytest.raises(CommandRejected, match=reason):
        core.submit_trajectory(names, times, points, None, start=0.0, now=0.0)
    assert core.trajectory is old
    assert core.counters.clamps["elbow_flex"] == 0  # nothing counted for a refused trajectory


def test_empty_trajectory_cancels_and_holds(converters):
    core = connected_core(converters)
    core.submit_trajectory(["elbow_flex"], [1.0], [[1.0]], None, start=0.0, now=0.0)
    core.submit_trajectory([], [], [], None, start=0.0, now=0.0)
    assert core.trajectory is None
    core.goals(0.0)
    assert core.goals(0.5) and core.held[2] == pytest.approx(0.0)
