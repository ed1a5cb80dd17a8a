"""
The serial bridge's decisions, without I/O: what to write to the servos each cycle.

:class:`BridgeCore` turns joint commands (streamed positions or a timed trajectory) into raw
servo goals and raw readings back into joint positions. It owns every safety rule:

* commands are checked (non-finite values are refused, the state is left as it was) and
  clamped to the joint limits, the clamps counted;
* goals never leave the joints' velocity and acceleration limits: a command stream that moves
  within them is written through unchanged, anything else (a jump, a gap, a restart) is
  reached with a jerk-limited ramp (:mod:`robot_touch.core.bridge_motion`);
* no command for ``command_timeout`` → hold where the goal stands (the arm has reached it);
* a joint whose newest reading is older than ``stale_timeout`` seconds is stale: published
  as NaN, and the whole arm brakes to rest within the limits and holds (no motion without
  feedback) until every joint answers again (:mod:`robot_touch.core.bridge_readings`);
* after a (re)connection, a torque-on or a joint coming back from stale, the goals are
  RE-LATCHED to the measured position, at rest. A command stream that was running when the
  fault began is followed again only once it has come back to that position (teleop does so
  with a ramp): the arm never chases a setpoint that moved on while it was held;
* free drive (:mod:`robot_touch.core.bridge_torque`): while some joints are released and
  others hold, the holding joints brake to rest and hold, commands are refused, and each
  released joint's goal follows its measurement, so that it holds torque again exactly
  where the person left it (a joint moved outside its limits is refused torque instead).

Each fault is reported once when it appears and once when it clears (:class:`FaultBook`).
Time is any monotonic clock in seconds, passed in by the caller.

Its parts live beside it: joint conversion (:mod:`~robot_touch.core.bridge_joints`), the
watchdog, backoff and fault book (:mod:`~robot_touch.core.bridge_faults`), goal shaping
(:mod:`~robot_touch.core.bridge_motion`), readings (:mod:`~robot_touch.core.bridge_readings`),
torque and free drive (:mod:`~robot_touch.core.bridge_torque`), trajectories
(:mod:`~robot_touch.core.trajectory`), diagnostics (:mod:`~robot_touch.core.bridge_diagnostics`).
What stays here (about 500 lines) is :class:`BridgeCore` alone: one state machine whose safety
rules act on each other (stale → brake → re-latch → rejoin, free drive, torque), kept whole so
those rules read in one place. Every name it used to export is still importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Mapping, Sequence

import numpy as np
from robot_touch.core.bridge_faults import Backoff, FaultBook, LogEvent, Watchdog
from robot_touch.core.bridge_joints import build_converters, CommandRejected, JointConverter
from robot_touch.core.bridge_motion import GoalShaper, StreamClock
from robot_touch.core.bridge_readings import JointReadings, Reading
from robot_touch.core.bridge_torque import JointTorque, outside_limits
from robot_touch.core.motion import JointLimits
from robot_touch.core.trajectory import parse_trajectory, TrajectoryError, TrajectorySampler

#: longest time step (s) a ramp or a brake advances by in one cycle, however late it is
MAX_STEP_TIME = 0.25
#: a stream waiting to rejoin is followed again once every joint's command is within this
#: many servo steps of the held goal (teleop's ramp ends exactly on the measured position)
REJOIN_STEPS = 3.0
#: a cycle this many periods after the last one was late enough that the servos stood on
#: their goals for most of it: motion restarts from rest (a read retry or two is shorter:
#: the goals simply continue with the stream, as the servos catch up within a cycle or two)
STALL_CYCLES = 10.0


@dataclass
class Counters:
    """Totals for diagnostics."""

    commands: int = 0
    rejected: int = 0
    trajectories: int = 0
    clamps: dict[str, int] = field(default_factory=dict)
    cycles: int = 0
    relatches: int = 0


class BridgeCore:
    """
    Commands in, raw goals out; raw readings in, joint state out.

    :param joints: the bridged joints in command order (:func:`build_converters`).
    :param command_timeout: seconds without a command before the arm holds.
    :param stale_timeout: seconds a joint's newest reading may be old before it is stale.
    :param velocity_scale: fraction of each joint's velocity limit the goals may move at (0
        disables every limit: goals jump straight to the command).
    :param has_gripper: the last joint is a gripper, which a command may leave out.
    :param period: the bridge's cycle (s), taken as the command stream's period until the stream's
        own is measured.
    """

    def __init__(
        self,
        joints: Sequence[JointConverter],
        command_timeout: float = 0.25,
        stale_timeout: float = 0.15,
        velocity_scale: float = 1.0,
        has_gripper: bool = False,
        period: float = 0.01,
    ) -> None:
        if not joints:
            raise ValueError('the bridge needs at least one joint')
        if velocity_scale < 0 or not math.isfinite(velocity_scale):
            raise ValueError(f'velocity_scale must be ≥ 0, got {velocity_scale}')
        self.joints = list(joints)
        self.has_gripper = has_gripper
        self.names = [j.name for j in self.joints]
        self._index = {name: i for i, name in enumerate(self.names)}
        self.watchdog = Watchdog(command_timeout)
        self.readings = JointReadings([j.velocity for j in self.joints], stale_timeout)
        self.velocity_scale = velocity_scale
        self.limits = JointLimits(
            lower=np.array([j.lower for j in self.joints]),
            upper=np.array([j.upper for j in self.joints]),
            velocity=np.array([j.velocity for j in self.joints]) * velocity_scale,
            acceleration=np.array([j.acceleration for j in self.joints]),
            jerk=np.array([j.jerk for j in self.joints]),
        )
        self.faults = FaultBook()
        self.counters = Counters(clamps=dict.fromkeys(self.names, 0))
        self.connected = False
        #: torque per joint, as asked (free drive releases some)
        self.torque_state = JointTorque(self.names)
        #: the goals (None until every joint has been read after (re)connecting)
        self.shaper: GoalShaper | None = None
        self.command: list[float | None] | None = None
        self.trajectory: TrajectorySampler | None = None
        self.latched_at: float | None = None
        self.period = period
        self._rejoin_tolerance = np.array(
            [REJOIN_STEPS / j.calibration.units_per_rad for j in self.joints]
        )
        self.stream = StreamClock(period)
        self._commands_seen = 0  # commands taken by the goals so far (vs counters.commands)
        self._rejoin = False  # a stream that ran through a fault must come back to the goals
        self._recovering = False  # every joint answers again: re-latch once the arm is at rest
        self._stale = [True] * len(self.joints)
        self._last_goal_time: float | None = None
        self._last_sample_time: float | None = None  # of a running trajectory
        self._holding = True

    @property
    def torque(self) -> bool:
        """Tell whether some joint holds torque; False: the arm is released, nothing is written."""
        return self.torque_state.any_held

    @torque.setter
    def torque(self, held: bool) -> None:
        self.torque_state.set_all(held)

    @property
    def measured(self) -> list[float | None]:
        """Return the newest valid reading of each joint (rad), None if never read."""
        return list(self.readings.positions)

    @property
    def held(self) -> list[float | None]:
        """Return the goals being written (rad); None for every joint until latched."""
        if self.shaper is None:
            return [None] * len(self.joints)
        return [float(v) for v in self.shaper.position]

    # ------------------------------------------------------------------ inputs

    def submit_command(self, values: Sequence[float], now: float) -> list[float]:
        """
        Take a streamed position command in joint order (arm joints, then gripper if bridged).

        With ``has_gripper``, a command with only the arm joints leaves the gripper where it
        is held. Returns the clamped command.

        :raises CommandRejected: wrong length or a non-finite value; nothing changes.
        """
        n, n_all = len(values), len(self.joints)
        self._refuse_in_free_drive()
        accepted = (n_all, n_all - 1) if self.has_gripper else (n_all,)
        if n not in accepted or n == 0:
            self._reject(f'command has {n} values, expected {n_all} ({", ".join(self.names)})')
        clamped = self._clamp_all(list(range(n)), values)
        previous = self.command
        cmd: list[float | None] = [None] * n_all
        for i, v in enumerate(clamped):
            cmd[i] = v
        if n < n_all and previous is not None:
            cmd[n_all - 1] = previous[n_all - 1]  # the gripper keeps its last command
        self.command = cmd
        self.trajectory = None
        self.watchdog.feed(now)
        self.stream.arrived(now)
        self.counters.commands += 1
        self.faults.clear('rejected', 'recovered: commands valid again')
        return clamped

    def submit_trajectory(
        self,
        names: Sequence[str],
        times: Sequence[float],
        positions: Sequence[Sequence[float]],
        velocities: Sequence[Sequence[float]] | None,
        start: float,
        now: float,
        accelerations: Sequence[Sequence[float]] | None = None,
    ) -> None:
        """
        Take a timed trajectory (joint names, seconds from ``start``); it replaces any earlier.

        No points cancels the running trajectory (the arm holds). Joints it does not name
        keep their held position.

        The rules (:mod:`robot_touch.core.trajectory`) are those of the simulated arm too.

        :raises CommandRejected: unknown joints, ragged rows, times not increasing, velocities
            on some points only, non-finite values; nothing changes.
        """
        try:
            parsed = parse_trajectory(
                names, times, positions, self.names, velocities, accelerations
            )
        except TrajectoryError as exc:
            self._reject(f'trajectory refused: {exc}')  # raises
        if parsed is None:
            self.trajectory = None
            self.command = None
            self.watchdog.reset()
            return
        self._refuse_in_free_drive()
        if not math.isfinite(start):
            self._reject('trajectory refused: its start time is not finite')
        start = max(start, now)  # a start in the past: the whole trajectory, from now
        indices = list(parsed.indices)
        rows = [self._clamp_all(indices, row) for row in parsed.positions]
        if self.shaper is None:
            self._reject("the arm's position is not known yet (not connected); trajectory refused")
        held = self.held
        start_positions = [float(held[i]) for i in indices]  # type: ignore[arg-type]
        self.trajectory = TrajectorySampler(
            parsed.with_positions(np.array(rows)), start, start_positions
        )
        self.command = None
        self._rejoin = False  # a trajectory starts from the held goals
        self.counters.trajectories += 1
        self.faults.clear('rejected', 'recovered: commands valid again')
        self.faults.clear('rejoin')

    def _check_finite(self, indices: Sequence[int], values: Sequence[float]) -> None:
        for i, v in zip(indices, values):
            try:
                self.joints[i].clamp(float(v))
            except (CommandRejected, TypeError, ValueError) as exc:
                self._reject(f'command refused: {exc}')

    def _clamp_all(self, indices: Sequence[int], values: Sequence[float]) -> list[float]:
        # check everything before counting anything, so a rejected command leaves no trace
        self._check_finite(indices, values)
        out = []
        for i, v in zip(indices, values):
            c, hit = self.joints[i].clamp(float(v))
            if hit:
                self.counters.clamps[self.names[i]] += 1
            out.append(c)
        return out

    def _reject(self, message: str) -> None:
        self.counters.rejected += 1
        self.faults.raise_('rejected', message)
        raise CommandRejected(message)

    def _refuse_in_free_drive(self) -> None:
        if self.torque_state.partly_released:
            released = ', '.join(self.torque_state.released()) or 'a joint'
            self._reject(
                f'command refused: free drive ({released} released): the other joints hold '
                'until every joint holds torque again'
            )

    def set_torque(
        self, enabled: bool, now: float, joints: Sequence[str] | None = None
    ) -> str | None:
        """
        Torque on/off for ``joints`` (None: the whole arm).

        Returns why it was refused, or None.

        Off for the whole arm: nothing is written. Off for some joints (free drive): the
        others brake to rest and hold, and commands are refused until every joint holds
        again. On: each joint's goal is put on its measured position before its torque may
        go on (:meth:`goals` leaves it out until then), so the arm stays where the person
        left it; a joint measured outside its limits is refused.

        :raises ValueError: an unknown joint name.
        """
        state = self.torque_state
        indices = state.indices(joints)
        if enabled:
            refusal = outside_limits(
                [self.names[i] for i in indices],
                [self.readings.positions[i] for i in indices],
                [self.joints[i].lower for i in indices],
                [self.joints[i].upper for i in indices],
                [1.0 / self.joints[i].calibration.units_per_rad for i in indices],
            )
            if refusal:
                return refusal
        if joints is None:
            state.set_all(enabled)
        elif not state.any_held:  # the whole arm was released: these joints hold again
            state.request(indices, enabled)
            state.pending.clear()  # re-latched below, every goal on its measurement
        else:
            state.request(indices, enabled)
            if not enabled and state.any_held:
                self._stream_running_through_fault(now)  # it must rejoin after free drive
                self.trajectory = None
            return self._release_all_if_none_held()
        if enabled:
            self._relatch(now)
        return self._release_all_if_none_held()

    def _release_all_if_none_held(self) -> None:
        if not self.torque_state.any_held:
            self.shaper = None  # nothing is written; latched again at torque-on
            self.trajectory = None

    def on_connected(self, now: float) -> None:
        """Note the port is open again: wait for a fresh reading of every joint, then latch."""
        self.connected = True
        self.readings.forget()
        self._relatch(now)

    def on_disconnected(self, now: float) -> None:
        """Note the port failed: nothing is written, every joint is stale, until a fresh read."""
        self.connected = False
        self.readings.forget()
        self._update_stale(now, [False] * len(self.joints))
        self._stream_running_through_fault(now)
        self.shaper = None

    def _stream_running_through_fault(self, now: float) -> None:
        """Note a fault began: a command stream running now must rejoin the goals afterwards."""
        if self.command is not None and not self.watchdog.expired(now):
            self._rejoin = True

    def _relatch(self, now: float) -> None:
        """Goals := measured positions at rest, once every joint has a fresh reading."""
        self._stream_running_through_fault(now)
        self.shaper = None
        self.trajectory = None
        self._recovering = False
        self.latched_at = now
        self._last_goal_time = None
        self.counters.relatches += 1
        self._latch_if_known(now)

    def _latch_if_known(self, now: float) -> None:
        if self.shaper is not None or not (self.connected and self.torque_state.any_held):
            return
        if any(self.readings.stale(now)):
            return  # a joint's position is unknown: do not move anything
        measured = [float(p) for p in self.readings.positions]  # type: ignore[arg-type]
        self.shaper = GoalShaper(self.limits, measured)
        self._commands_seen = self.counters.commands
        if self._rejoin:
            self.faults.raise_(
                'rejoin',
                're-latched at the measured position: waiting for the command stream to come '
                'back to it',
                'info',
            )

    # ------------------------------------------------------------------ the cycle

    def goals(self, now: float) -> dict[int, int]:
        """
        Raw goals to write this cycle, by servo id (empty: write nothing).

        Released joints (free drive) get none, nor does a joint switched on until its goal is at
        its measured position.
        """
        if not self.connected or not self.torque_state.any_held:
            return {}
        self._latch_if_known(now)
        shaper = self.shaper
        if shaper is None:
            return {}
        gap = 0.0 if self._last_goal_time is None else max(0.0, now - self._last_goal_time)
        dt = min(MAX_STEP_TIME, gap)
        if gap > STALL_CYCLES * self.period:
            # a late cycle: the servos stood on their goals meanwhile; restart from rest there
            shaper.stall()
            dt = self.period
        self._last_goal_time = now
        state = self.torque_state
        if state.partly_released:
            self._hold_in_free_drive(shaper, now)
        elif self.velocity_scale == 0:
            self._pass_through(shaper, now)
        else:
            self._decide(shaper, now)
        positions = shaper.step(dt)
        self.counters.cycles += 1
        return {
            joint.servo_id: joint.to_raw(p)
            for i, (joint, p) in enumerate(zip(self.joints, positions))
            if not state.free(i)
        }

    def _hold_in_free_drive(self, shaper: GoalShaper, now: float) -> None:
        """
        Hold with some joints released.

        The others brake to rest and hold; once at rest, the goal of every released (or just
        switched on) joint is put on its measurement.
        """
        shaper.brake()
        self._set_holding(True)
        self._stream_running_through_fault(now)
        self.trajectory = None
        if shaper.moving or any(self.readings.stale(now)):
            return
        state = self.torque_state
        goal = shaper.position.copy()
        for i, q in enumerate(self.readings.positions):
            if state.free(i) and q is not None:
                goal[i] = q
        if not np.array_equal(goal, shaper.position):
            shaper.latch(goal)
        state.pending.clear()

    def _decide(self, shaper: GoalShaper, now: float) -> None:
        """Choose this cycle's motion: follow, ramp, brake or hold."""
        stale = self.readings.stale(now)
        if any(stale) or self._recovering:
            shaper.brake()  # no new motion without feedback from every joint
            self._set_holding(True)
            if self._recovering and not shaper.moving:
                self._finish_recovery(now)
            return
        if self.trajectory is not None:
            self._set_holding(False)
            target = list(shaper.position)
            for i, v in zip(self.trajectory.indices, self.trajectory.sample(now)):
                target[i] = v
            last, self._last_sample_time = self._last_sample_time, now
            shaper.sample(target, self.stream.interval if last is None else max(now - last, 1e-4))
            return
        self._last_sample_time = None
        if self.command is None:
            self._set_holding(True)
            return
        if self.watchdog.expired(now):
            # the stream stopped: the goal has stood on its last command since, so the arm is
            # there at rest; a ramp still under way stops within the limits
            if shaper.mode == 'ramp':
                shaper.brake()
            else:
                shaper.stop_here()
            self.command = None
            self._rejoin = False
            self.faults.clear('rejoin')
            self.faults.raise_(
                'watchdog', f'no command for {self.watchdog.timeout:g} s: holding position', 'info'
            )
            self._set_holding(True)
            return
        target = self._command_target(shaper)
        if self._rejoin:
            gap = np.abs(np.asarray(target) - shaper.position)
            if np.any(gap > self._rejoin_tolerance):
                self._commands_seen = self.counters.commands
                self.stream.take()
                self._set_holding(True)
                return
            self._rejoin = False
            self.faults.clear(
                'rejoin', 'the command stream is back at the measured position: following it'
            )
        self._set_holding(False)
        if self.counters.commands != self._commands_seen:
            self._commands_seen = self.counters.commands
            shaper.sample(target, self.stream.take())
        elif self.stream.paused(now) and shaper.mode == 'follow':
            shaper.stop_here()

    def _command_target(self, shaper: GoalShaper) -> list[float]:
        assert self.command is not None
        return [float(shaper.position[i]) if v is None else v for i, v in enumerate(self.command)]

    def _pass_through(self, shaper: GoalShaper, now: float) -> None:
        """velocity_scale 0: the goals are the command or trajectory itself, no limit applied."""
        if any(self._stale):
            return
        if self.trajectory is not None:
            target = list(shaper.position)
            for i, v in zip(self.trajectory.indices, self.trajectory.sample(now)):
                target[i] = v
            shaper.latch(target)
        elif self.command is not None:
            shaper.latch(self._command_target(shaper))

    def _set_holding(self, holding: bool) -> None:
        if not holding:
            self.faults.clear('watchdog', 'commands resumed')
        self._holding = holding

    def on_positions(
        self,
        raw: Mapping[int, int | None],
        now: float,
        read_times: Mapping[int, float] | None = None,
    ) -> Reading | None:
        """
        Take the raw readings of one cycle; return the joint state to publish.

        None is no valid reply; each is read at ``read_times[id]`` (default ``now``). Returns
        None when no servo answered and no joint changed between fresh and stale.
        """
        fresh = [raw.get(j.servo_id) is not None for j in self.joints]
        for i, joint in enumerate(self.joints):
            value = raw.get(joint.servo_id)
            if value is not None:
                at = now if read_times is None else read_times.get(joint.servo_id, now)
                self.readings.add(i, joint.to_joint(value), min(at, now))
        changed = self._update_stale(now, fresh)
        if not self.torque_state.any_held and self.shaper is not None:
            self.shaper = None  # released: latched again at torque-on
        self._latch_if_known(now)
        if not any(fresh) and not changed:
            return None
        return self.readings.reading(fresh, now)

    def _update_stale(self, now: float, fresh: Sequence[bool]) -> bool:
        """Raise and clear the stale faults; True if some joint went stale or came back."""
        stale = self.readings.stale(now)
        changed = False
        for i, (was, now_stale) in enumerate(zip(self._stale, stale)):
            name, sid = self.names[i], self.joints[i].servo_id
            if now_stale and not was:
                changed = True
                self._stream_running_through_fault(now)
                if self.connected:
                    self.faults.raise_(
                        f'stale:{name}',
                        f'{name} (id {sid}) has not answered for '
                        f'{self.readings.stale_timeout:g} s: holding the arm',
                        'error',
                    )
            elif was and not now_stale:
                changed = True
                self.faults.clear(f'stale:{name}', f'recovered: {name} answers again')
        back = any(self._stale) and not any(stale)
        self._stale = stale
        if back and self.shaper is not None:
            # every joint answers again: once the brake has brought the goals to rest,
            # start again from where the arm IS (a silent joint may have been moved by hand)
            self._recovering = True
        return changed

    def _finish_recovery(self, now: float) -> None:
        self._recovering = False
        names = ', '.join(self.names)
        self._relatch(now)
        self.faults.events.append(
            LogEvent('info', f're-latched at the measured position ({names} all answer)')
        )

    # ------------------------------------------------------------------ state

    @property
    def holding(self) -> bool:
        """Return True while no command or trajectory is being followed."""
        return self._holding

    def stale_joints(self) -> list[str]:
        return [n for n, s in zip(self.names, self._stale) if s]


__all__ = [
    'Backoff',
    'BridgeCore',
    'CommandRejected',
    'Counters',
    'FaultBook',
    'JointConverter',
    'LogEvent',
    'Reading',
    'TrajectorySampler',
    'Watchdog',
    'build_converters',
]
