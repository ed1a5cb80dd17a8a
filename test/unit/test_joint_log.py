"""The demo's commanded-vs-measured record: CSV rows and a PNG plot, the gripper included."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.joint_log import axis_limits, JointLog, MIN_SPAN


def test_csv_and_plot_hold_both_streams(tmp_path: Path) -> None:
    log = JointLog(['a', 'b'])
    for i in range(20):
        log.add_command(i * 0.01, [0.1 * i, -0.1 * i, 0.5])  # no gripper: its value is ignored
        log.add_measurement(i * 0.01 + 0.005, ['b', 'a', 'gripper'], [-0.1 * i, 0.1 * i, 0.0])
    rows = list(csv.reader(log.save_csv(tmp_path / 'paths.csv').open()))
    assert rows[0] == ['stream', 't', 'a', 'b']
    assert (
        sum(r[0] == 'commanded' for r in rows) == 20
        and sum(r[0] == 'measured' for r in rows) == 20
    )
    assert rows[-1][2:] == ['1.900000', '-1.900000'], (
        "measured values are reordered to the profile's joint order"
    )
    png = log.save_plot(tmp_path / 'paths.png')
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_a_joint_state_missing_a_joint_is_not_recorded() -> None:
    log = JointLog(['a', 'b'])
    log.add_measurement(0.0, ['a'], [1.0])
    assert log.measured == []


def test_the_gripper_is_recorded_and_plotted(tmp_path: Path) -> None:
    # As the recorder builds it for an arm with a prismatic gripper (OpenMANIPULATOR-X).
    log = JointLog(['a', 'b'], gripper='jaw', units=['rad', 'rad', 'm'])
    for i in range(10):
        log.add_command(i * 0.01, [0.1 * i, 0.0, 0.002 * i])  # teleop sends the gripper last
        log.add_measurement(i * 0.01, ['jaw', 'b', 'a'], [0.002 * i, 0.0, 0.1 * i])
    log.add_measurement(0.2, ['a', 'b'], [1.0, 0.0])  # a joint_states without the gripper
    rows = list(csv.reader(log.save_csv(tmp_path / 'paths.csv').open()))
    assert rows[0] == ['stream', 't', 'a', 'b', 'jaw']
    assert rows[10][2:] == ['0.900000', '0.000000', '0.018000']
    assert rows[-1][4] == 'nan', 'a missing gripper value is not invented'
    fig = log.figure()
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ['a\n(rad)', 'b\n(rad)', 'jaw\n(m)']
    # b never moves: its panel spans the least span around it, not its noise.
    low, high = fig.axes[1].get_ylim()
    assert high - low == pytest.approx(MIN_SPAN['rad'])
    assert log.save_plot(tmp_path / 'paths.png').stat().st_size > 1000


def test_a_joint_still_but_for_numerical_noise_is_drawn_flat() -> None:
    # wrist_roll in the demo: +-1e-9 rad of solver noise on a joint that does not move.
    low, high = axis_limits([0.0, 1e-9, -1e-9, 3e-10], 'rad')
    assert (low, high) == pytest.approx((-0.05, 0.05), abs=1e-8)
    assert axis_limits([math.nan], 'rad') is None


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=50), st.sampled_from(['rad', 'm']))
def test_the_axis_holds_the_data_and_spans_at_least_the_minimum(values, unit) -> None:
    low, high = axis_limits(values, unit)
    assert high - low >= MIN_SPAN[unit] - 1e-12
    assert low <= min(values) and max(values) <= high
