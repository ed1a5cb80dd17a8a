"""
`robot-touch bench serial`.

The emulator in its own process, "(pty)" where a rate is beyond what the wire could carry,
LeRobot's bus loop as a peer row where it runs.
"""

from __future__ import annotations

import os

import pytest
from robot_touch.bench import serial as bench


@pytest.mark.timeout(60)
def test_a_row_is_measured_against_an_emulator_process(capsys):
    with bench.emulator('so101', 'feetech_sts') as path:
        assert os.path.exists(path)
    assert not os.path.exists(path)  # the emulator process is gone, and its pty with it
    row = bench.measure('so101', 'feetech_sts', 0.3)
    assert row.cycles_per_s > 0 and row.missed == 0 and row.cpu_us_per_cycle > 0
    assert row.bytes_per_cycle == pytest.approx(
        88, abs=1
    )  # 6 goals + 6 positions in FT-SCS packets
    assert row.wire_bound_per_s == pytest.approx(1_000_000 / (row.bytes_per_cycle * 10))
    bench._print_row(row)
    printed = capsys.readouterr().out
    assert ('(pty)' in printed) == (row.cycles_per_s > row.wire_bound_per_s)


def test_rates_beyond_the_wire_bound_are_marked(capsys):
    row = bench.SerialBenchRow(
        'so101', 'feetech_sts', 6, 1_000_000, 3000.0, 88.0, 1136.0, 0, 0, 0, 0
    )
    assert row.above_wire_bound
    bench._print_row(row)
    assert '3000 (pty)' in capsys.readouterr().out
