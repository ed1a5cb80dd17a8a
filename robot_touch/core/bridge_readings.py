"""
What the serial bridge knows about each joint's measured state, and how old it is.

Every valid reading is kept with the time it was read (the reply's arrival, when the backend
reports it). A joint whose newest reading is older than ``stale_timeout`` seconds is
*stale*: its position is no longer known, so it is published as NaN (position and velocity)
and the arm holds. Velocities are measured, not guessed: the difference of two readings at
least :data:`VELOCITY_WINDOW` apart (so one servo step of quantisation moves the estimate by
little), and nothing beyond :data:`VELOCITY_BOUND` × the joint's velocity limit, which no
servo of a profile can do; NaN when no such pair exists (just connected, or stale).

Pure Python, no I/O; times are monotonic seconds passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math
from typing import Sequence

#: Shortest time span (s) a velocity is measured over.
VELOCITY_WINDOW = 0.02
#: Longest time span (s) a velocity is measured over (older readings say nothing of now).
VELOCITY_HORIZON = 0.2
#: A measured velocity is clipped to this multiple of the joint's velocity limit.
VELOCITY_BOUND = 2.0


@dataclass
class Reading:
    """
    The joint state to publish after one read.

    :ivar stamp: when the oldest position in it was read (every value is at least this fresh).
    :ivar positions: rad (m); NaN for a stale joint or one never read since connecting.
    :ivar velocities: rad/s (m/s); NaN where unknown.
    :ivar fresh: which joints answered in this read.
    :ivar stale: which joints are stale.
    """

    stamp: float
    positions: list[float]
    velocities: list[float]
    fresh: list[bool]
    stale: list[bool]


class JointReadings:
    """
    The newest reading of each joint, its age, staleness and measured velocity.

    :param velocity_limits: each joint's velocity limit (rad/s), for :data:`VELOCITY_BOUND`.
    :param stale_timeout: a reading older than this (s) makes its joint stale.
    """

    def __init__(self, velocity_limits: Sequence[float], stale_timeout: float) -> None:
        if not (math.isfinite(stale_timeout) and stale_timeout > 0):
            raise ValueError(
                f'stale_timeout must be a positive number of seconds, got {stale_timeout}'
            )
        self.stale_timeout = stale_timeout
        self._bounds = [VELOCITY_BOUND * v for v in velocity_limits]
        n = len(self._bounds)
        #: newest valid position per joint (None: never read)
        self.positions: list[float | None] = [None] * n
        #: when each was read (None: no valid reading since the last reset)
        self.read_at: list[float | None] = [None] * n
        self._history: list[deque[tuple[float, float]]] = [deque() for _ in range(n)]

    def __len__(self) -> int:
        return len(self.positions)

    def add(self, index: int, position: float, read_at: float) -> None:
        """Record a valid reading of joint ``index`` taken at ``read_at``."""
        last = self.read_at[index]
        if last is not None and read_at < last:
            read_at = last  # a backend's clock never runs backwards; keep the order
        self.positions[index] = position
        self.read_at[index] = read_at
        history = self._history[index]
        history.append((read_at, position))
        while len(history) > 2 and read_at - history[1][0] >= VELOCITY_WINDOW:
            history.popleft()

    def forget(self) -> None:
        """Every reading is void (the port was lost): all joints stale until read again."""
        self.read_at = [None] * len(self.read_at)
        for history in self._history:
            history.clear()

    def stale(self, now: float) -> list[bool]:
        """Which joints have no reading younger than ``stale_timeout`` at ``now``."""
        return [t is None or now - t > self.stale_timeout for t in self.read_at]

    def velocity(self, index: int) -> float:
        """Measured velocity of joint ``index``; NaN when no readings span the window."""
        history = self._history[index]
        if len(history) < 2:
            return math.nan
        (t0, p0), (t1, p1) = history[0], history[-1]
        span = t1 - t0
        if span < VELOCITY_WINDOW or span > VELOCITY_HORIZON:
            return math.nan
        bound = self._bounds[index]
        return max(-bound, min(bound, (p1 - p0) / span))

    def reading(self, fresh: Sequence[bool], now: float) -> Reading:
        """Return the state to publish at ``now`` (all NaN, stamped ``now``, when none known)."""
        stale = self.stale(now)
        positions: list[float] = []
        velocities: list[float] = []
        stamps: list[float] = []
        for i, (value, at) in enumerate(zip(self.positions, self.read_at)):
            if stale[i] or value is None or at is None:
                positions.append(math.nan)
                velocities.append(math.nan)
                continue
            positions.append(float(value))
            velocities.append(self.velocity(i))
            stamps.append(at)
        return Reading(min(stamps, default=now), positions, velocities, list(fresh), stale)
