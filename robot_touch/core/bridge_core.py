"""The serial bridge's decisions, without I/O: what to write to the servos each cycle.

:class:`BridgeCore` turns joint commands (streamed positions or a timed trajectory) into raw
servo goals and raw readings back into joint positions. It owns every safety rule:

* commands are checked (non-finite values are refused, the state is left as it was) and
  clamped to the joint limits, the clamps counted;
* the held target moves toward the command no faster than the joint's velocity limit, so a
  command after a gap starts from where the arm is rather than jumping;
* no command for ``command_timeout`` → hold (the held target becomes the measured position);
* after a (re)connection, a torque-on or a joint coming back from stale, the held target is
  RE-LATCHED to the measured position and commands older than that moment are dropped;
* a joint without a valid reading for ``stale_after`` cycles is stale: the whole arm holds
  (no new motion without feedback) until it answers again.

Each fault is reported once when it appears and once when it clears (:class:`FaultBook`).
Time is any monotonic clock in seconds, passed in by the caller.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from robot_touch.core.calibration import JointCalibration
from robot_touch.core.profile import ArmProfile, Calibration


#: longest time step (s) the velocity limit is applied over, however late a cycle is
MAX_STEP_TIME = 0.05


class CommandRejected(ValueError):
    """A command that is not used at all (wrong length, NaN, unknown joint); says why."""


# ---------------------------------------------------------------------------- conversion


@dataclass(frozen=True)
class JointConverter:
    """Radians (or metres) ↔ raw servo units for one joint, with its effective limits.

    ``lower``/``upper`` are the profile limits narrowed to the measured raw range of the
    calibration, so no goal ever leaves the range the real arm was seen to reach.
    """

    name: str
    servo_id: int
    lower: float
    upper: float
    velocity: float
    calibration: Calibration
    raw_low: int | None = None
    raw_high: int | None = None

    @classmethod
    def build(cls, name: str, servo_id: int, lower: float, upper: float, velocity: float, cal: JointCalibration) -> JointConverter:
        raw_low = raw_high = None
        rng = cal.joint_range()
        if rng is not None and cal.raw_min is not None and cal.raw_max is not None:
            lo, hi = max(lower, rng[0]), min(upper, rng[1])
            if lo >= hi:
                raise ValueError(
                    f"{name}: the calibrated range [{rng[0]:.3f}, {rng[1]:.3f}] rad does not overlap the "
                    f"limits [{lower:.3f}, {upper:.3f}] rad: recalibrate"
                )
            lower, upper = lo, hi
            raw_low, raw_high = math.ceil(cal.raw_min), math.floor(cal.raw_max)
        return cls(name, servo_id, lower, upper, velocity, cal.calibration, raw_low, raw_high)

    def clamp(self, value: float) -> tuple[float, bool]:
        """``value`` within the limits, and whether it had to be moved.

        Raises:
            CommandRejected: for NaN or ±inf (a broken sender, never a position).
        """
        if not math.isfinite(value):
            raise CommandRejected(f"{self.name}: {value} is not a finite position")
        if value < self.lower:
            return self.lower, True
        if value > self.upper:
            return self.upper, True
        return value, False

    def to_raw(self, value: float) -> int:
        """Joint position → the nearest raw goal inside the limits."""
        clamped, _ = self.clamp(value)
        raw = round(self.calibration.to_raw(clamped))
        if self.raw_low is not None and self.raw_high is not None:
            raw = min(self.raw_high, max(self.raw_low, raw))
        return int(raw)

    def to_joint(self, raw: float) -> float:
        """Raw reading → joint position."""
        return self.calibration.to_joint(raw)


def build_converters(
    profile: ArmProfile, calibration: Mapping[str, JointCalibration], include_gripper: bool = True
) -> list[JointConverter]:
    """One converter per bridged joint: the arm joints, then the gripper if included."""
    specs = profile.all_joints if include_gripper else profile.joints
    return [
        JointConverter.build(s.name, s.servo_id, s.lower, s.upper, s.velocity, calibration[s.name]) for s in specs
    ]


# ---------------------------------------------------------------------------- small parts


class Watchdog:
    """Expires when nothing has fed it for ``timeout`` seconds (never fed = expired)."""

    def __init__(self, timeout: float) -> None:
        if not timeout > 0:
            raise ValueError(f"command_timeout must be positive, got {timeout}")
        self.timeout = timeout
        self.last: float | None = None

    def feed(self, now: float) -> None:
        self.last = now

    def expired(self, now: float) -> bool:
        return self.last is None or now - self.last > self.timeout

    def reset(self) -> None:
        self.last = None


class Backoff:
    """Delays between reconnection attempts: ``initial``, doubling, at most ``maximum``."""

    def __init__(self, initial: float = 0.2, maximum: float = 2.0, factor: float = 2.0) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"reconnect backoff needs 0 < initial ≤ maximum, got {initial}, {maximum}")
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (and grow the one after it)."""
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self._next = self.initial
        self.attempts = 0


