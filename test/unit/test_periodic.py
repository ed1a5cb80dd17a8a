"""The one periodic loop: deadlines, overruns, early wake-ups, errors (time passed in)."""

from __future__ import annotations

import os
import threading

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.core.periodic import PeriodicLoop, Schedule, set_realtime_priority


def test_deadlines_are_absolute_so_a_slow_cycle_does_not_shift_the_rate() -> None:
    schedule = Schedule.starting(0.0, 0.01)
    runs = []
    for now in (0.0105, 0.0209, 0.0300, 0.0403):  # each cycle starts a little late
        assert schedule.ready(now)
        schedule.ran(now)
        runs.append(schedule.deadline)
    assert runs == pytest.approx([0.02, 0.03, 0.04, 0.05])


def test_an_overrun_skips_the_missed_ticks_instead_of_bunching_them() -> None:
    schedule = Schedule.starting(0.0, 0.01)
    schedule.ran(0.055)  # five periods late
    assert schedule.deadline == pytest.approx(0.065)
    assert not schedule.ready(0.06)


def test_a_wake_up_runs_at_once_but_not_sooner_than_the_minimum_gap() -> None:
    schedule = Schedule.starting(0.0, 0.01, min_gap_share=0.25)
    schedule.ran(0.01)
    schedule.wake()
    assert schedule.due(0.011) == pytest.approx(0.0125)  # held back to the gap
    assert not schedule.ready(0.011)
    assert schedule.ready(0.0125)
    schedule.ran(0.0125)
    assert schedule.deadline == pytest.approx(0.0225)  # the schedule restarts from it
    assert not schedule.ready(0.02)


@given(
    period=st.floats(0.001, 0.1),
    gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=50),
    wakes=st.lists(st.booleans(), min_size=50, max_size=50),
)
def test_cycles_never_come_closer_than_the_gap_and_never_bunch(period, gaps, wakes) -> None:
    """
    Check that cycles keep the gap apart and a late loop runs one cycle, not a burst.

    However the thread is woken or delayed, two cycles are at least the gap apart, and a
    late loop runs one cycle, not a burst: after any cycle the next is due in the future.
    """
    schedule = Schedule.starting(0.0, period, min_gap_share=0.25)
    now, times = 0.0, []
    for delay, woken in zip(gaps, wakes):
        if woken:
            schedule.wake()
        now = max(now, schedule.due(now)) + delay * period
        assert schedule.ready(now)
        schedule.ran(now)
        times.append(now)
        assert schedule.deadline > now
    assert all(b - a >= 0.25 * period - 1e-12 for a, b in zip(times, times[1:]))


def test_bad_settings_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match='period must be positive'):
        Schedule.starting(0.0, 0.0)
    with pytest.raises(ValueError, match='min_gap_share'):
        Schedule.starting(0.0, 0.01, min_gap_share=2.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_loop_passes_the_elapsed_time_and_survives_a_failing_cycle() -> None:
    clock = FakeClock()
    calls, errors = [], []

    def cycle(now: float, elapsed: float) -> None:
        calls.append((now, elapsed))
        if len(calls) == 2:
            raise RuntimeError('one bad cycle')

    loop = PeriodicLoop(0.01, cycle, clock=clock, on_error=errors.append)
    for step in range(1, 5):
        clock.now = step * 0.01
        assert loop.run_once(clock.now)
    assert [round(e, 6) for _, e in calls] == [0.01] * 4
    assert [str(e) for e in errors] == ['one bad cycle']


def test_without_an_error_handler_a_failing_cycle_raises() -> None:
    loop = PeriodicLoop(0.01, lambda now, elapsed: 1 / 0, clock=FakeClock())
    with pytest.raises(ZeroDivisionError):
        loop.run_once(0.01)


def test_the_thread_runs_cycles_and_a_wake_up_brings_one_forward() -> None:
    ran = threading.Event()
    count = []

    def cycle(now: float, elapsed: float) -> None:
        count.append(now)
        ran.set()

    loop = PeriodicLoop(10.0, cycle, name='test-periodic').start()  # a period we never wait out
    try:
        assert loop.running
        loop.wake()
        assert ran.wait(5.0), 'a wake-up did not run a cycle'
    finally:
        loop.stop()
    assert not loop.running
    assert len(count) == 1


def test_realtime_priority_is_set_on_the_calling_thread_or_the_refusal_is_said() -> None:
    seen: list[tuple[str | None, int]] = []

    def worker() -> None:
        refused = set_realtime_priority(1)
        seen.append((refused, os.sched_getscheduler(0)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5.0)
    refused, policy = seen[0]
    assert (refused is None and policy == os.SCHED_FIFO) or (refused and policy != os.SCHED_FIFO)
    assert os.sched_getscheduler(0) != os.SCHED_FIFO  # this thread keeps normal scheduling


def test_a_priority_out_of_range_is_refused_with_the_reason() -> None:
    assert set_realtime_priority(100)  # SCHED_FIFO priorities are 1-99: EINVAL
