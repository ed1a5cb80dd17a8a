"""teleop/status goes out at once on a change, else once per period (time passed in)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.core.teleop_status_gate import StatusGate


def test_the_first_status_is_published_then_an_unchanged_one_once_per_period() -> None:
    gate = StatusGate(0.5)
    assert gate.due(('ok', 'following'), 10.0)
    assert not gate.due(('ok', 'following'), 10.01)
    assert not gate.due(('ok', 'following'), 10.499)
    assert gate.due(('ok', 'following'), 10.5)  # one period later
    assert not gate.due(('ok', 'following'), 10.6)


def test_a_change_is_published_at_once_and_restarts_the_period() -> None:
    gate = StatusGate(0.5)
    assert gate.due(('ok', ''), 0.0)
    assert gate.due(('estop', 'e-stop latched'), 0.01)
    assert not gate.due(('estop', 'e-stop latched'), 0.3)
    assert gate.due(('ok', ''), 0.31)  # back again: a change too
    assert not gate.due(('ok', ''), 0.8)
    assert gate.due(('ok', ''), 0.81)


@pytest.mark.parametrize('period', [0.0, -1.0, math.inf, math.nan])
def test_a_period_that_is_not_a_positive_time_is_refused(period: float) -> None:
    with pytest.raises(ValueError, match='period must be'):
        StatusGate(period)


@given(
    st.lists(
        st.tuples(st.sampled_from(['ok', 'clamped', 'estop']), st.floats(0.0, 0.2)),
        max_size=60,
    )
)
def test_no_two_publications_of_one_status_are_closer_than_the_period(steps) -> None:
    gate = StatusGate(0.25)
    now, last = 0.0, None
    for key, dt in steps:
        now += dt
        if gate.due(key, now):
            if last is not None and last[0] == key:
                assert now - last[1] >= 0.25
            last = (key, now)
        else:
            # held back only while unchanged and within the period
            assert last is not None and last[0] == key and now - last[1] < 0.25
