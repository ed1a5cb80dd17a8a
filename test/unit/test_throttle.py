"""The one log throttle: once per period per key, held-back messages counted (time passed in)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.core.throttle import Throttle


def test_the_first_message_passes_and_repeats_within_the_period_are_held_back() -> None:
    throttle = Throttle(2.0)
    assert throttle.allow(100.0)
    assert not throttle.allow(100.5)
    assert not throttle.allow(101.999)
    assert throttle.allow(102.0)  # exactly one period later: let through
    assert throttle.held_back() == 2
    assert throttle.suffix() == ' (2 more like this since the last warning)'


def test_the_count_restarts_after_each_message_let_through() -> None:
    throttle = Throttle(1.0)
    assert throttle.allow(0.0)
    assert throttle.held_back() == 0 and throttle.suffix() == ''
    assert not throttle.allow(0.5)
    assert throttle.allow(1.0) and throttle.held_back() == 1
    assert throttle.allow(2.5) and throttle.held_back() == 0  # nothing held back in between


def test_keys_are_throttled_apart_so_a_flood_of_one_does_not_hide_another() -> None:
    throttle = Throttle(2.0)
    assert throttle.allow(0.0, 'stale')
    assert not throttle.allow(0.1, 'stale')
    assert throttle.allow(0.2, 'out_of_order')  # a different problem is still reported
    assert not throttle.allow(0.3, 'out_of_order')
    assert throttle.allow(2.0, 'stale') and throttle.held_back('stale') == 1
    assert throttle.held_back('out_of_order') == 0  # its held-back one waits for its next pass
    assert throttle.pending('out_of_order') == 1


def test_a_zero_period_lets_everything_through() -> None:
    throttle = Throttle(0.0)
    assert all(throttle.allow(5.0) for _ in range(3))


@pytest.mark.parametrize('period', [-1.0, math.nan, math.inf])
def test_a_period_that_is_not_a_finite_non_negative_time_is_refused(period: float) -> None:
    with pytest.raises(ValueError, match='period'):
        Throttle(period)


@given(
    period=st.floats(0.01, 10.0),
    gaps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=60),
)
def test_messages_let_through_are_a_period_apart_and_none_is_lost_from_the_count(
    period: float, gaps: list[float]
) -> None:
    throttle = Throttle(period)
    now, passed, held_total, counted = 0.0, [], 0, 0
    for gap in gaps:
        now += gap
        if throttle.allow(now, 'k'):
            passed.append(now)
            counted += throttle.held_back('k')
        else:
            held_total += 1
    assert passed and passed[0] == gaps[0]  # the first message always passes
    assert all(b - a >= period for a, b in zip(passed, passed[1:]))
    # every held-back message is reported by the next one let through, or still pending
    assert counted <= held_total
    assert held_total - counted == throttle.pending('k')
