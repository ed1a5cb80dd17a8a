"""The bridge's goal shaper braking on a fault: to rest within the limits, never backwards."""

from __future__ import annotations

import numpy as np
from robot_touch.core.bridge_motion import GoalShaper
from robot_touch.core.motion import JointLimits

DT = 0.01


def limits() -> JointLimits:
    one = np.ones(2)
    return JointLimits(
        lower=-3 * one, upper=3 * one, velocity=2 * one, acceleration=12 * one, jerk=200 * one
    )


def accelerating(start: float, acceleration: float, top: float, cycles: int) -> list[float]:
    """Return a stream from rest at ``start`` speeding up within the limits to ``top`` rad/s."""
    out, q, v = [], start, 0.0
    for _ in range(cycles):
        v = float(np.clip(v + acceleration * DT, -abs(top), abs(top)))
        q += v * DT
        out.append(q)
    return out


def follow(shaper: GoalShaper, commands: list[list[float]]) -> None:
    for command in commands:
        shaper.sample(command, DT)
        shaper.step(DT)


def brake_path(shaper: GoalShaper) -> np.ndarray:
    shaper.brake()
    path = [shaper.position.copy()]
    for _ in range(200):
        path.append(shaper.step(DT))
    return np.array(path)


def test_a_joint_creeping_at_a_braking_stream_s_end_stops_where_it_is() -> None:
    """
    A stream that has all but stopped (the last steps a few µrad) and then a fault.

    The brake must not assume a full-deceleration it cannot unwind without turning back — on a real
    run this drove an elbow 0.055 rad the other way and the tip 9 mm below the floor.
    """
    shaper = GoalShaper(limits(), [0.0, 0.3935])
    moving = accelerating(0.0, 5.0, 0.3, 29)
    commands = [[q, 0.3935 - 1e-5 * k] for k, q in enumerate(moving, 1)]
    follow(shaper, commands)
    assert shaper.mode == 'follow'
    start = shaper.position.copy()
    path = brake_path(shaper)
    travel = path - start
    assert np.all(np.abs(travel[:, 1]) < 1e-4), f'the resting joint moved {travel[:, 1].max()}'
    # the moving one stops ahead of where it was, never behind it
    assert np.all(np.diff(path[:, 0]) >= -1e-12)


def test_a_fast_stream_brakes_at_full_deceleration_to_rest() -> None:
    shaper = GoalShaper(limits(), [0.0, 0.0])
    follow(shaper, list(zip(accelerating(0.0, 10.0, 1.5, 60), accelerating(0.0, -10.0, 1.5, 60))))
    assert shaper.mode == 'follow'
    path = brake_path(shaper)
    velocity = np.diff(path, axis=0) / DT
    assert np.all(velocity[:, 0] >= -1e-9) and np.all(velocity[:, 1] <= 1e-9)  # no turning back
    assert np.allclose(velocity[-5:], 0.0)  # at rest, holding
    # no longer than a stop from 1.5 rad/s at 12 rad/s² plus the jerk ramp
    assert path[-1, 0] - path[0, 0] < 1.5**2 / (2 * 12) + 1.5 * 12 / 200
