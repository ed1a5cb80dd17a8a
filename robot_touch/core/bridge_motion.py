"""
How the serial bridge turns a command stream into servo goals within the limits.

A streamed position command (std_msgs/Float64MultiArray, no stamp) is a sampled trajectory:
a commander such as teleop publishes where each joint should be, once per control cycle.
:class:`GoalShaper` writes those positions through unchanged while the motion they describe
stays within the joints' velocity and acceleration limits, so a good stream is followed
without lag or distortion. Whatever else happens is shaped:

* **follow**: each new command is the goal. Its velocity and acceleration are judged in the
  stream's own time (:class:`StreamClock`): the commander's cycle, not the arrival jitter of
  the messages. A step beyond a limit is clipped to it (the goal falls a little behind);
  falling behind by more than :data:`MAX_LAG_STEPS` commands switches to a ramp.
* **ramp**: a jerk-limited, phase-synchronised move (Ruckig, via
  :class:`~robot_touch.core.motion.SetpointGenerator`) toward the newest command, re-planned
  as it changes; used after a (re)latch, a hold, a stream that jumped, and a long late cycle
  (the servos stood on their goals meanwhile, so the stream is caught up with from rest
  rather than by a jump). It hands back to follow as soon as the stream can be continued
  from the ramp's state within the limits.
* **brake**: decelerate from the current state to rest within the acceleration and jerk
  limits, then hold (a silent servo, a lost stream while moving).
* **hold**: at rest on the current goal (latched, braked, or a stream that stopped: the arm
  has been standing on the last goal, so holding it needs no motion at all).

Why not Ruckig alone: re-planning toward the newest command each cycle cannot follow a stream
that itself runs at the limits (each plan must end at rest, or at a velocity the current
state can reach going forward), so it lags by up to the braking distance; passing a feasible
stream through is exact, and Ruckig keeps the cases where the stream is not feasible.

Pure Python (numpy + ruckig), no I/O; time is passed in.
"""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np
from robot_touch.core.motion import JointLimits, SetpointGenerator

#: Relative slack on the limits when judging a stream step (float rounding, not more).
LIMIT_SLACK = 1e-6
#: Follow falls back to a ramp once the goal lags the stream by more than this many
#: commands' travel (a clipped step is for jitter; a greedy catch-up would overshoot).
MAX_LAG_STEPS = 1.0
#: Recent arrivals the stream's command interval is taken from (their median).
INTERVAL_WINDOW = 16
#: Command intervals without a new command after which the stream counts as stopped.
PAUSE_INTERVALS = 3.0


class StreamClock:
    """
    The command stream's time base: its usual interval, from recent arrivals.

    A commander runs at a fixed rate with absolute deadlines; its messages arrive with a
    little jitter, and a late cycle on either side bunches them up. The median interval is
    the commander's period; the time a new command stands for is a whole number of periods
    (:meth:`stream_dt`), or the real interval when the commander ran an early cycle.

    :param default_interval: the interval (s) assumed before two commands have arrived.
    """

    def __init__(self, default_interval: float) -> None:
        if not default_interval > 0:
            raise ValueError(f'default_interval must be positive, got {default_interval}')
        self.default_interval = default_interval
        self._intervals: deque[float] = deque(maxlen=INTERVAL_WINDOW)
        self.last_arrival: float | None = None
        self._pending = 0.0

    def arrived(self, now: float) -> None:
        """Note that a command arrived at ``now``."""
        dt = None if self.last_arrival is None else now - self.last_arrival
        if dt is not None and 0 < dt < PAUSE_INTERVALS * self.interval:
            self._intervals.append(dt)
            self._pending += self.stream_dt(dt)
        else:
            self._pending += self.interval  # the first command, or the first after a pause
        self.last_arrival = now

    def take(self) -> float:
        """Stream time (s) the commands since the last call stand for (one period if none)."""
        pending, self._pending = self._pending, 0.0
        return pending if pending > 0 else self.interval

    @property
    def interval(self) -> float:
        """Return the commander's period (s): the median of recent intervals."""
        if not self._intervals:
            return self.default_interval
        return float(np.median(self._intervals))

    def stream_dt(self, arrival_dt: float) -> float:
        """Return the stream time (s) between two commands that arrived ``arrival_dt`` apart."""
        period = self.interval
        if arrival_dt < 0.5 * period:
            return max(arrival_dt, 1e-4)  # an early cycle: it advanced by the real time
        return period * max(1.0, round(arrival_dt / period))

    def paused(self, now: float) -> bool:
        """No command for :data:`PAUSE_INTERVALS` periods."""
        return (
            self.last_arrival is None or now - self.last_arrival > PAUSE_INTERVALS * self.interval
        )

    def reset(self) -> None:
        self.last_arrival = None