class StaleTracker:
    """Counts consecutive failed reads per joint; ``stale_after`` of them make it stale."""

    def __init__(self, count: int, stale_after: int) -> None:
        if stale_after < 1:
            raise ValueError(f"stale_after must be ≥ 1, got {stale_after}")
        self.stale_after = stale_after
        self.misses = [0] * count
        self.stale = [False] * count

    def update(self, fresh: Sequence[bool]) -> tuple[list[int], list[int]]:
        """Record one cycle; return (indices that just went stale, indices that just recovered)."""
        went, back = [], []
        for i, ok in enumerate(fresh):
            if ok:
                self.misses[i] = 0
                if self.stale[i]:
                    self.stale[i] = False
                    back.append(i)
            else:
                self.misses[i] += 1
                if not self.stale[i] and self.misses[i] >= self.stale_after:
                    self.stale[i] = True
                    went.append(i)
        return went, back

    def reset(self) -> None:
        self.misses = [0] * len(self.misses)
        self.stale = [False] * len(self.stale)


@dataclass(frozen=True)
class LogEvent:
    """A line for the log: ``level`` is "warn", "error" or "info"."""

    level: str
    message: str


class FaultBook:
    """Active faults by key. Raising a fault logs once; clearing it logs "recovered" once."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}
        self.events: list[LogEvent] = []

    def raise_(self, key: str, message: str, level: str = "warn") -> bool:
        """Mark ``key`` active; True (and one log event) only when it was not already."""
        if key in self.active:
            self.active[key] = message  # keep the newest detail for diagnostics, without logging
            return False
        self.active[key] = message
        self.events.append(LogEvent(level, message))
        return True

    def clear(self, key: str, message: str | None = None) -> bool:
        """Mark ``key`` over; True (and one "recovered" log event) only when it was active."""
        old = self.active.pop(key, None)
        if old is None:
            return False
        self.events.append(LogEvent("info", message or f"recovered: {old}"))
        return True

    def drain(self) -> list[LogEvent]:
        """The log events since the last drain."""
        events, self.events = self.events, []
        return events


class TrajectorySampler:
    """Position of a timed trajectory at any time: linear between points, cubic Hermite
    when every point carries velocities (as ros2_control's trajectory controller does).

    Before the first point, the joints move from ``start_positions`` (where they were when
    the trajectory was accepted); after the last point they hold it.

    Args:
        indices: bridged joint index of each trajectory column.
        times: seconds from ``start`` of each point, strictly increasing, ≥ 0.
        positions: one row per point.
        velocities: one row per point, or None.
        start: the trajectory's start on the caller's clock.
        start_positions: the held positions of the ``indices`` joints at acceptance.
    """

    def __init__(
        self,
        indices: Sequence[int],
        times: Sequence[float],
        positions: Sequence[Sequence[float]],
        velocities: Sequence[Sequence[float]] | None,
        start: float,
        start_positions: Sequence[float],
    ) -> None:
        self.indices = list(indices)
        self.start = start
        self.times = [0.0] + [float(t) for t in times]
        self.positions = [list(start_positions)] + [list(map(float, p)) for p in positions]
        self.velocities = None
        if velocities is not None:
            self.velocities = [[0.0] * len(self.indices)] + [list(map(float, v)) for v in velocities]
        if self.times[1] == 0.0:  # the first point is at t=0: it replaces the start
            del self.times[0], self.positions[0]
            if self.velocities is not None:
                del self.velocities[0]

    @property
    def end(self) -> float:
        return self.start + self.times[-1]

    def sample(self, now: float) -> list[float]:
        """Positions of the trajectory's joints at ``now``."""
        t = now - self.start
        if t <= self.times[0]:
            return list(self.positions[0])
        if t >= self.times[-1]:
            return list(self.positions[-1])
        k = next(i for i in range(1, len(self.times)) if t < self.times[i]) - 1
        t0, t1 = self.times[k], self.times[k + 1]
        h = t1 - t0
        s = (t - t0) / h
        p0, p1 = self.positions[k], self.positions[k + 1]
        if self.velocities is None:
            return [a + (b - a) * s for a, b in zip(p0, p1)]
        v0, v1 = self.velocities[k], self.velocities[k + 1]
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        return [h00 * a + h10 * h * va + h01 * b + h11 * h * vb for a, b, va, vb in zip(p0, p1, v0, v1)]


# ---------------------------------------------------------------------------- the core


@dataclass
class Reading:
    """Joint state after one read: positions (rad), velocities (rad/s), which joints were fresh."""

    stamp: float
    positions: list[float]
    velocities: list[float]
    fresh: list[bool]
    stale: list[bool]


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
    """Commands in, raw goals out; raw readings in, joint state out.

    Args:
        joints: the bridged joints in command order (:func:`build_converters`).
        command_timeout: seconds without a command before the arm holds.
        stale_after: consecutive failed reads that make a joint stale.
        velocity_scale: fraction of each joint's velocity limit the held target may move at
            (0 disables the limit: goals jump straight to the command).
        has_gripper: the last joint is a gripper, which a command may leave out.
    """

    def __init__(
        self,
        joints: Sequence[JointConverter],
        command_timeout: float = 0.25,
        stale_after: int = 5,
        velocity_scale: float = 1.0,
        has_gripper: bool = False,
    ) -> None:
        if not joints:
            raise ValueError("the bridge needs at least one joint")
        if velocity_scale < 0 or not math.isfinite(velocity_scale):
            raise ValueError(f"velocity_scale must be ≥ 0, got {velocity_scale}")
        self.joints = list(joints)
        self.has_gripper = has_gripper
        self.names = [j.name for j in self.joints]
        self._index = {name: i for i, name in enumerate(self.names)}
        self.watchdog = Watchdog(command_timeout)
        self.stale = StaleTracker(len(self.joints), stale_after)
        self.velocity_scale = velocity_scale
        self.faults = FaultBook()
        self.counters = Counters(clamps={name: 0 for name in self.names})
        self.connected = False
        self.torque = True
        #: measured positions (rad); None until a joint's first reading after (re)connecting
        self.measured: list[float | None] = [None] * len(self.joints)
        #: the goal actually written (rad); None = not latched yet (nothing is written)
        self.held: list[float | None] = [None] * len(self.joints)
        self.command: list[float | None] | None = None
        self.trajectory: TrajectorySampler | None = None
        self.latched_at: float | None = None
        self._last_goal_time: float | None = None
        self._last_fresh: list[tuple[float, float] | None] = [None] * len(self.joints)
        self._velocities = [0.0] * len(self.joints)
        self._holding = True

    # ------------------------------------------------------------------ inputs

    def submit_command(self, values: Sequence[float], now: float) -> list[float]:
        """A streamed position command in joint order (arm joints, then the gripper if bridged).

        With ``has_gripper``, a command with only the arm joints leaves the gripper where it
        is held. Returns the clamped command.

        Raises:
            CommandRejected: wrong length or a non-finite value; nothing changes.
        """
        n, n_all = len(values), len(self.joints)
        accepted = (n_all, n_all - 1) if self.has_gripper else (n_all,)
        if n not in accepted or n == 0:
            self._reject(f"command has {n} values, expected {n_all} ({', '.join(self.names)})")
        clamped = self._clamp_all(list(range(n)), values)
        cmd: list[float | None] = [None] * n_all
        for i, v in enumerate(clamped):
            cmd[i] = v
        self.command = cmd
        self.trajectory = None
        self.watchdog.feed(now)
        self.counters.commands += 1
        self.faults.clear("rejected", "recovered: commands valid again")
        return clamped

    def submit_trajectory(
        self,
        names: Sequence[str],
        times: Sequence[float],
        positions: Sequence[Sequence[float]],
        velocities: Sequence[Sequence[float]] | None,
        start: float,
        now: float,
    ) -> None:
        """A timed trajectory (joint names, seconds from ``start``); replaces any earlier one.

        No points cancels the running trajectory (the arm holds). Joints it does not name
        keep their held position.

        Raises:
            CommandRejected: unknown joints, ragged rows, times not increasing, non-finite
                values; nothing changes.
        """
        if not positions:
            self.trajectory = None
            self.command = None
            self.watchdog.reset()
            return
        unknown = [n for n in names if n not in self._index]
        if unknown or len(set(names)) != len(names) or not names:
            self._reject(f"trajectory joints {list(names)} must be distinct joints of {', '.join(self.names)}")
        if len(times) != len(positions) or any(len(p) != len(names) for p in positions):
            self._reject("trajectory points must each give one position per joint name")
        if velocities is not None and (len(velocities) != len(positions) or any(len(v) != len(names) for v in velocities)):
            velocities = None  # partial velocities: fall back to linear, as if none were given
        if not all(math.isfinite(t) for t in times) or times[0] < 0 or any(b <= a for a, b in zip(times, times[1:])):
            self._reject(f"trajectory times must be ≥ 0 and strictly increasing, got {list(times)}")
        if velocities is not None and not all(math.isfinite(v) for row in velocities for v in row):
            self._reject("trajectory velocities must be finite")
        if not math.isfinite(start):
            self._reject("trajectory start time is not finite")
        indices = [self._index[n] for n in names]
        for row in positions:  # every point checked before any clamp is counted
            self._check_finite(indices, row)
        rows = [self._clamp_all(indices, row) for row in positions]
        if any(self.held[i] is None for i in indices):
            self._reject("the arm's position is not known yet (not connected); trajectory refused")
        start_positions = [float(self.held[i]) for i in indices]  # type: ignore[arg-type]
        self.trajectory = TrajectorySampler(indices, times, rows, velocities, start, start_positions)
        self.command = None
        self.counters.trajectories += 1
        self.faults.clear("rejected", "recovered: commands valid again")

    def _check_finite(self, indices: Sequence[int], values: Sequence[float]) -> None:
        for i, v in zip(indices, values):
            try:
                self.joints[i].clamp(float(v))
            except (CommandRejected, TypeError, ValueError) as exc:
                self._reject(f"command refused: {exc}")

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
        self.faults.raise_("rejected", message)
        raise CommandRejected(message)

    def set_torque(self, enabled: bool, now: float) -> None:
        """Torque switched on/off. Off: nothing is written and the held target follows the
        arm; on: re-latch, so the arm stays where the person left it."""
        self.torque = enabled
        if enabled:
            self._relatch(now)
        else:
            self.command, self.trajectory = None, None

    def on_connected(self, now: float) -> None:
        """The port is open again: wait for fresh readings, then re-latch."""
        self.connected = True
        self.measured = [None] * len(self.joints)
        self.held = [None] * len(self.joints)
        self._last_fresh = [None] * len(self.joints)
        self.stale.reset()
        self._relatch(now)

    def on_disconnected(self, now: float) -> None:
        """The port failed: nothing is written until :meth:`on_connected` and a fresh read."""
        self.connected = False
        self.held = [None] * len(self.joints)

    def _relatch(self, now: float) -> None:
        """The held target becomes the measured position; older commands are dropped."""
        self.held = list(self.measured)
        self.latched_at = now
        self.command, self.trajectory = None, None
        self.watchdog.reset()
        self._last_goal_time = None
        self.counters.relatches += 1

    # ------------------------------------------------------------------ the cycle

    def goals(self, now: float) -> dict[int, int]:
        """Raw goals to write this cycle, by servo id (empty: write nothing)."""
        if not self.connected or not self.torque:
            return {}
        # a late cycle may move a little further, but never more than MAX_STEP_TIME allows
        dt = 0.0 if self._last_goal_time is None else min(MAX_STEP_TIME, max(0.0, now - self._last_goal_time))
        self._last_goal_time = now
        target = self._target(now)
        out: dict[int, int] = {}
        for i, joint in enumerate(self.joints):
            held = self.held[i]
            if held is None:
                continue  # never read since connecting: its position is unknown, do not move it
            goal = target[i]
            if goal is not None:
                if self.velocity_scale > 0:
                    step = joint.velocity * self.velocity_scale * dt
                    goal = held + max(-step, min(step, goal - held))
                held = goal
                self.held[i] = held
            out[joint.servo_id] = joint.to_raw(held)
        self.counters.cycles += 1
        return out

    def _target(self, now: float) -> list[float | None]:
        """Where each joint should head this cycle; None = keep the held target."""
        n = len(self.joints)
        if any(self.stale.stale):
            return [None] * n  # no new motion without feedback from every joint
        if self.trajectory is not None:
            target: list[float | None] = [None] * n
            for i, v in zip(self.trajectory.indices, self.trajectory.sample(now)):
                target[i] = v
            self._set_holding(False, now)
            return target
        if self.command is not None and not self.watchdog.expired(now):
            self._set_holding(False, now)
            return list(self.command)
        if self.command is not None:
            # the stream stopped: hold where the arm IS, and forget the old target so that a
            # command after the gap starts from here rather than from a stale goal
            self.command = None
            self.held = [m if m is not None else h for m, h in zip(self.measured, self.held)]
            self.faults.raise_("watchdog", f"no command for {self.watchdog.timeout:g} s: holding position", "info")
        self._set_holding(True, now)
        return [None] * n

    def _set_holding(self, holding: bool, now: float) -> None:
        if not holding:
            self.faults.clear("watchdog", "commands resumed")
        self._holding = holding

    def on_positions(self, raw: Mapping[int, int | None], now: float) -> Reading | None:
        """Raw readings of one cycle (None = no valid reply). Returns the joint state to
        publish; None when no servo answered, or while some joint has never been read."""
        fresh = [raw.get(j.servo_id) is not None for j in self.joints]
        went, back = self.stale.update(fresh)
        for i in went:
            self.faults.raise_(f"stale:{self.names[i]}", f"{self.names[i]} (id {self.joints[i].servo_id}) is not answering: holding the arm", "error")
        for i, joint in enumerate(self.joints):
            value = raw.get(joint.servo_id)
            if value is None:
                self._velocities[i] = 0.0
                continue
            pos = joint.to_joint(value)
            last = self._last_fresh[i]
            if last is not None and now > last[0]:
                self._velocities[i] = (pos - last[1]) / (now - last[0])
            self._last_fresh[i] = (now, pos)
            self.measured[i] = pos
            if self.held[i] is None and self.torque and self.connected:
                self.held[i] = pos  # first reading after (re)connecting: latch here
        if back:
            names = ", ".join(self.names[i] for i in back)
            for i in back:
                self.faults.clear(f"stale:{self.names[i]}", f"recovered: {self.names[i]} answers again")
            # a joint that was silent may have been reset or moved by hand: start again from
            # where the arm is, and forget any command given while it was silent
            for i in back:
                self.held[i] = self.measured[i]
            if not any(self.stale.stale):
                self._relatch(now)
                self.faults.events.append(LogEvent("info", f"re-latched at the measured position after {names} came back"))
        if not self.torque:
            # released: the held target follows the arm so that torque-on does not jump
            self.held = list(self.measured)
        if any(m is None for m in self.measured) or not any(fresh):
            return None  # nothing new to say, or a joint never read: no position is made up
        return Reading(
            stamp=now,
            positions=[float(m) for m in self.measured],  # type: ignore[arg-type]
            velocities=list(self._velocities),
            fresh=fresh,
            stale=list(self.stale.stale),
        )

    # ------------------------------------------------------------------ state

    @property
    def holding(self) -> bool:
        """True while no command or trajectory is being followed."""
        return self._holding

    def stale_joints(self) -> list[str]:
        return [n for n, s in zip(self.names, self.stale.stale) if s]
