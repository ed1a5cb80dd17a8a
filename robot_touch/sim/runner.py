"""Real-time stepping of a simulated arm: simulated time follows the wall clock."""

from __future__ import annotations

from dataclasses import dataclass
import threading
import time
from typing import Callable, TYPE_CHECKING

from robot_touch.core.periodic import PeriodicLoop

if TYPE_CHECKING:
    from robot_touch.sim.mujoco_arm import MujocoArm


@dataclass(frozen=True)
class RunnerStats:
    """
    How well the simulation keeps up with the wall clock.

    ``real_time_factor`` is simulated seconds per wall second since the start,
    ``recent_real_time_factor`` the same over the last second or so, ``dropped`` the
    simulated seconds skipped because the machine fell too far behind.
    """

    steps: int
    sim_time: float
    wall_time: float
    real_time_factor: float
    recent_real_time_factor: float
    dropped: float


class RealTimeRunner:
    """
    Steps a :class:`MujocoArm` in a background thread so simulated time follows the wall clock.

    The thread (a :class:`~robot_touch.core.periodic.PeriodicLoop`) wakes every
    ``wake_period`` seconds and runs as many steps as are due, so the physics rate does not
    depend on how precisely the OS wakes it up. If it falls more than ``max_lag`` behind (a
    stalled machine), the backlog is dropped rather than run in a burst that would make the
    arm jump.
    """

    def __init__(
        self,
        arm: MujocoArm,
        wake_period: float = 0.004,
        max_lag: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arm = arm
        self.wake_period = wake_period
        self.max_lag = max_lag
        self._clock = clock
        self._loop: PeriodicLoop | None = None
        self._scheduled = 0  # steps owed to the wall clock so far, run or dropped
        self._stats_lock = threading.Lock()
        self._steps = 0
        self._dropped_steps = 0
        self._t0 = 0.0
        self._sim0 = 0.0
        self._window = (0.0, 0.0)  # (wall, sim) at the start of the recent window
        self._recent = 1.0

    def start(self) -> None:
        """Start stepping (once)."""
        if self._loop is not None:
            return
        self._t0 = self._clock()
        self._sim0 = self.arm.time
        self._window = (self._t0, self._sim0)
        self._loop = PeriodicLoop(
            self.wake_period, self._tick, name='mujoco-stepper', clock=self._clock
        ).start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop stepping and wait for the thread."""
        if self._loop is not None:
            self._loop.stop(timeout)

    def _tick(self, now: float, elapsed: float) -> None:
        """Run the steps due at ``now``, at most ``max_lag`` worth (the rest is dropped)."""
        dt = self.arm.timestep
        max_steps = max(1, int(self.max_lag / dt))
        due = int((now - self._t0) / dt) - self._scheduled
        if due > 0:
            run = min(due, max_steps)
            self._scheduled += due
            with self._stats_lock:  # held while stepping, so stats() sees steps and time agree
                self.arm.step(run)
                self._steps += run
                self._dropped_steps += due - run
                wall0, sim0 = self._window
                if now - wall0 >= 1.0:
                    sim = self.arm.time
                    self._recent = (sim - sim0) / (now - wall0)
                    self._window = (now, sim)

    @property
    def running(self) -> bool:
        """Return True while the stepping thread is alive."""
        return self._loop is not None and self._loop.running

    def stats(self) -> RunnerStats:
        """Step run and real-time factors so far."""
        wall = max(self._clock() - self._t0, 1e-9)
        with self._stats_lock:
            sim = self.arm.time - self._sim0
            return RunnerStats(
                steps=self._steps,
                sim_time=sim,
                wall_time=wall,
                real_time_factor=sim / wall,
                recent_real_time_factor=self._recent,
                dropped=self._dropped_steps * self.arm.timestep,
            )


__all__ = ['RealTimeRunner', 'RunnerStats']