class GoalShaper:
    """
    Goal positions of the bridged joints (see the module docstring).

    :param limits: the joints' position, velocity, acceleration and jerk limits.
    :param initial: where the goals start, at rest.
    """

    def __init__(self, limits: JointLimits, initial: Sequence[float]) -> None:
        self.limits = limits
        self._gen = SetpointGenerator(limits, initial)
        self.mode = 'hold'
        self.position = self._gen.position
        self.velocity = np.zeros(limits.dof)
        self.acceleration = np.zeros(limits.dof)
        self._stream_position: np.ndarray | None = None
        self._stalled = False  # the current cycle follows a stall
        self._last_step = 0.0  # stream time of the last command followed (s)

    # ------------------------------------------------------------------ modes

    def latch(self, q: Sequence[float]) -> None:
        """At rest on ``q`` (clamped into the limits); any ramp or brake is forgotten."""
        self._gen.latch(q)
        self._set_state(self._gen.position, np.zeros(self.limits.dof), np.zeros(self.limits.dof))
        self.mode = 'hold'
        self._stream_position = None

    def stop_here(self) -> None:
        """
        Keep the goal: the stream stopped and its last goal was reached long ago.

        Only for a goal that has stood still (no new command for several periods); a moving
        goal needs :meth:`brake`.
        """
        if self.mode == 'follow':
            self.latch(self.position)

    def brake(self) -> None:
        """
        Decelerate to rest within the limits from wherever the goal is heading, then hold.

        Following a stream, the goal's acceleration is only known as a difference of commands;
        the stop starts at once at full deceleration (within the acceleration limit), so it
        is never longer than the stop the commander itself could still make: a stream that
        was braking onto a joint limit stops before it, a silent joint moves the least.

        "Full deceleration" is as much as can still be unwound (jerk-limited) before the
        joint comes to rest: from speed v, at most sqrt(2 * jerk * |v|). More than that and
        the plan turns the joint back — a joint creeping at a few mrad/s at a braking
        stream's end was driven 0.06 rad the other way (the tip 9 mm below the floor).
        """
        if self.mode == 'follow':
            v = self._velocity_now()
            unwindable = np.sqrt(2.0 * self.limits.jerk * np.abs(v))
            deceleration = np.minimum(self.limits.acceleration, unwindable)
            self._gen.take_state(self.position, v, -np.sign(v) * deceleration)
            self.mode = 'brake'
        elif self.mode == 'ramp':
            self._gen.brake()
            self.mode = 'brake'
        self._stream_position = None

    @property
    def moving(self) -> bool:
        return self.mode in ('ramp', 'brake') or bool(np.any(self.velocity))

    # ------------------------------------------------------------------ the stream

    def stall(self) -> None:
        """
        No goal was written for several cycles (a late cycle).

        The servos have stopped on the last one. Motion restarts from rest there, with a ramp,
        never by a jump to where the stream or a plan has got to meanwhile.
        """
        zero = np.zeros(self.limits.dof)
        if self.mode == 'follow':
            self._gen.take_state(self.position, zero, zero)
            target = self.position if self._stream_position is None else self._stream_position
            self._gen.move_to(target)
            self.mode = 'ramp'
        elif self.mode in ('ramp', 'brake'):
            goal_mode = self._gen.mode
            target = self._gen.target
            self._gen.take_state(self.position, zero, zero)
            if goal_mode == 'move':
                self._gen.move_to(target)
        self._set_state(self.position, zero, zero)
        self._stalled = True

    def sample(self, command: Sequence[float], stream_dt: float) -> None:
        """
        Take a new command, ``stream_dt`` seconds of stream time after the previous one.

        Follow: the command becomes the goal if the step is within the limits, else the step
        is clipped to them. Hold or ramp: follow from here if the stream can be continued
        from the current state within the limits, else ramp toward it. Brake: ignored.
        Right after :meth:`stall`, always ramp.
        """
        if self.mode == 'brake':
            return
        c = self.limits.clamp(np.asarray(command, dtype=float))
        sdt = max(float(stream_dt), 1e-4)
        self._last_step = sdt
        previous, self._stream_position = self._stream_position, c
        stream_v = np.zeros(self.limits.dof) if previous is None else (c - previous) / sdt
        if self._stalled:
            if self.mode == 'hold':
                self._gen.latch(self.position)
            self._ramp(c)
            return
        wanted = (c - self.position) / sdt
        a_max = self.limits.acceleration * sdt
        v_max = self.limits.velocity
        dv_max = a_max * (1 + LIMIT_SLACK) + 1e-12
        feasible = bool(
            np.all(np.abs(wanted) <= v_max * (1 + LIMIT_SLACK))
            and np.all(np.abs(wanted - self.velocity) <= dv_max)
        )
        if self.mode == 'ramp':
            # hand back only when the stream itself moves on from here within the limits
            feasible = feasible and bool(np.all(np.abs(wanted - stream_v) <= dv_max))
        if feasible:
            self._set_state(c, wanted, (wanted - self.velocity) / sdt)
            self.mode = 'follow'
            return
        if self.mode == 'follow':
            v = np.clip(wanted, self.velocity - a_max, self.velocity + a_max)
            v = np.clip(v, -v_max, v_max)
            p = self.limits.clamp(self.position + v * sdt)
            a = (v - self.velocity) / sdt
            self._set_state(p, v, a)
            if np.all(np.abs(c - p) <= MAX_LAG_STEPS * v_max * sdt):
                return
            self._gen.take_state(p, self._velocity_now(), a)
        elif self.mode == 'hold':
            self._gen.latch(self.position)
        self._ramp(c)

    def _ramp(self, c: np.ndarray) -> None:
        """
        Head for the stream's newest command with a jerk-limited plan.

        The plan is a straight line in joint space that arrives at rest, re-planned as the
        command moves. Behind a moving stream it trails by about its braking distance (never
        overshooting the stream's end); level with it, or once it stops, the stream is followed
        again.
        """
        self._gen.move_to(c)
        self.mode = 'ramp'

    def step(self, dt: float) -> np.ndarray:
        """Advance a ramp or a brake by ``dt`` seconds; the goal positions to write."""
        self._stalled = False
        if self.mode in ('ramp', 'brake') and dt > 0:
            sp = self._gen.step(dt)
            self._set_state(sp.position, sp.velocity, sp.acceleration)
            if sp.settled:
                if self.mode == 'brake':
                    self.latch(sp.position)
                # a ramp that arrived waits, at rest, for the stream to be followed again
        return self.position.copy()

    def _velocity_now(self) -> np.ndarray:
        """
        Following, ``velocity`` is the mean over the last command's step.

        At its end the goal moves faster or slower by half a step's change of speed.
        """
        v = self.velocity + self.acceleration * self._last_step / 2
        return np.clip(v, -self.limits.velocity, self.limits.velocity)

    def _set_state(self, p: np.ndarray, v: np.ndarray, a: np.ndarray) -> None:
        self.position = np.asarray(p, dtype=float).copy()
        self.velocity = np.asarray(v, dtype=float).copy()
        self.acceleration = np.asarray(a, dtype=float).copy()
