"""
One periodic loop for every control thread: absolute deadlines, early wake-ups, no bursts.

Teleop's control cycle, the serial bridge's I/O cycle and the MuJoCo stepper all run "every
period, or sooner when something new arrives". :class:`Schedule` is that decision, pure (time
passed in); :class:`PeriodicLoop` runs a callback on it in a thread, with the clock and the
wait injected so tests drive it without sleeping.

The rules, the same for every loop:

* Deadlines are absolute (``deadline += period``): a slow cycle does not make the next one
  late, so the rate does not drift.
* An overrun skips the missed ticks (the next deadline is one period after now) instead of
  running them back to back: a stalled machine must not make the arm catch up in a burst.
* :meth:`PeriodicLoop.wake` runs a cycle at once (a new command should not wait out the
  period), but never sooner than ``min_gap`` after the previous cycle, so a fast stream of
  wake-ups cannot monopolise the loop; the schedule restarts from that early cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
import threading
import time
from typing import Callable


@dataclass
class Schedule:
    """
    When the next cycle of a periodic loop is due.

    :ivar period: seconds between cycles.
    :ivar min_gap: shortest time between two cycles when woken early (seconds).
    :ivar last: when the previous cycle ran.
    :ivar deadline: when the next cycle is due.
    """

    period: float
    min_gap: float
    last: float
    deadline: float
    _woken: bool = False

    @classmethod
    def starting(cls, now: float, period: float, min_gap_share: float = 0.1) -> Schedule:
        """Return a schedule whose first cycle is one period after ``now``."""
        if not period > 0:
            raise ValueError(f'period must be positive, got {period}')
        if not 0 <= min_gap_share <= 1:
            raise ValueError(f'min_gap_share must be within 0..1, got {min_gap_share}')
        return cls(period, min_gap_share * period, now, now + period)

    def wake(self) -> None:
        """Ask for a cycle as soon as the minimum gap allows."""
        self._woken = True

    def due(self, now: float) -> float:
        """Return the time of the next cycle, given the wake-ups so far."""
        if self._woken:
            return min(self.deadline, max(now, self.last + self.min_gap))
        return self.deadline

    def ready(self, now: float) -> bool:
        """Whether a cycle should run at ``now``."""
        return now >= self.due(now)

    def ran(self, now: float) -> float:
        """Record a cycle run at ``now``; return the seconds since the previous one."""
        elapsed = now - self.last
        if self._woken and now < self.deadline:
            self.deadline = now + self.period  # restart the schedule after an early cycle
        else:
            self.deadline += self.period
            if self.deadline <= now:  # overrun: skip the missed ticks rather than bunch them up
                self.deadline = now + self.period
        self._woken = False
        self.last = now
        return elapsed


class PeriodicLoop:
    """
    Run ``cycle(now, elapsed)`` in a thread on a :class:`Schedule`.

    :param period: seconds between cycles.
    :param cycle: called with the cycle's time and the seconds since the previous cycle.
    :param name: the thread's name.
    :param min_gap_share: shortest gap between two cycles when woken early, as a share of the
        period.
    :param clock: monotonic seconds (injected for tests).
    :param on_error: called with an exception ``cycle`` raised; the loop goes on. Without it the
        exception ends the loop (and the thread).
    :param before_start: called in the new thread before the first cycle (e.g. to raise its
        scheduling priority).
    """

    def __init__(
        self,
        period: float,
        cycle: Callable[[float, float], None],
        name: str = 'periodic',
        min_gap_share: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[BaseException], None] | None = None,
        before_start: Callable[[], None] | None = None,
    ) -> None:
        self.schedule = Schedule.starting(clock(), period, min_gap_share)
        self._cycle = cycle
        self._clock = clock
        self._on_error = on_error
        self._before_start = before_start
        self._name = name
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def period(self) -> float:
        """Seconds between cycles."""
        return self.schedule.period

    def start(self) -> PeriodicLoop:
        """Start the thread (once); the first cycle is one period from now."""
        if self._thread is None:
            self.schedule = Schedule.starting(
                self._clock(), self.schedule.period, self.schedule.min_gap / self.schedule.period
            )
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Run a cycle as soon as the minimum gap allows (thread-safe)."""
        self._event.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the current cycle and wait up to ``timeout`` s for the thread."""
        self._stop.set()
        self._event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Return True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def run_once(self, now: float) -> bool:
        """Run the cycle if it is due at ``now`` (the step the thread repeats; for tests)."""
        if self._event.is_set():
            self._event.clear()
            self.schedule.wake()
        if not self.schedule.ready(now):
            return False
        elapsed = self.schedule.ran(now)
        try:
            self._cycle(now, elapsed)
        except Exception as exc:  # the caller decides: report and go on
            if self._on_error is None:
                raise
            self._on_error(exc)
        return True

    def _run(self) -> None:
        if self._before_start is not None:
            self._before_start()
        while not self._stop.is_set():
            now = self._clock()
            if not self.run_once(now):
                self._event.wait(max(0.0, self.schedule.due(now) - now))


def set_realtime_priority(priority: int) -> str | None:
    """
    Run the calling thread SCHED_FIFO at ``priority`` (1-99), where the system permits it.

    Linux applies the policy to the calling thread (pid 0), so call it from the thread itself,
    e.g. as a :class:`PeriodicLoop`'s ``before_start``.

    :returns: None when set, else why the system refused (the thread keeps normal scheduling).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError, AttributeError) as exc:
        return str(exc) or type(exc).__name__
    return None
