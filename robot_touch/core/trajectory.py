"""
Timed joint trajectories: one validation and one sampler for every backend.

The serial bridge (:class:`robot_touch.core.bridge_core.BridgeCore`) and the simulated arm
(:class:`robot_touch.sim.mujoco_arm.MujocoArm`) both take ``arm_controller/joint_trajectory``
through this module, so they accept, refuse and execute the same trajectories. The rules are
those of ros2_controllers' joint_trajectory_controller (JTC):

* joint names are distinct and each is a joint of the arm; joints not named keep their goal;
* ``time_from_start`` is finite, ≥ 0 and strictly increasing;
* every point gives one finite position per joint name;
* velocities are given on every point or on none, likewise accelerations (a point with an
  empty field has none); accelerations only together with velocities;
* between points the motion is linear without velocities, a cubic Hermite spline with them,
  and a quintic one with velocities and accelerations; before the first point the joints move
  from where they were held when the trajectory was accepted (velocity and acceleration 0
  there); after the last point they hold it;
* no points at all cancels the running trajectory: the arm holds.

Start time: a zero header stamp means "start now", as in JTC. A stamp in the future delays the
start. A stamp in the past also starts now — the whole trajectory, its timing kept
(:func:`start_delay`). JTC instead places the points on the past stamp's timeline, so the
points already due are skipped and the arm heads straight for a later point; that is a jump
the bridge would then have to clip, and the sim would execute as a lurch. Starting now never
skips a point a caller asked for; both backends do the same.

Clamping to the joint limits stays with each backend (the bridge counts clamps per joint and
knows the calibrated range). Times are seconds on any clock; nothing here reads one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
from typing import Sequence

import numpy as np


class TrajectoryError(ValueError):
    """A trajectory refused as a whole, with the one reason a user reads."""


@dataclass(frozen=True)
class JointTrajectory:
    """
    A validated trajectory, its columns in the order of ``names``.

    :param names: the joints it moves.
    :param indices: the index of each name among the arm's joints.
    :param times: time from start of each point (s), strictly increasing, ≥ 0.
    :param positions: one row per point, one column per name.
    :param velocities: same shape, or None.
    :param accelerations: same shape, or None (only with velocities).
    """

    names: tuple[str, ...]
    indices: tuple[int, ...]
    times: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray | None = None
    accelerations: np.ndarray | None = None

    @property
    def duration(self) -> float:
        """Return the time from start of the last point (s)."""
        return float(self.times[-1])

    def with_positions(self, positions: np.ndarray) -> JointTrajectory:
        """Return the same trajectory with other positions (e.g. clamped to the limits)."""
        return replace(self, positions=np.asarray(positions, dtype=float).reshape(self.shape))

    @property
    def shape(self) -> tuple[int, int]:
        """Return (points, joints)."""
        return (len(self.times), len(self.names))


def parse_trajectory(
    names: Sequence[str],
    times: Sequence[float],
    positions: Sequence[Sequence[float]],
    known: Sequence[str],
    velocities: Sequence[Sequence[float]] | None = None,
    accelerations: Sequence[Sequence[float]] | None = None,
) -> JointTrajectory | None:
    """
    Validate a trajectory against the arm's joints ``known``; None when it has no points.

    :param names: the joint of each column.
    :param times: time from start of each point (s).
    :param positions: one row per point.
    :param known: the arm's joints, in its order (the indices refer to it).
    :param velocities: one row per point (empty rows: none on that point), or None.
    :param accelerations: as ``velocities``.
    :returns: the trajectory, or None for "no points": cancel and hold.
    :raises TrajectoryError: the first rule broken; nothing is returned.
    """
    if len(positions) == 0 and len(times) == 0:
        return None
    names = [str(n) for n in names]
    if not names:
        raise TrajectoryError('a trajectory with points must name its joints')
    unknown = [n for n in names if n not in known]
    if unknown:
        raise TrajectoryError(
            f'unknown joint(s) {", ".join(unknown)} (known: {", ".join(known)})'
        )
    if len(set(names)) != len(names):
        raise TrajectoryError(f'repeated joint names {names}')
    t = _floats(times, 'times from start')
    if not np.all(np.isfinite(t)) or (len(t) and t[0] < 0.0) or np.any(np.diff(t) <= 0.0):
        raise TrajectoryError(
            f'times from start must be ≥ 0 and strictly increasing, got {t.tolist()}'
        )
    shape = (len(t), len(names))
    p = _rows(positions, shape, 'positions', names, required=True)
    assert p is not None
    v = _rows(velocities, shape, 'velocities', names)
    a = _rows(accelerations, shape, 'accelerations', names)
    if a is not None and v is None:
        raise TrajectoryError('accelerations need velocities on every point too')
    index = {n: i for i, n in enumerate(known)}
    return JointTrajectory(tuple(names), tuple(index[n] for n in names), t, p, v, a)


def _floats(values: Sequence[float], what: str) -> np.ndarray:
    try:
        return np.asarray([float(x) for x in values], dtype=float)
    except (TypeError, ValueError):
        raise TrajectoryError(f'{what} must be numbers, got {list(values)!r:.80}') from None


def _rows(
    rows: Sequence[Sequence[float]] | None,
    shape: tuple[int, int],
    what: str,
    names: Sequence[str],
    required: bool = False,
) -> np.ndarray | None:
    """Return the ``what`` rows as an array of ``shape``, None when no point has any."""
    points, width = shape
    rows = [] if rows is None else [list(r) for r in rows]
    if not required and not any(rows):
        return None
    if len(rows) != points or any(len(r) != width for r in rows):
        if required:
            raise TrajectoryError(
                f'each of the {points} points needs {width} positions ({", ".join(names)})'
            )
        raise TrajectoryError(
            f'{what} must be given for every point and joint ({width} per point), or for none'
        )
    values = np.array([[_number(x, what) for x in r] for r in rows], dtype=float)
    values = values.reshape(shape)
    bad = ~np.isfinite(values)
    if np.any(bad):
        columns = sorted({int(c) for c in np.argwhere(bad)[:, 1]})
        kind = {'positions': 'position', 'velocities': 'velocity'}.get(what, 'acceleration')
        raise TrajectoryError(
            f'not a finite {kind} for {", ".join(names[c] for c in columns)}'
        )
    return values


def _number(value: object, what: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TrajectoryError(f'{what} must be numbers, got {value!r:.40}') from None


def start_delay(stamp: float, now: float) -> float:
    """
    Return the seconds from ``now`` until a trajectory stamped ``stamp`` starts.

    0 for a zero stamp ("now", as in JTC) and for a stamp in the past (see the module
    docstring: the whole trajectory runs, starting now).

    :raises TrajectoryError: a stamp that is not finite.
    """
    if not math.isfinite(stamp):
        raise TrajectoryError(f'trajectory start time {stamp} is not finite')
    if stamp == 0.0:
        return 0.0
    return max(0.0, stamp - now)


class TrajectorySampler:
    """
    Positions of a trajectory's joints at any time, anchored where they were held.

    :param trajectory: a validated (and, by the backend, clamped) trajectory.
    :param start: the trajectory's start on the caller's clock.
    :param start_positions: the held positions of its joints when it was accepted.
    """

    def __init__(
        self, trajectory: JointTrajectory, start: float, start_positions: Sequence[float]
    ) -> None:
        self.trajectory = trajectory
        self.indices = list(trajectory.indices)
        self.start = float(start)
        t, p = trajectory.times, trajectory.positions
        v, a = trajectory.velocities, trajectory.accelerations
        if t[0] > 0.0:  # the first segment starts from the held position, at rest
            zero = np.zeros((1, len(self.indices)))
            t = np.concatenate([[0.0], t])
            p = np.vstack([np.asarray(start_positions, dtype=float), p])
            v = None if v is None else np.vstack([zero, v])
            a = None if a is None else np.vstack([zero, a])
        self.times, self.positions, self.velocities, self.accelerations = t, p, v, a

    @property
    def duration(self) -> float:
        """Return the time from start of the last point (s)."""
        return float(self.times[-1])

    @property
    def end(self) -> float:
        """Return the time of the last point on the caller's clock."""
        return self.start + self.duration

    def sample(self, now: float) -> np.ndarray:
        """Return the positions of the trajectory's joints at ``now`` (caller's clock)."""
        return self.sample_at(now - self.start)

    def sample_at(self, t: float) -> np.ndarray:
        """Return the positions at ``t`` seconds from the trajectory's start."""
        times = self.times
        if t <= times[0]:
            return self.positions[0].copy()
        if t >= times[-1]:
            return self.positions[-1].copy()
        k = int(np.searchsorted(times, t, side='right')) - 1
        h = float(times[k + 1] - times[k])
        s = (t - float(times[k])) / h
        p0, p1 = self.positions[k], self.positions[k + 1]
        if self.velocities is None:
            return p0 + s * (p1 - p0)
        # Hermite bases on the unit interval; velocities and accelerations scaled by h, h²
        m0, m1 = self.velocities[k] * h, self.velocities[k + 1] * h
        if self.accelerations is None:
            s2, s3 = s * s, s * s * s
            return (
                (2 * s3 - 3 * s2 + 1) * p0
                + (s3 - 2 * s2 + s) * m0
                + (-2 * s3 + 3 * s2) * p1
                + (s3 - s2) * m1
            )
        c0, c1 = self.accelerations[k] * h * h, self.accelerations[k + 1] * h * h
        s2, s3 = s * s, s * s * s
        s4, s5 = s3 * s, s3 * s2
        return (
            (1 - 10 * s3 + 15 * s4 - 6 * s5) * p0
            + (s - 6 * s3 + 8 * s4 - 3 * s5) * m0
            + (0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * c0
            + (10 * s3 - 15 * s4 + 6 * s5) * p1
            + (-4 * s3 + 7 * s4 - 3 * s5) * m1
            + (0.5 * s3 - s4 + 0.5 * s5) * c1
        )


__all__ = [
    'JointTrajectory',
    'TrajectoryError',
    'TrajectorySampler',
    'parse_trajectory',
    'start_delay',
]
