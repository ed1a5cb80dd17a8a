"""
Jerk-limited joint setpoints (Ruckig): toward a position target, at a jog velocity, or braking.

:class:`SetpointGenerator` keeps one kinematic state (position, velocity, acceleration per
joint) and advances it by ``dt`` each control cycle without exceeding the velocity,
acceleration and jerk limits. A new target during motion is planned from the current state,
so it is blended, never a snap. Three kinds of goal:

* ``move_to(q)``: reach ``q`` at rest, all joints arriving together (phase-synchronised:
  a straight line in joint space when possible).
* ``jog(qd)``: follow joint velocities ``qd``. Each moving joint is planned as a position
  move toward its own limit with ``|qd_i|`` as velocity limit, so it can never be planned
  past a joint limit; joints with zero velocity brake to rest.
* ``brake()``: every joint decelerates to rest as fast as the limits allow.

Pure Python (numpy + ruckig), no ROS.

(Over 400 lines, ~440, on purpose: :class:`SetpointGenerator` is one kinematic state around one
Ruckig instance, and its three goals and two previews all read and plan from that state;
split, each part would reach into the others' private state. :class:`JointLimits` is the
small data class it takes.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from robot_touch.core.profile import JointSpec
from ruckig import (
    ControlInterface,
    InputParameter,
    Result,
    Ruckig,
    RuckigError,
    Synchronization,
    Trajectory,
)

#: Velocities below this (rad/s) count as "not jogging this joint".
JOG_EPS = 1e-6
#: Velocity limits (rad/s) below this count as 0: the joint stops.
MIN_VELOCITY = 1e-3
#: Seconds of travel a jogged joint's moving target stays ahead of it.
JOG_HORIZON = 0.5


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits for the generator (REP-103 units: rad, rad/s, rad/s², rad/s³)."""

    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray
    jerk: np.ndarray

    @classmethod
    def from_specs(
        cls,
        specs: Sequence[JointSpec],
        velocity_scale: float = 1.0,
        acceleration_scale: float = 1.0,
        jerk_scale: float = 1.0,
    ) -> JointLimits:
        """Return the profile's limits of ``specs``, each kind times its scale (0 < scale)."""
        for name, scale in (
            ('velocity', velocity_scale),
            ('acceleration', acceleration_scale),
            ('jerk', jerk_scale),
        ):
            if not (np.isfinite(scale) and scale > 0):
                raise ValueError(f'{name} scale must be a positive number, got {scale!r}')
        return cls(
            lower=np.array([s.lower for s in specs], dtype=float),
            upper=np.array([s.upper for s in specs], dtype=float),
            velocity=np.array([s.velocity for s in specs], dtype=float) * velocity_scale,
            acceleration=np.array([s.acceleration for s in specs], dtype=float)
            * acceleration_scale,
            jerk=np.array([s.jerk for s in specs], dtype=float) * jerk_scale,
        )

    @property
    def dof(self) -> int:
        return len(self.lower)

    def clamp(self, q: np.ndarray) -> np.ndarray:
        """``q`` limited to [lower, upper] per joint."""
        return np.minimum(self.upper, np.maximum(self.lower, q))


@dataclass(frozen=True)
class Setpoint:
    """One cycle's output: the commanded state and whether the goal is reached at rest."""

    position: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray
    settled: bool


