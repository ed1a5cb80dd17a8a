"""The status line's "Commands: N/s": what came in the last second, old ones forgotten."""

from __future__ import annotations

from robot_touch.ui.command_rate import CommandRate, KEPT


def test_the_rate_counts_the_last_second_only() -> None:
    rate = CommandRate()
    assert rate.rate(0.0) == 0.0
    for i in range(50):  # 50 Hz for one second
        rate.count(10.0 + i * 0.02)
    assert rate.rate(10.98) == 50.0
    assert rate.rate(11.5) == 25.0  # the first half has left the window
    assert rate.rate(13.0) == 0.0  # the stream stopped: the figure falls to 0


def test_a_flood_shows_as_the_most_remembered() -> None:
    rate = CommandRate()
    for i in range(KEPT + 100):
        rate.count(5.0 + i * 1e-4)
    assert rate.rate(5.5) == float(KEPT)