class SetpointGenerator:
    """
    Online jerk-limited setpoints within :class:`JointLimits` (see the module docstring).

    The state starts at rest at ``initial`` (or the middle of the range) and is re-latched
    with :meth:`latch`. ``speed_scale`` (0..1) multiplies the velocity limit live.

    :param limits: joint limits.
    :param initial: initial position, clamped into the limits.
    """

    def __init__(self, limits: JointLimits, initial: Sequence[float] | None = None) -> None:
        self.limits = limits
        n = limits.dof
        # calculate() + Trajectory.at_time() rather than Ruckig.update(): the control loop may
        # run an early cycle when a new target arrives, so the time step varies; sampling the
        # trajectory at the real elapsed time keeps velocities within limits in wall time.
        self._ruckig = Ruckig(n)
        self._trajectory = Trajectory(n)
        self._input = InputParameter(n)
        self._input.max_acceleration = list(limits.acceleration)
        self._input.max_jerk = list(limits.jerk)
        self._speed_scale = np.ones(n)
        self._velocity_cap = limits.velocity.copy()  # per-joint velocity limit of the current goal
        self._jog_direction = np.zeros(n)
        self._mode = 'hold'
        self._target = np.zeros(n)
        self._time = 0.0
        self._replan = True
        self.last_result: Result = Result.Finished
        start = (
            limits.clamp(np.asarray(initial, dtype=float))
            if initial is not None
            else (limits.lower + limits.upper) / 2
        )
        self.latch(start)

    # ------------------------------------------------------------------ state

    @property
    def dof(self) -> int:
        return self.limits.dof

    @property
    def mode(self) -> str:
        """Return the mode: "hold", "move", "jog" or "brake"."""
        return self._mode

    @property
    def position(self) -> np.ndarray:
        return np.array(self._input.current_position)

    @property
    def velocity(self) -> np.ndarray:
        return np.array(self._input.current_velocity)

    @property
    def acceleration(self) -> np.ndarray:
        return np.array(self._input.current_acceleration)

    @property
    def target(self) -> np.ndarray:
        """Return the position goal of "move"/"hold" (for "jog"/"brake": the current position)."""
        return self._target.copy() if self._mode in ('move', 'hold') else self.position

    @property
    def speed_scale(self) -> np.ndarray:
        return self._speed_scale.copy()

    def latch(self, q: Sequence[float]) -> None:
        """
        Set the state to ``q`` at rest and hold it there; forgets any goal.

        Used on start-up, enable, e-stop release and when measurements resume after a gap,
        so the output continues from where the arm really is.
        """
        q = self.limits.clamp(self._finite(q, 'latch position'))
        self._input.current_position = list(q)
        self._input.current_velocity = [0.0] * self.dof
        self._input.current_acceleration = [0.0] * self.dof
        self._target = q.copy()
        self._mode = 'hold'
        self._replan = True

    def take_state(self, q: Sequence[float], qd: Sequence[float], qdd: Sequence[float]) -> None:
        """
        Continue from a moving state produced elsewhere (position, velocity, acceleration).

        The generator brakes from it unless a goal (:meth:`move_to`, :meth:`jog`) follows
        before the next :meth:`step`: a hand-over without a jump in position or velocity.
        """
        self._input.current_position = list(self.limits.clamp(self._finite(q, 'position')))
        self._input.current_velocity = list(self._finite(qd, 'velocity'))
        self._input.current_acceleration = list(self._finite(qdd, 'acceleration'))
        self._target = self.position
        self._mode = 'brake'
        self._replan = True

    # ------------------------------------------------------------------ goals

    def set_speed_scale(self, scale: float | Sequence[float]) -> None:
        """
        Multiply the velocity limits by ``scale`` (scalar or per joint, each in [0, 1]).

        A scale of 0 brakes the affected joints to rest.
        """
        s = np.broadcast_to(np.asarray(scale, dtype=float), (self.dof,)).copy()
        if not np.all(np.isfinite(s)) or np.any(s < 0) or np.any(s > 1):
            raise ValueError(f'speed scale must be within [0, 1], got {scale!r}')
        if not np.array_equal(s, self._speed_scale):
            self._speed_scale = s
            self._replan = True

    def move_to(self, q: Sequence[float]) -> None:
        """Go to ``q`` (clamped into the joint limits) and stop there, joints synchronised."""
        q = self.limits.clamp(self._finite(q, 'target'))
        if self._mode != 'move' or not np.array_equal(q, self._target):
            self._target = q
            self._mode = 'move'
            self._velocity_cap = self.limits.velocity.copy()
            self._replan = True

    def jog(self, qd: Sequence[float]) -> None:
        """Follow joint velocities ``qd`` (rad/s; limited to the velocity limits)."""
        qd = self._finite(qd, 'jog velocity')
        cap = np.minimum(np.abs(qd), self.limits.velocity)
        if (
            self._mode != 'jog'
            or not np.array_equal(cap, self._velocity_cap)
            or not np.array_equal(np.sign(qd), np.sign(self._jog_direction))
        ):
            self._jog_direction = np.sign(qd) * (np.abs(qd) > JOG_EPS)
            self._velocity_cap = cap
            self._mode = 'jog'
            self._replan = True

    def brake(self) -> None:
        """Decelerate every joint to rest, then hold where it stopped."""
        if self._mode not in ('brake', 'hold'):
            self._mode = 'brake'
            self._replan = True

    def preview_move(
        self, q: Sequence[float], speed_scale: float, samples: int = 16
    ) -> tuple[np.ndarray, np.ndarray]:
        """
        Return positions and velocities along the move :meth:`move_to` ``q`` would make.

        The move starts from the current state with velocity limits × ``speed_scale``; the
        state is not changed.

        :returns: (positions, velocities), each ``samples`` × dof, evenly spaced in time.
        """
        q = self.limits.clamp(self._finite(q, 'target'))
        inp = self._preview_input()
        inp.target_position = list(q)
        inp.max_velocity = list(np.maximum(self.limits.velocity * speed_scale, MIN_VELOCITY))
        inp.synchronization = Synchronization.Phase
        trajectory = self._preview(inp)
        if trajectory is None:
            pos = np.array([self._input.current_position])
            return pos, np.zeros_like(pos)
        pos, vel = [], []
        for t in np.linspace(0.0, trajectory.duration, samples):
            p, v, _a = trajectory.at_time(t)
            pos.append(p)
            vel.append(v)
        return np.array(pos), np.array(vel)

    def preview_brake(self, samples: int = 8) -> np.ndarray:
        """
        Return positions along the hardest stop from the current state, ending at rest.

        That is where the joints would stop if braking now: ``samples`` × dof, evenly spaced in
        time.
        """
        inp = self._preview_input()
        inp.control_interface = ControlInterface.Velocity
        inp.synchronization = Synchronization.No
        inp.target_velocity = [0.0] * self.dof
        inp.target_acceleration = [0.0] * self.dof
        inp.max_velocity = list(self.limits.velocity)
        trajectory = self._preview(inp)
        if trajectory is None:
            return np.array([self._input.current_position])
        times = np.linspace(0.0, trajectory.duration, samples)
        return np.array([self.limits.clamp(np.asarray(trajectory.at_time(t)[0])) for t in times])

    def _preview_input(self) -> InputParameter:
        """Return a planner input at the current state with these limits (state unchanged)."""
        inp = InputParameter(self.dof)
        inp.current_position = self._input.current_position
        inp.current_velocity = self._input.current_velocity
        inp.current_acceleration = self._input.current_acceleration
        inp.max_acceleration = self._input.max_acceleration
        inp.max_jerk = self._input.max_jerk
        return inp

    def _preview(self, inp: InputParameter) -> Trajectory | None:
        """Return the plan for ``inp`` on a trajectory of its own; None if it cannot be planned."""
        trajectory = Trajectory(self.dof)
        try:
            result = self._ruckig.calculate(inp, trajectory)
        except (ValueError, RuckigError):
            return None
        return trajectory if result in (Result.Working, Result.Finished) else None

    # ------------------------------------------------------------------ cycle

    def step(self, dt: float) -> Setpoint:
        """
        Advance the state by ``dt`` seconds (> 0) and return it.

        :returns: The new setpoint; ``settled`` is True once the goal is reached at rest (always
            False while jogging).
        """
        if not (dt > 0 and np.isfinite(dt)):
            raise ValueError(f'dt must be a positive number of seconds, got {dt!r}')
        if self._mode == 'hold':
            return self._emit(settled=True)
        if self._replan or self._mode == 'jog':
            self._plan()
            if self._mode == 'hold':  # planning failed and froze the state
                return self._emit(settled=True)
        self._time += dt
        pos, vel, acc = self._trajectory.at_time(min(self._time, self._trajectory.duration))
        # Plans that end at a limit can land a rounding error (~1e-9 rad) past it: clamp, so
        # a setpoint is never outside the limits, not even by float noise.
        pos = self.limits.clamp(np.asarray(pos, dtype=float))
        self._input.current_position = list(pos)
        self._input.current_velocity = list(vel)
        self._input.current_acceleration = list(acc)
        done = self._time >= self._trajectory.duration
        if done and self._mode == 'move' and np.max(np.abs(np.array(pos) - self._target)) > 1e-9:
            # Stopped short: joints frozen by a speed scale of 0. Keep the goal; a larger
            # scale re-plans toward it.
            return self._emit(settled=False)
        if done and self._mode in ('move', 'brake'):
            # At rest on the goal: hold exactly there (no drift from rounding).
            self._target = np.array(pos) if self._mode == 'brake' else self._target
            self._input.current_position = list(self._target)
            self._input.current_velocity = [0.0] * self.dof
            self._input.current_acceleration = [0.0] * self.dof
            self._mode = 'hold'
            return self._emit(settled=True)
        return self._emit(settled=False)

    def _emit(self, settled: bool) -> Setpoint:
        return Setpoint(self.position, self.velocity, self.acceleration, settled)

    def _plan(self) -> None:
        """Compute the trajectory from the current state to the current goal."""
        inp = self._input
        vmax = self.limits.velocity * self._speed_scale
        if self._mode == 'move':
            inp.control_interface = ControlInterface.Position
            inp.per_dof_control_interface = None
            # Phase synchronisation: a straight line in joint space when Ruckig can (it falls
            # back to time synchronisation otherwise), so scaling the speed scales the path's
            # speed everywhere alike (the teleop core relies on it for its tip speed limit).
            inp.synchronization = Synchronization.Phase
            inp.target_position = list(self._target)
            inp.target_velocity = [0.0] * self.dof
            inp.target_acceleration = [0.0] * self.dof
            inp.max_velocity = list(vmax)
            # A joint whose speed scale is (nearly) 0 must not move: plan it to stop where it
            # is (a tiny velocity limit would also make the plan too long for Ruckig).
            frozen = vmax < MIN_VELOCITY
            if np.any(frozen):
                inp.synchronization = Synchronization.No
                inp.per_dof_control_interface = [
                    ControlInterface.Velocity if f else ControlInterface.Position for f in frozen
                ]
                inp.max_velocity = list(np.where(frozen, self.limits.velocity, vmax))
        elif self._mode == 'jog':
            vcap = np.minimum(self._velocity_cap, vmax)
            moving = (self._jog_direction != 0) & (vcap >= MIN_VELOCITY)
            inp.control_interface = ControlInterface.Position
            # Each jogged joint heads for its own limit at its own speed: no synchronisation,
            # otherwise the joints would be slowed to arrive together and the direction skews.
            inp.synchronization = Synchronization.No
            inp.per_dof_control_interface = [
                ControlInterface.Position if m else ControlInterface.Velocity for m in moving
            ]
            # Target: a point ahead by JOG_HORIZON of travel plus twice the braking distance
            # (so the plan never starts braking while jogging), never beyond the limit. The
            # plan is redone every cycle, so the point keeps moving ahead.
            a, j = self.limits.acceleration, self.limits.jerk
            ahead = vcap * JOG_HORIZON + 2.0 * (vcap**2 / (2 * a) + vcap * a / (2 * j))
            q = np.array(inp.current_position)
            inp.target_position = list(
                np.clip(q + self._jog_direction * ahead, self.limits.lower, self.limits.upper)
            )
            inp.target_velocity = [0.0] * self.dof
            inp.target_acceleration = [0.0] * self.dof
            inp.max_velocity = list(np.where(moving, vcap, self.limits.velocity))
        else:  # brake
            self._plan_brake()
        result = self._calculate()
        if result not in (Result.Working, Result.Finished) or not self._inside_limits():
            # Ruckig (community edition) plans no position limits: a plan that would leave
            # them (momentum toward a limit after a limit change) is replaced by the
            # hardest stop, which is the shortest distance the joints can still travel.
            self._mode = 'brake'
            self._plan_brake()
            result = self._calculate()
        self.last_result = result
        if result not in (Result.Working, Result.Finished):
            # Not even a stop can be planned (invalid state): freeze here rather than follow
            # an old trajectory.
            self.latch(self.limits.clamp(self.position))
        self._time = 0.0
        self._replan = False

    def _plan_brake(self) -> None:
        """Set the planner's input for the hardest stop: every joint to velocity 0 on its own."""
        inp = self._input
        inp.control_interface = ControlInterface.Velocity
        inp.per_dof_control_interface = None
        inp.synchronization = Synchronization.No
        inp.target_velocity = [0.0] * self.dof
        inp.target_acceleration = [0.0] * self.dof
        inp.max_velocity = list(self.limits.velocity)

    def _calculate(self) -> Result:
        try:
            return self._ruckig.calculate(self._input, self._trajectory)
        except (ValueError, RuckigError):
            # The binding raises for result codes its enum lacks (e.g. -101, trajectory
            # duration out of range): treat like any other planning error.
            return Result.Error

    def _inside_limits(self) -> bool:
        tol = 1e-9
        for i, ext in enumerate(self._trajectory.position_extrema):
            if ext.min < self.limits.lower[i] - tol or ext.max > self.limits.upper[i] + tol:
                return False
        return True

    def _finite(self, values: Sequence[float], what: str) -> np.ndarray:
        arr = np.asarray(values, dtype=float).reshape(-1)
        if arr.shape != (self.dof,):
            raise ValueError(f'{what} must have {self.dof} values, got {arr.shape[0]}')
        if not np.all(np.isfinite(arr)):
            raise ValueError(f'{what} must be finite numbers, got {list(arr)}')
        return arr
